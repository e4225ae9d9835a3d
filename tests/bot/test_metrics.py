"""The optional Prometheus metrics: counted per source, served over HTTP, configured by one variable."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from bot.config import Config, ConfigError
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


def test_metrics_are_served_over_http() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
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
