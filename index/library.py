"""The articles folder, the saved index and the live Retriever, kept in step.

All methods block (disk, embedding): the bot calls them through ``asyncio.to_thread``. Changes are
serialised by a lock; questions keep being answered from the current Retriever while a change runs, and
the new one replaces it only once its index is saved.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.articles import Article, format_text_article, parse_text_article, read_seeds
from index.embedding import Embedder
from index.errors import ArticleError, StoreError
from index.rerank import SecondStage
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
        second_stage: SecondStage | None = None,
        search: str = "auto",
    ) -> None:
        self.seeds_dir = seeds_dir
        self.index_dir = data_dir / INDEX_FOLDER
        self.embedder = embedder
        self.threshold = threshold
        self.second_stage = second_stage
        self.search = search  # the kind of FAISS index (index.ann.KINDS)
        self._retriever: Retriever | None = None
        self._lock = threading.Lock()

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            raise StoreError("The index is not loaded yet: wait for matchbot to finish starting.")
        return self._retriever

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
            store, report = Store.build(
                reading.articles, self.embedder, previous=previous, progress=progress, search=self.search
            )
            report.skipped = reading.skipped
            for warning in reading.skipped:
                log.warning("%s", warning)
            if report.modified or previous is None:
                store.save(self.index_dir)
            self._retriever = Retriever(
                store, self.embedder, threshold=self.threshold, second_stage=self.second_stage
            )
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

    def add_article(
        self, *, title: str, text: str, date: str | None = None, url: str | None = None
    ) -> tuple[ArticleInfo, IndexReport]:
        """Save a new article as a text file in the seeds folder and index it."""
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
        info = next(info for info in self.articles() if info.id == article_id)
        return info, report

    def remove_article(self, article_id: str) -> IndexReport:
        """Delete an article's file from the seeds folder and drop it from the index."""
        entry = self.retriever.store.articles.get(article_id)
        if entry is None:
            raise ArticleError(f"There is no article {article_id!r}: see /matchbot articles list.")
        path = self.seeds_dir / entry["source"]
        if path.suffix.lower() == ".jsonl":
            raise ArticleError(
                f"{article_id!r} is one line of {entry['source']}: edit that file to remove it."
            )
        aside = path.with_name(f".{path.name}.removed")
        path.rename(aside)
        try:
            report = self.reindex()
        except Exception:
            aside.rename(path)
            raise
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
