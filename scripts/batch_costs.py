"""What batching buys each model on this machine: the ceiling under the bot's micro-batches.

    python scripts/batch_costs.py [--questions N]

Run from the project root with the seed's index built (``matchbot ask`` builds it). In one process,
interleaved (best of three rounds each), it times:

- the question encoder (the MiniLM export) on N seed questions, in batches of 1, 8, 16 and 64: what the
  first stage's batches can save on encoding;
- the cross-encoder on the 5 best passages of each of those questions: each pair in a call of its own,
  two calls at a time (as matchbot reads them), and in batches of 16 and 64, with the shipped int8
  weights, with them dequantised to fp32 (``index.dequantize``) and with the fp32 weights quantised
  statically (activation scales calibrated once, on dev-split questions' pairs, by onnxruntime's
  ``quantize_static``), pairs in order and sorted by length; whether each gives a pair the same score
  alone and in a batch of 64, and how far each model's logits are from the fp32 ones.

The timed questions are held-out (test split) ones; the static model's calibration reads dev-split ones.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot.config import Config
from index.dequantize import dequantize_folder
from index.evaluation import read_questions
from index.onnx import OnnxModel, packaged_model
from index.onnx_embedder import load_embedder
from index.pipeline import load_pipeline
from index.rerank import CROSS_ENCODER, CROSS_SETTING, PAIR_TOKENS, CrossEncoder, CrossEncoderStage
from index.retriever import Retriever

QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "seed_questions.jsonl"
ROUNDS = 3
CALIBRATION_QUESTIONS = 120
PASSAGES = 5  # the best passages of each question the cross-encoder reads


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


def best_pairs(retriever: Retriever, questions: list[str]) -> list[tuple[str, str]]:
    """Each question with each of its PASSAGES best passages of the first stage, as the cross-encoder
    reads them."""
    pairs = []
    for question in questions:
        ranked, _ = retriever.ranked(retriever.first_scores([question])[0])
        chunks = [retriever.store.chunks[row] for row in ranked[:PASSAGES]]
        pairs += [(question, CrossEncoderStage.text(chunk)) for chunk in chunks]
    return pairs


def quantized_statically(fp32_folder: Path, target: Path, calibration: list[tuple[str, str]]) -> Path:
    """The fp32 cross-encoder with every MatMul that has a weight quantised to int8, its activation's
    scale calibrated (min-max) on ``calibration`` once, written to ``target``."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    graph = onnx.load(str(fp32_folder / "model.onnx")).graph
    names = {node.name for node in graph.input}
    reader_model = OnnxModel.load(fp32_folder, max_length=PAIR_TOKENS, setting=CROSS_SETTING)

    class Pairs(CalibrationDataReader):
        def __init__(self) -> None:
            self.inputs = (
                {key: value for key, value in reader_model.tokenize([pair]).items() if key in names}
                for pair in calibration
            )

        def get_next(self) -> dict | None:
            return next(self.inputs, None)

    weights = {tensor.name for tensor in graph.initializer}
    weighted = [node.name for node in graph.node if node.op_type == "MatMul" and set(node.input) & weights]
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(fp32_folder / "tokenizer.json", target / "tokenizer.json")
    quantize_static(
        str(fp32_folder / "model.onnx"),
        str(target / "model.onnx"),
        Pairs(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        nodes_to_quantize=weighted,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=128)
    count = parser.parse_args().questions
    questions = [row.question for row in read_questions(QUESTIONS, "test") if not row.off_topic][:count]
    calibration_questions = [row.question for row in read_questions(QUESTIONS, "dev") if not row.off_topic]

    encoder = load_embedder(None)
    encoder.encode(questions[:16])
    print(f"question encoder, {len(questions)} seed questions:")
    for size in (1, 8, 16, 64):
        rate = best_rate(len(questions), lambda size=size: encoder.encode(questions, batch_size=size))
        print(f"  batches of {size:<3} {1000 / rate:6.2f} ms a question")

    config = Config.from_env()
    library = config.library(load_pipeline(config.models, stages=()))
    library.open()
    pairs = best_pairs(library.retriever, questions)
    calibration = best_pairs(library.retriever, calibration_questions[:CALIBRATION_QUESTIONS])
    with tempfile.TemporaryDirectory() as folder:
        shipped = packaged_model(CROSS_ENCODER, CROSS_SETTING)
        fp32_folder = dequantize_folder(shipped, Path(folder) / "fp32")
        static_folder = quantized_statically(fp32_folder, Path(folder) / "static", calibration)
        models = {
            "int8": OnnxModel.load(shipped, max_length=PAIR_TOKENS, setting=CROSS_SETTING),
            "fp32": OnnxModel.load(fp32_folder, max_length=PAIR_TOKENS, setting=CROSS_SETTING),
            "int8 static": OnnxModel.load(static_folder, max_length=PAIR_TOKENS, setting=CROSS_SETTING),
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
        alone_of = {name: CrossEncoder(model).score_pairs(pairs) for name, model in models.items()}
        exact = alone_of["fp32"]
        print("each model's logits: a pair alone vs in a batch of 64; against the fp32 model's")
        for name, model in models.items():
            alone = alone_of[name]
            together = model.run(model.tokenize(pairs[:64]))[:, 0]
            same_best = np.mean(
                [
                    np.argmax(alone[start : start + PASSAGES]) == np.argmax(exact[start : start + PASSAGES])
                    for start in range(0, len(pairs), PASSAGES)
                ]
            )
            print(
                f"  {name:<12} alone vs batch: largest difference {np.abs(alone[:64] - together).max():.2g};"
                f" vs fp32: mean difference {np.abs(alone - exact).mean():.3f}, same best of"
                f" {PASSAGES} for {same_best:.1%} of the questions"
            )


if __name__ == "__main__":
    main()
