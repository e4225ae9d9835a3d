"""Article changes, the same in every bot process that shares the database.

An article added or removed with ``/matchbot articles`` (pasted, uploaded or fetched from a link), or
added from a followed feed, goes through the Library (the seeds folder and the index) and is recorded
in the store's registry in the same step: when the registry cannot be written, the change is undone
and whoever asked for it is told. With a shared store (PostgreSQL), every
process also follows the registry: when it starts, and then every ``FOLLOW_EVERY`` seconds, it writes
the articles added elsewhere into its seeds folder, deletes those removed elsewhere, and updates its
index. With SQLite (one process) the registry is only a record of who changed what.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from bot.settings import SettingsStore
from index.articles import Article
from index.errors import ArticleError
from index.library import ArticleInfo, Library
from index.store import IndexReport
from index.web import Fetcher, PageAdded, excerpt, read_page

log = logging.getLogger(__name__)

FOLLOW_EVERY = 3.0  # seconds between two looks at the registry's revision (one small query)
T = TypeVar("T")


class ArticleIdTaken(ArticleError):
    """Another process recorded an article under the id this one picked, a moment ago."""


class ArticleRegistry:
    """The Library's articles, changed through the registry in the store and kept in step with it."""

    def __init__(self, library: Library, store: SettingsStore) -> None:
        self.library = library
        self.store = store
        self.revision = 0  # the registry revision this process's seeds folder is in step with
        self._lock = asyncio.Lock()  # one change at a time: a moderator's, or the registry's
        self._stopping = asyncio.Event()

    @property
    def follows(self) -> bool:
        """Whether other processes may change the articles (a shared store)."""
        return self.store.shared

    async def open(self) -> IndexReport:
        """Open the index; with a shared store, once the registry's changes are in the seeds folder."""
        if not self.follows:
            return await asyncio.to_thread(self.library.open)
        async with self._lock:
            report = await self._catch_up()
        return report if report is not None else await asyncio.to_thread(self.library.open)

    async def catch_up(self) -> IndexReport | None:
        """Apply the registry's changes made since the last look; None when there were none."""
        async with self._lock:
            return await self._catch_up()

    async def follow(self, every: float = FOLLOW_EVERY) -> None:
        """Catch up with the registry every ``every`` seconds, until stopped (or cancelled)."""
        while not await self._stopped_within(every):
            try:
                report = await self.catch_up()
            except Exception as exc:  # the database or the disk may be back at the next look
                if not self._stopping.is_set():
                    log.warning("Could not bring the articles in step with the registry: %s", exc)
                continue
            if report is not None:
                log.info("Articles changed through another process: %s", report.summary())

    def stop(self) -> None:
        """Make ``follow`` return after its current look at the registry (shutdown)."""
        self._stopping.set()

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def add(
        self,
        *,
        title: str,
        text: str,
        date: str | None,
        url: str | None,
        by: int | None,
        unique_url: bool = False,
    ) -> tuple[ArticleInfo, IndexReport]:
        """Add an article here and record it in the registry, or neither.

        With ``unique_url``, an article published at ``url`` that is already here, or (with a shared
        store) in the registry, is a DuplicateArticleError: two processes adding one page at the same
        moment get one article.
        """
        async with self._lock:
            if self.follows:
                await self._catch_up()  # so that the new article's id is free everywhere
            loop = asyncio.get_running_loop()

            def record(article: Article) -> None:
                added = _wait_for(
                    loop,
                    self.store.record_added(
                        id=article.id,
                        title=article.title,
                        text=article.text,
                        date=article.date,
                        url=article.url,
                        by=by,
                        replace=not self.follows,  # one process: the folder, not the record, is right
                        unique_url=unique_url and self.follows,
                    ),
                )
                if not added:
                    raise ArticleIdTaken(
                        f"An article {article.id!r} was just added through another copy of matchbot: "
                        "try again in a few seconds."
                    )

            return await asyncio.to_thread(
                self.library.add_article,
                title=title,
                text=text,
                date=date,
                url=url,
                unique_url=unique_url,
                record=record,
            )

    async def add_page(
        self,
        fetcher: Fetcher,
        url: str,
        *,
        title: str | None = None,
        date: str | None = None,
        by: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> PageAdded:
        """Fetch ``url``, take its article out and add it as ``add`` does, its link kept unique.

        ``progress`` is told each stage as it starts (``"fetching"``, ``"reading"``, ``"indexing"``),
        from a worker thread or from the event loop.
        """
        article = await asyncio.to_thread(read_page, self.library, fetcher, url, progress=progress)
        if progress is not None:
            progress("indexing")
        info, report = await self.add(
            title=title or article.title,
            text=article.text,
            date=date or article.date,
            url=article.url,
            by=by,
            unique_url=True,
        )
        return PageAdded(info=info, report=report, excerpt=excerpt(article.text))

    async def remove(self, article_id: str, *, by: int | None) -> IndexReport:
        """Remove an article here and record its removal in the registry, or neither."""
        async with self._lock:
            if self.follows:
                await self._catch_up()
            loop = asyncio.get_running_loop()

            def record(info: ArticleInfo) -> None:
                _wait_for(loop, self.store.record_removed(id=info.id, title=info.title, by=by))

            return await asyncio.to_thread(self.library.remove_article, article_id, record)

    async def _catch_up(self) -> IndexReport | None:
        if self.library.loaded and await self.store.registry_revision() == self.revision:
            return None
        changes = await self.store.registry_changes(self.revision)
        put = [
            Article(id=entry.id, title=entry.title, text=entry.text, date=entry.date, url=entry.url)
            for entry in changes
            if not entry.removed
        ]
        drop = [entry.id for entry in changes if entry.removed]
        report = await asyncio.to_thread(self.library.apply, put, drop)
        if changes:
            self.revision = changes[-1].revision
        return report


def _wait_for(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, T]) -> T:
    """Run a store coroutine on the event loop from the Library's worker thread, and wait for it."""
    return asyncio.run_coroutine_threadsafe(work, loop).result()
