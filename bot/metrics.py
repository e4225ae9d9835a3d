"""Optional Prometheus metrics: questions asked, questions answered, and how long answering took.

Turned on by ``MATCHBOT_METRICS_PORT``; then ``prometheus-client`` must be installed. Without it the bot
records nothing (``Metrics.disabled()``) and never imports the library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import ConfigError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    """The bot's counters, in their own registry (so two bots in one process don't collide)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.registry = registry
        if registry is None:
            return
        from prometheus_client import Counter, Histogram

        self._questions = Counter(
            "matchbot_questions", "Questions asked, by where they came from.", ["source"], registry=registry
        )
        self._answered = Counter(
            "matchbot_answered", "Questions answered with confidence.", ["source"], registry=registry
        )
        self._latency = Histogram(
            "matchbot_answer_seconds",
            "Time from question to rendered answer (search and logging).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    @classmethod
    def disabled(cls) -> Metrics:
        return cls(None)

    @classmethod
    def collecting(cls) -> Metrics:
        """Metrics in a fresh registry; raises ConfigError when prometheus-client is missing."""
        try:
            from prometheus_client import CollectorRegistry
        except ImportError:
            raise ConfigError(
                "MATCHBOT_METRICS_PORT is set but prometheus-client is not installed: "
                "run `pip install prometheus-client`, or leave MATCHBOT_METRICS_PORT empty."
            ) from None
        return cls(CollectorRegistry())

    def observe(self, *, source: str, answered: bool, seconds: float) -> None:
        """Count one question (and whether it was answered) and how long it took."""
        if self.registry is None:
            return
        self._questions.labels(source).inc()
        if answered:
            self._answered.labels(source).inc()
        self._latency.observe(seconds)

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        """Expose ``/metrics`` on ``port`` from a daemon thread."""
        if self.registry is None:
            return
        from prometheus_client import start_http_server

        try:
            start_http_server(port, addr=address, registry=self.registry)
        except OSError as exc:
            raise ConfigError(f"MATCHBOT_METRICS_PORT {port} cannot be used: {exc}.") from exc
