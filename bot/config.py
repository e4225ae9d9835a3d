"""matchbot's settings, read from the environment (and ``.env``) once, at start-up.

Every setting is listed, with a one-line comment, in ``.env.example``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from dotenv import load_dotenv

from index.errors import MatchbotError

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
MAX_K = 10
Number = TypeVar("Number", int, float)


class ConfigError(MatchbotError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything matchbot reads from its environment."""

    data_dir: Path
    seeds_dir: Path
    model: str | None  # a local sentence-transformers folder; None means the bundled MiniLM
    k: int
    threshold: float | None  # None means the retriever's calibrated default
    token: str | None = None
    dev_guild_id: int | None = None
    api_base: str = DEFAULT_API_BASE
    gateway_url: str = DEFAULT_GATEWAY_URL
    log_level: str = "INFO"
    metrics_port: int | None = None  # serve Prometheus metrics on this port; None means no metrics
    rerank: str = "on"  # the second stage's cross-encoder: on (packaged), off, or a model folder
    late_interaction: str = "on"  # and its late-interaction model, likewise
    rerank_passages: int | None = None  # passages the cross-encoder reads; None means the tuned default
    ann: str = "auto"  # how the index's vectors are searched: auto, exact, ivf or ivf-sq8 (index.ann)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        data_dir: str | Path | None = None,
        seeds_dir: str | Path | None = None,
        read_dotenv: bool = True,
    ) -> Config:
        """Build the configuration; explicit arguments (command-line flags) win over the environment.

        With ``environ`` left as None, ``.env`` in the working directory is loaded first (without
        overriding variables that are already set) and ``os.environ`` is read.
        """
        if environ is None:
            if read_dotenv:
                load_dotenv(Path.cwd() / ".env", override=False)
            environ = os.environ
        env = {key: value.strip() for key, value in environ.items() if value.strip()}
        return cls(
            data_dir=Path(data_dir or env.get("MATCHBOT_DATA", "data")).expanduser(),
            seeds_dir=Path(seeds_dir or env.get("MATCHBOT_SEEDS", "seeds")).expanduser(),
            model=env.get("MATCHBOT_MODEL"),
            k=_integer(env, "MATCHBOT_K", default=3, low=1, high=MAX_K),
            threshold=_fraction(env, "MATCHBOT_THRESHOLD"),
            token=env.get("DISCORD_TOKEN"),
            dev_guild_id=_snowflake(env, "DEV_GUILD_ID"),
            api_base=env.get("DISCORD_API_BASE", DEFAULT_API_BASE).rstrip("/"),
            gateway_url=env.get("DISCORD_GATEWAY_URL", DEFAULT_GATEWAY_URL),
            log_level=_log_level(env),
            metrics_port=_port(env, "MATCHBOT_METRICS_PORT"),
            rerank=_model_switch(env, "MATCHBOT_RERANK"),
            late_interaction=_model_switch(env, "MATCHBOT_LATE_INTERACTION"),
            rerank_passages=_number(
                env, "MATCHBOT_RERANK_PASSAGES", int, low=1, high=20, what="a whole number from 1 to 20"
            ),
            ann=_search_kind(env),
        )

    def require_token(self) -> str:
        """The Discord bot token, or a ConfigError saying where to put it."""
        if not self.token:
            raise ConfigError(
                "DISCORD_TOKEN is not set: copy .env.example to .env and paste your bot's token "
                "(Discord Developer Portal → your application → Bot → Reset Token)."
            )
        return self.token


def _number(
    env: Mapping[str, str], name: str, kind: type[Number], *, low: Number, high: Number, what: str
) -> Number | None:
    """The variable parsed as ``kind`` within ``low``..``high``, None when unset, else a ConfigError."""
    raw = env.get(name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ConfigError(f"{name} must be {what}, not {raw!r}.")
    return value


def _integer(env: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    value = _number(env, name, int, low=low, high=high, what=f"a whole number from {low} to {high}")
    return default if value is None else value


def _fraction(env: Mapping[str, str], name: str) -> float | None:
    return _number(env, name, float, low=0.0, high=1.0, what="a number from 0 to 1")


def _snowflake(env: Mapping[str, str], name: str) -> int | None:
    return _number(env, name, int, low=0, high=2**64 - 1, what="a server ID (digits only)")


def _port(env: Mapping[str, str], name: str) -> int | None:
    return _number(env, name, int, low=1, high=65535, what="a port number from 1 to 65535")


def _model_switch(env: Mapping[str, str], name: str) -> str:
    """``on``, ``off``, or a folder holding an ONNX model and its tokenizer."""
    value = env.get(name, "on")
    if value.lower() in {"on", "off"}:
        return value.lower()
    folder = Path(value).expanduser()
    if not (folder / "model.onnx").is_file() or not (folder / "tokenizer.json").is_file():
        raise ConfigError(
            f"{name} must be on, off, or a folder holding model.onnx and tokenizer.json; "
            f"{value!r} is none of these."
        )
    return str(folder)


def _search_kind(env: Mapping[str, str]) -> str:
    kind = env.get("MATCHBOT_ANN", "auto").lower()
    if kind not in {"auto", "exact", "ivf", "ivf-sq8"}:
        raise ConfigError(f"MATCHBOT_ANN must be auto, exact, ivf or ivf-sq8, not {kind!r}.")
    return kind


def _log_level(env: Mapping[str, str]) -> str:
    level = env.get("MATCHBOT_LOG_LEVEL", "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"MATCHBOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}.")
    return level
