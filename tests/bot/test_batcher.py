"""Micro-batching: concurrent questions answered together, each caller with its own answer."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.batcher import Batcher
from index.articles import Article
from index.errors import QuestionError
from index.pipeline import Pipeline
from index.retriever import Query, Retriever
from index.store import Store

ARTICLE = Article(
    id="semi",
    title="Semi-final",
    text=(
        "France beat Morocco in the semi-final. Mbappe consoled Hakimi on the pitch after the final "
        "whistle. The two are PSG teammates.\n\nRegragui said his players made Morocco proud. The fans "
        "sang all night. Theo Hernandez scored early and Kolo Muani sealed it."
    ),
)
QUESTIONS = ["who consoled hakimi", "who scored", "were the fans happy", "who is regragui", "psg"]


class Recorder:
    """``answer_many`` that answers each question with itself upper-cased and records each batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()

    def __call__(self, queries: list[str]) -> list[str]:
        self.batches.append(list(queries))
        self.threads.add(threading.current_thread().name)
        if "bad" in queries:
            raise ValueError("a bad question")
        return [query.upper() for query in queries]


async def test_concurrent_questions_are_answered_together_each_with_its_own_answer() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder, wait=0.05)
    questions = [f"question {n}" for n in range(40)]

    answers = await asyncio.gather(*(batcher.ask(question) for question in questions))
    await batcher.close()

    assert answers == [question.upper() for question in questions]
    assert len(recorder.batches) < len(questions)  # gathered, not one call per question
    assert sorted(q for batch in recorder.batches for q in batch) == sorted(questions)
    assert threading.main_thread().name not in recorder.threads  # off the event loop's thread


async def test_a_failing_question_fails_only_its_caller() -> None:
    batcher = Batcher(Recorder(), wait=0.05)

    results = await asyncio.gather(
        batcher.ask("fine"), batcher.ask("bad"), batcher.ask("also fine"), return_exceptions=True
    )
    await batcher.close()

    assert results[0] == "FINE"
    assert isinstance(results[1], ValueError)
    assert results[2] == "ALSO FINE"


async def test_a_burst_larger_than_the_queue_is_answered_in_full() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder, wait=0.001, max_batch=8, max_waiting=4)
    questions = [f"q{n}" for n in range(100)]

    answers = await asyncio.gather(*(batcher.ask(question) for question in questions))
    await batcher.close()

    assert answers == [question.upper() for question in questions]
    assert max(len(batch) for batch in recorder.batches) <= 8


async def test_a_caller_that_gives_up_does_not_stop_the_others() -> None:
    batcher = Batcher(Recorder(), wait=0.05)
    gone = asyncio.create_task(batcher.ask("gone"))
    kept = asyncio.create_task(batcher.ask("kept"))
    await asyncio.sleep(0)
    gone.cancel()

    assert await kept == "KEPT"
    assert await batcher.ask("later") == "LATER"
    await batcher.close()


@pytest.fixture(scope="module")
def retriever(make_embedder) -> Retriever:
    embedder = make_embedder()
    store, _ = Store.build([ARTICLE], embedder)
    return Retriever(store, Pipeline(embedder))


async def test_batched_answers_are_those_of_questions_asked_alone(retriever: Retriever) -> None:
    batcher = Batcher(retriever.answer_many, wait=0.05)
    queries = [Query(q, k=1 + n % 3, offset=n % 2) for n, q in enumerate(QUESTIONS)]
    queries.append(Query("   "))  # empty: refused, alone

    results = await asyncio.gather(*(batcher.ask(query) for query in queries), return_exceptions=True)
    await batcher.close()

    alone = [retriever.search(q.question, q.k, offset=q.offset) for q in queries[:-1]]
    assert results[:-1] == alone
    assert isinstance(results[-1], QuestionError)
