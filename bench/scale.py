"""Benchmark (d): building, opening and searching indexes of 10k to 1M synthetic passages, side by side.

No model runs: the corpora are synthetic (``bench.synthetic``: ``topics``, with topics above articles as
news has them, and ``flat``, the earlier one without), made so that search and BM25 do the work they do
on news.

For each corpus, size and kind (exact, ivf, ivf-sq8) it reports:

- the build: ``Store.from_vectors``, what ``matchbot index`` runs once the passages are embedded (both
  FAISS indexes trained, filled and measured, the ``distinct`` score of every passage, BM25), then
  ``Store.save``; the context index holds the same vectors as the sentence index, built apart; and the
  build by part (``IndexReport.seconds``: the FAISS indexes, choosing distinct's probe, distinct, BM25 on
  its own thread and what waiting for it added);
- the ``distinct`` score's neighbour search (``probe``) and its mean absolute error against exact scores
  on the build's sample of 500 passages (``index.distinct.calibrate``); with ``--distinct-error``, against
  exact scores worked out for every passage (slow: minutes at 100k, hours at 1M);
- the time to open the saved index (``Store.load`` and the first stage), the search p50 of the sentence
  index and its recall@10 against exact search, the first stage's p50 (both indexes, BM25, its scores
  and their fusion), the resident memory the opened index adds per passage and its size on disk.

    python -m bench.scale                                   # 10k and 100k, both corpora, every kind
    python -m bench.scale --sizes 1000000 --kinds ivf --corpora topics flat
    python -m bench.scale --sizes 100000 --kinds ivf --distinct-error
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.synthetic import CORPORA, DIMENSION, Corpus
from index import ann, distinct
from index.first_stage import FirstStage
from index.fusion import Fusion
from index.store import FORMAT_VERSION, IndexReport, Store

if TYPE_CHECKING:
    from bench.speed import Bench, Report


@dataclass(frozen=True, slots=True)
class Row:
    corpus: str
    size: int
    kind: str
    nlist: int
    nprobe: int
    build_s: float  # Store.from_vectors
    save_s: float
    parts: dict[str, float]  # Store.from_vectors's parts (IndexReport.seconds)
    probe: int  # the lists ``distinct`` read around each list (0: exact search)
    distinct_error: float  # mean absolute error against exact scores, on the build's sample
    open_s: float
    search_ms: float
    recall: float
    first_stage_ms: float
    bytes_per_passage: float  # resident memory the opened index added (a lower bound: see the README)
    saved_per_passage: float  # the index folder on disk
    full_error: tuple[float, float, float] | None = None  # ``--distinct-error``: mean, p99 and largest


def bench_scale(
    sizes: Sequence[int] = (10_000, 100_000),
    kinds: Sequence[str] = ("exact", "ivf", "ivf-sq8"),
    corpora: Sequence[str] = ("topics", "flat"),
    *,
    full_error: bool = False,
) -> list[Row]:
    """Measure every kind at every size on every corpus, in one run."""
    rows = []
    for name in corpora:
        for size in sizes:
            corpus = CORPORA[name](size)
            truth = ann.exact_neighbours(corpus.vectors, corpus.queries, 10)
            for kind in kinds:
                rows.append(_measure(corpus, kind, truth, full_error=full_error))
                gc.collect()
            del corpus
            gc.collect()
    return rows


def _measure(corpus: Corpus, kind: str, truth: np.ndarray, *, full_error: bool) -> Row:
    size = len(corpus.chunks)
    per_article = Counter(chunk.article for chunk in corpus.chunks)  # in order: an article's rows follow
    articles = {
        name: {"hash": name, "title": f"Report {name}", "source": "", "language": "en", "chunks": count}
        for name, count in per_article.items()
    }
    manifest = {"format": FORMAT_VERSION, "model": "synthetic", "dimension": DIMENSION, "chunks": size}
    manifest["articles"] = articles
    started = time.perf_counter()
    report = IndexReport()
    store = Store.from_vectors(
        corpus.chunks, {"synthetic": (corpus.vectors, corpus.vectors)}, manifest, search=kind, report=report
    )
    build = time.perf_counter() - started
    plan = store.search_plans["sentences"]
    estimate = store.manifest["distinct"]
    errors = _full_error(store) if full_error else None
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        store.save(Path(folder) / "index")
        save = time.perf_counter() - started
        saved = sum(path.stat().st_size for path in (Path(folder) / "index").rglob("*") if path.is_file())
        del store
        gc.collect()
        before = _resident()
        started = time.perf_counter()
        store = Store.load(Path(folder) / "index")
        first = FirstStage(store)  # the questions come as vectors: no encoder
        opened = time.perf_counter() - started
        memory = (_resident() - before) / size
    found, search_times = [], []
    for query in corpus.queries:
        started = time.perf_counter()
        found.append(store.sentences.search(query[None], 10)[1][0])
        search_times.append(time.perf_counter() - started)
    stage_times = []
    fusion = Fusion.load()
    for question, query in zip(corpus.questions, corpus.queries, strict=True):
        started = time.perf_counter()
        fusion.rank(first.score(first.prepare(question), query))
        stage_times.append(time.perf_counter() - started)
    return Row(
        corpus=corpus.name,
        size=size,
        kind=plan["kind"],
        nlist=plan.get("nlist", 0),
        nprobe=plan.get("nprobe", 0),
        build_s=build,
        save_s=save,
        parts=report.seconds,
        probe=estimate.get("probe", 0),
        distinct_error=estimate.get("error", 0.0),
        open_s=opened,
        search_ms=1000 * statistics.median(search_times),
        recall=ann.recall(np.array(found), truth),
        first_stage_ms=1000 * statistics.median(stage_times),
        bytes_per_passage=memory,
        saved_per_passage=saved / size,
        full_error=errors,
    )


def _full_error(store: Store) -> tuple[float, float, float]:
    """The saved ``distinct`` scores' mean, 99th-percentile and largest absolute error against exact
    scores of every passage."""
    exact = distinct.distinctness(store.sentences)  # an inverted file read whole: exact
    error = np.abs(store.distinct[:, 0] - exact[:, 0])
    return float(error.mean()), float(np.percentile(error, 99)), float(error.max())


def _resident() -> int:
    """This process's resident memory in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def table(rows: Sequence[Row]) -> list[str]:
    """The rows as a markdown table, with each kind's search speed-up over exact at the same size."""
    exact = {(row.corpus, row.size): row.search_ms for row in rows if row.kind == "exact"}
    lines = [
        "| corpus | passages | search | build (save) | distinct: probe, error | open | search p50 | vs exact "
        "| recall@10 | first stage p50 | memory | on disk | build by part |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        kind = row.kind if row.kind == "exact" else f"{row.kind} ({row.nlist:,}, nprobe {row.nprobe})"
        key = (row.corpus, row.size)
        ratio = f"{exact[key] / row.search_ms:.0f}× faster" if key in exact and row.kind != "exact" else "—"
        estimate = "exact" if not row.probe else f"{row.probe}, {row.distinct_error:.4f}"
        if row.full_error is not None:
            estimate += " (all: {:.4f}, p99 {:.3f}, max {:.3f})".format(*row.full_error)
        lines.append(
            f"| {row.corpus} | {row.size:,} | {kind} | {row.build_s:.1f} s ({row.save_s:.1f} s) | {estimate} "
            f"| {row.open_s:.1f} s | {row.search_ms:.2f} ms | {ratio} | {row.recall:.3f} "
            f"| {row.first_stage_ms:.1f} ms | {row.bytes_per_passage:,.0f} B "
            f"| {row.saved_per_passage:,.0f} B | {_parts(row.parts)} |"
        )
    return lines


def _parts(seconds: dict[str, float]) -> str:
    """``vectors 1.2 s, distinct probe 0.4 s, …`` (BM25 ran beside the others: its wait is what it added)."""
    return ", ".join(f"{name} {spent:.1f} s" for name, spent in seconds.items())


def section(bench: Bench, report: Report) -> None:
    """Section (d) of ``matchbot bench``: every kind at each of ``bench.sizes`` on both corpora, ratios
    to exact first."""
    rows = bench_scale(bench.sizes)
    exact = {(row.corpus, row.size): row for row in rows if row.kind == "exact"}
    for row in rows:
        if row.kind != "exact" and (row.corpus, row.size) in exact:
            report.ratio(
                f"(d) {row.kind} search vs exact, {row.size:,} {row.corpus} passages "
                f"(recall@10 {row.recall:.3f})",
                exact[row.corpus, row.size].search_ms / row.search_ms,
            )
    report.lines += ["(d) scale, synthetic corpora (see bench/scale.py):", *table(rows), ""]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--kinds", nargs="+", default=["exact", "ivf", "ivf-sq8"], choices=ann.KINDS[1:])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument(
        "--distinct-error", action="store_true", help="compare every passage's distinct with an exact one"
    )
    args = parser.parse_args(argv)
    rows = bench_scale(args.sizes, args.kinds, args.corpora, full_error=args.distinct_error)
    print("\n".join(table(rows)))


if __name__ == "__main__":
    main()
