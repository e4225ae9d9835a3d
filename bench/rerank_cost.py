"""What the second stage costs each question, measured side by side in one run.

    python -m bench.rerank_cost [--questions FILE] [--rounds 3]

Opens the seed index (building it if needed) with the real models and answers every question of
``--questions`` (the seed questions by default) ``--rounds`` times, one at a time, with the first
stage alone and with each second-stage setting in turn, interleaved question by question so that
a busy machine slows them alike. Prints each setting's p50 and p95 per question and what it adds
to the first stage's. Then, in fresh processes, the resident memory (RSS) after opening the index
and answering one question, with and without the second stage.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from index.evaluation import read_questions
from index.library import Library
from index.pipeline import ModelSettings, load_pipeline
from index.retriever import Retriever

REPO = Path(__file__).resolve().parents[1]  # the questions, articles and data beside the package

MEMORY = """
import json, resource, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from index.library import Library
from index.pipeline import ModelSettings, load_pipeline
switch = "on" if {on} else "off"
pipeline = load_pipeline(ModelSettings(rerank=switch, late_interaction=switch))
library = Library(Path({seeds!r}), Path({data!r}), pipeline)
library.reindex()
library.retriever.search("What did Mbappe say to Hakimi after the match?")
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
print(json.dumps({{"rss": rss, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))
"""


def interleaved(systems: Mapping[str, Retriever], questions: Sequence[str], *, rounds: int = 1) -> dict:
    """Each system's seconds per question, every question asked of each system in turn (so that a busy
    machine slows them alike), ``rounds`` times, after a warm-up (sessions, caches of passage tokens)."""
    for system in systems.values():
        system.search_many(list(questions[:20]))
    times: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(rounds):
        for question in questions:
            for name, system in systems.items():
                start = time.perf_counter()
                system.search(question)
                times[name].append(time.perf_counter() - start)
    return times


def answering_bench(description: str, questions: Path) -> tuple[argparse.Namespace, Library]:
    """The options of a bench that answers questions (``--questions``, ``--seeds``, ``--data``,
    ``--rounds``), and the articles' index brought up to date with the default models."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--questions", type=Path, default=questions)
    parser.add_argument("--seeds", type=Path, default=REPO / "seeds")
    parser.add_argument("--data", type=Path, default=REPO / "data")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    library = Library(args.seeds, args.data, load_pipeline(ModelSettings()))
    library.reindex()
    return args, library


def main() -> int:
    args, library = answering_bench(__doc__.splitlines()[0], REPO / "tests/data/seed_questions.jsonl")
    pipeline = library.pipeline
    both = library.retriever
    first = both.first_stage_only()
    systems = {"first stage": first}
    default = pipeline.fusion.depth("cross")
    for depth in sorted({1, 2, 3, 5, default}):
        name = f"second stage, cross-encoder on {depth}" + (" (default)" if depth == default else "")
        systems[name] = both.with_pipeline(pipeline.with_fusion(pipeline.fusion.with_depth("cross", depth)))
    late_only = tuple(stage for stage in pipeline.stages if stage.name == "late")
    systems["late interaction only"] = both.with_pipeline(replace(pipeline, stages=late_only))
    questions = [q.question for q in read_questions(args.questions)]
    times = interleaved(systems, questions, rounds=args.rounds)

    print(f"{len(questions)} questions × {args.rounds} rounds, one at a time, interleaved")
    base = np.median(times["first stage"]) * 1000
    print(f"{'':42} {'p50 ms':>8} {'p95 ms':>8} {'added p50':>10}")
    for name, spent in times.items():
        p50, p95 = np.median(spent) * 1000, np.percentile(spent, 95) * 1000
        print(f"{name:42} {p50:8.1f} {p95:8.1f} {p50 - base:+10.1f}")

    print("resident memory after opening the index and answering one question (fresh processes):")
    for on in (False, True):
        code = MEMORY.format(repo=str(REPO), on=on, seeds=str(args.seeds), data=str(args.data))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        label = "with the second stage" if on else "first stage only"
        print(f"  {label:24} RSS {figures['rss'] / 2**20:6.0f} MB   peak {figures['peak'] / 2**20:6.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
