"""Reading the seeds folder: header lines, titles from file names, .jsonl files, and files to skip."""

from __future__ import annotations

import json

import pytest

from index.articles import Article, format_text_article, parse_text_article, read_seeds, title_from_name
from index.errors import SeedsError

GOOD = "France beat Morocco 2-0. Mbappe consoled Hakimi."


SEED_ID = "world_cup_2022_semi-final_france_2-0_morocco"


def test_the_seed_starts_with_its_date_on_the_same_line_as_the_text(seed_file) -> None:
    article = read_seeds(seed_file).articles[0]

    assert article.id == SEED_ID
    assert article.date == "2022-12-15"
    assert article.text.startswith("Morocco won the hearts of the global football fanbase")
    assert "date" not in article.text.split("\n")[0]
    assert article.source == seed_file.name


def test_title_comes_from_the_file_name_when_there_is_no_title_line(seed_file) -> None:
    assert title_from_name(SEED_ID) == "World Cup 2022 Semi-final France 2-0 Morocco"
    assert read_seeds(seed_file).articles[0].title == "World Cup 2022 Semi-final France 2-0 Morocco"


def test_a_name_without_underscores_is_split_on_hyphens() -> None:
    assert title_from_name("mbappe-consoles-hakimi") == "Mbappe Consoles Hakimi"


def test_title_date_and_url_header_lines_are_read_and_left_out_of_the_body() -> None:
    raw = "title: Les Bleus into the final\nDATE 2022-12-15\nurl https://example.com/semi\n\n" + GOOD

    article = parse_text_article("semi", raw, source="semi.txt")

    assert article.title == "Les Bleus into the final"
    assert article.date == "2022-12-15"
    assert article.url == "https://example.com/semi"
    assert article.text == GOOD


def test_an_article_without_header_lines_is_all_body() -> None:
    article = parse_text_article("plain_report", GOOD)

    assert (article.title, article.date, article.url, article.text) == ("Plain Report", None, None, GOOD)


def test_a_text_article_round_trips_through_its_file_form() -> None:
    article = Article(id="semi", title="Semi", text=GOOD, date="2022-12-15", url="https://e.com/s", source="")

    assert parse_text_article("semi", format_text_article(article)) == article


def test_a_changed_header_changes_the_content_hash() -> None:
    article = parse_text_article("semi", "title One\n\n" + GOOD)
    retitled = parse_text_article("semi", "title Two\n\n" + GOOD)

    assert article.content_hash != retitled.content_hash
    assert article.content_hash == parse_text_article("semi", "title One\n\n" + GOOD).content_hash


def test_an_invalid_date_skips_that_article_with_a_warning_naming_the_file(write_seeds) -> None:
    seeds = write_seeds({"bad_date.txt": "date 2022-13-45 " + GOOD, "good.txt": GOOD})

    reading = read_seeds(seeds)

    assert [article.id for article in reading.articles] == ["good"]
    [warning] = reading.skipped
    assert "bad_date.txt" in warning
    assert "2022-13-45" in warning


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("empty.txt", "", "empty"),
        ("blank.md", " \n\t\n", "empty"),
        ("picture.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin1.txt", "Mbappé a consolé Hakimi.".encode("latin-1"), "UTF-8"),
        ("headers_only.txt", "title Nothing else\ndate 2022-12-15\n", "no text"),
    ],
)
def test_an_unusable_article_is_skipped_with_a_warning_and_the_others_are_read(
    write_seeds, name: str, content: str | bytes, why: str
) -> None:
    seeds = write_seeds({name: content, "good.txt": GOOD})

    reading = read_seeds(seeds)

    assert [article.id for article in reading.articles] == ["good"]
    [warning] = reading.skipped
    assert name in warning
    assert why in warning


def test_other_files_and_hidden_files_are_ignored(write_seeds) -> None:
    seeds = write_seeds({"notes.pdf": b"%PDF", ".draft.txt": GOOD, "good.md": GOOD})
    (seeds / "folder.txt").mkdir()

    reading = read_seeds(seeds)

    assert [article.id for article in reading.articles] == ["good"]
    assert reading.skipped == []


def test_a_missing_seeds_folder_is_one_line_naming_it(tmp_path) -> None:
    missing = tmp_path / "no_such_folder"

    with pytest.raises(SeedsError) as error:
        read_seeds(missing)

    message = str(error.value)
    assert str(missing) in message
    assert "does not exist" in message
    assert "\n" not in message


def test_a_folder_without_articles_is_an_empty_reading(write_seeds) -> None:
    reading = read_seeds(write_seeds({}))

    assert (reading.articles, reading.skipped) == ([], [])


def test_a_folder_of_only_unusable_files_is_an_empty_reading_with_a_warning_for_each(write_seeds) -> None:
    seeds = write_seeds({"empty.txt": "", "binary.txt": b"\x00\x01"})

    reading = read_seeds(seeds)

    assert reading.articles == []
    assert reading.skipped == [
        "skipped binary.txt: it is a binary file, not text",
        "skipped empty.txt: the file is empty",
    ]


def jsonl(*records: object) -> str:
    return "\n".join(record if isinstance(record, str) else json.dumps(record) for record in records) + "\n"


def test_a_jsonl_file_holds_one_article_a_line(write_seeds) -> None:
    seeds = write_seeds(
        {
            "bulk.jsonl": jsonl(
                {
                    "id": "semi",
                    "title": "The semi",
                    "date": "2022-12-15",
                    "url": "https://e.com",
                    "text": GOOD,
                },
                {"id": "final", "title": "The final", "text": "Argentina won on penalties."},
            )
        }
    )

    reading = read_seeds(seeds)

    semi, final = reading.articles
    assert (semi.id, semi.title, semi.date, semi.url, semi.text) == (
        "semi",
        "The semi",
        "2022-12-15",
        "https://e.com",
        GOOD,
    )
    assert (final.id, final.date, final.url, final.source) == ("final", None, None, "bulk.jsonl")
    assert reading.skipped == []


@pytest.mark.parametrize(
    "bad_line",
    [
        "{not json",
        '["a", "list"]',
        json.dumps({"title": "no id", "text": GOOD}),
        json.dumps({"id": "no_text"}),
        json.dumps({"id": "blank", "text": "   "}),
        json.dumps({"id": "bad_date", "text": GOOD, "date": "15/12/2022"}),
    ],
)
def test_a_bad_jsonl_line_is_skipped_with_a_warning_naming_the_line(write_seeds, bad_line: str) -> None:
    seeds = write_seeds(
        {"bulk.jsonl": jsonl({"id": "one", "text": GOOD}, bad_line, {"id": "three", "text": GOOD})}
    )

    reading = read_seeds(seeds)

    assert [article.id for article in reading.articles] == ["one", "three"]
    [warning] = reading.skipped
    assert "bulk.jsonl line 2" in warning


def test_seeds_may_point_at_a_single_jsonl_file(write_seeds) -> None:
    seeds = write_seeds({"bulk.jsonl": jsonl({"id": "one", "text": GOOD}), "other.txt": GOOD})

    reading = read_seeds(seeds / "bulk.jsonl")

    assert [article.id for article in reading.articles] == ["one"]


def test_a_second_article_with_the_same_id_is_skipped_with_a_warning(write_seeds) -> None:
    seeds = write_seeds({"bulk.jsonl": jsonl({"id": "semi", "text": GOOD}), "semi.txt": "Another text."})

    reading = read_seeds(seeds)

    assert [(article.id, article.source) for article in reading.articles] == [("semi", "bulk.jsonl")]
    [warning] = reading.skipped
    assert "semi.txt" in warning
    assert "'semi'" in warning
