"""Per-server settings, the answers log, votes and the article registry, in SQLite and in PostgreSQL:
every test runs against both backends (the ``connect`` fixture)."""

from __future__ import annotations

import asyncio

import pytest

from bot.database import Database
from bot.settings import SCHEMA, SCHEMA_VERSION, GuildSettings, SettingsError, SettingsStore
from index.errors import DuplicateArticleError

DEFAULTS = GuildSettings(k=3, threshold=None)
GUILD = 111
OTHER_GUILD = 222


@pytest.fixture
async def store(connect) -> SettingsStore:
    store = await SettingsStore.open(connect(), DEFAULTS)
    yield store
    await store.close()


async def test_unconfigured_servers_and_dms_get_the_defaults(store: SettingsStore) -> None:
    assert await store.get(GUILD) == DEFAULTS
    assert await store.get(None) == DEFAULTS


async def test_changes_are_kept_per_server_and_survive_reopening(store: SettingsStore, connect) -> None:
    await store.update(GUILD, k=5, cooldown=30, mentions=False, threshold=0.5, channels=frozenset({7, 8}))
    await store.update(GUILD, cooldown=0)
    reopened = await SettingsStore.open(connect(), DEFAULTS)
    settings = await reopened.get(GUILD)
    assert settings == GuildSettings(
        k=5, threshold=0.5, cooldown=0, mentions=False, channels=frozenset({7, 8})
    )
    assert await reopened.get(OTHER_GUILD) == DEFAULTS
    await reopened.close()


async def test_a_change_through_one_store_is_read_at_once_through_another(
    store: SettingsStore, connect
) -> None:
    other = await SettingsStore.open(connect(), DEFAULTS)  # as a second bot process would
    assert await other.get(GUILD) == DEFAULTS
    await store.update(GUILD, k=7)
    assert (await other.get(GUILD)).k == 7
    await other.update(GUILD, mentions=False)
    assert await store.get(GUILD) == GuildSettings(k=7, threshold=None, mentions=False)
    await other.close()


async def test_concurrent_changes_to_one_server_are_all_kept(store: SettingsStore, connect) -> None:
    other = await SettingsStore.open(connect(), DEFAULTS)
    changes = [{"k": 4}, {"cooldown": 0}, {"mentions": False}, {"threshold": 0.25}] * 3
    await asyncio.gather(*((store, other)[n % 2].update(GUILD, **c) for n, c in enumerate(changes)))
    assert await store.get(GUILD) == GuildSettings(k=4, threshold=0.25, cooldown=0, mentions=False)
    await other.close()


async def test_unknown_settings_are_refused(store: SettingsStore) -> None:
    with pytest.raises(ValueError):
        await store.update(GUILD, colour="red")


def test_answer_channels_allow_list() -> None:
    everywhere = GuildSettings(k=3, threshold=None)
    assert everywhere.allows(1) and everywhere.allows(None)
    listed = GuildSettings(k=3, threshold=None, channels=frozenset({10}))
    assert listed.allows(10)
    assert not listed.allows(11)
    assert listed.allows(99, parent_id=10)  # a thread in an answer channel


async def test_answers_are_logged_and_found_again(store: SettingsStore) -> None:
    answer_id = await store.log_answer(
        guild_id=GUILD, channel_id=5, user_id=9, question="how did it end", answered=True, k=4, threshold=0.4
    )
    record = await store.answer(answer_id)
    assert record is not None
    assert (record.question, record.answered, record.k, record.threshold) == ("how did it end", True, 4, 0.4)
    assert await store.answer(answer_id + 1000) is None


async def test_one_vote_per_member_per_answer_and_stats(store: SettingsStore) -> None:
    async def ask(question: str, answered: bool, guild: int = GUILD) -> int:
        return await store.log_answer(
            guild_id=guild, channel_id=5, user_id=9, question=question, answered=answered, k=3, threshold=None
        )

    first = await ask("how did it end", True)
    await ask("who scored", True)
    await ask("Who won the NBA finals", False)
    await ask("who won the NBA finals ", False)
    await ask("what's the weather", False)
    await ask("elsewhere", False, guild=OTHER_GUILD)

    assert await store.vote(first, user_id=1, up=True)
    assert await store.vote(first, user_id=1, up=True)  # the same vote twice counts once
    assert await store.vote(first, user_id=2, up=True)
    assert await store.vote(first, user_id=2, up=False)  # voting again changes the vote
    assert not await store.vote(99999, user_id=1, up=True)

    stats = await store.stats(GUILD)
    assert (stats.asked, stats.answered, stats.up, stats.down) == (5, 2, 1, 1)
    assert stats.top_declined[0][1] == 2
    assert stats.top_declined[0][0].casefold().startswith("who won the nba finals")
    assert [count for _, count in stats.top_declined] == [2, 1]
    empty = await store.stats(333)
    assert (empty.asked, empty.answered, empty.top_declined, empty.up, empty.down) == (0, 0, [], 0, 0)


async def test_the_registry_records_added_and_removed_articles_in_order(store: SettingsStore) -> None:
    assert await store.registry_revision() == 0
    assert await store.registry_changes() == []
    added = dict(title="Fans in Doha", text="Fans sang.", date="2022-12-15", url=None, by=9)
    assert await store.record_added(id="fans_in_doha", **added)
    assert not await store.record_added(id="fans_in_doha", **added)  # a live article has that id
    await store.record_removed(id="the_semi", title="The semi", by=9)  # from a seeds folder
    first = await store.registry_revision()
    changes = await store.registry_changes()
    assert [(c.id, c.removed, c.text) for c in changes] == [
        ("fans_in_doha", False, "Fans sang."),
        ("the_semi", True, ""),
    ]
    assert changes[-1].revision == first
    assert await store.registry_changes(since=first) == []

    await store.record_removed(id="fans_in_doha", title="Fans in Doha", by=10)
    assert await store.record_added(id="fans_in_doha", **(added | {"text": "Fans sang all night."}))
    again = await store.registry_changes(since=first)
    assert [(c.id, c.removed) for c in again] == [("fans_in_doha", False)]  # its latest state only
    assert again[0].text == "Fans sang all night." and again[0].revision > first


async def test_the_registry_holds_one_live_article_per_page_whatever_its_title(
    store: SettingsStore, connect
) -> None:
    page = dict(text="Fans sang.", date=None, by=9, unique_url=True)
    assert await store.record_added(
        id="fans", title="Fans", url="https://news.example/fans?utm_source=x", **page
    )
    other = await SettingsStore.open(connect(), DEFAULTS)  # another process, adding it under a new title
    revision = await other.registry_revision()
    with pytest.raises(DuplicateArticleError) as refused:
        await other.record_added(id="doha", title="Doha", url="http://NEWS.example/fans/", **page)
    assert refused.value.article_id == "fans"
    assert str(refused.value) == (
        "That page was added before, as 'Fans' (fans): remove that article first to add it again."
    )
    assert await other.registry_revision() == revision  # nothing recorded
    assert [change.id for change in await other.registry_changes()] == ["fans"]

    await store.record_removed(id="fans", title="Fans", by=9)
    assert await other.record_added(id="doha", title="Doha", url="https://news.example/fans", **page)
    await other.close()


async def test_a_newer_schema_is_refused_in_one_line(store: SettingsStore, connect) -> None:
    database: Database = connect()
    await asyncio.to_thread(database.create, (), 99)  # as a newer matchbot would leave it
    with pytest.raises(SettingsError) as refused:
        await SettingsStore.open(connect(), DEFAULTS)
    assert "newer than this matchbot's" in str(refused.value) and "\n" not in str(refused.value)
    database.close()


async def test_a_database_from_before_feeds_gets_the_feed_tables_and_keeps_its_data(connect) -> None:
    database: Database = connect()
    before_feeds = [statement for statement in SCHEMA if "feed" not in statement]
    await asyncio.to_thread(database.create, before_feeds, 2)  # as the previous matchbot left it
    old = SettingsStore(database, DEFAULTS)
    await old.update(GUILD, k=6)
    store = await SettingsStore.open(connect(), DEFAULTS)
    assert (await store.get(GUILD)).k == 6
    feed = await store.follow_feed(GUILD, "https://news.example/feed", ("Morocco",), title=None, added_by=1)
    assert await store.feeds(GUILD) == [feed]
    with database.transaction() as db:
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION == 3
    database.close()
    await store.close()
