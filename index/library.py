"""The articles folder, the saved index and the live Retriever, kept in step.

All methods block (disk, embedding): the bot calls them through ``asyncio.to_thread``. Changes are
serialised by a lock; questions keep being answered from the current Retriever while a change runs, and
the new one replaces it only once its index is saved.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.articles import (
    BULK_SUFFIX,
    TEXT_SUFFIXES,
    Article,
    format_text_article,
    link_key,
    parse_text_article,
    read_seeds,
)
from index.embedding import Embedder
from index.errors import ArticleError, DuplicateArticleError, SeedsError, StoreError
from index.retriever import Retriever
from index.store import IndexReport, Store

log = logging.getLogger(__name__)

INDEX_FOLDER = "index"
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    """What the index holds about one article."""

    id: str
    title: str
    date: str | None
    url: str | None
    chunks: int
    source: str


class Library:
    """Keeps the seeds folder, the saved index in the data folder and the Retriever in step."""

    def __init__(
        self,
        seeds_dir: Path,
        data_dir: Path,
        embedder: Embedder,
        *,
        threshold: float | None = None,
    ) -> None:
        self.seeds_dir = seeds_dir
        self.index_dir = data_dir / INDEX_FOLDER
        self.embedder = embedder
        self.threshold = threshold
        self._retriever: Retriever | None = None
        self._lock = threading.Lock()
        self._adding = threading.Lock()  # one add at a time: its name and its link are checked, then used

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            raise StoreError("The index is not loaded yet: wait for matchbot to finish starting.")
        return self._retriever

    @property
    def loaded(self) -> bool:
        """Whether the index is open (questions can be answered)."""
        return self._retriever is not None

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def open(self, progress: Progress | None = None) -> IndexReport:
        """Load the saved index, updating it first when the articles changed or it is missing."""
        return self.reindex(progress=progress)

    def reindex(self, *, rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
        """Bring the index in line with the seeds folder; ``rebuild`` re-embeds every article."""
        with self._lock:
            reading = read_seeds(self.seeds_dir)
            previous = None if rebuild else self._saved_store()
            store, report = Store.build(reading.articles, self.embedder, previous=previous, progress=progress)
            report.skipped = reading.skipped
            for warning in reading.skipped:
                log.warning("%s", warning)
            if report.modified or previous is None:
                store.save(self.index_dir)
            self._retriever = Retriever(store, self.embedder, threshold=self.threshold)
            return report

    def articles(self) -> list[ArticleInfo]:
        """The indexed articles, in index order."""
        return [
            ArticleInfo(
                id=article_id,
                title=entry["title"],
                date=entry.get("date"),
                url=entry.get("url"),
                chunks=entry["chunks"],
                source=entry["source"],
            )
            for article_id, entry in self.retriever.store.articles.items()
        ]

    def article_with_url(self, url: str) -> ArticleInfo | None:
        """The indexed article published at ``url`` (compared by ``link_key``), if any."""
        key = link_key(url)
        return next((info for info in self.articles() if info.url and link_key(info.url) == key), None)

    def add_article(
        self,
        *,
        title: str,
        text: str,
        date: str | None = None,
        url: str | None = None,
        unique_url: bool = False,
        record: Callable[[Article], None] | None = None,
    ) -> tuple[ArticleInfo, IndexReport]:
        """Save a new article as a text file in the seeds folder and index it.

        With ``unique_url``, an article whose ``url`` is already in the seeds folder (another process
        may have added it) raises DuplicateArticleError instead. ``record``, when given, is called with
        the article once it is indexed; if it raises, the article is taken out again, so the folder and
        the index are as they were.
        """
        with self._adding:
            if unique_url and url:
                self._refuse_duplicate(url)
            return self._add_article(title=title, text=text, date=date, url=url, record=record)

    def _refuse_duplicate(self, url: str) -> None:
        key = link_key(url)
        try:
            on_disk = read_seeds(self.seeds_dir).articles
        except SeedsError:
            on_disk = []
        for article in on_disk:
            if article.url and link_key(article.url) == key:
                raise DuplicateArticleError(
                    f"That page was added before, as {article.title!r} ({article.id}): "
                    "remove that article first to add it again.",
                    article.id,
                )

    def _add_article(
        self,
        *,
        title: str,
        text: str,
        date: str | None,
        url: str | None,
        record: Callable[[Article], None] | None,
    ) -> tuple[ArticleInfo, IndexReport]:
        title = " ".join(title.split())
        if not title:
            raise ArticleError("The article needs a title.")
        if not self.seeds_dir.is_dir():
            raise ArticleError(
                f"Articles can be added only to a folder, and the seeds setting is the file "
                f"{self.seeds_dir}: point MATCHBOT_SEEDS at a folder."
            )
        article_id = self._free_id(_slug(title))
        draft = Article(id=article_id, title=title, text=text.strip(), date=date, url=url)
        article = parse_text_article(article_id, format_text_article(draft), source=f"{article_id}.txt")
        path = self.seeds_dir / article.source
        _write_atomically(path, format_text_article(article))
        try:
            report = self.reindex()
        except Exception:
            path.unlink(missing_ok=True)  # leave the folder as it was before the failed add
            raise
        if record is not None:
            try:
                record(article)
            except Exception:
                path.unlink(missing_ok=True)
                self.reindex()
                raise
        info = next(info for info in self.articles() if info.id == article_id)
        return info, report

    def remove_article(
        self, article_id: str, record: Callable[[ArticleInfo], None] | None = None
    ) -> IndexReport:
        """Delete an article's file from the seeds folder and drop it from the index.

        ``record``, when given, is called with what the index held about the article once it is
        dropped; if it raises, the article is put back.
        """
        entry = self.retriever.store.articles.get(article_id)
        if entry is None:
            raise ArticleError(f"There is no article {article_id!r}: see /matchbot articles list.")
        path = self.seeds_dir / entry["source"]
        if path.suffix.lower() == ".jsonl":
            raise ArticleError(
                f"{article_id!r} is one line of {entry['source']}: edit that file to remove it."
            )
        info = next(info for info in self.articles() if info.id == article_id)
        aside = path.with_name(f".{path.name}.removed")
        path.rename(aside)
        try:
            report = self.reindex()
        except Exception:
            aside.rename(path)
            raise
        if record is not None:
            try:
                record(info)
            except Exception:
                aside.rename(path)
                self.reindex()
                raise
        aside.unlink(missing_ok=True)
        return report

    def apply(self, put: Sequence[Article] = (), drop: Sequence[str] = ()) -> IndexReport | None:
        """Make the seeds folder hold the articles ``put`` (as text files) and none of the ids
        ``drop``, then update the index once; None when the folder already was so.

        What another copy of matchbot added or removed arrives here. An id to drop that comes from
        a ``.jsonl`` file is left, with a warning: that file is edited by hand. If the index cannot
        be updated, the folder is put back as it was.
        """
        if (put or drop) and not self.seeds_dir.is_dir():
            raise ArticleError(
                f"Articles can be shared only through a folder, and the seeds setting is the file "
                f"{self.seeds_dir}: point MATCHBOT_SEEDS at a folder."
            )
        undo: list[Callable[[], None]] = []
        asides: list[Path] = []
        for article in put:
            path = self.seeds_dir / f"{article.id}.txt"
            text = format_text_article(article)
            before = path.read_text(encoding="utf-8") if path.is_file() else None
            if before != text:
                _write_atomically(path, text)
                undo.append(
                    (lambda p=path: p.unlink(missing_ok=True))
                    if before is None
                    else (lambda p=path, b=before: _write_atomically(p, b))
                )
        for article_id in drop:
            for path in self._files_of(article_id):
                aside = path.with_name(f".{path.name}.removed")
                path.rename(aside)
                asides.append(aside)
                undo.append(lambda a=aside, p=path: a.rename(p))
        if not undo and self._in_index(put, drop):
            return None
        try:
            report = self.reindex()
        except Exception:
            for step in reversed(undo):
                step()
            raise
        for aside in asides:
            aside.unlink(missing_ok=True)
        return report

    def _saved_store(self) -> Store | None:
        try:
            store = Store.load(self.index_dir)
        except StoreError:
            if (self.index_dir / "manifest.json").exists() or self.index_dir.exists():
                raise
            return None
        if store.model != self.embedder.name:
            raise StoreError(
                f"The index in {self.index_dir} was built with the model {store.model!r}, but "
                f"matchbot is set to use {self.embedder.name!r}: run `matchbot index --rebuild`."
            )
        return store

    def _in_index(self, put: Sequence[Article], drop: Sequence[str]) -> bool:
        """Whether the index holds the articles ``put`` and none of ``drop``: the files may be as they
        should and the index not, when another process (``matchbot add``) shares the seeds folder."""
        if self._retriever is None:
            return False
        indexed = self._retriever.store.articles
        return all(article.id in indexed for article in put) and not any(
            article_id in indexed and not self._source_is_bulk(article_id) for article_id in drop
        )

    def _source_is_bulk(self, article_id: str) -> bool:
        entry = self.retriever.store.articles[article_id]
        return Path(entry["source"]).suffix.lower() == BULK_SUFFIX

    def _files_of(self, article_id: str) -> list[Path]:
        """The text files in the seeds folder that hold the article ``article_id``."""
        files = [self.seeds_dir / f"{article_id}{suffix}" for suffix in TEXT_SUFFIXES]
        found = [path for path in files if path.is_file()]
        entry = self._retriever.store.articles.get(article_id) if self._retriever is not None else None
        if entry is not None:
            source = self.seeds_dir / entry["source"]
            if source.suffix.lower() == BULK_SUFFIX:
                log.warning("%r is one line of %s: edit that file to remove it.", article_id, entry["source"])
            elif source.is_file() and source not in found:
                found.append(source)
        return found

    def _free_id(self, stem: str) -> str:
        taken = {path.stem for path in self.seeds_dir.iterdir()}
        if self._retriever is not None:
            taken |= set(self._retriever.store.articles)
        candidate, number = stem, 2
        while candidate in taken:
            candidate, number = f"{stem}-{number}", number + 1
        return candidate


def _slug(title: str) -> str:
    words = re.findall(r"\w+", title.casefold())
    return "_".join(words)[:80].strip("_") or "article"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.writing")
    staging.write_text(text, encoding="utf-8")
    staging.replace(path)
