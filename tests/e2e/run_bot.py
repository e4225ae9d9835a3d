"""``matchbot run`` as a process, for tests that signal or kill it, with a way to slow its answers down.

    python tests/e2e/run_bot.py    # reads the environment (and .env) exactly as `matchbot run` does

Everything is the real command: configuration, logging, signals, exit status, and the models it loads
(``load_embedder``'s choice, the ONNX export or sentence-transformers, and the second stage). The one
addition is a wrapper around whatever embedder ``load_embedder`` returns: with
``MATCHBOT_TEST_QUESTION_DELAY`` (seconds), every encoding of questions (the calls made from the bot's
search threads, which answer every question) first sleeps that long, and with
``MATCHBOT_TEST_QUESTION_LOG`` (a file) each such call writes ``sleeping <questions>`` when it starts and
``woke <questions>`` when it is done, so that a test can tell an answer is in flight.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import index.onnx_embedder  # noqa: E402
from bot.cli import main  # noqa: E402
from index.onnx_embedder import load_embedder  # noqa: E402

QUESTION_DELAY = float(os.environ.get("MATCHBOT_TEST_QUESTION_DELAY") or 0)
QUESTION_LOG = os.environ.get("MATCHBOT_TEST_QUESTION_LOG")
SEARCH_THREAD = "matchbot-search"  # the name of MatchBot.search_pool's threads


class SlowQuestions:
    """An embedder whose encodings of questions start with a sleep; everything else as it was."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension

    def encode(self, texts: Sequence[str], **options: Any) -> Any:
        if not threading.current_thread().name.startswith(SEARCH_THREAD):  # indexing: not slowed
            return self.embedder.encode(texts, **options)
        record("sleeping", texts)
        time.sleep(QUESTION_DELAY)
        vectors = self.embedder.encode(texts, **options)
        record("woke", texts)
        return vectors


def record(what: str, texts: Sequence[str]) -> None:
    if QUESTION_LOG:
        with open(QUESTION_LOG, "a", encoding="utf-8") as log:
            log.write(f"{what} {json.dumps(list(texts))}\n")


def slow_embedder(model: str | None = None) -> SlowQuestions:
    return SlowQuestions(load_embedder(model))


# what `matchbot run` (index.pipeline.load_pipeline) loads its encoder with
index.onnx_embedder.load_embedder = slow_embedder  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(main(["run"]))
