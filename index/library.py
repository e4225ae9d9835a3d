"""The articles folder, the saved index and the live Retriever, kept in step.

All methods block (disk, embedding): the bot calls them through ``asyncio.to_thread``. Changes (an
update, an article added or removed, the registry's changes applied) are serialised by a lock, and
across processes by ``flock`` on ``data/.index.lock``; questions keep being answered from the current
Retriever while a change runs, and the new one replaces it only once its index is saved.

Every change survives a kill at any moment. An article file is written aside and renamed into place, a
removed one is renamed aside first: the rename is the moment the change happens. Whatever a kill left
aside is tidied up when the next change starts (an unfinished write is dropped, an unfinished removal
completed), and the index is then brought in line with the folder. A write that fails (a full disk, a
read-only folder) is one line saying what to do, and the folder and the index stay as they were.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import late_tokens, word_lookup
from index.articles import (
    BULK_SUFFIX,
    TEXT_SUFFIXES,
    Article,
    format_text_article,
    link_key,
    parse_text_article,
    read_seeds,
)
from index.errors import (
    ArticleError,
    DuplicateArticleError,
    IndexBusy,
    OlderIndex,
    SeedsError,
    ShuttingDown,
    StoreError,
    disk_problem,
)
from index.pipeline import Pipeline
from index.rerank import LateInteractionStage
from index.retriever import Retriever
from index.store import IndexReport, Store

log = logging.getLogger(__name__)

INDEX_FOLDER = "index"
LOCK_FILE = ".index.lock"
WRITING = ".writing"  # suffix of an article file being written (a dotfile, never read as an article)
REMOVED = ".removed"  # suffix of an article file being removed
MAX_NAME_BYTES = 100  # of an article's file name stem: far below the 255 bytes file systems allow
# Of an id from the registry (another process's, maybe a hand-made file's name): its file while it is
# written, ".{id}.txt.writing", stays within the 255 bytes file systems allow.
MAX_ID_BYTES = 240
SEEDS_WAIT = 60.0  # seconds a change waits for another process's change to the same seeds folder
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
        pipeline: Pipeline,
        *,
        search: str = "auto",
        warm_words: bool = False,
    ) -> None:
        self.seeds_dir = seeds_dir
        self.index_dir = data_dir / INDEX_FOLDER
        self.pipeline = pipeline  # the models that index and answer (index.pipeline)
        self.search = search  # the kind of FAISS index (index.ann.KINDS)
        # Encode the articles' words for the word lookup in the background whenever the index is replaced
        # (the bot's), instead of at the first question that needs them (a command's single question).
        self.warm_words = warm_words
        self._retriever: Retriever | None = None
        self._lock = threading.Lock()  # one change at a time: its checks, its writes and its update
        self._stopping = threading.Event()

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            raise StoreError("The index is not loaded yet: wait for matchbot to finish starting.")
        return self._retriever

    @property
    def loaded(self) -> bool:
        """Whether an index is loaded and questions can be answered."""
        return self._retriever is not None

    @property
    def empty(self) -> bool:
        """Whether the loaded index holds no article: none has been added yet (a library starts so, from
        an empty or missing seeds folder) or every one was removed."""
        return self._retriever is not None and not self._retriever.store.articles

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def stop(self) -> None:
        """Make a running update give up at its next step, leaving the saved index as it was (shutdown)."""
        self._stopping.set()

    def open(self, progress: Progress | None = None) -> IndexReport:
        """Load the saved index, updating it first when the articles changed or it is missing."""
        return self.reindex(progress=progress)

    def reindex(self, *, rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
        """Bring the index in line with the seeds folder; ``rebuild`` re-embeds every article."""
        with self._changing():
            return self._reindex(rebuild=rebuild, progress=progress)

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
        with self._changing():  # its name and its link are checked, then used, in one change
            if unique_url and url:
                self._refuse_duplicate(url)
            return self._add_article(title=title, text=text, date=date, url=url, record=record)

    def _refuse_duplicate(self, url: str) -> None:
        key = link_key(url)
        for article in read_seeds(self.seeds_dir).articles:
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
        try:
            _write_atomically(path, format_text_article(article))
        except OSError as exc:
            problem = disk_problem("save the article", self.seeds_dir, exc)
            raise ArticleError(f"{problem}; nothing was added.") from exc
        try:
            report = self._reindex()
        except Exception:
            path.unlink(missing_ok=True)  # leave the folder as it was before the failed add
            raise
        if record is not None:
            try:
                record(article)
            except Exception:
                path.unlink(missing_ok=True)
                self._settle()
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
        with self._changing():
            entry = self.retriever.store.articles.get(article_id)
            if entry is None:
                raise ArticleError(f"There is no article {article_id!r}: see /matchbot articles list.")
            path = self.seeds_dir / entry["source"]
            if path.suffix.lower() == BULK_SUFFIX:
                raise ArticleError(
                    f"{article_id!r} is one line of {entry['source']}: edit that file to remove it."
                )
            info = next(info for info in self.articles() if info.id == article_id)
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
                report = self._reindex()
            except Exception:
                aside.rename(path)
                raise
            if record is not None:
                try:
                    record(info)
                except Exception:
                    aside.rename(path)
                    self._settle()
                    raise
            aside.unlink(missing_ok=True)
            return report

    def apply(self, put: Sequence[Article] = (), drop: Sequence[str] = ()) -> IndexReport | None:
        """Make the seeds folder hold the articles ``put`` (as text files) and none of the ids
        ``drop``, then update the index once; None when the folder already was so.

        What another copy of matchbot added or removed arrives here. An id to drop that comes from
        a ``.jsonl`` file is left, with a warning: that file is edited by hand; so is an id that cannot
        be a file name here. If a file cannot be written or the index updated, the folder is put back
        as it was.
        """
        with self._changing():
            if (put or drop) and not self.seeds_dir.is_dir():
                raise ArticleError(
                    f"Articles can be shared only through a folder, and the seeds setting is the file "
                    f"{self.seeds_dir}: point MATCHBOT_SEEDS at a folder."
                )
            undo: list[Callable[[], None]] = []
            asides: list[Path] = []
            try:
                for article in put:
                    if not _plain_name(article.id):
                        log.warning(
                            "Not adding %r from the registry: it cannot name a file.", article.id[:120]
                        )
                        continue
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
                    if not _plain_name(article_id):
                        log.warning("Not removing %r: it cannot name a file.", article_id[:120])
                        continue
                    for path in self._files_of(article_id):
                        aside = path.with_name(f".{path.name}{REMOVED}")
                        path.rename(aside)
                        asides.append(aside)
                        undo.append(lambda a=aside, p=path: a.rename(p))
            except OSError as exc:
                _undo(undo)
                problem = disk_problem(
                    "bring the seeds folder in step with the registry", self.seeds_dir, exc
                )
                raise ArticleError(f"{problem}; the folder is as it was.") from exc
            if not undo and self._in_index(put, drop):
                return None
            try:
                report = self._reindex()
            except Exception:
                _undo(undo)
                raise
            for aside in asides:
                aside.unlink(missing_ok=True)
            return report

    # -- one change at a time, killed or not ------------------------------------------------------

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the change lock (in this process and across processes), after tidying up what a kill
        left aside: whatever this change puts aside is then its own, until it ends. A seeds folder that
        does not exist yet is created first."""
        with self._lock:
            self._create_seeds_folder()
            with self._exclusive():
                self._tidy()
                yield

    def _create_seeds_folder(self) -> None:
        """Create the seeds folder when there is none yet: a library may start from nothing, and its
        first article be added by a command."""
        if self.seeds_dir.exists():
            return
        try:
            self.seeds_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            where = self.seeds_dir.parent
            raise SeedsError(
                disk_problem(f"create the articles folder {self.seeds_dir.name}", where, exc) + "."
            ) from exc
        log.info("Created the articles folder %s.", self.seeds_dir)

    def _reindex(
        self, *, rebuild: bool = False, progress: Progress | None = None, stoppable: bool = True
    ) -> IndexReport:
        """``reindex``, inside a change; ``stoppable`` gives up at the next step once matchbot stops."""
        reading = read_seeds(self.seeds_dir)
        previous = None if rebuild else self._saved_store()
        watched = self._watching(progress) if stoppable else progress
        store, report = Store.build(
            reading.articles, self.pipeline.encoders, previous=previous, progress=watched, search=self.search
        )
        report.skipped = reading.skipped
        for warning in reading.skipped:
            log.warning("%s", warning)
        if stoppable:
            self._check_stopping()
        if report.modified or report.upgraded or previous is None:
            store.save(self.index_dir)
        self._retriever = Retriever(
            store, self.pipeline, words_folder=self.index_dir.parent / word_lookup.FOLDER
        )
        if self.warm_words:
            self._warm_words_in_background(self._retriever)
        self._keep_late_tokens(store, watched)  # a second phase of progress, with its own total
        return report

    def warm_word_lookup(self) -> None:
        """Encode the current index's words for the word lookup, if that is not done yet (waiting for
        a background warm-up under way). Blocking."""
        self.retriever.warm_word_lookup()

    def _warm_words_in_background(self, retriever: Retriever) -> None:
        """``Retriever.warm_word_lookup`` in a thread of its own, given up once ``retriever`` is
        replaced or matchbot stops: a question that needs the words meanwhile waits for them, as it
        would have encoded them itself."""

        def still_wanted() -> bool:
            return self._retriever is retriever and not self._stopping.is_set()

        def warm() -> None:
            try:
                retriever.warm_word_lookup(still_wanted)
            except Exception as exc:  # the first question that needs the words will report it
                log.warning("Could not encode the articles' words ahead of the questions: %s", exc)

        threading.Thread(target=warm, name="matchbot-words", daemon=True).start()

    def _keep_late_tokens(self, store: Store, progress: Progress | None) -> None:
        """Hand the late-interaction stage its passages' token vectors, saved beside the index
        (``index.late_tokens``), encoding those not saved yet. The rows it reads are found from the
        manifest's languages, and their texts made as they are read, so a large index (more passages
        than are saved) has only the first few of its chunks parsed, not all of them."""
        for stage in self.pipeline.stages:
            if isinstance(stage, LateInteractionStage):
                chunks = store.chunks
                rows = np.flatnonzero(np.isin(store.row_languages(), sorted(stage.languages)))
                texts = (stage.text(chunks[int(row)]) for row in rows)
                late_tokens.bring_up_to_date(self.index_dir.parent, stage, texts, progress)

    def _settle(self) -> None:
        """Bring the index back in line with the folder after a change was undone, even while stopping
        (it only drops or restores one article). A failure is logged: the next update mends it."""
        try:
            self._reindex(stoppable=False)
        except Exception as exc:
            log.warning("Could not update the index after undoing a change (the next update will): %s", exc)

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
            raise ShuttingDown("matchbot is shutting down: the index was left as it was.")

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the seeds folder and ``data/.index.lock``, so two processes never change one seeds
        folder or update one index at once.

        A change another process is making to the same seeds folder is waited for (SEEDS_WAIT seconds
        at most); one to the same index is refused at once. The kernel releases both locks when their
        holder dies, even by ``kill -9``.
        """
        with self._seeds_held(), self._index_held():
            yield

    @contextmanager
    def _seeds_held(self) -> Iterator[None]:
        """``flock`` on the seeds folder itself (it needs no write access): two bots, or a bot and the
        command line, may share a seeds folder with their own data folders."""
        try:
            folder = os.open(self.seeds_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # the seeds setting names a file: nothing is written there
            yield
            return
        try:
            deadline = time.monotonic() + SEEDS_WAIT
            while True:
                try:
                    fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexBusy(
                            f"Another matchbot is changing the articles in {self.seeds_dir}: "
                            "try again in a minute."
                        ) from None
                    time.sleep(0.05)
                except OSError:  # a file system without flock: the index's lock still holds
                    break
            yield
        finally:
            os.close(folder)  # and the lock with it

    @contextmanager
    def _index_held(self) -> Iterator[None]:
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
                raise IndexBusy(
                    f"Another matchbot is updating the index in {self.index_dir}: wait until it is done."
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _saved_store(self) -> Store | None:
        try:
            store = Store.load(self.index_dir)
        except OlderIndex:
            log.warning(
                "The index in %s was written by an older matchbot: building it again from the articles.",
                self.index_dir,
            )
            return None
        except StoreError:
            if (self.index_dir / "manifest.json").exists() or self.index_dir.exists():
                raise
            return None
        if store.model != self.pipeline.encoder.name:
            raise StoreError(
                f"The index in {self.index_dir} was built with the model {store.model!r}, but "
                f"matchbot is set to use {self.pipeline.encoder.name!r}: run `matchbot index --rebuild`."
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
    """A file name stem for a title: its words joined by ``_``, never a path, a dotfile or a device name."""
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", title).casefold())
    slug = "_".join(words).encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").strip("_")
    slug = slug or "article"
    return f"article_{slug}" if slug in RESERVED_NAMES else slug


def _plain_name(stem: str) -> bool:
    """Whether ``stem`` (an article id) can name a file of the seeds folder: one plain name, not a
    path, a dotfile, a device name or too long."""
    return (
        bool(stem)
        and stem == stem.strip()
        and not stem.startswith(".")
        and not any(character in stem for character in "/\\\0")
        and len(stem.encode("utf-8", "surrogatepass")) <= MAX_ID_BYTES
        and stem.casefold() not in RESERVED_NAMES
    )


def _undo(steps: list[Callable[[], None]]) -> None:
    """Undo a change's steps, last first; a step that fails is logged (the next update mends it)."""
    for step in reversed(steps):
        try:
            step()
        except OSError as exc:
            log.warning("Could not undo part of a change: %s", exc)


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
