"""``matchbot run`` with the model-free embedder: the bot as a process, for tests that signal or kill it.

    python tests/e2e/run_bot.py    # reads the environment (and .env) exactly as `matchbot run` does

Everything is the real command (configuration, logging, signals, exit status) except the embedding
model. ``MATCHBOT_TEST_QUESTION_DELAY`` (seconds) makes each question's embedding take that long, so
that a test can have answers in flight.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "tests"))  # tests/conftest.py imports its neighbours by name

import index.embedding  # noqa: E402
from bot.cli import main  # noqa: E402
from tests.conftest import FakeEmbedder  # noqa: E402

QUESTION_DELAY = float(os.environ.get("MATCHBOT_TEST_QUESTION_DELAY") or 0)


class SlowQuestions(FakeEmbedder):
    def encode(self, texts: Sequence[str], **options: object):  # type: ignore[override]
        if QUESTION_DELAY and len(texts) == 1:  # a question (articles come in batches of two or more)
            time.sleep(QUESTION_DELAY)
        return super().encode(texts, **options)  # type: ignore[arg-type]


index.embedding.Embedder.load = classmethod(lambda cls, model=None: SlowQuestions())  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(main(["run"]))
