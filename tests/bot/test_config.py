"""Settings are read once from the environment; a bad one is one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_API_BASE, Config, ConfigError


def test_defaults_need_nothing_but_a_token_to_run() -> None:
    config = Config.from_env({})
    assert (config.data_dir, config.seeds_dir, config.k) == (Path("data"), Path("seeds"), 3)
    assert config.model is None and config.threshold is None and config.dev_guild_id is None
    assert config.api_base == DEFAULT_API_BASE
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
        }
    )
    assert config.require_token() == "abc"
    assert (config.data_dir, config.seeds_dir) == (Path("/srv/matchbot"), Path("/srv/articles"))
    assert (config.model, config.k, config.threshold, config.dev_guild_id) == ("/models/mini", 5, 0.3, 123)
    assert config.api_base == "http://127.0.0.1:8080/api/v10"
    assert (config.log_level, config.metrics_port) == ("DEBUG", 9100)


def test_the_second_stage_is_on_unless_switched_off_or_pointed_at_a_model_folder(tmp_path: Path) -> None:
    assert (Config.from_env({}).rerank, Config.from_env({}).late_interaction) == ("on", "on")
    switched = Config.from_env({"MATCHBOT_RERANK": "OFF", "MATCHBOT_LATE_INTERACTION": "off"})
    assert (switched.rerank, switched.late_interaction) == ("off", "off")
    (tmp_path / "model.onnx").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text("{}")
    assert Config.from_env({"MATCHBOT_RERANK": str(tmp_path)}).rerank == str(tmp_path)


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
        ("MATCHBOT_RERANK", "/no/such/model", "on, off, or a folder holding model.onnx"),
        ("MATCHBOT_LATE_INTERACTION", "maybe", "on, off, or a folder holding model.onnx"),
        ("MATCHBOT_ANN", "hnsw", "auto, exact, ivf or ivf-sq8"),
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
