"""Moderators' article changes: recorded in the registry or undone, and, over a shared PostgreSQL
database, carried to every process's seeds folder and index."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.database import PostgresDatabase, SQLiteDatabase
from bot.registry import ArticleRegistry
from bot.settings import GuildSettings, SettingsError, SettingsStore
from index.errors import DuplicateArticleError, NoArticles
from index.library import Library
from index.pipeline import Pipeline
from index.store import IndexReport

ARTICLES = {
    "semi.txt": "France beat Morocco two nil. Mbappe consoled Hakimi.\n\nRegragui was proud of his players.",
    "final.txt": "title The final\ndate 2022-12-18\n\nArgentina won the final on penalties. Messi lifted it.",
}
FANS = {
    "title": "Fans in Doha",
    "text": "Thousands of Moroccan fans sang in the Doha metro for hours after the final whistle.",
    "date": "2022-12-15",
    "url": None,
}
MODERATOR = 42

Process = Callable[..., "asyncio.Future[ArticleRegistry]"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def best_article(articles: ArticleRegistry, question: str) -> str:
    return articles.library.retriever.search(question, 1).passages[0].article


@pytest.fixture
async def processes(tmp_path: Path, fake_embedder, request: pytest.FixtureRequest) -> AsyncIterator[Process]:
    """``start(name)``: a bot process's ArticleRegistry, with its own seeds and data folders (ARTICLES, or
    ``files``: None for no seeds folder at all), over one database: PostgreSQL by default, SQLite with
    ``@pytest.mark.parametrize("backend", ...)``."""
    backend = getattr(request, "param", "postgresql")
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    stores: list[SettingsStore] = []

    async def start(name: str, files: dict[str, str] | None = ARTICLES) -> ArticleRegistry:
        seeds = tmp_path / name / "seeds"
        if files is not None:
            seeds.mkdir(parents=True)
        for file, text in (files or {}).items():
            (seeds / file).write_text(text, encoding="utf-8")
        database = PostgresDatabase(url) if url else SQLiteDatabase(tmp_path / "matchbot.sqlite3")
        store = await SettingsStore.open(database, GuildSettings(k=3, threshold=None))
        stores.append(store)
        articles = ArticleRegistry(Library(seeds, tmp_path / name / "data", Pipeline(fake_embedder)), store)
        await articles.open()
        return articles

    yield start
    for store in stores:
        await store.close()


async def test_an_article_added_through_one_process_is_answerable_in_another(processes: Process) -> None:
    one, other = await processes("one"), await processes("other")
    assert one.follows and other.follows
    info, _ = await one.add(**FANS, by=MODERATOR)
    assert info.id == "fans_in_doha"
    assert "fans_in_doha" not in {a.id for a in other.library.articles()}

    report = await other.catch_up()
    assert report is not None and report.added == ["fans_in_doha"]
    assert best_article(other, "where did the moroccan fans sing after the match") == "fans_in_doha"
    added = "fans_in_doha.txt"
    assert snapshot(other.library.seeds_dir)[added] == snapshot(one.library.seeds_dir)[added]
    assert await one.catch_up() is None  # its own change: nothing to do
    assert await other.catch_up() is None


async def test_a_removal_reaches_every_process_and_a_new_one_starts_in_step(processes: Process) -> None:
    one, other = await processes("one"), await processes("other")
    await one.add(**FANS, by=MODERATOR)
    await other.catch_up()
    await other.remove("fans_in_doha", by=MODERATOR)
    await other.remove("semi", by=MODERATOR)  # an article of the seeds folder, not of the registry

    report = await one.catch_up()
    assert report is not None and sorted(report.removed) == ["fans_in_doha", "semi"]
    assert {a.id for a in one.library.articles()} == {"final"}
    assert sorted(snapshot(one.library.seeds_dir)) == ["final.txt"]

    await one.add(**(FANS | {"text": "The fans sang again at the airport."}), by=MODERATOR)
    fresh = await processes("fresh")  # a process that starts later, from the same seeds folder
    assert {a.id for a in fresh.library.articles()} == {"final", "fans_in_doha"}
    assert best_article(fresh, "where did the fans sing again") == "fans_in_doha"


async def test_the_same_title_added_through_two_processes_gets_two_ids(processes: Process) -> None:
    one, other = await processes("one"), await processes("other")
    first, _ = await one.add(**FANS, by=MODERATOR)
    second, _ = await other.add(**(FANS | {"text": "Fans also danced on the Corniche."}), by=MODERATOR)
    assert (first.id, second.id) == ("fans_in_doha", "fans_in_doha-2")
    await one.catch_up()
    assert {a.id for a in one.library.articles()} == {a.id for a in other.library.articles()}


async def test_a_page_added_through_one_process_is_refused_in_another_whatever_its_title(
    processes: Process,
) -> None:
    one, other = await processes("one"), await processes("other")
    page = FANS | {"url": "https://news.example/fans-in-doha"}
    await one.add(**page, by=MODERATOR, unique_url=True)
    before = snapshot(other.library.seeds_dir)
    with pytest.raises(DuplicateArticleError, match=r"added before, as 'Fans in Doha' \(fans_in_doha\)"):
        await other.add(**(page | {"title": "Doha fans"}), by=MODERATOR, unique_url=True)
    added = "fans_in_doha.txt"  # brought in from the registry; the refused one is not written
    assert snapshot(other.library.seeds_dir) == before | {added: snapshot(one.library.seeds_dir)[added]}
    assert {a.id for a in other.library.articles()} == {"semi", "final", "fans_in_doha"}
    assert [change.id for change in await other.store.registry_changes()] == ["fans_in_doha"]


async def test_what_the_command_line_adds_to_a_running_bots_seeds_folder_is_answerable_there(
    processes: Process, fake_embedder, tmp_path: Path
) -> None:
    bot = await processes("bot")
    command_line = ArticleRegistry(
        Library(bot.library.seeds_dir, tmp_path / "cli", Pipeline(fake_embedder)), bot.store
    )
    await command_line.open()
    await command_line.add(**FANS, by=None)  # matchbot add, run beside the bot on its folders
    assert "fans_in_doha.txt" in snapshot(bot.library.seeds_dir)

    report = await bot.catch_up()  # the file is there already: the bot's index must take it in
    assert report is not None and report.added == ["fans_in_doha"]
    assert best_article(bot, "where did the moroccan fans sing after the match") == "fans_in_doha"

    await command_line.remove("fans_in_doha", by=None)
    report = await bot.catch_up()
    assert report is not None and report.removed == ["fans_in_doha"]
    assert await bot.catch_up() is None


async def test_following_brings_a_change_in_at_the_next_look(processes: Process) -> None:
    one, other = await processes("one"), await processes("other")
    looks: list[IndexReport | None] = []  # what each of the follower's looks at the registry brought
    look = other.catch_up

    async def counted() -> IndexReport | None:
        report = await look()
        looks.append(report)
        return report

    other.catch_up = counted  # type: ignore[method-assign]
    following = asyncio.create_task(other.follow(every=0.05))
    try:
        while len(looks) < 2:  # following, and finding nothing new
            await asyncio.sleep(0.01)
        await one.add(**FANS, by=MODERATOR)
        recorded = len(looks)  # looks finished before the change was recorded

        async def brought() -> int:
            while not any(looks):
                await asyncio.sleep(0.01)
            return next(number for number, report in enumerate(looks) if report is not None)

        bringing = await asyncio.wait_for(brought(), 30)
    finally:
        following.cancel()
    assert looks[bringing].added == ["fans_in_doha"]  # type: ignore[union-attr]
    assert "fans_in_doha" in {a.id for a in other.library.articles()}
    # the look under way while the change was recorded may miss it; the one after cannot
    assert bringing <= recorded + 1, (
        f"brought in at look {bringing + 1}; the change was recorded after {recorded}"
    )


@pytest.mark.parametrize("processes", ["sqlite", "postgresql"], indirect=True)
async def test_a_change_the_registry_cannot_record_is_undone(processes: Process) -> None:
    one = await processes("one")
    before = snapshot(one.library.seeds_dir)

    def rename(name: str, to: str) -> None:  # the registry's table away: every write to it fails
        with one.store.database.transaction() as db:
            db.execute(f"ALTER TABLE {name} RENAME TO {to}")

    await asyncio.to_thread(rename, "articles", "away")
    try:
        with pytest.raises(SettingsError, match="articles"):
            await one.add(**FANS, by=MODERATOR)
        assert snapshot(one.library.seeds_dir) == before
        assert {a.id for a in one.library.articles()} == {"semi", "final"}
        with pytest.raises(SettingsError, match="articles"):
            await one.remove("semi", by=MODERATOR)
    finally:
        await asyncio.to_thread(rename, "away", "articles")
    assert snapshot(one.library.seeds_dir) == before
    assert best_article(one, "did mbappe console hakimi") == "semi"
    assert await one.store.registry_changes() == []


@pytest.mark.parametrize("processes", ["sqlite"], indirect=True)
async def test_with_sqlite_the_registry_is_a_record_and_nothing_is_followed(processes: Process) -> None:
    one = await processes("one")
    assert not one.follows
    await one.add(**FANS, by=MODERATOR)
    await one.remove("semi", by=MODERATOR)
    changes = await one.store.registry_changes()
    assert [(entry.id, entry.removed) for entry in changes] == [("fans_in_doha", False), ("semi", True)]

    (one.library.seeds_dir / "fans_in_doha.txt").unlink()  # deleted by hand, as today
    await asyncio.to_thread(one.library.reindex)
    again, _ = await one.add(**(FANS | {"text": "The fans sang again at the airport."}), by=MODERATOR)
    assert again.id == "fans_in_doha"
    assert (await one.store.registry_changes(changes[-1].revision))[0].text.startswith("The fans sang again")


# -- empty libraries ---------------------------------------------------------------------------------


async def test_processes_that_start_with_no_article_share_their_first_and_their_last(
    processes: Process,
) -> None:
    one, other = await processes("one", files={}), await processes("other", files=None)
    assert one.library.empty and other.library.empty
    following = asyncio.create_task(other.follow(every=0.05))
    try:
        await one.add(**FANS, by=MODERATOR)
        await asyncio.wait_for(until(lambda: not other.library.empty), 30)
    finally:
        following.cancel()
    assert best_article(other, "where did the moroccan fans sing after the match") == "fans_in_doha"

    await other.remove("fans_in_doha", by=MODERATOR)
    report = await one.catch_up()
    assert report is not None and report.removed == ["fans_in_doha"]
    assert one.library.empty and list(one.library.seeds_dir.iterdir()) == []
    with pytest.raises(NoArticles):
        one.library.retriever.search("where did the fans sing")

    await one.add(**(FANS | {"text": "The fans sang again at the airport."}), by=MODERATOR)
    fresh = await processes("fresh", files=None)  # starts later, with no seeds folder at all
    assert [a.id for a in fresh.library.articles()] == ["fans_in_doha"]
    assert sorted(snapshot(fresh.library.seeds_dir)) == ["fans_in_doha.txt"]


async def test_an_empty_process_and_a_full_one_share_what_is_added_and_removed_through_them(
    processes: Process,
) -> None:
    full, empty = await processes("full"), await processes("empty", files={})
    assert empty.library.empty  # the full one's hand-made articles are its own, not the registry's

    await empty.add(**FANS, by=MODERATOR)
    await full.catch_up()
    assert {a.id for a in full.library.articles()} == {"semi", "final", "fans_in_doha"}

    await full.remove("fans_in_doha", by=MODERATOR)
    await empty.catch_up()
    assert empty.library.empty
    assert await empty.catch_up() is None and await full.catch_up() is None
    assert {a.id for a in full.library.articles()} == {"semi", "final"}


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.05)
