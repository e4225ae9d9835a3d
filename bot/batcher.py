"""Micro-batching: questions asked at about the same moment are answered together, off the event loop.

The first question waits up to ``wait`` seconds for others (at most ``max_batch`` in all); the batch is
then answered by one blocking call in a thread (one encoding of every question, one late-interaction
call for every new passage), and each caller gets its own answer. A question that fails (an empty one,
say) fails only its caller: the batch is answered again one question at a time. At most ``max_waiting``
questions wait; more wait to be let in, so a burst slows answers down but cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Query = TypeVar("Query")
Answer = TypeVar("Answer")
Job = tuple[Query, "asyncio.Future[Answer]"]


class Batcher(Generic[Query, Answer]):
    """Answers queries with ``answer_many`` (blocking), gathering concurrent ones into batches."""

    def __init__(
        self,
        answer_many: Callable[[Sequence[Query]], Sequence[Answer]],
        *,
        wait: float = 0.005,
        max_batch: int = 64,
        max_waiting: int = 1024,
        executor: Executor | None = None,
    ) -> None:
        self._answer_many = answer_many
        self._executor = executor  # None: asyncio's default threads
        self.wait = wait
        self.max_batch = max_batch
        self._queue: asyncio.Queue[Job] = asyncio.Queue(max_waiting)
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # how many batches were answered; a batch's size shows in the log at DEBUG

    async def ask(self, query: Query) -> Answer:
        """The answer to ``query``, or the exception answering it raised."""
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._serve(), name="matchbot-batcher")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        await self._queue.put((query, future))
        return await future

    async def close(self) -> None:
        """Stop answering; questions still waiting are cancelled."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        while not self._queue.empty():
            self._queue.get_nowait()[1].cancel()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.wait
            while len(batch) < self.max_batch:
                if not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    break
            queries = [query for query, future in batch if not future.cancelled()]
            futures = [future for _, future in batch if not future.cancelled()]
            if not queries:
                continue
            results = await loop.run_in_executor(self._executor, self._answer, queries)
            self.batches += 1
            log.debug("Answered a batch of %d question(s).", len(queries))
            for future, result in zip(futures, results, strict=True):
                if future.done():  # its caller gave up meanwhile
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _answer(self, queries: list[Query]) -> list[Answer | BaseException]:
        """Every query's answer; when the batch fails, each query alone, so a failure is its own."""
        try:
            return list(self._answer_many(queries))
        except Exception as exc:
            if len(queries) == 1:
                return [exc]
        results: list[Answer | BaseException] = []
        for query in queries:
            try:
                results.append(self._answer_many([query])[0])
            except Exception as exc:
                results.append(exc)
        return results
