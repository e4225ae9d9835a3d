"""How the end-to-end tests wire matchbot to a stand-in of Discord, as ``matchbot run`` would: a copy of
the seed articles, settings that point at the stand-in, the bot built with the second stage its
settings name and its index opened."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any, Protocol

from bot.client import MatchBot, build
from bot.config import Config
from bot.metrics import Metrics
from index.encoder import Encoder
from index.pipeline import Pipeline

from .standin import DiscordStandIn

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


class SecondStages(Protocol):
    """The session fixture ``second_stages`` (tests/conftest.py)."""

    def pipeline(self, config: Config, encoder: Encoder) -> Pipeline: ...


def copy_seeds(folder: Path) -> Path:
    """A copy of the project's seed articles in ``folder/seeds``, for a test to add to or remove from."""
    seeds = folder / "seeds"
    shutil.copytree(SEEDS, seeds)
    return seeds


def bot_config(standin: DiscordStandIn, folder: Path, seeds: Path, **settings: Any) -> Config:
    """Settings for a bot that logs in to ``standin``, reads ``seeds``, keeps its data in
    ``folder/data`` and quotes three passages (``settings`` adds or overrides any)."""
    return Config(
        **{
            "data_dir": folder / "data",
            "seeds_dir": seeds,
            "model": None,
            "k": 3,
            "threshold": None,
            "token": standin.bot_token,
            "api_base": standin.api_base,
            "gateway_url": standin.gateway_url,
        }
        | settings
    )


async def open_bot(config: Config, encoder: Encoder, second_stages: SecondStages) -> MatchBot:
    """The bot ``config`` describes, with its index opened (off the event loop), not yet connected.

    It answers as ``matchbot run`` does: with the pipeline ``config`` names (both later stages unless
    MATCHBOT_RERANK and MATCHBOT_LATE_INTERACTION are off) and ``encoder``, its stages taken from
    ``second_stages`` (the session's fixture of that name, which loads each setting once).
    """
    pipeline = await asyncio.to_thread(second_stages.pipeline, config, encoder)
    bot = await build(config, pipeline, Metrics.collecting())
    await asyncio.to_thread(bot.library.open)
    return bot
