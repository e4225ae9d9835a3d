"""Settings are read once from the environment; a bad one is one line naming the variable."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from bot.config import DEFAULT_API_BASE, Config, ConfigError
from index.web import FetchPolicy


def test_defaults_need_nothing_but_a_token_to_run() -> None:
    config = Config.from_env({})
    assert (config.data_dir, config.seeds_dir, config.k) == (Path("data"), Path("seeds"), 3)
    assert config.model is None and config.threshold is None and config.dev_guild_id is None
    assert config.api_base == DEFAULT_API_BASE
    assert config.feed_interval == 30 * 60
    assert config.fetch == FetchPolicy(max_bytes=5_000_000, timeout=20.0, allow_private=())
    with pytest.raises(ConfigError, match=r"DISCORD_TOKEN is not set: copy \.env\.example to \.env"):
        config.require_token()


def test_every_setting_is_read() -> None:
    config = Config.from_env(
        {
            "DISCORD_TOKEN": " abc ",
            "MATCHBOT_DATA": "/srv/matchbot",
            "MATCHBOT_SEEDS": "/srv/articles",
            "MATCHBOT_MODEL": "/models/mini",
            "MATCHBOT_K": "5",
            "MATCHBOT_THRESHOLD": "0.3",
            "DEV_GUILD_ID": "123",
            "DISCORD_API_BASE": "http://127.0.0.1:8080/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:8080/gateway",
            "MATCHBOT_LOG_LEVEL": "debug",
            "MATCHBOT_METRICS_PORT": "9100",
            "MATCHBOT_FEED_INTERVAL": "5",
            "MATCHBOT_FETCH_ALLOW_PRIVATE": "127.0.0.1, 10.0.0.0/8,::1",
            "MATCHBOT_FETCH_MAX_MB": "2",
            "MATCHBOT_FETCH_TIMEOUT": "8",
            "MATCHBOT_BATCH_MS": "20",
        }
    )
    assert config.require_token() == "abc"
    assert (config.data_dir, config.seeds_dir) == (Path("/srv/matchbot"), Path("/srv/articles"))
    assert (config.model, config.k, config.threshold, config.dev_guild_id) == ("/models/mini", 5, 0.3, 123)
    assert config.api_base == "http://127.0.0.1:8080/api/v10"
    assert (config.log_level, config.metrics_port) == ("DEBUG", 9100)
    assert config.feed_interval == 5 * 60
    assert config.fetch == FetchPolicy(
        max_bytes=2_000_000,
        timeout=8.0,
        allow_private=tuple(ipaddress.ip_network(n) for n in ("127.0.0.1/32", "10.0.0.0/8", "::1/128")),
    )
    assert config.batch_ms == 20


def test_the_second_stage_is_on_unless_switched_off_or_pointed_at_a_model_folder(tmp_path: Path) -> None:
    assert (Config.from_env({}).rerank, Config.from_env({}).late_interaction) == ("on", "on")
    switched = Config.from_env({"MATCHBOT_RERANK": "OFF", "MATCHBOT_LATE_INTERACTION": "off"})
    assert (switched.rerank, switched.late_interaction) == ("off", "off")
    (tmp_path / "model.onnx").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text("{}")
    assert Config.from_env({"MATCHBOT_RERANK": str(tmp_path)}).rerank == str(tmp_path)


def test_word_lookup_is_on_unless_switched_off_and_reaches_the_pipeline() -> None:
    assert Config.from_env({}).models.word_lookup
    assert not Config.from_env({"MATCHBOT_WORD_LOOKUP": "OFF"}).models.word_lookup


def test_the_search_kind_is_auto_unless_forced() -> None:
    assert Config.from_env({}).ann == "auto"
    assert Config.from_env({"MATCHBOT_ANN": "IVF-SQ8"}).ann == "ivf-sq8"


def test_command_line_folders_win_over_the_environment() -> None:
    config = Config.from_env({"MATCHBOT_DATA": "env-data"}, data_dir="flag-data", seeds_dir="flag-seeds")
    assert (config.data_dir, config.seeds_dir) == (Path("flag-data"), Path("flag-seeds"))


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("MATCHBOT_K", "lots", "a whole number from 1 to 10"),
        ("MATCHBOT_K", "0", "a whole number from 1 to 10"),
        ("MATCHBOT_THRESHOLD", "1.5", "a number from 0 to 1"),
        ("MATCHBOT_THRESHOLD", "high", "a number from 0 to 1"),
        ("DEV_GUILD_ID", "my-server", "a server ID"),
        ("MATCHBOT_METRICS_PORT", "70000", "a port number from 1 to 65535"),
        ("MATCHBOT_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING or ERROR"),
        ("MATCHBOT_BATCH_MS", "soon", "a whole number from 0 to 1000"),
        ("MATCHBOT_RERANK", "/no/such/model", "on, off, or a folder holding model.onnx"),
        ("MATCHBOT_LATE_INTERACTION", "maybe", "on, off, or a folder holding model.onnx"),
        ("MATCHBOT_FEED_INTERVAL", "0", "a whole number from 1 to 1440"),
        ("MATCHBOT_FETCH_MAX_MB", "0.5", "a whole number from 1 to 100"),
        ("MATCHBOT_FETCH_TIMEOUT", "forever", "a whole number from 1 to 300"),
        ("MATCHBOT_FETCH_ALLOW_PRIVATE", "127.0.0.1, localhost", "addresses or networks"),
        ("MATCHBOT_FETCH_ALLOW_PRIVATE", "yes", "addresses or networks"),
        ("MATCHBOT_ANN", "hnsw", "auto, exact, ivf or ivf-sq8"),
        ("MATCHBOT_WORD_LOOKUP", "yes", "on or off"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name} must be") and says in message and "\n" not in message


def test_dotenv_is_read_without_overriding_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-file\nMATCHBOT_K=7\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "")  # recorded, so the value .env sets is undone afterwards
    monkeypatch.delenv("DISCORD_TOKEN")
    monkeypatch.setenv("MATCHBOT_K", "2")
    config = Config.from_env()
    assert config.token == "from-file"
    assert config.k == 2


def test_shards_and_the_database_are_read() -> None:
    url = "postgresql://matchbot:s3cret@db.example:5432/matchbot"
    config = Config.from_env({"SHARD_COUNT": "6", "SHARD_IDS": "0, 2-4", "DATABASE_URL": url})
    assert (config.shard_count, config.shard_ids, config.database_url) == (6, (0, 2, 3, 4), url)
    assert config.syncs_commands
    assert "s3cret" not in repr(config)
    other = Config.from_env({"SHARD_COUNT": "6", "SHARD_IDS": "5"})
    assert other.database_url is None and not other.syncs_commands  # shard 0's process syncs
    every = Config.from_env({"SHARD_COUNT": "2"})
    assert (every.shard_count, every.shard_ids, every.syncs_commands) == (2, None, True)
    unsharded = Config.from_env({})
    assert (unsharded.shard_count, unsharded.shard_ids, unsharded.syncs_commands) == (None, None, True)


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT must be a whole number from 1 to"),
        ({"SHARD_COUNT": "two"}, "SHARD_COUNT must be a whole number from 1 to"),
        ({"SHARD_IDS": "0"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "names a shard past SHARD_COUNT 2: shards are 0 to 1"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "1-3,2"}, "names a shard twice"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "3-1"}, "must list shard numbers like 0,1 or 2-3"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "one"}, "must list shard numbers like 0,1 or 2-3"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "-1"}, "must list shard numbers like 0,1 or 2-3"),
        ({"DATABASE_URL": "mysql://u:s3cret@h/db"}, "must start with postgresql://"),
        ({"DATABASE_URL": "postgresql://u:s3cret@h:port/db"}, "its port is not a number"),
        ({"DATABASE_URL": "postgresql://u:s3cret@h/db?nonsense"}, "it cannot be read"),
    ],
)
def test_bad_shard_or_database_settings_are_one_line(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env(environ)
    message = str(caught.value)
    assert says in message and "\n" not in message and "s3cret" not in message


def test_every_setting_read_is_in_env_example_and_in_the_readme_table() -> None:
    repo = Path(__file__).resolve().parents[2]
    read = set(
        re.findall(
            r'"((?:MATCHBOT|DISCORD|DEV|DATABASE|SHARD)_[A-Z_]+)"', (repo / "bot/config.py").read_text()
        )
    )
    assert {
        "DATABASE_URL",
        "SHARD_COUNT",
        "SHARD_IDS",
        "MATCHBOT_FEED_INTERVAL",
        "MATCHBOT_FETCH_TIMEOUT",
    } <= read
    example = set(re.findall(r"^([A-Z_]+)=", (repo / ".env.example").read_text(), re.MULTILINE))
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", (repo / "README.md").read_text(), re.MULTILINE))
    assert read == example
    assert read <= table
