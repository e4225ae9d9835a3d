"""Reading RSS and Atom feeds, and the keywords that pick the entries to add."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import WebError
from index.feeds import FeedItem, matches, parse_keywords, read_feed
from index.web import Page

FEEDS = Path(__file__).resolve().parents[1] / "data" / "web" / "feeds"
BASE = "https://news.example"
KEYWORDS = ("Morocco", "Mbappe")


def feed_page(name: str, content_type: str = "application/rss+xml") -> Page:
    body = (FEEDS / name).read_bytes().replace(b"$BASE", BASE.encode())
    return Page(url=f"{BASE}/feeds/{name}", content_type=content_type, body=body)


def item(title: str, summary: str = "") -> FeedItem:
    return FeedItem(key=title, link=f"{BASE}/x", title=title, summary=summary)


def test_an_rss_feed_gives_its_entries_in_order_with_plain_text_and_dates() -> None:
    reading = read_feed(feed_page("football.rss"))
    assert reading.title == "Matchday News – Football"
    assert [entry.key for entry in reading.items] == [
        "matchday-news-2022-12-15-mbappe",
        "matchday-news-2022-12-15-murray",
        "matchday-news-2022-12-15-regragui",
        "matchday-news-2022-12-14-arsenal",
        "matchday-news-2022-12-14-cricket",
    ]
    first = reading.items[0]
    assert first.link == f"{BASE}/2022/12/15/mbappe-proud-of-france.html"
    assert first.title == "Mbappé: we are proud, now we want to win the final"
    assert first.summary.startswith('The France forward salutes a "great team"')  # no <p>, entities decoded
    assert first.published == "2022-12-15"


def test_an_atom_feed_resolves_relative_links_against_where_it_was_read() -> None:
    reading = read_feed(feed_page("world-cup.atom", "application/atom+xml"))
    assert reading.title == "Matchday News – World Cup 2022"
    casablanca = reading.items[0]
    assert casablanca.key == "tag:matchday-news.example,2022-12-15:casablanca-fans"
    assert casablanca.link == f"{BASE}/2022/12/15/morocco-fans-casablanca.html"
    assert casablanca.summary.startswith("Hundreds of thousands of supporters salute Morocco's")


def test_the_keywords_pick_entries_by_title_or_summary_ignoring_case_and_accents() -> None:
    picked = {
        entry.title
        for name in ("football.rss", "world-cup.atom")
        for entry in read_feed(feed_page(name)).items
        if matches(entry, KEYWORDS)
    }
    assert picked == {
        "Mbappé: we are proud, now we want to win the final",  # "Mbappe" without its accent
        "Regragui: Morocco ran out of legs, but we will be back",
        "Casablanca turns red and green long into the night",  # by its summary
    }


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("MOROCCO'S NIGHT", True),
        ("Kylian Mbappé scores", True),
        ("Moroccan fans sing", False),  # whole words only: add "Moroccan" to match it
        ("Mbappeland theme park", False),
        ("Arsenal sign a winger", False),
    ],
)
def test_a_keyword_matches_whole_words(title: str, expected: bool) -> None:
    assert matches(item(title), KEYWORDS) is expected


def test_a_keyword_may_be_a_phrase() -> None:
    assert matches(item("Walid Regragui speaks"), ("walid regragui",))
    assert not matches(item("Walid said Regragui"), ("walid regragui",))


def test_keywords_are_split_on_commas_and_refused_when_there_are_none() -> None:
    assert parse_keywords(" Morocco,, Mbappe , morocco ,Walid  Regragui") == (
        "Morocco",
        "Mbappe",
        "morocco",
        "Walid Regragui",
    )
    for bad in (" , ", ",".join(f"word{n}" for n in range(21)), "x" * 61):
        with pytest.raises(WebError) as caught:
            parse_keywords(bad)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("body", [b"<!DOCTYPE html><html><body><p>Not a feed.</p></body></html>", b""])
def test_what_is_not_a_feed_is_one_line(body: bytes) -> None:
    with pytest.raises(WebError) as caught:
        read_feed(Page(url=f"{BASE}/feed", content_type="application/xml", body=body))
    assert str(caught.value) == f"{BASE}/feed is not an RSS or Atom feed: check the feed's address."


def test_a_body_that_names_a_local_file_is_never_read_as_that_file(tmp_path: Path) -> None:
    local = tmp_path / "local.rss"
    local.write_bytes(feed_page("football.rss").body)
    with pytest.raises(WebError, match="is not an RSS or Atom feed"):
        read_feed(Page(url=f"{BASE}/feed", content_type="application/xml", body=str(local).encode()))
