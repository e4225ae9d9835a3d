"""``matchbot bench``: matchbot's speed beside the naive way, measured side by side in one run.

Sections (``--only a,b,…``):

- ``a`` one question's latency, p50 and p95: the naive path (``SentenceTransformer.encode`` of the
  question, then an exact FAISS search of the sentence vectors) beside matchbot's encoder alone, its
  first stage (its scores, fused) and its whole path with the second stage;
- ``b`` questions per second at 1, 16, 64 and 256 concurrent questions through the bot's own answering
  path (``bot.batcher.Batcher`` over ``Retriever.answer_many``), beside the naive path one at a time;
- ``c`` indexing: texts embedded per second by ``Store.build`` beside ``SentenceTransformer.encode`` of
  the same texts, and re-indexing with nothing changed;
- ``d`` scale (``bench.scale``): building, opening and searching exact, IVF and IVF-SQ8 indexes of
  synthetic corpora of ``--sizes`` passages;
- ``e`` cold start of ``matchbot ask`` (wall time and peak memory of the process) with the ONNX export
  and with the sentence-transformers model.

Ratios are printed first, then the figures they come from. Nothing here is a test: the machine's load
moves every figure, which is why each ratio compares two measurements of the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.batcher import Batcher
from bot.config import SAMPLE_QUESTION, Config
from index.errors import MatchbotError

CONCURRENCY = (1, 16, 64, 256)
COLD_RUNS = 3
COLD_QUESTION = "was hakimi upset?"


@dataclass
class Report:
    """Ratios (printed first) and the figures behind them."""

    ratios: list[tuple[str, float, str]] = field(default_factory=list)  # (what, ratio, goal)
    lines: list[str] = field(default_factory=list)

    def ratio(self, what: str, value: float, goal: str = "") -> None:
        self.ratios.append((what, value, goal))

    def text(self) -> str:
        out = ["Ratios (higher is better for matchbot):"]
        out += [
            f"  {value:6.2f}×  {what}{f'  (goal {goal})' if goal else ''}"
            for what, value, goal in self.ratios
        ]
        return "\n".join([*out, "", *self.lines])


@dataclass
class Bench:
    """What every section measures with: the same index, models and questions."""

    config: Config
    questions: list[str]
    count: int
    sizes: tuple[int, ...] = (10_000, 100_000)  # section d's corpus sizes
    _cache: dict = field(default_factory=dict)

    def library(self):  # type: ignore[no-untyped-def]
        """The index opened with the lean encoder and the second stage, as ``matchbot ask`` opens it,
        and warmed up as the bot warms it before members ask (every model's first call, the language
        detector's models, the word lookup's words): what a figure measures is answering, not loading."""
        if "library" not in self._cache:
            from bot.client import warm_up
            from bot.i18n import shared_detector
            from index.pipeline import load_pipeline

            library = self.config.library(load_pipeline(self.config.models))
            library.open()
            pipeline = library.retriever.pipeline
            warm_up(pipeline.languages or shared_detector(), pipeline)
            library.warm_word_lookup()
            self._cache["library"] = library
        return self._cache["library"]

    def reference(self):  # type: ignore[no-untyped-def]
        """The sentence-transformers model itself."""
        if "reference" not in self._cache:
            from index.embedding import Embedder

            self._cache["reference"] = Embedder.load(self.config.model)
        return self._cache["reference"]

    def naive(self, question: str) -> np.ndarray:
        """The naive dense path: encode with sentence-transformers, exact search of the sentence vectors."""
        model = self.reference()._model
        vector = model.encode([question], normalize_embeddings=True, convert_to_numpy=True)
        return self.library().retriever.store.sentences.search(vector.astype(np.float32), 10)[1][0]


def run_bench(
    config: Config,
    sections: str,
    questions_file: Path | None,
    count: int,
    sizes: tuple[int, ...] = (10_000, 100_000),
) -> str:
    """Run the chosen sections and return the report."""
    bench = Bench(config, read_questions(questions_file, config), count, tuple(sizes))
    report = Report()
    for letter in sections:
        SECTIONS[letter](bench, report)
    return report.text()


def read_questions(path: Path | None, config: Config) -> list[str]:
    """Questions from a JSON lines file (``question`` fields) or a text file (one a line)."""
    if path is None:
        beside = config.seeds_dir.parent / "questions.jsonl" if config.seeds_dir.is_file() else None
        path = beside if beside and beside.is_file() else Path("tests/data/seed_questions.jsonl")
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise MatchbotError(
            f"Cannot read the questions {path} ({exc}): give a file with --questions."
        ) from None
    questions = [json.loads(line)["question"] if line.lstrip().startswith("{") else line for line in lines]
    if not questions:
        raise MatchbotError(f"{path} has no questions: give a file with --questions.")
    return questions


# -- (a) latency ------------------------------------------------------------------------------------


def latency(bench: Bench, report: Report) -> None:
    library = bench.library()
    retriever = library.retriever
    first = retriever.first_stage_only()
    lean, reference = retriever.pipeline.encoder, bench.reference()
    questions = bench.questions[: min(bench.count, 200)]
    paths: dict[str, Callable[[str], object]] = {
        "naive: SentenceTransformer.encode + FAISS": bench.naive,
        "encode: SentenceTransformer.encode": lambda q: reference._model.encode(
            [q], normalize_embeddings=True
        ),
        f"encode: matchbot ({type(lean).__name__})": lambda q: lean.encode([q]),
        "matchbot first stage (scores fused)": lambda q: first.search(q, 3),
    }
    if retriever.pipeline.stages:
        paths["matchbot whole path (second stage)"] = lambda q: retriever.search(q, 3)
    for path in paths.values():  # warm up: first calls allocate, and the second stage caches passages
        for question in questions[:20]:
            path(question)
    timings = {name: _each(path, questions) for name, path in paths.items()}
    p50 = {name: statistics.median(times) for name, times in timings.items()}
    names = list(paths)
    report.ratio(
        "(a) question encoding: SentenceTransformer.encode ÷ matchbot", p50[names[1]] / p50[names[2]], "≥ 2"
    )
    report.ratio("(a) naive dense path ÷ matchbot's first stage", p50[names[0]] / p50[names[3]], "≥ 1")
    if len(names) > 4:
        report.ratio("(a) naive dense path ÷ matchbot's whole path", p50[names[0]] / p50[names[4]])
    same = _same_dense_results(bench, lean, questions)
    report.lines.append(f"(a) one question at a time, {len(questions)} questions ({_corpus(bench)}):")
    for name, times in timings.items():
        report.lines.append(f"  {name:<45} p50 {_ms(p50[name])}  p95 {_ms(np.percentile(times, 95))}")
    report.lines.append(f"  dense top-10 identical with either encoder: {same:.1%} of questions")
    report.lines.append("")


def _same_dense_results(bench: Bench, lean: object, questions: Sequence[str]) -> float:
    store = bench.library().retriever.store
    ours = store.sentences.search(lean.encode(list(questions)), 10)[1]  # type: ignore[attr-defined]
    theirs = np.array([bench.naive(q) for q in questions])
    return float(np.mean([set(a) == set(b) for a, b in zip(ours, theirs, strict=True)]))


# -- (b) throughput ---------------------------------------------------------------------------------


def throughput(bench: Bench, report: Report) -> None:
    from index.retriever import Query

    retriever = bench.library().retriever
    # every figure answers the same questions, at least as many as members ask at once, each asked once
    # before the clock starts (an unseen question's words are looked up once: ``index.word_lookup``)
    questions = _cycle(bench.questions, max(bench.count, CONCURRENCY[-1]))
    distinct = list(dict.fromkeys(questions))
    for question in distinct:
        bench.naive(question)
    naive = len(questions) / _seconds(lambda: [bench.naive(q) for q in questions])
    paths = {"first stage": retriever.first_stage_only()}
    if retriever.pipeline.stages:
        paths["whole path"] = retriever
    report.lines.append(f"(b) questions per second, {len(questions)} questions ({_corpus(bench)}):")
    report.lines.append(f"  naive one at a time: {naive:8.1f} q/s")
    for name, system in paths.items():
        system.search_many(distinct)  # warm up
        alone = len(questions) / _seconds(lambda system=system: [system.search(q) for q in questions])
        rates = {c: _concurrent_rate(system, questions, c, Query, bench.config.batch_ms) for c in CONCURRENCY}
        report.lines.append(
            f"  matchbot {name}: one at a time {alone:.1f} q/s; through the bot's batcher "
            + ", ".join(f"{c} concurrent {rate:.1f}" for c, rate in rates.items())
        )
        top = CONCURRENCY[-1]
        if name == "first stage":
            report.ratio(
                f"(b) first stage at {top} concurrent ÷ naive one at a time", rates[top] / naive, "≥ 5"
            )
        else:
            report.ratio(
                f"(b) whole path at {top} concurrent ÷ whole path one at a time", rates[top] / alone, "≥ 3"
            )
    report.lines.append("")


def _concurrent_rate(
    system: object, questions: list[str], concurrent: int, query: type, batch_ms: int
) -> float:
    """Questions per second when ``concurrent`` members keep asking through the bot's batcher."""

    async def members() -> None:
        batcher = Batcher(system.answer_many, wait=batch_ms / 1000)  # type: ignore[attr-defined]
        pending = iter(questions)

        async def member() -> None:
            for question in pending:  # each member asks again as soon as it has its answer
                await batcher.ask(query(question))

        await asyncio.gather(*(member() for _ in range(concurrent)))
        await batcher.close()

    return len(questions) / _seconds(lambda: asyncio.run(members()))


# -- (c) indexing -----------------------------------------------------------------------------------


def indexing(bench: Bench, report: Report) -> None:
    from index.chunking import context_text, indexed_text
    from index.library import Library

    library = bench.library()
    chunks = library.retriever.store.chunks[: bench.count * 4]
    texts = [indexed_text(chunk) for chunk in chunks] + [context_text(chunks, r) for r in range(len(chunks))]
    reference = bench.reference()._model
    naive = len(texts) / _seconds(lambda: reference.encode(texts, normalize_embeddings=True))
    encoder = library.pipeline.encoder
    lean = len(texts) / _seconds(lambda: encoder.encode(texts))
    same = Library(library.seeds_dir, library.index_dir.parent, library.pipeline)
    unchanged = _seconds(same.reindex)
    articles = len(library.retriever.store.articles)
    report.ratio("(c) texts embedded per second: matchbot ÷ SentenceTransformer.encode", lean / naive, "≥ 2")
    report.lines += [
        f"(c) indexing, {len(texts):,} texts ({len(chunks):,} sentences and their contexts):",
        f"  SentenceTransformer.encode (batch 32): {naive:7.1f} texts/s",
        f"  matchbot ({type(encoder).__name__}, longest first, batch 8): {lean:7.1f} texts/s",
        f"  re-indexing {articles:,} unchanged article(s): {unchanged:.2f} s (goal < 5 s for 1,000)",
        "",
    ]


# -- (e) cold start ---------------------------------------------------------------------------------


def cold_start(bench: Bench, report: Report) -> None:
    bench.library()  # the index is built before anything is timed
    where = ["--data", str(bench.config.data_dir), "--seeds", str(bench.config.seeds_dir)]
    first_only = {"MATCHBOT_RERANK": "off", "MATCHBOT_LATE_INTERACTION": "off"}
    no_export = (
        "import index.onnx_embedder as o, pathlib; o.exports_folder = lambda: pathlib.Path('/nonexistent'); "
    )
    runs = {  # name: (question, code run first, settings)
        "ONNX export, whole path": (COLD_QUESTION, "", {}),
        "ONNX export, first stage only": (COLD_QUESTION, "", first_only),
        "sentence-transformers, whole path": (COLD_QUESTION, no_export, {}),
        "sentence-transformers, first stage only": (COLD_QUESTION, no_export, first_only),
        "ONNX export, whole path, sample question": (SAMPLE_QUESTION, "", {}),
        "ONNX export, first stage only, sample question": (SAMPLE_QUESTION, "", first_only),
    }
    figures = {
        name: _cold(prefix, ["ask", question, *where], env) for name, (question, prefix, env) in runs.items()
    }
    names = list(runs)
    report.ratio(
        "(e) cold `matchbot ask`: sentence-transformers ÷ ONNX export",
        figures[names[2]][0] / figures[names[0]][0],
    )
    report.lines.append(
        f"(e) cold start of `matchbot ask` with a built index, median of {COLD_RUNS} ({_corpus(bench)}):"
    )
    for name, (seconds, peak) in figures.items():
        report.lines.append(f"  {name:<48} {seconds:5.2f} s wall  {peak / 1024:6.0f} MB peak")
    report.lines.append(
        f"  {COLD_QUESTION!r} is one lingua's trigrams are not sure is English: it loads lingua's full"
    )
    report.lines.append(f"  models, which the sample question {SAMPLE_QUESTION!r} does not")
    report.lines.append("  goal: ≤ 1.0 s wall for the whole path, ≤ 0.7 s for the first stage only")
    report.lines.append("")


def _cold(prefix: str, args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Median wall seconds and peak resident kilobytes of a fresh ``matchbot`` process.

    The peak is the process's own VmHWM, written as it exits: the resource usage the parent sees would
    count this (much larger) process, from which the child was forked.
    """
    peak = (
        "import atexit; atexit.register(lambda: print(open('/proc/self/status').read(), file=sys.stderr)); "
    )
    code = f"import sys; {peak}{prefix}from bot.cli import main; sys.exit(main({args!r}))"
    results = []
    for _ in range(COLD_RUNS):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code], env=os.environ | env, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
        if done.returncode:
            raise MatchbotError(f"`matchbot ask` failed in the cold-start run: {done.stderr[-300:]}")
        kilobytes = next(
            (int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("VmHWM:")), 0
        )
        results.append((seconds, kilobytes))
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


# -- helpers ----------------------------------------------------------------------------------------


def scale(bench: Bench, report: Report) -> None:
    from bench.scale import section

    section(bench, report)


SECTIONS: dict[str, Callable[[Bench, Report], None]] = {
    "a": latency,
    "b": throughput,
    "c": indexing,
    "d": scale,
    "e": cold_start,
}


def _each(path: Callable[[str], object], questions: Sequence[str]) -> list[float]:
    times = []
    for question in questions:
        started = time.perf_counter()
        path(question)
        times.append(time.perf_counter() - started)
    return times


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _cycle(questions: list[str], count: int) -> list[str]:
    return [questions[n % len(questions)] for n in range(count)]


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:7.1f} ms"


def _corpus(bench: Bench) -> str:
    store = bench.library().retriever.store
    return f"{len(store.chunks):,} passages from {bench.config.seeds_dir}"
