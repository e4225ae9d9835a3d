"""The per-member question cooldown."""

from __future__ import annotations

from bot.cooldown import Cooldowns

GUILD = 111
OTHER_GUILD = 222


def test_cooldown_per_member_and_server() -> None:
    now = [1000.0]
    cooldowns = Cooldowns(clock=lambda: now[0])
    assert cooldowns.retry_at((GUILD, 1), 10) is None
    assert cooldowns.retry_at((GUILD, 1), 10) == 1010.0
    assert cooldowns.retry_at((GUILD, 2), 10) is None  # another member
    assert cooldowns.retry_at((OTHER_GUILD, 1), 10) is None  # another server
    now[0] = 1010.0
    assert cooldowns.retry_at((GUILD, 1), 10) is None
    assert cooldowns.retry_at((GUILD, 1), 0) is None  # a cooldown of 0 never blocks
    assert cooldowns.retry_at((GUILD, 1), 0) is None
