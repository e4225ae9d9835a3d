"""How late the event loop runs: the lag a heartbeat or an interaction's acknowledgement would suffer.

A task sleeps ``interval`` seconds again and again; how much later than asked it wakes up is the lag.
Blocking work on the loop shows up here at once (and in ``matchbot_event_loop_lag_seconds``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

INTERVAL = 0.05  # seconds between two measurements
KEPT = 2400  # the latest measurements kept for percentiles: two minutes' worth


class LagMonitor:
    """Measures the event loop's lag while it runs; ``report`` receives every measurement."""

    def __init__(self, report: Callable[[float], None] | None = None, *, interval: float = INTERVAL) -> None:
        self.interval = interval
        self.samples: deque[float] = deque(maxlen=KEPT)
        self._report = report
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._measure(), name="matchbot-lag-monitor")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def percentile(self, share: float) -> float:
        """The lag not exceeded by ``share`` (0 to 1) of the latest measurements; 0 with none yet."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)]

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.interval)
            lag = max(loop.time() - asked - self.interval, 0.0)
            self.samples.append(lag)
            if self._report is not None:
                self._report(lag)
