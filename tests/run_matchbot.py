"""``matchbot`` with the model-free embedder and no second stage: the command line as a process, for
tests that read what it prints on the terminal.

    python tests/run_matchbot.py add URL --seeds DIR --data DIR

Everything is the real command (configuration, logging, output, exit status) except the models.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "tests"))  # tests/conftest.py imports its neighbours by name

from bot.cli import main  # noqa: E402
from index import onnx_embedder, rerank  # noqa: E402
from tests.conftest import FakeEmbedder  # noqa: E402

onnx_embedder.load_embedder = lambda model=None: FakeEmbedder()  # type: ignore[assignment]
rerank.load_second_stage = lambda *settings: ()  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
