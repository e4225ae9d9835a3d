"""``matchbot bench --only d`` and ``python -m bench.scale``: every corpus, size and kind, measured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_matchbot_bench_d_measures_each_kind_on_both_corpora(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    questions = REPO / "tests" / "data" / "seed_questions.jsonl"

    code = main(
        ["bench", "--only", "d", "--sizes", "2000", "--questions", str(questions), "--data", str(tmp_path)]
    )

    out = capsys.readouterr().out
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith(("| topics", "| flat"))]
    assert code == 0
    assert [(row[0], row[2].split()[0]) for row in rows] == [
        (f"| {corpus}", kind) for corpus in ("topics", "flat") for kind in ("exact", "ivf", "ivf-sq8")
    ]
    for row in rows:
        recall = float(row[8])
        assert recall >= (1.0 if row[2] == "exact" else 0.9)
        assert row[4] == "exact" if row[2] == "exact" else float(row[4].split(", ")[1]) <= 0.005
    assert "(d) ivf search vs exact, 2,000 topics passages" in out


def test_the_benchmarks_load_without_the_command_line() -> None:
    code = (
        "import sys, bench.speed, bench.scale, bench.synthetic, bench.rerank_cost; "
        "assert 'bot.cli' not in sys.modules, 'a benchmark imports the command line'"
    )

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)

    assert done.returncode == 0, done.stderr
