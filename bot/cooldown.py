"""The per-member question cooldown: one question every N seconds, N set per server.

Kept in memory: a restart forgets it, which only ever lets someone ask sooner.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Key = tuple[int | None, int]  # (guild ID or None for DMs, user ID)


class Cooldowns:
    """Remembers when each member last asked, and says when they may ask again."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last: dict[Key, float] = {}

    def retry_at(self, key: Key, seconds: int) -> float | None:
        """None (and the question is counted) if ``key`` may ask now; else when it may, in epoch seconds."""
        now = self._clock()
        last = self._last.get(key)
        if seconds > 0 and last is not None and now < last + seconds:
            return last + seconds
        self._last[key] = now
        if len(self._last) > 10_000:  # forget members whose cooldown is long over
            self._last = {k: t for k, t in self._last.items() if now - t < 3600}
        return None
