"""``matchbot bench --only b``: every throughput figure answers the same questions, and none of them is
the first to ask a question the others have not."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import bench.speed as speed
from bench.speed import CONCURRENCY, Bench, Report, throughput


class Recording:
    """A retriever that answers nothing and records every question it is asked, in the last list of
    ``asked`` (the test starts a new one as each clock starts and stops)."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.pipeline = SimpleNamespace(stages=())
        self.store = SimpleNamespace(chunks=[])

    def first_stage_only(self) -> Recording:
        return self

    def search(self, question: str, k: int = 3) -> None:
        self.asked[-1].append(question)

    def search_many(self, questions: list[str], k: int = 3) -> None:
        self.asked[-1].extend(questions)

    def answer_many(self, queries: list) -> list[None]:
        self.asked[-1].extend(query.question for query in queries)
        return [None] * len(queries)


class Counted(Bench):
    """A bench whose naive path records the questions it answers, in order."""

    def naive(self, question: str) -> None:
        self._cache["naive"].append(question)


def test_every_throughput_figure_answers_the_same_questions_each_asked_before_the_clock_starts(
    monkeypatch,
) -> None:
    questions = [f"question {n}" for n in range(100)]
    retriever = Recording()
    config = SimpleNamespace(batch_ms=1, seeds_dir="seeds")
    bench = Counted(config, questions, count=64)  # type: ignore[arg-type]
    bench._cache["library"] = SimpleNamespace(retriever=retriever)
    bench._cache["naive"] = []
    timed: list[list[str]] = []  # the questions asked while each clock ran

    def clocked(work):
        retriever.asked.append([])
        work()
        timed.append(retriever.asked[-1])
        retriever.asked.append([])  # what is asked after, untimed
        return 1.0

    monkeypatch.setattr(speed, "_seconds", clocked)
    retriever.asked.append([])  # what is asked before any clock starts
    throughput(bench, Report())

    naive = bench._cache["naive"]
    asked = Counter(questions[n % 100] for n in range(CONCURRENCY[-1]))
    assert Counter(naive[len(naive) - CONCURRENCY[-1] :]) == asked  # the naive path's timed run
    measured = [figure for figure in timed if figure]  # the naive path's clock asked the retriever nothing
    assert len(measured) == 1 + len(CONCURRENCY)  # one at a time, then each concurrency
    assert all(Counter(figure) == asked for figure in measured)
    first = next(n for n, figure in enumerate(retriever.asked) if figure is measured[0])
    before = {question for figure in retriever.asked[:first] for question in figure}
    assert before == set(asked)  # each was asked once before the retriever's first clock started
