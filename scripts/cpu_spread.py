"""How far the quality figures move between processors, measured rather than guessed.

    python scripts/cpu_spread.py [--questions FILE] [--seeds PATH] [--cpus Haswell-v4 ...] [--limit N]

The second stage's models are int8 (``MatMulInteger``), and onnxruntime picks integer kernels by the
processor's instruction set: with AVX-512 VNNI a product of int8 values is summed exactly, on AVX2 alone
pairs of products are summed into 16 bits, which can saturate. matchbot asks for exact (u8u8) kernels on
every x86 processor (``index.onnx.SESSION_CONFIG``); this script measures what is left of the difference.
It answers every question with each of these, in one run:

- ``native``: this machine, as matchbot runs;
- ``native, default int8 kernels``: without matchbot's kernel setting (what a processor without VNNI
  computed before it);
- ``native, fp32 second stage``: both models with their int8 weights dequantised to fp32
  (``index.dequantize``): the same weights, multiplied in floating point; a stand-in for any kernel;
- ``<CPU>``, for each ``--cpus`` model: the same process emulated by ``qemu-x86_64 -cpu <CPU>`` (when it
  is installed: Debian's ``qemu-user``), so onnxruntime and NumPy see that processor's instruction set
  (``Haswell-v4``: AVX2 without AVX-512 or VNNI). Emulation is slow: about 30 times.

For each split, system (the whole path, the first stage alone) and figure it prints every variant's
value, the spread in questions, and the lowest value less a margin of ``--margin`` questions: the
floors ``tests/index/test_quality.py`` holds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPLITS = (None, "dev", "test")
FIGURES = ("hit_at_1", "hit_at_3", "mrr_at_k", "declined_off_topic", "declined_answerable")


def child(questions: Path, seeds: Path, data: Path, precise: bool, out: Path) -> None:
    """Answer every question with both systems; write each answer's rank of the first hit and whether it
    was answered, one JSON line per question and system."""
    sys.path.insert(0, str(REPO))
    import index.onnx
    from bot.cli import _open_library
    from bot.config import Config
    from index.evaluation import answer_all, is_hit, read_questions

    if not precise:
        index.onnx.SESSION_CONFIG.pop("session.x64quantprecision", None)
    config = Config.from_env(data_dir=data, seeds_dir=seeds, read_dotenv=False)
    library, _ = _open_library(config)
    asked = read_questions(questions)
    systems = {"matchbot": library.retriever, "first stage": library.retriever.first_stage_only()}
    with out.open("w", encoding="utf-8") as lines:
        for name, retriever in systems.items():
            for question, answer in zip(asked, answer_all(retriever, asked, k=10), strict=True):
                rank = next(
                    (n for n, p in enumerate(answer.passages, 1) if is_hit(p.text, question.expect)), 0
                )
                record = {
                    "system": name,
                    "question": question.question,
                    "split": question.split,
                    "off_topic": question.off_topic,
                    "rank": rank,
                    "answered": answer.answered,
                    "confidence": answer.confidence,
                }
                lines.write(json.dumps(record) + "\n")


def figures(records: list[dict], system: str, split: str | None) -> dict[str, tuple[int, int]]:
    """Each figure as (count, out of), so that spreads can be told in questions."""
    mine = [r for r in records if r["system"] == system and (split is None or r["split"] == split)]
    answerable = [r for r in mine if not r["off_topic"]]
    off_topic = [r for r in mine if r["off_topic"]]
    return {
        "hit_at_1": (sum(r["rank"] == 1 for r in answerable), len(answerable)),
        "hit_at_3": (sum(1 <= r["rank"] <= 3 for r in answerable), len(answerable)),
        "mrr_at_k": (sum(1 / r["rank"] for r in answerable if r["rank"]), len(answerable)),
        "declined_off_topic": (sum(not r["answered"] for r in off_topic), len(off_topic)),
        "declined_answerable": (sum(not r["answered"] for r in answerable), len(answerable)),
    }


def fp32_models(folder: Path) -> dict[str, str]:
    """Both second-stage models dequantised to fp32 in ``folder``, as the settings that select them."""
    sys.path.insert(0, str(REPO))
    from index.dequantize import dequantize_folder
    from index.onnx import packaged_model
    from index.rerank import CROSS_ENCODER, CROSS_SETTING, LATE_INTERACTION, LATE_SETTING

    return {
        setting: str(dequantize_folder(packaged_model(name, setting), folder / name))
        for name, setting in ((CROSS_ENCODER, CROSS_SETTING), (LATE_INTERACTION, LATE_SETTING))
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=REPO / "tests/data/seed_questions.jsonl")
    parser.add_argument("--seeds", type=Path, default=REPO / "seeds")
    parser.add_argument("--data", type=Path, help="index folder (default: a temporary one)")
    parser.add_argument("--cpus", nargs="*", default=["Haswell-v4"], help="qemu CPU models to emulate")
    parser.add_argument("--margin", type=int, default=2, help="questions below the lowest figure")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--default-kernels", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.questions, args.seeds, args.data, not args.default_kernels, args.child)
        return 0

    work = Path(tempfile.mkdtemp(prefix="matchbot-spread-"))
    data = args.data or work / "data"
    command = [sys.executable, __file__, "--questions", str(args.questions), "--seeds", str(args.seeds)]
    command += ["--data", str(data)]
    variants: dict[str, tuple[list[str], dict[str, str]]] = {
        "native": ([], {}),
        "native, default int8 kernels": (["--default-kernels"], {}),
        "native, fp32 second stage": ([], fp32_models(work / "fp32")),
    }
    qemu = shutil.which("qemu-x86_64")
    for cpu in args.cpus if qemu else []:
        variants[cpu] = ([], {"QEMU": cpu})
        variants[f"{cpu}, default int8 kernels"] = (["--default-kernels"], {"QEMU": cpu})
    if args.cpus and not qemu:
        print("qemu-x86_64 is not installed (apt-get install qemu-user): no other processor is emulated.")
    results: dict[str, list[dict]] = {}
    for name, (flags, env) in variants.items():
        out = work / f"{len(results)}.jsonl"
        prefix = [qemu, "-cpu", env.pop("QEMU")] if "QEMU" in env else []
        print(f"running {name} …", file=sys.stderr, flush=True)
        done = subprocess.run(
            [*prefix, *command, "--child", str(out), *flags],
            env=os.environ | env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            print(f"{name} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        results[name] = [json.loads(line) for line in out.read_text().splitlines()]
    print(report(results, args.margin))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def report(results: dict[str, list[dict]], margin: int) -> str:
    names = list(results)
    lines = ["variants: " + "; ".join(f"({n}) {name}" for n, name in enumerate(names, 1)), ""]
    for system in ("matchbot", "first stage"):
        for split in SPLITS:
            measured = {name: figures(records, system, split) for name, records in results.items()}
            lines.append(f"{system}, {split or 'all'} questions:")
            for figure in FIGURES:
                values = [measured[name][figure] for name in names]
                total = values[0][1]
                if not total:
                    continue
                counts = [count for count, _ in values]
                low, high = min(counts), max(counts)
                if figure == "declined_answerable":  # a ceiling: the most seen, plus the margin
                    bound = f"ceiling {(high + margin) / total:.3f}"
                else:
                    bound = f"floor {(low - margin) / total:.3f}"
                shown = "  ".join(f"({n}) {c / total:.3f}" for n, c in enumerate(counts, 1))
                lines.append(
                    f"  {figure:<20} {shown}   spread {high - low:.1f} of {total} questions; {bound}"
                )
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
