"""The discord-free parts of /matchbot: turning options into settings, and throttled reindex progress."""

from __future__ import annotations

import asyncio

import pytest

from bot.cogs import moderation
from bot.cogs.moderation import DEFAULT, settings_changes
from bot.settings import GuildSettings


def test_settings_changes_keep_what_was_not_given() -> None:
    current = GuildSettings(k=3, threshold=0.5, channels=frozenset({1, 2}))
    assert settings_changes(current) == {}
    assert settings_changes(current, allow=3, disallow=1) == {"channels": frozenset({2, 3})}
    assert settings_changes(current, all_channels=True) == {"channels": frozenset()}
    assert settings_changes(current, mentions=False, cooldown=0, k=10) == {
        "mentions": False,
        "cooldown": 0,
        "k": 10,
    }
    assert settings_changes(current, threshold=0.2) == {"threshold": 0.2}
    assert settings_changes(current, threshold=DEFAULT) == {"threshold": None}


async def test_reindex_progress_is_shown_throttled_and_only_when_it_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(moderation, "PROGRESS_EVERY", 0.05)
    progress = moderation.Progress()
    shown: list[str] = []

    async def work() -> str:
        for done in range(1, 5):
            progress.update(done, 4)
            await asyncio.sleep(0.12)
        await asyncio.sleep(0.2)  # no change: nothing more is shown
        return "report"

    async def show(line: str) -> None:
        shown.append(line)

    assert await progress.follow(work(), show) == "report"
    assert shown == sorted(set(shown), key=shown.index)  # never the same line twice in a row
    assert 2 <= len(shown) <= 4
    assert shown[-1] == "Reindexing… 4/4 passages embedded (100%)."
