"""The optional Prometheus metrics: counted per source, served over HTTP, configured by one variable."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from bot.config import Config, ConfigError
from bot.lag import LagMonitor
from bot.metrics import Metrics


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    assert metrics.registry is not None
    return metrics.registry.get_sample_value(name, labels)


def test_questions_answers_and_latency_are_counted() -> None:
    metrics = Metrics.collecting()
    metrics.observe(source="slash", answered=True, seconds=0.2)
    metrics.observe(source="slash", answered=False, seconds=0.3)
    metrics.observe(source="mention", answered=True, seconds=4.0)
    assert sample(metrics, "matchbot_questions_total", source="slash") == 2
    assert sample(metrics, "matchbot_answered_total", source="slash") == 1
    assert sample(metrics, "matchbot_answered_total", source="mention") == 1
    assert sample(metrics, "matchbot_answer_seconds_count") == 3
    assert sample(metrics, "matchbot_answer_seconds_bucket", le="0.25") == 1


def test_disabled_metrics_record_nothing() -> None:
    metrics = Metrics.disabled()
    metrics.observe(source="slash", answered=True, seconds=0.1)
    metrics.serve(1)  # no server, no error
    assert metrics.registry is None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_metrics_are_served_over_http() -> None:
    port = free_port()
    metrics = Metrics.collecting()
    metrics.observe(source="menu", answered=True, seconds=0.1)
    metrics.serve(port, address="127.0.0.1")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body = response.read().decode()
    assert 'matchbot_questions_total{source="menu"} 1.0' in body


def test_the_port_is_read_from_the_environment() -> None:
    assert Config.from_env({}, read_dotenv=False).metrics_port is None
    assert Config.from_env({"MATCHBOT_METRICS_PORT": "9108"}, read_dotenv=False).metrics_port == 9108
    with pytest.raises(ConfigError, match="MATCHBOT_METRICS_PORT"):
        Config.from_env({"MATCHBOT_METRICS_PORT": "http"}, read_dotenv=False)


def test_declines_index_size_and_gateway_latency_are_exported() -> None:
    metrics = Metrics.collecting()
    metrics.observe(source="slash", answered=False, seconds=0.1)
    metrics.track(chunks=lambda: 120, articles=lambda: 3, gateway=lambda: 0.042)
    assert sample(metrics, "matchbot_declined_total", source="slash") == 1
    assert sample(metrics, "matchbot_index_chunks") == 120
    assert sample(metrics, "matchbot_index_articles") == 3
    assert sample(metrics, "matchbot_gateway_latency_seconds") == 0.042
    assert (sample(metrics, "process_resident_memory_bytes") or 0) > 1_000_000


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_healthz_is_200_when_ready_and_503_otherwise() -> None:
    port = free_port()
    state = {"ready": False}
    metrics = Metrics.collecting()
    metrics.serve(
        port,
        "127.0.0.1",
        health=lambda: (state["ready"], {"status": "starting" if not state["ready"] else "ready"}),
    )
    try:
        assert get(f"http://127.0.0.1:{port}/healthz") == (503, {"status": "starting"})
        state["ready"] = True
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ready"})
    finally:
        metrics.stop_serving()


async def test_the_lag_monitor_sees_the_loop_blocked() -> None:
    seen: list[float] = []
    monitor = LagMonitor(seen.append, interval=0.01)
    monitor.start()
    await asyncio.sleep(0.05)
    time.sleep(0.3)  # blocking the event loop on purpose
    await asyncio.sleep(0.05)
    monitor.stop()
    assert max(seen) >= 0.25
    assert monitor.percentile(1.0) == max(seen)
