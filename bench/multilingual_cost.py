"""What the multilingual encoder costs, measured side by side in one run.

    python -m bench.multilingual_cost [--rounds 2] [--questions FILE ...]

With ``MATCHBOT_MULTILINGUAL`` on (the default: USE multilingual v3 beside MiniLM, and the language
detector) and off (MiniLM alone, every question taken as English), in one run:

- indexing the seed from nothing, in a fresh process for each setting, alternating for ``--rounds``
  rounds: the wall time (median), the index folder's size, and the process's resident memory (RSS)
  after answering one question, and its peak;
- every question of ``--questions`` (the English seed questions and those in other languages by
  default) answered one at a time by both settings, interleaved question by question so that a busy
  machine slows them alike: the p50 and p95 of the first stage alone and of the whole path.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.rerank_cost import interleaved
from index.evaluation import read_questions
from index.library import Library
from index.pipeline import ModelSettings, load_pipeline

REPO = Path(__file__).resolve().parents[1]  # the questions and articles beside the package
QUESTIONS = (REPO / "tests/data/seed_questions.jsonl", REPO / "tests/data/multilingual/seed_questions.jsonl")
SETTINGS = ("off", "on")

BUILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
start = time.perf_counter()
from index.library import Library
from index.pipeline import ModelSettings, load_pipeline
pipeline = load_pipeline(ModelSettings(multilingual={setting!r}))
library = Library(Path({seeds!r}), Path({data!r}), pipeline)
library.reindex()
built = time.perf_counter() - start
library.retriever.search("What did Mbappe say to Hakimi after the match?")
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"seconds": built, "rss": rss, "peak": peak}}))
"""


def build(setting: str, seeds: Path, data: Path) -> dict[str, float]:
    """Index ``seeds`` from nothing into ``data`` in a fresh process (models loaded included)."""
    shutil.rmtree(data, ignore_errors=True)
    code = BUILD.format(repo=str(REPO), setting=setting, seeds=str(seeds), data=str(data))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"indexing with MATCHBOT_MULTILINGUAL={setting} failed:\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["size"] = sum(path.stat().st_size for path in data.rglob("*") if path.is_file())
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, nargs="+", default=list(QUESTIONS))
    parser.add_argument("--seeds", type=Path, default=REPO / "seeds")
    parser.add_argument("--rounds", type=int, default=2, help="indexing runs per setting (default 2)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="matchbot-multilingual-"))
    try:
        built: dict[str, list[dict[str, float]]] = {setting: [] for setting in SETTINGS}
        for _ in range(args.rounds):
            for setting in SETTINGS:
                built[setting].append(build(setting, args.seeds, work / setting))
        print(f"indexing {args.seeds} from nothing, fresh processes, median of {args.rounds}:")
        print(f"  {'MATCHBOT_MULTILINGUAL':22} {'wall':>8} {'index':>10} {'RSS':>8} {'peak':>8}")
        for setting, runs in built.items():
            seconds = statistics.median(run["seconds"] for run in runs)
            size, rss, peak = (statistics.median(r[k] for r in runs) / 2**20 for k in ("size", "rss", "peak"))
            print(f"  {setting:22} {seconds:7.1f}s {size:8.1f}MB {rss:6.0f}MB {peak:6.0f}MB")

        systems = {}
        for setting in SETTINGS:
            library = Library(args.seeds, work / setting, load_pipeline(ModelSettings(multilingual=setting)))
            library.reindex()
            systems[f"{setting}, whole path"] = library.retriever
            systems[f"{setting}, first stage"] = library.retriever.first_stage_only()
        questions = [q.question for path in args.questions for q in read_questions(path)]
        times = interleaved(systems, questions)
        print(f"{len(questions)} questions, one at a time, interleaved:")
        print(f"  {'MATCHBOT_MULTILINGUAL':22} {'p50 ms':>8} {'p95 ms':>8} {'added p50':>10}")
        for name, spent in times.items():
            setting, path = name.split(", ")
            base = np.median(times[f"off, {path}"]) * 1000
            p50, p95 = np.median(spent) * 1000, np.percentile(spent, 95) * 1000
            print(f"  {name:22} {p50:8.1f} {p95:8.1f} {p50 - base:+10.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
