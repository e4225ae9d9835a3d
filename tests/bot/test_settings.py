"""Per-server settings, the answers log and votes in SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import GuildSettings, SettingsStore

DEFAULTS = GuildSettings(k=3, threshold=None)
GUILD = 111
OTHER_GUILD = 222


@pytest.fixture
async def store(tmp_path: Path) -> SettingsStore:
    return await SettingsStore.open(tmp_path / "data" / "matchbot.sqlite3", DEFAULTS)


async def test_unconfigured_servers_and_dms_get_the_defaults(store: SettingsStore) -> None:
    assert await store.get(GUILD) == DEFAULTS
    assert await store.get(None) == DEFAULTS


async def test_changes_are_kept_per_server_and_survive_reopening(store: SettingsStore) -> None:
    await store.update(GUILD, k=5, cooldown=30, mentions=False, threshold=0.5, channels=frozenset({7, 8}))
    await store.update(GUILD, cooldown=0)
    reopened = await SettingsStore.open(store.path, DEFAULTS)
    settings = await reopened.get(GUILD)
    assert settings == GuildSettings(
        k=5, threshold=0.5, cooldown=0, mentions=False, channels=frozenset({7, 8})
    )
    assert await reopened.get(OTHER_GUILD) == DEFAULTS


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
