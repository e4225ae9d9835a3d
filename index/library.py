"""The articles folder, the saved index and the live Retriever, kept in step.

All methods block (disk, embedding): the bot calls them through ``asyncio.to_thread``. Changes are
serialised by a lock, and across processes by ``flock`` on ``data/.index.lock``; questions keep being
answered from the current Retriever while a change runs, and the new one replaces it only once its index
is saved.

Every change survives a kill at any moment. An article file is written aside and renamed into place, a
removed one is renamed aside first: the rename is the moment the change happens. Whatever a kill left
aside is tidied up by the next update (an unfinished write is dropped, an unfinished removal completed),
and the index is then brought in line with the folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from index.articles import Article, format_text_article, parse_text_article, read_seeds
from index.embedding import Embedder
from index.errors import ArticleError, StoreError, disk_problem
from index.retriever import Retriever
from index.store import IndexReport, Store

log = logging.getLogger(__name__)

INDEX_FOLDER = "index"
LOCK_FILE = ".index.lock"
WRITING = ".writing"  # suffix of an article file being written (a dotfile, never read as an article)
REMOVED = ".removed"  # suffix of an article file being removed
MAX_NAME_BYTES = 100  # of an article's file name stem: far below the 255 bytes file systems allow
# Names Windows reserves (a seeds folder may be shared with, or copied to, a Windows machine).
RESERVED_NAMES = {"con", "prn", "aux", "nul", *(f"{port}{n}" for port in ("com", "lpt") for n in range(10))}
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
        self._stopping = threading.Event()

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            raise StoreError("The index is not loaded yet: wait for matchbot to finish starting.")
        return self._retriever

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def loaded(self) -> bool:
        """Whether an index is loaded and questions can be answered."""
        return self._retriever is not None

    def stop(self) -> None:
        """Make a running update give up at its next step, leaving the saved index as it was (shutdown)."""
        self._stopping.set()

    def open(self, progress: Progress | None = None) -> IndexReport:
        """Load the saved index, updating it first when the articles changed or it is missing."""
        return self.reindex(progress=progress)

    def reindex(self, *, rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
        """Bring the index in line with the seeds folder; ``rebuild`` re-embeds every article."""
        with self._lock, self._exclusive():
            self._tidy()
            reading = read_seeds(self.seeds_dir)
            previous = None if rebuild else self._saved_store()
            store, report = Store.build(
                reading.articles, self.embedder, previous=previous, progress=self._watching(progress)
            )
            report.skipped = reading.skipped
            for warning in reading.skipped:
                log.warning("%s", warning)
            self._check_stopping()
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
        try:
            _write_atomically(path, format_text_article(article))
        except OSError as exc:
            problem = disk_problem("save the article", self.seeds_dir, exc)
            raise ArticleError(f"{problem}; nothing was added.") from exc
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
        aside = path.with_name(f".{path.name}{REMOVED}")
        try:
            path.rename(aside)
        except FileNotFoundError:
            gone = entry["source"]
            raise ArticleError(f"{gone} is no longer in the seeds folder: run a reindex.") from None
        except OSError as exc:
            raise ArticleError(
                disk_problem("remove the article", self.seeds_dir, exc) + "; nothing was removed."
            ) from exc
        try:
            report = self.reindex()
        except Exception:
            aside.rename(path)
            raise
        aside.unlink(missing_ok=True)
        return report

    def _tidy(self) -> None:
        """Finish what a kill interrupted: drop half-written files and index folders, end removals."""
        if self.index_dir.is_dir():  # else Store.load puts a retired index back first
            for name in (".writing", ".previous"):
                shutil.rmtree(self.index_dir.with_name(f".{self.index_dir.name}{name}"), ignore_errors=True)
        if not self.seeds_dir.is_dir():
            return
        for path in self.seeds_dir.glob(".*"):
            if path.is_file() and path.name.endswith((WRITING, REMOVED)):
                log.info("Tidying %s, left by an interrupted change.", path.name)
                try:
                    path.unlink()
                except OSError as exc:
                    log.warning("Could not remove %s: %s", path, exc)

    def _watching(self, progress: Progress | None) -> Progress:
        """``progress``, checking at each step whether matchbot is shutting down."""

        def report(done: int, total: int) -> None:
            self._check_stopping()
            if progress is not None:
                progress(done, total)

        return report

    def _check_stopping(self) -> None:
        if self._stopping.is_set():
            raise StoreError("matchbot is shutting down: the index was left as it was.")

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold ``data/.index.lock``, so two processes never update one index at once.

        The kernel releases the lock when its holder dies, even by ``kill -9``.
        """
        lock_path = self.index_dir.parent / LOCK_FILE
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            handle = lock_path.open("a")
        except OSError as exc:
            if not lock_path.is_file():
                raise StoreError(disk_problem("create the index lock", lock_path.parent, exc) + ".") from exc
            handle = lock_path.open()  # a read-only data folder: the write of the index says so
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(
                    f"Another matchbot is updating the index in {self.index_dir}: wait until it is done."
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

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
    """A file name stem for a title: its words joined by ``_``, never a path, a dotfile or a device name."""
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", title).casefold())
    slug = "_".join(words).encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").strip("_")
    slug = slug or "article"
    return f"article_{slug}" if slug in RESERVED_NAMES else slug


def _write_atomically(path: Path, text: str) -> None:
    """Write ``path`` aside, flush it, then rename it into place: readers see all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}{WRITING}")
    try:
        with staging.open("w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        staging.replace(path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
