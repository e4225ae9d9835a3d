"""Optional Prometheus metrics and the health check, served together on ``MATCHBOT_METRICS_PORT``.

``/metrics``: questions asked, answered and declined, answer latency, the index's size, the gateway's
latency, the event loop's lag, and the process's memory and CPU. ``/healthz``: 200 with a small JSON
body when matchbot is logged in and its index is loaded, else 503. Without the port the bot records
nothing (``Metrics.disabled()``) and never imports prometheus-client.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bot.config import ConfigError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
Health = Callable[[], tuple[bool, dict[str, Any]]]  # (ready?, what /healthz shows)


class Metrics:
    """The bot's metrics, in their own registry (so two bots in one process don't collide)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.registry = registry
        self._server: WSGIServer | None = None
        if registry is None:
            return
        from prometheus_client import Counter, Gauge, Histogram, ProcessCollector

        ProcessCollector(registry=registry)  # process_resident_memory_bytes, CPU seconds, open files
        self._questions = Counter(
            "matchbot_questions", "Questions asked, by where they came from.", ["source"], registry=registry
        )
        self._answered = Counter(
            "matchbot_answered", "Questions answered with confidence.", ["source"], registry=registry
        )
        self._declined = Counter(
            "matchbot_declined", "Questions declined (no confident answer).", ["source"], registry=registry
        )
        self._latency = Histogram(
            "matchbot_answer_seconds",
            "Time from question to rendered answer (search and logging).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._lag = Histogram(
            "matchbot_event_loop_lag_seconds",
            "How late the event loop ran, measured every 50 ms.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self._chunks = Gauge("matchbot_index_chunks", "Passages in the loaded index.", registry=registry)
        self._articles = Gauge("matchbot_index_articles", "Articles in the loaded index.", registry=registry)
        self._gateway = Gauge(
            "matchbot_gateway_latency_seconds",
            "Time between a gateway heartbeat and its acknowledgement (NaN before the first).",
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
        """Count one question (answered or declined) and how long it took."""
        if self.registry is None:
            return
        self._questions.labels(source).inc()
        (self._answered if answered else self._declined).labels(source).inc()
        self._latency.observe(seconds)

    def observe_lag(self, seconds: float) -> None:
        if self.registry is not None:
            self._lag.observe(seconds)

    def track(
        self, *, chunks: Callable[[], float], articles: Callable[[], float], gateway: Callable[[], float]
    ) -> None:
        """Read the index's size and the gateway's latency from these functions at each scrape."""
        if self.registry is None:
            return
        self._chunks.set_function(chunks)
        self._articles.set_function(articles)
        self._gateway.set_function(gateway)

    def serve(self, port: int, address: str = "0.0.0.0", *, health: Health | None = None) -> None:
        """Serve ``/metrics`` and ``/healthz`` on ``port`` from a daemon thread."""
        if self.registry is None:
            return
        from prometheus_client import make_wsgi_app

        metrics_app = make_wsgi_app(self.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") != "/healthz":
                return metrics_app(environ, start_response)
            ready, body = health() if health is not None else (True, {"status": "ready"})
            status = "200 OK" if ready else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]

        try:
            server = make_server(address, port, app, _ThreadingServer, handler_class=_QuietHandler)
        except OSError as exc:
            raise ConfigError(f"MATCHBOT_METRICS_PORT {port} cannot be used: {exc}.") from exc
        threading.Thread(target=server.serve_forever, name="matchbot-metrics", daemon=True).start()
        self._server = server

    def stop_serving(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.shutdown()
            server.server_close()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # every scrape is not worth a log line
        log.debug("metrics: " + format, *args)
