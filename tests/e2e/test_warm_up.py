"""The bot's start-up warm-up: every model's first call is made in a thread, never on the event loop,
and answers are the same whether the models were warmed or not."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from index.embedding import Embedder
from index.language import LanguageDetector
from index.library import Library
from index.pipeline import ModelSettings, Pipeline, load_pipeline

from .standin import DiscordStandIn
from .wiring import SecondStages, bot_config, copy_seeds, open_bot

pytestmark = [pytest.mark.model, pytest.mark.timeout(120)]

QUESTIONS = [
    "What did Mbappe say to Hakimi after the match?",
    "where was mbappe after the game",
    "qu'a dit regragui après le match",
    "who won the world cup",
]


async def test_the_warm_up_runs_in_a_thread_before_the_bot_connects(
    standin: DiscordStandIn,
    tmp_path: Path,
    embedder: Embedder,
    second_stages: SecondStages,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, threading.Thread, bool]] = []

    def recorded(name: str, warm):  # type: ignore[no-untyped-def]
        def run(self):  # type: ignore[no-untyped-def]
            try:
                asyncio.get_running_loop()
                on_a_loop = True
            except RuntimeError:
                on_a_loop = False
            calls.append((name, threading.current_thread(), on_a_loop))
            return warm(self)

        return run

    monkeypatch.setattr(Pipeline, "warm", recorded("models", Pipeline.warm))
    monkeypatch.setattr(LanguageDetector, "warm", recorded("detector", LanguageDetector.warm))
    bot = await open_bot(bot_config(standin, tmp_path, copy_seeds(tmp_path)), embedder, second_stages)

    async with standin.running(bot, timeout=60):
        await asyncio.wait_for(bot.warmed(), 60)

    assert {name for name, _, _ in calls} == {"models", "detector"}
    assert all(thread is not threading.main_thread() and not on_a_loop for _, thread, on_a_loop in calls)


def test_answers_are_the_same_from_models_never_warmed_and_warmed(
    seed_library: Library, embedder: Embedder
) -> None:
    fresh = load_pipeline(ModelSettings(), encoder=embedder)  # later stages opened anew, never called
    retriever = seed_library.retriever.with_pipeline(fresh)
    cold = [answer.to_json() for answer in retriever.search_many(QUESTIONS, k=5)]

    fresh.warm()
    assert fresh.languages is not None
    fresh.languages.warm()

    assert [answer.to_json() for answer in retriever.search_many(QUESTIONS, k=5)] == cold
