"""Keeping the index in step with the seeds folder: only what changed is embedded, saves are atomic."""

from __future__ import annotations

import ast
import json
import logging
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

from index.errors import ArticleError, DuplicateArticleError, NoArticles, StoreError
from index.library import Library
from index.pipeline import Pipeline
from index.store import FORMAT_VERSION, Store

ARTICLES = {
    "croatia.txt": "Croatia took the bronze medal. Modric waved goodbye to the crowd.",
    "final.txt": (
        "title The final\ndate 2022-12-18\n\nArgentina won the final on penalties. Messi lifted the trophy."
    ),
    "semi.txt": "France beat Morocco two nil. Mbappe consoled Hakimi.\n\nRegragui was proud of his players.",
}
INDEX_PACKAGE = Path(__file__).resolve().parents[2] / "index"


@pytest.fixture
def seeds(write_seeds) -> Path:
    return write_seeds(ARTICLES)


@pytest.fixture
def library(seeds: Path, tmp_path: Path, fake_embedder) -> Library:
    """A library over ARTICLES, opened once; ``fake_embedder.calls`` is cleared afterwards."""
    opened = Library(seeds, tmp_path / "data", Pipeline(fake_embedder))
    opened.open()
    fake_embedder.calls.clear()
    return opened


def vectors_by_sentence(store: Store) -> dict[tuple[str, int], tuple[bytes, bytes]]:
    rows = np.arange(len(store.chunks))
    sentences, contexts = store.vectors(rows), store.vectors(rows, contexts=True)
    return {
        (chunk.article, chunk.sentence): (sentences[row].tobytes(), contexts[row].tobytes())
        for row, chunk in enumerate(store.chunks)
    }


def sentences_of(store: Store, article: str) -> list[str]:
    return [chunk.text for chunk in store.chunks if chunk.article == article]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_opening_indexes_every_article_and_saves_the_index(seeds, tmp_path, fake_embedder) -> None:
    library = Library(seeds, tmp_path / "data", Pipeline(fake_embedder))

    report = library.open()

    assert report.added == ["croatia", "final", "semi"]
    assert report.summary() == "3 added, 0 changed, 0 removed, 0 unchanged; 7 chunks"
    assert Store.load(tmp_path / "data" / "index").chunks == library.retriever.store.chunks
    assert [(info.id, info.title, info.date, info.chunks) for info in library.articles()] == [
        ("croatia", "Croatia", None, 2),
        ("final", "The final", "2022-12-18", 2),
        ("semi", "Semi", None, 3),
    ]


def test_reindexing_with_nothing_changed_embeds_nothing_and_rewrites_nothing(
    library: Library, fake_embedder
) -> None:
    before = snapshot(library.index_dir)

    report = library.reindex()

    assert report.summary() == "0 added, 0 changed, 0 removed, 3 unchanged; 7 chunks"
    assert not report.modified
    assert fake_embedder.calls == []
    assert snapshot(library.index_dir) == before


def test_an_added_article_is_the_only_one_embedded(library: Library, seeds: Path, fake_embedder) -> None:
    old = vectors_by_sentence(library.retriever.store)
    (seeds / "awards.txt").write_text(
        "Messi won the Golden Ball. Mbappe won the Golden Boot.", encoding="utf-8"
    )

    report = library.reindex()

    store = library.retriever.store
    assert (report.added, report.changed, report.removed, report.unchanged) == (["awards"], [], [], 3)
    new_sentences = sentences_of(store, "awards")
    assert new_sentences == ["Messi won the Golden Ball.", "Mbappe won the Golden Boot."]
    assert len(fake_embedder.texts) == 2 * len(new_sentences)  # a sentence and a context vector each
    assert set(new_sentences) <= set(fake_embedder.texts)
    reused = {key: value for key, value in vectors_by_sentence(store).items() if key[0] != "awards"}
    assert reused == old  # bit for bit
    assert "awards" in Store.load(library.index_dir).articles


def test_a_changed_article_is_re_embedded_and_the_others_are_reused(
    library: Library, seeds: Path, fake_embedder
) -> None:
    old = vectors_by_sentence(library.retriever.store)
    (seeds / "croatia.txt").write_text("Croatia beat Morocco for bronze. Gvardiol scored a header.")

    report = library.reindex()

    store = library.retriever.store
    assert (report.added, report.changed, report.removed, report.unchanged) == ([], ["croatia"], [], 2)
    assert sentences_of(store, "croatia") == ["Croatia beat Morocco for bronze.", "Gvardiol scored a header."]
    assert len(fake_embedder.texts) == 4
    assert not any("Modric" in text or "Messi" in text or "Hakimi" in text for text in fake_embedder.texts)
    kept = {key: value for key, value in vectors_by_sentence(store).items() if key[0] != "croatia"}
    assert kept == {key: value for key, value in old.items() if key[0] != "croatia"}
    answer = library.retriever.search("who scored a header for croatia", k=1)
    assert answer.passages[0].text == "Gvardiol scored a header."


def test_a_changed_title_alone_re_embeds_that_article(library: Library, seeds: Path) -> None:
    (seeds / "croatia.txt").write_text("title Bronze for Croatia\n\n" + ARTICLES["croatia.txt"])

    report = library.reindex()

    assert report.changed == ["croatia"]
    assert {chunk.title for chunk in library.retriever.store.chunks if chunk.article == "croatia"} == {
        "Bronze for Croatia"
    }


def test_a_removed_article_is_gone_from_the_chunks_the_manifest_and_the_answers(
    library: Library, seeds: Path, fake_embedder
) -> None:
    (seeds / "final.txt").unlink()

    report = library.reindex()

    assert (report.added, report.changed, report.removed, report.unchanged) == ([], [], ["final"], 2)
    assert fake_embedder.calls == []
    for store in (library.retriever.store, Store.load(library.index_dir)):
        assert "final" not in store.articles
        assert all(chunk.article != "final" for chunk in store.chunks)
        assert store.manifest["chunks"] == len(store.chunks) == 5
    answer = library.retriever.search("Messi lifted the trophy", k=5)
    assert all(passage.article != "final" for passage in answer.passages)


def test_rebuild_re_embeds_every_article(library: Library, fake_embedder) -> None:
    report = library.reindex(rebuild=True)

    assert sorted(report.added + report.changed) == ["croatia", "final", "semi"]
    assert len(fake_embedder.texts) == 2 * 7


def test_a_new_chunker_version_re_chunks_every_article_and_embeds_only_texts_it_changed(
    library: Library, fake_embedder, monkeypatch
) -> None:
    monkeypatch.setattr("index.store.CHUNKER_VERSION", Store.load(library.index_dir).manifest["chunker"] + 1)

    report = library.reindex()

    assert report.changed == ["croatia", "final", "semi"]
    assert fake_embedder.texts == []  # the chunks came out the same: their vectors are those of the index


def test_an_article_with_no_quotable_text_is_not_re_embedded_every_time(
    library: Library, seeds: Path, fake_embedder
) -> None:
    (seeds / "picture.txt").write_text("pic.twitter.com/abc123 — ESPN FC (@ESPNFC) December 14, 2022")
    assert library.reindex().added == ["picture"]
    before = snapshot(library.index_dir)

    report = library.reindex()

    assert not report.modified
    assert snapshot(library.index_dir) == before


def test_skipped_files_are_reported_and_logged_once_each(library: Library, seeds: Path, caplog) -> None:
    (seeds / "empty.txt").write_text("")
    (seeds / "binary.txt").write_bytes(b"\x00\x01\x02")

    with caplog.at_level(logging.WARNING, logger="index.library"):
        report = library.reindex()

    assert len(report.skipped) == 2
    assert [name for name in ("binary.txt", "empty.txt") if name in caplog.text] == [
        "binary.txt",
        "empty.txt",
    ]
    assert len(caplog.records) == 2
    assert report.unchanged == 3


# -- a failed or interrupted update ------------------------------------------------------------------


def test_a_save_that_fails_leaves_the_saved_index_and_the_live_answers_as_they_were(
    library: Library, seeds: Path, monkeypatch
) -> None:
    before = snapshot(library.index_dir)
    live = library.retriever
    (seeds / "awards.txt").write_text("Messi won the Golden Ball.")

    def write_index(index, path: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(faiss, "write_index", write_index)
    with pytest.raises(RuntimeError, match="disk on fire"):
        library.reindex()

    assert snapshot(library.index_dir) == before
    assert library.retriever is live
    assert "awards" not in Store.load(library.index_dir).articles
    monkeypatch.undo()
    assert library.reindex().added == ["awards"]


def test_an_update_interrupted_while_embedding_leaves_the_saved_index_unchanged(
    library: Library, seeds: Path
) -> None:
    before = snapshot(library.index_dir)
    (seeds / "croatia.txt").write_text("Croatia beat Morocco for bronze.")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        library.reindex(progress=interrupt)

    assert snapshot(library.index_dir) == before
    assert sorted(path.name for path in library.index_dir.parent.iterdir()) == [".index.lock", "index"]


# -- an index built differently -------------------------------------------------------------------


def test_an_index_built_with_another_model_says_to_rebuild(
    library: Library, seeds: Path, make_embedder
) -> None:
    before = snapshot(library.index_dir)
    other = Library(seeds, library.index_dir.parent, Pipeline(make_embedder(name="other-model")))

    with pytest.raises(StoreError) as error:
        other.open()

    message = str(error.value)
    assert "'fake-hashing'" in message
    assert "'other-model'" in message
    assert message.endswith("run `matchbot index --rebuild`.")
    assert "\n" not in message
    assert snapshot(library.index_dir) == before

    report = other.reindex(rebuild=True)
    assert report.chunks == 7
    assert Store.load(library.index_dir).model == "other-model"


def test_an_index_of_an_older_format_is_built_again_from_the_articles(library: Library, caplog) -> None:
    manifest_path = library.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format"] = FORMAT_VERSION - 1
    manifest_path.write_text(json.dumps(manifest))

    report = library.reindex()

    assert report.chunks == 7 and "written by an older matchbot" in caplog.text
    assert Store.load(library.index_dir).manifest["format"] == FORMAT_VERSION
    assert library.retriever.search("mbappe", k=1).passages


def test_an_index_of_a_newer_format_says_to_rebuild_and_rebuild_fixes_it(library: Library) -> None:
    manifest_path = library.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format"] = FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(StoreError, match=r"run `matchbot index --rebuild`\.$"):
        library.reindex()

    library.reindex(rebuild=True)
    assert Store.load(library.index_dir).manifest["format"] == FORMAT_VERSION


def test_a_corrupt_index_is_not_overwritten_unless_asked_to_rebuild(library: Library) -> None:
    next(library.index_dir.glob("vectors/*/sentences.faiss")).write_bytes(b"half a fil")
    damaged = snapshot(library.index_dir)

    with pytest.raises(StoreError, match="incomplete or corrupt"):
        library.reindex()
    assert snapshot(library.index_dir) == damaged

    assert library.reindex(rebuild=True).chunks == 7
    assert len(Store.load(library.index_dir).chunks) == 7


# -- articles added and removed by moderators --------------------------------------------------------


def test_add_article_writes_a_text_file_and_indexes_it(library: Library, seeds: Path) -> None:
    info, report = library.add_article(
        title="Golden Ball", text="Messi won the Golden Ball. Mbappe won the Golden Boot.", date="2022-12-18"
    )

    assert (info.id, info.title, info.date, info.chunks) == ("golden_ball", "Golden Ball", "2022-12-18", 2)
    assert report.added == ["golden_ball"]
    assert (seeds / "golden_ball.txt").is_file()
    again, _ = library.add_article(title="Golden Ball", text="Another text about the award.")
    assert again.id == "golden_ball-2"


def test_add_article_with_a_bad_date_leaves_no_file_behind(library: Library, seeds: Path) -> None:
    before = sorted(path.name for path in seeds.iterdir())

    with pytest.raises(ArticleError, match="2022-99-99"):
        library.add_article(title="Bad", text="Some text.", date="2022-99-99")

    assert sorted(path.name for path in seeds.iterdir()) == before


def test_add_article_needs_a_seeds_folder_not_a_single_file(tmp_path: Path, fake_embedder) -> None:
    bulk = tmp_path / "articles.jsonl"
    bulk.write_text(json.dumps({"id": "one", "text": "Mbappe scored."}) + "\n", encoding="utf-8")
    library = Library(bulk, tmp_path / "data", Pipeline(fake_embedder))
    library.open()

    with pytest.raises(ArticleError, match="point MATCHBOT_SEEDS at a folder"):
        library.add_article(title="New", text="Some text.")
    assert bulk.read_text(encoding="utf-8").count("\n") == 1


def test_remove_article_deletes_its_file_and_drops_it(library: Library, seeds: Path) -> None:
    report = library.remove_article("croatia")

    assert report.removed == ["croatia"]
    assert not (seeds / "croatia.txt").exists()
    assert [info.id for info in library.articles()] == ["final", "semi"]


def test_remove_article_refuses_unknown_ids_and_lines_of_a_jsonl_file(library: Library, seeds: Path) -> None:
    (seeds / "bulk.jsonl").write_text(json.dumps({"id": "bulk_one", "text": "One more article."}) + "\n")
    library.reindex()

    with pytest.raises(ArticleError, match="no article 'nope'"):
        library.remove_article("nope")
    with pytest.raises(ArticleError, match=r"bulk\.jsonl"):
        library.remove_article("bulk_one")
    assert (seeds / "bulk.jsonl").is_file()


# -- architecture ---------------------------------------------------------------------------------


def discord_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        found += [name for name in names if name == "discord" or name.startswith("discord.")]
    return found


def test_the_index_package_never_imports_discord() -> None:
    modules = sorted(INDEX_PACKAGE.glob("*.py"))
    assert {path.name for path in modules} >= {"store.py", "retriever.py", "library.py", "chunking.py"}
    assert discord_imports("import discord\nfrom discord.ext import commands") == ["discord", "discord.ext"]

    offenders = {path.name: found for path in modules if (found := discord_imports(path.read_text()))}

    assert offenders == {}


def test_an_article_with_a_link_already_in_the_seeds_folder_is_refused_when_asked(
    library: Library, seeds: Path
) -> None:
    # written by another process: this library's index does not know it yet
    (seeds / "casablanca.txt").write_text(
        "title Casablanca turns red\nurl https://news.example/casablanca?utm_source=rss\n\n"
        "Fans sang all night.\n"
    )
    before = sorted(path.name for path in seeds.iterdir())
    with pytest.raises(DuplicateArticleError) as caught:
        library.add_article(
            title="Casablanca", text="Fans sang.", url="http://news.example/casablanca/", unique_url=True
        )
    assert caught.value.article_id == "casablanca"
    assert str(caught.value) == (
        "That page was added before, as 'Casablanca turns red' (casablanca): remove that article first "
        "to add it again."
    )
    assert sorted(path.name for path in seeds.iterdir()) == before
    info, _ = library.add_article(
        title="Casablanca", text="Fans sang.", url="http://news.example/casablanca/"
    )
    assert info.url == "http://news.example/casablanca/"  # without unique_url, as before


# -- the registry's changes, applied under the same rules as a moderator's --------------------------


def test_registry_ids_that_cannot_name_a_file_are_left_out_with_a_warning(
    library: Library, seeds: Path, tmp_path: Path, caplog
) -> None:
    from index.articles import Article

    outside = sorted(path.name for path in tmp_path.iterdir())
    hostile = ["../escaped", ".hidden", "a/b", "CON", "x" * 300, " padded"]
    put = [Article(id=name, title="Bad", text="Fans sang all night in Casablanca.") for name in hostile]
    put.append(Article(id="fans_in_doha", title="Fans in Doha", text="Fans sang in the Doha metro."))

    with caplog.at_level(logging.WARNING, logger="index.library"):
        report = library.apply(put, drop=["../semi", "..", "semi/../final"])

    assert report is not None and report.added == ["fans_in_doha"] and not report.removed
    assert sorted(path.name for path in seeds.iterdir()) == sorted([*ARTICLES, "fans_in_doha.txt"])
    assert sorted(path.name for path in tmp_path.iterdir()) == outside
    assert len([r for r in caplog.records if "cannot name a file" in r.getMessage()]) == 9


def test_a_registry_change_that_cannot_be_written_is_one_line_and_undone(
    library: Library, seeds: Path, monkeypatch
) -> None:
    import errno

    import index.library
    from index.articles import Article

    before = snapshot(seeds)
    written = index.library._write_atomically

    def full_after_one(path: Path, text: str) -> None:
        if path.name != "first.txt":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written(path, text)

    monkeypatch.setattr(index.library, "_write_atomically", full_after_one)
    put = [Article(id=name, title=name, text="Fans sang all night.") for name in ("first", "second")]
    with pytest.raises(ArticleError) as caught:
        library.apply(put, drop=["croatia"])

    assert str(caught.value) == (
        f"Cannot bring the seeds folder in step with the registry in {seeds} (No space left on device): "
        "free some disk space, then try again; the folder is as it was."
    )
    assert snapshot(seeds) == before and {a.id for a in library.articles()} == {"croatia", "final", "semi"}


def test_two_libraries_sharing_a_seeds_folder_take_turns(
    seeds: Path, tmp_path: Path, fake_embedder, monkeypatch
) -> None:
    """Two bots (or a bot and the command line) with their own data folders over one seeds folder: one's
    change waits for the other's, so neither tidies away the other's file half written."""
    import threading

    import index.library

    one = Library(seeds, tmp_path / "one", Pipeline(fake_embedder))
    other = Library(seeds, tmp_path / "other", Pipeline(fake_embedder))
    one.open()
    other.open()
    with one._changing():  # one is in the middle of a change
        (seeds / ".late.txt.writing").write_text("title Late\n\nA late goal.")
        adding = threading.Thread(target=other.add_article, kwargs={"title": "Fans", "text": "Fans sang."})
        adding.start()
        adding.join(0.5)
        assert adding.is_alive()  # waiting for one's change to end
        assert (seeds / ".late.txt.writing").exists()
    adding.join(10)
    assert {a.id for a in other.articles()} == {"croatia", "final", "semi", "fans"}

    monkeypatch.setattr(index.library, "SEEDS_WAIT", 0.2)
    with one._changing(), pytest.raises(StoreError, match="Another matchbot is changing the articles in"):
        other.reindex()


# -- an empty library ----------------------------------------------------------------------------


@pytest.mark.parametrize("exists", [True, False], ids=["empty", "missing"])
def test_a_library_starts_empty_and_its_first_article_is_answerable_at_once(
    tmp_path: Path, fake_embedder, exists: bool
) -> None:
    seeds = tmp_path / "seeds"
    if exists:
        seeds.mkdir()
    library = Library(seeds, tmp_path / "data", Pipeline(fake_embedder))

    assert library.open().summary() == "0 added, 0 changed, 0 removed, 0 unchanged; 0 chunks"
    assert library.empty and library.articles() == [] and seeds.is_dir()
    with pytest.raises(
        NoArticles, match=r"^No articles have been added yet: add one with `matchbot add URL`"
    ):
        library.retriever.search("who won")

    info, report = library.add_article(title="Fans in Doha", text="Fans sang in the Doha metro all night.")

    assert (info.id, report.added, library.empty) == ("fans_in_doha", ["fans_in_doha"], False)
    assert library.retriever.search("where did the fans sing", 1).passages[0].article == "fans_in_doha"
    assert [path.name for path in seeds.iterdir()] == ["fans_in_doha.txt"]


def test_removing_the_last_article_leaves_an_empty_index_saved_and_loaded_like_any_other(
    library: Library, seeds: Path, tmp_path: Path, fake_embedder
) -> None:
    for article_id in ("croatia", "final", "semi"):
        library.remove_article(article_id)

    assert library.empty and list(seeds.iterdir()) == []
    saved = Store.load(library.index_dir)
    assert (saved.chunks, saved.articles, saved.sentences.ntotal, saved.contexts.ntotal) == ([], {}, 0, 0)
    assert (saved.distinct.shape, len(saved.lexical.passages), len(saved.lexical.articles)) == ((0, 2), 0, 0)
    reopened = Library(seeds, tmp_path / "data", Pipeline(fake_embedder))
    assert not reopened.open().modified and reopened.empty
    fake_embedder.calls.clear()
    with pytest.raises(NoArticles):
        reopened.retriever.search("who won")
    assert fake_embedder.calls == []  # nothing to search: the question is not embedded

    (seeds / "semi.txt").write_text(ARTICLES["semi.txt"])
    assert reopened.reindex().added == ["semi"] and not reopened.empty


def test_the_registry_fills_a_missing_seeds_folder(tmp_path: Path, fake_embedder) -> None:
    from index.articles import Article

    library = Library(tmp_path / "seeds", tmp_path / "data", Pipeline(fake_embedder))
    fans = Article(id="fans_in_doha", title="Fans in Doha", text="Fans sang in the Doha metro all night.")

    report = library.apply([fans])

    assert report is not None and report.added == ["fans_in_doha"]
    assert [path.name for path in (tmp_path / "seeds").iterdir()] == ["fans_in_doha.txt"]


def test_articles_with_nothing_quotable_decline_rather_than_say_none_were_added(
    write_seeds, tmp_path: Path, fake_embedder
) -> None:
    seeds = write_seeds({"picture.txt": "pic.twitter.com/abc123 — ESPN FC (@ESPNFC) December 14, 2022"})
    library = Library(seeds, tmp_path / "data", Pipeline(fake_embedder))
    library.open()

    answer = library.retriever.search("who won")

    assert not library.empty and [info.chunks for info in library.articles()] == [0]
    assert (answer.answered, answer.passages) == (False, [])


def test_an_index_saved_before_term_sets_gets_them_at_its_next_opening(
    library: Library, seeds: Path, fake_embedder
) -> None:
    terms = library.index_dir / "bm25" / "terms"
    shutil.rmtree(terms)  # as an index saved by an earlier matchbot, which built them at every start
    before = sentences_of(library.retriever.store, "semi")

    reopened = Library(seeds, library.index_dir.parent, Pipeline(fake_embedder))
    reopened.open()

    assert terms.is_dir() and not fake_embedder.calls  # saved again, nothing embedded again
    assert sentences_of(Store.load(library.index_dir), "semi") == before
