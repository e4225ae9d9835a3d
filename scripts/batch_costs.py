"""What batching buys each model on this machine: the ceiling under the bot's micro-batches.

    python scripts/batch_costs.py [--questions N]

Run from the project root with the seed's index built (``matchbot ask`` builds it). In one process,
interleaved (best of three rounds each), it times:

- the question encoder (the MiniLM export) on N seed questions, in batches of 1, 8, 16 and 64: what the
  first stage's batches can save on encoding;
- the cross-encoder on the 5 best passages of each of those questions: each pair in a call of its own,
  two calls at a time (as matchbot reads them), and in batches of 16 and 64, with the shipped int8
  weights and with them dequantised to fp32 (``index.dequantize``), pairs in order and sorted by length;
  and whether fp32 gives a pair the same score alone and in a batch of 64.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot.config import Config
from index.dequantize import dequantize_folder
from index.onnx import OnnxModel, packaged_model
from index.onnx_embedder import load_embedder
from index.pipeline import load_pipeline
from index.rerank import CROSS_ENCODER, CROSS_SETTING, PAIR_TOKENS, CrossEncoderStage

QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "seed_questions.jsonl"
ROUNDS = 3


def best_rate(items: int, run: Callable[[], object]) -> float:
    """Items per second, the best of ROUNDS runs."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return items / best


def batches(model: OnnxModel, pairs: list[tuple[str, str]], size: int) -> None:
    for start in range(0, len(pairs), size):
        model.run(model.tokenize(pairs[start : start + size]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=128)
    count = parser.parse_args().questions
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [row["question"] for row in rows][:count]

    encoder = load_embedder(None)
    encoder.encode(questions[:16])
    print(f"question encoder, {len(questions)} seed questions:")
    for size in (1, 8, 16, 64):
        rate = best_rate(len(questions), lambda size=size: encoder.encode(questions, batch_size=size))
        print(f"  batches of {size:<3} {1000 / rate:6.2f} ms a question")

    config = Config.from_env()
    library = config.library(load_pipeline(config.models, stages=()))
    library.open()
    retriever = library.retriever
    pairs = []
    for question in questions:
        ranked, _ = retriever.ranked(retriever.first_scores([question])[0])
        pairs += [(question, CrossEncoderStage.text(retriever.store.chunks[row])) for row in ranked[:5]]
    with tempfile.TemporaryDirectory() as folder:
        shipped = packaged_model(CROSS_ENCODER, CROSS_SETTING)
        fp32_folder = dequantize_folder(shipped, Path(folder))
        models = {
            "int8": OnnxModel.load(shipped, max_length=PAIR_TOKENS, setting=CROSS_SETTING),
            "fp32": OnnxModel.load(fp32_folder, max_length=PAIR_TOKENS, setting=CROSS_SETTING),
        }
        lengths = [int(mask.sum()) for mask in models["int8"].tokenize(pairs)["attention_mask"]]
        by_length = [pair for _, pair in sorted(zip(lengths, pairs, strict=True), key=lambda x: x[0])]
        print(f"cross-encoder, {len(pairs)} pairs (5 per question), pairs a second:")
        for name, model in models.items():
            model.run_each(pairs[:4])
            ways = {
                "each in a call of its own, 2 at a time": lambda m=model: m.run_each(pairs),
                "batches of 16": lambda m=model: batches(m, pairs, 16),
                "batches of 16, sorted by length": lambda m=model: batches(m, by_length, 16),
                "batches of 64": lambda m=model: batches(m, pairs, 64),
            }
            for way, run in ways.items():
                print(f"  {name} {way:<40} {best_rate(len(pairs), run):7.1f}")
        fp32 = models["fp32"]
        alone = np.array([float(fp32.run(fp32.tokenize([pair]))[0][0]) for pair in pairs[:64]])
        together = fp32.run(fp32.tokenize(pairs[:64]))[:, 0]
        difference = np.abs(alone - together).max()
        print(f"fp32, a pair alone vs in a batch of 64: largest difference {difference:.2g}")


if __name__ == "__main__":
    main()
