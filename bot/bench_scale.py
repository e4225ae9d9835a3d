"""Benchmark (d): search and the whole first stage at 10k, 100k and 1M passages, side by side.

No model runs: the corpus is synthetic, made so that search and BM25 do the work they do on news.

- Text: each passage is 8 to 20 words drawn from a 30,000-word vocabulary of made-up words (syllable
  pairs) with Zipf frequencies (exponent 1.1), 40 passages an article. A question is 4 words of a
  random passage.
- Vectors: 384-d unit vectors, one random centre per article (its 40 passages are the centre plus
  Gaussian noise 1.2 times the centre's length). The noise is chosen so that the neighbours look like
  real ones: on squad-dev-a's 4,990 MiniLM sentence vectors a sentence's 10th and 30th nearest have
  cosines of 0.47 and 0.40 on average; these vectors, at the same size, 0.43 and 0.38.
  A question's vector is a passage's vector plus noise as long as it, normalised (cosine about 0.7).
  The context index holds the same vectors as the sentence index, to keep 1M within 4 GB.

For each size and kind (exact, ivf, ivf-sq8) it reports the build time (training, adding, measuring
nprobe, the ``distinct`` score of every row, BM25), the time to open the saved index (Store.load and
the first stage), the search p50 of one index and its recall@10 against exact search, the first stage's p50
(both indexes, BM25 over the synthetic text, the five scores and their fusion) and the resident memory
per passage the opened index adds.

    python -m bot.bench_scale                 # 10k and 100k
    python -m bot.bench_scale --sizes 1000000 --kinds ivf ivf-sq8
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index import ann, distinct
from index.chunking import Chunk
from index.first_stage import FirstStage
from index.fusion import Fusion
from index.store import FORMAT_VERSION, Lexical, Store, Vectors

if TYPE_CHECKING:
    from bot.bench import Bench, Report

DIMENSION = 384
NOISE = 1.2  # see the module docstring
VOCABULARY = 30_000
PER_ARTICLE = 40
QUESTIONS = 200
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


@dataclass(frozen=True, slots=True)
class Row:
    size: int
    kind: str
    nlist: int
    nprobe: int
    build_s: float
    open_s: float
    search_ms: float
    recall: float
    first_stage_ms: float
    bytes_per_passage: float  # resident memory the opened index added (a lower bound: see the README)
    saved_per_passage: float = 0.0  # the index folder on disk: vectors, distinct scores, chunks, manifest


def vectors(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``size`` unit vectors clustered by article and ``QUESTIONS`` question-like vectors near them."""
    random = np.random.default_rng(seed)
    centres = random.standard_normal((-(-size // PER_ARTICLE), DIMENSION)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((size, DIMENSION), dtype=np.float32)
    for start in range(0, size, 100_000):
        count = min(100_000, size - start)
        block = centres[np.arange(start, start + count) // PER_ARTICLE]
        block += random.standard_normal((count, DIMENSION)).astype(np.float32) * (NOISE / np.sqrt(DIMENSION))
        out[start : start + count] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, ann.question_like(out, QUESTIONS)


def texts(size: int, seed: int = 0) -> tuple[list[Chunk], list[str]]:
    """``size`` synthetic passages (as chunks) and ``QUESTIONS`` questions made of their words."""
    random = np.random.default_rng(seed)
    words = np.array([a + b for a in _SYLLABLES for b in _SYLLABLES][:VOCABULARY])
    frequency = 1 / np.arange(1, len(words) + 1) ** 1.1
    lengths = random.integers(8, 21, size=size)
    drawn = words[random.choice(len(words), size=int(lengths.sum()), p=frequency / frequency.sum())]
    ends = np.cumsum(lengths)
    chunks = []
    for row, end in enumerate(ends):
        text = " ".join(drawn[end - lengths[row] : end]) + "."
        article = row // PER_ARTICLE
        chunks.append(
            Chunk(f"a{article}", f"Report {article}", None, row % PER_ARTICLE + 1, 1, 0, len(text), text)
        )
    questions = [
        " ".join(random.choice(chunks[int(row)].text.rstrip(".").split(), 4, replace=False))
        for row in random.integers(size, size=QUESTIONS)
    ]
    return chunks, questions


def bench_scale(
    sizes: Sequence[int] = (10_000, 100_000), kinds: Sequence[str] = ("exact", "ivf", "ivf-sq8")
) -> list[Row]:
    """Measure every kind at every size, in one run."""
    rows = []
    for size in sizes:
        stored, queries = vectors(size)
        chunks, questions = texts(size)
        truth = ann.exact_neighbours(stored, queries, 10)
        for kind in kinds:
            rows.append(_measure(size, kind, stored, queries, truth, chunks, questions))
            gc.collect()
        del stored
        gc.collect()
    return rows


def _measure(
    size: int,
    kind: str,
    stored: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    chunks: list[Chunk],
    questions: list[str],
) -> Row:
    started = time.perf_counter()
    plan = ann.plan(size, kind)
    index = ann.build(stored, plan)
    plan = ann.calibrate(index, stored, plan)
    scores = distinct.distinctness(index)
    lexical = Lexical.build(chunks)
    build = time.perf_counter() - started
    manifest = {
        "format": FORMAT_VERSION,
        "model": "synthetic",
        "dimension": DIMENSION,
        "chunks": size,
        "articles": {},
        "encoders": {
            "synthetic": {
                "dimension": DIMENSION,
                "folder": "vectors/synthetic",
                "search": {"sentences": plan, "contexts": plan},
            }
        },
        "distinct": {"file": "distinct.npy", "neighbours": distinct.HUB_NEIGHBOURS},
    }
    with tempfile.TemporaryDirectory() as folder:
        Store(chunks, {"synthetic": Vectors(index, index)}, manifest, scores, lexical).save(
            Path(folder) / "index"
        )
        saved = (
            sum(path.stat().st_size for path in (Path(folder) / "index").rglob("*") if path.is_file()) / size
        )
        del index, lexical
        gc.collect()
        before = _resident()
        started = time.perf_counter()
        store = Store.load(Path(folder) / "index")
        first = FirstStage(store)  # the questions come as vectors: no encoder
        opened = time.perf_counter() - started
        memory = (_resident() - before) / size
    found, search_times = [], []
    for query in queries:
        started = time.perf_counter()
        found.append(store.sentences.search(query[None], 10)[1][0])
        search_times.append(time.perf_counter() - started)
    stage_times = []
    fusion = Fusion.load()
    for question, query in zip(questions, queries, strict=True):
        started = time.perf_counter()
        fusion.rank(first.score(question, query))
        stage_times.append(time.perf_counter() - started)
    return Row(
        size=size,
        kind=plan["kind"],
        nlist=plan.get("nlist", 0),
        nprobe=plan.get("nprobe", 0),
        build_s=build,
        open_s=opened,
        search_ms=1000 * statistics.median(search_times),
        recall=ann.recall(np.array(found), truth),
        first_stage_ms=1000 * statistics.median(stage_times),
        bytes_per_passage=memory,
        saved_per_passage=saved,
    )


def _resident() -> int:
    """This process's resident memory in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def table(rows: Sequence[Row]) -> list[str]:
    """The rows as a markdown table, with each kind's search speed-up over exact at the same size."""
    exact = {row.size: row.search_ms for row in rows if row.kind == "exact"}
    lines = [
        "| passages | search | build | open | search p50 | vs exact | recall@10 | first stage p50 | memory "
        "| saved |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        kind = row.kind if row.kind == "exact" else f"{row.kind} ({row.nlist}, nprobe {row.nprobe})"
        ratio = f"{exact[row.size] / row.search_ms:.0f}× faster" if row.size in exact else "—"
        lines.append(
            f"| {row.size:,} | {kind} | {row.build_s:.1f} s | {row.open_s:.1f} s | {row.search_ms:.2f} ms "
            f"| {ratio} | {row.recall:.3f} | {row.first_stage_ms:.1f} ms | {row.bytes_per_passage:,.0f} B "
            f"| {row.saved_per_passage:,.0f} B |"
        )
    return lines


def section(bench: Bench, report: Report) -> None:
    """Section (d) of ``matchbot bench``: every kind at each of ``bench.sizes``, ratios to exact first."""
    rows = bench_scale(bench.sizes)
    exact = {row.size: row for row in rows if row.kind == "exact"}
    for row in rows:
        if row.kind != "exact" and row.size in exact:
            report.ratio(
                f"(d) {row.kind} search vs exact, {row.size:,} passages (recall@10 {row.recall:.3f})",
                exact[row.size].search_ms / row.search_ms,
            )
    report.lines += ["(d) scale, synthetic corpus (see bot/bench_scale.py):", *table(rows), ""]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.bench_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--kinds", nargs="+", default=["exact", "ivf", "ivf-sq8"], choices=ann.KINDS[1:])
    args = parser.parse_args(argv)
    print("\n".join(table(bench_scale(args.sizes, args.kinds))))


if __name__ == "__main__":
    main()
