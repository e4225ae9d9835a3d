"""matchbot's settings, read from the environment (and ``.env``) once, at start-up.

Every setting is listed, with a one-line comment, in ``.env.example``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dotenv import load_dotenv

from index.addresses import FetchPolicy
from index.errors import MatchbotError

if TYPE_CHECKING:
    from index.library import Library
    from index.pipeline import ModelSettings, Pipeline

# what `matchbot ask` asks when given no question; the benchmarks time the same one
SAMPLE_QUESTION = "What did Mbappe say to Hakimi after the match?"
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
MAX_K = 10
MAX_SHARDS = 100_000
DEFAULT_FEED_MINUTES = 30
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
    token: str | None = field(default=None, repr=False)  # never in a log line or a traceback's locals
    dev_guild_id: int | None = None
    api_base: str = DEFAULT_API_BASE
    gateway_url: str = DEFAULT_GATEWAY_URL
    log_level: str = "INFO"
    metrics_port: int | None = None  # serve Prometheus metrics on this port; None means no metrics
    rerank: str = "on"  # the second stage's cross-encoder: on (packaged), off, or a model folder
    late_interaction: str = "on"  # and its late-interaction model, likewise
    rerank_passages: int | None = None  # passages the cross-encoder reads; None means the tuned default
    multilingual: str = "on"  # the multilingual encoder (16 languages): on, off, or a model folder
    word_lookup: bool = True  # a question's words looked up among the articles' words (index.word_lookup)
    database_url: str | None = field(default=None, repr=False)  # PostgreSQL; None means SQLite
    shard_count: int | None = None  # None: one gateway connection, no sharding
    shard_ids: tuple[int, ...] | None = None  # the shards this process runs (all when None)
    feed_interval: float = DEFAULT_FEED_MINUTES * 60.0  # seconds between two polls of a feed
    fetch: FetchPolicy = field(default_factory=FetchPolicy)  # what fetching a link or a feed may do
    batch_ms: int = 5  # how long the bot gathers concurrent questions to answer them together
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
            multilingual=_model_switch(env, "MATCHBOT_MULTILINGUAL", ("sp.model", "weights.npz")),
            word_lookup=_on_off(env, "MATCHBOT_WORD_LOOKUP", default=True),
            database_url=_database_url(env),
            feed_interval=60.0
            * _integer(env, "MATCHBOT_FEED_INTERVAL", default=DEFAULT_FEED_MINUTES, low=1, high=1440),
            fetch=FetchPolicy(
                max_bytes=1_000_000 * _integer(env, "MATCHBOT_FETCH_MAX_MB", default=5, low=1, high=100),
                timeout=float(_integer(env, "MATCHBOT_FETCH_TIMEOUT", default=20, low=1, high=300)),
                allow_private=_networks(env, "MATCHBOT_FETCH_ALLOW_PRIVATE"),
            ),
            **_shards(env),
            batch_ms=_integer(env, "MATCHBOT_BATCH_MS", default=5, low=0, high=1000),
            ann=_search_kind(env),
        )

    @property
    def syncs_commands(self) -> bool:
        """Whether this process syncs the slash commands: only the one that runs shard 0 does."""
        return self.shard_count is None or 0 in (self.shard_ids or (0,))

    @property
    def models(self) -> ModelSettings:
        """What these settings say of the models, for ``index.pipeline.load_pipeline``."""
        from index.pipeline import ModelSettings

        return ModelSettings(
            model=self.model,
            rerank=self.rerank,
            late_interaction=self.late_interaction,
            rerank_passages=self.rerank_passages,
            threshold=self.threshold,
            multilingual=self.multilingual,
            word_lookup=self.word_lookup,
        )

    def library(self, pipeline: Pipeline, *, warm_words: bool = False) -> Library:
        """The articles and index these settings name, answered with ``pipeline`` (not opened yet);
        ``warm_words``: the bot's, which encodes the articles' words whenever its index changes."""
        from index.library import Library  # loads FAISS and BM25: only where a command needs them

        return Library(self.seeds_dir, self.data_dir, pipeline, search=self.ann, warm_words=warm_words)

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


def _model_switch(
    env: Mapping[str, str], name: str, files: tuple[str, str] = ("model.onnx", "tokenizer.json")
) -> str:
    """``on``, ``off``, or a folder holding the model's ``files``."""
    value = env.get(name, "on")
    if value.lower() in {"on", "off"}:
        return value.lower()
    folder = Path(value).expanduser()
    if not all((folder / file).is_file() for file in files):
        raise ConfigError(
            f"{name} must be on, off, or a folder holding {' and '.join(files)}; {value!r} is none of these."
        )
    return str(folder)


def _on_off(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = env.get(name, "on" if default else "off").lower()
    if value not in {"on", "off"}:
        raise ConfigError(f"{name} must be on or off, not {env[name]!r}.")
    return value == "on"


def _networks(env: Mapping[str, str], name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma-separated list of addresses or networks (``127.0.0.1, 10.0.0.0/8``); empty when unset."""
    networks = []
    for part in env.get(name, "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"{name} must be addresses or networks separated by commas (e.g. 127.0.0.1, "
                    f"10.0.0.0/8), not {part.strip()!r}."
                ) from None
    return tuple(networks)


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


def _database_url(env: Mapping[str, str]) -> str | None:
    from bot.database import redact  # the one redaction, shared with the database's messages

    url = env.get("DATABASE_URL")
    if url is None:
        return None
    problem = None
    if not re.match(r"postgres(ql)?://", url):
        problem = "it must start with postgresql://"
    else:
        from psycopg.conninfo import conninfo_to_dict

        try:
            port = conninfo_to_dict(url).get("port")
        except Exception:
            problem = "it cannot be read"
        else:
            if port is not None and not all(part.isdigit() for part in str(port).split(",")):
                problem = "its port is not a number"
    if problem:
        raise ConfigError(
            f"DATABASE_URL {redact(url)!r} is not a PostgreSQL URL ({problem}): write it as "
            "postgresql://USER:PASSWORD@HOST:5432/DATABASE, or leave it empty to use SQLite."
        )
    return url


def _shards(env: Mapping[str, str]) -> dict[str, object]:
    """``shard_count`` and ``shard_ids`` from SHARD_COUNT and SHARD_IDS (``0,1``, ``2-3``, ``0,4-5``)."""
    count = _number(
        env, "SHARD_COUNT", int, low=1, high=MAX_SHARDS, what=f"a whole number from 1 to {MAX_SHARDS}"
    )
    raw = env.get("SHARD_IDS")
    if raw is None:
        return {"shard_count": count, "shard_ids": None}
    if count is None:
        raise ConfigError("SHARD_IDS needs SHARD_COUNT: set SHARD_COUNT to the number of shards of the bot.")
    ids: list[int] = []
    for part in raw.replace(" ", "").split(","):
        matched = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if matched is None or (matched[2] is not None and int(matched[2]) < int(matched[1])):
            raise ConfigError(f"SHARD_IDS must list shard numbers like 0,1 or 2-3, not {raw!r}.")
        first, last = int(matched[1]), int(matched[2] or matched[1])
        ids += range(first, last + 1)
    if max(ids) >= count:
        raise ConfigError(
            f"SHARD_IDS {raw!r} names a shard past SHARD_COUNT {count}: shards are 0 to {count - 1}."
        )
    if len(set(ids)) != len(ids):
        raise ConfigError(f"SHARD_IDS {raw!r} names a shard twice: list each shard once.")
    return {"shard_count": count, "shard_ids": tuple(ids)}
