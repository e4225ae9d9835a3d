"""The saved index: a folder holding the chunk table, two FAISS indexes and a manifest.

    data/index/
      manifest.json      format version, model, dimension, chunk count, per-article content hashes, and
                         how each FAISS index is searched (exact, or IVF with its nlist and nprobe)
      chunks.jsonl       one Chunk a line, in row order
      sentences.faiss    each chunk's sentence embedding, normalised here (inner product over unit vectors:
                         scores are cosines)
      contexts.faiss     each chunk's embedding read with the chunks before and after it
      distinct.npy       each chunk's ``distinct`` score and reach (index.distinct), worked out at build time
      bm25/              BM25 over the chunks (passages/) and over whole articles (articles/), built with
                         the index so that opening it reads no text (an index saved without it builds it
                         when opened)

A folder is written aside and renamed into place, so a failed or interrupted build leaves the previous
index as it was. Loading checks every file against the manifest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from index import ann, distinct
from index.articles import Article
from index.chunking import CHUNKER_VERSION, Chunk, chunk_article
from index.embedding import Embedder
from index.embedding_cache import embed_new_texts
from index.errors import StoreError, disk_problem
from index.lexical import LexicalIndex

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: search plans in the manifest, distinct.npy
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
SENTENCES = "sentences.faiss"
CONTEXTS = "contexts.faiss"
DISTINCT = "distinct.npy"
LEXICAL = "bm25"
Progress = Callable[[int, int], None]
_HANDLE = re.compile(r"(?<![\w@])@(\w{2,})")
_HANDLE_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")  # AchrafHakimi, ESPNFC, lewis_h44
_ENTRY_KEYS = {"hash", "title", "source", "chunks"}  # what each article's manifest entry must hold


@dataclass(slots=True)
class IndexReport:
    """What an index build or update changed."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks: int = 0
    distinct_recomputed: int = 0  # rows whose ``distinct`` score was worked out afresh
    skipped: list[str] = field(default_factory=list)

    @property
    def modified(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged; {self.chunks} chunks"
        )


@dataclass(frozen=True, slots=True)
class Lexical:
    """BM25 over each chunk's indexed text, and over each article's title and text (articles in order of
    first appearance)."""

    passages: LexicalIndex
    articles: LexicalIndex

    @classmethod
    def build(cls, chunks: Sequence[Chunk]) -> Lexical:
        articles: dict[str, list[str]] = {}
        for chunk in chunks:
            articles.setdefault(chunk.article, [chunk.title]).append(chunk.text)
        return cls(
            LexicalIndex([indexed_text(chunk) for chunk in chunks]),
            LexicalIndex([" ".join(parts) for parts in articles.values()]),
        )

    def save(self, folder: Path) -> None:
        self.passages.save(folder / "passages")
        self.articles.save(folder / "articles")

    @classmethod
    def load(cls, folder: Path) -> Lexical:
        return cls(LexicalIndex.load(folder / "passages"), LexicalIndex.load(folder / "articles"))


class Store:
    """Chunks and their vectors, row-aligned, with the manifest that describes them."""

    def __init__(
        self,
        chunks: list[Chunk],
        sentences: faiss.Index,
        contexts: faiss.Index,
        manifest: dict,
        distinct: np.ndarray,
        lexical: Lexical | None = None,
    ) -> None:
        self.chunks = chunks
        self.sentences = sentences
        self.contexts = contexts
        self.manifest = manifest
        self.distinct = distinct  # per row: [distinct score, reach] (index.distinct)
        self._lexical = lexical

    @property
    def lexical(self) -> Lexical:
        """BM25 over the chunks and their articles: as saved with the index, else built from the chunks
        (once)."""
        if self._lexical is None:
            self._lexical = Lexical.build(self.chunks)
        return self._lexical

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def articles(self) -> dict[str, dict]:
        """Per article: content hash, title, date, url, source file and chunk count."""
        return self.manifest["articles"]

    @property
    def search_plans(self) -> dict[str, dict]:
        """How ``sentences`` and ``contexts`` are searched (index.ann plans)."""
        return self.manifest["search"]

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        articles: Sequence[Article],
        embedder: Embedder,
        *,
        previous: Store | None = None,
        progress: Progress | None = None,
        search: str = "auto",
    ) -> tuple[Store, IndexReport]:
        """Index ``articles``, re-using ``previous``'s vectors for every article that is unchanged.

        ``search`` is the kind of FAISS index (index.ann.KINDS): ``auto`` searches exactly up to
        ``ann.EXACT_UP_TO`` chunks and by IVF above.
        """
        report = IndexReport()
        reusable = _reusable_rows(previous, embedder)
        known = previous.articles if previous else {}
        chunks: list[Chunk] = []
        rows: list[int | None] = []  # the previous row of each chunk, or None when it needs embedding
        for article in articles:
            entry = known.get(article.id)
            if entry and entry["hash"] == article.content_hash and article.id in reusable:
                report.unchanged += 1
                for row in reusable[article.id]:
                    chunks.append(previous.chunks[row])  # type: ignore[union-attr]
                    rows.append(row)
                continue
            (report.changed if entry else report.added).append(article.id)
            new = chunk_article(article)
            chunks.extend(new)
            rows.extend([None] * len(new))
        report.removed = sorted(set(known) - {article.id for article in articles})
        report.chunks = len(chunks)

        manifest = {
            "format": FORMAT_VERSION,
            "chunker": CHUNKER_VERSION,
            "model": embedder.name,
            "dimension": embedder.dimension,
            "chunks": len(chunks),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "articles": {
                article.id: {
                    "hash": article.content_hash,
                    "title": article.title,
                    "date": article.date,
                    "url": article.url,
                    "source": article.source,
                    "chunks": sum(1 for chunk in chunks if chunk.article == article.id),
                }
                for article in articles
            },
        }
        plan = ann.plan(len(chunks), search)
        if (
            previous is not None
            and rows == list(range(previous.sentences.ntotal))
            and all(previous.search_plans[name]["kind"] == plan["kind"] for name in ("sentences", "contexts"))
        ):  # nothing to embed, add or recompute: opening an unchanged index stays quick at any size
            manifest |= {"search": previous.search_plans, "distinct": previous.manifest["distinct"]}
            return cls(chunks, previous.sentences, previous.contexts, manifest, previous.distinct), report

        sentence_vectors, context_vectors = _vectors(chunks, rows, embedder, previous, progress)
        indexes, plans = [], {}
        for name, vectors in (("sentences", sentence_vectors), ("contexts", context_vectors)):
            trained = getattr(previous, name) if previous is not None else None
            index = ann.build(vectors, plan, trained=trained)
            plans[name] = ann.calibrate(index, vectors, plan)
            indexes.append(index)
        sentences, contexts = indexes
        exact = plan["kind"] == "exact"
        kept = [(new, old) for new, old in enumerate(rows) if old is not None]
        if previous is not None and kept:
            scores, report.distinct_recomputed = distinct.update(
                previous.distinct, previous.sentences, sentences, kept, exact=exact
            )
        else:
            scores, report.distinct_recomputed = distinct.distinctness(sentences), len(chunks)
        manifest |= {
            "search": plans,
            "distinct": {"file": DISTINCT, "neighbours": distinct.HUB_NEIGHBOURS, "approximate": not exact},
        }
        return cls(chunks, sentences, contexts, manifest, scores), report

    # -- saving and loading ---------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the index to ``folder`` atomically: aside first, then renamed into place.

        A failed write (full disk, read-only folder) is a StoreError and leaves the previous index as
        it was; so does a kill at any moment, since ``load`` finishes an interrupted swap.
        """
        staging = folder.with_name(f".{folder.name}.writing")
        retired = folder.with_name(f".{folder.name}.previous")
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            with (staging / CHUNKS).open("w", encoding="utf-8") as out:
                for chunk in self.chunks:
                    out.write(json.dumps(dataclasses.asdict(chunk), ensure_ascii=False) + "\n")
            faiss.write_index(self.sentences, str(staging / SENTENCES))
            faiss.write_index(self.contexts, str(staging / CONTEXTS))
            np.save(staging / DISTINCT, self.distinct)
            self.lexical.save(staging / LEXICAL)
            (staging / MANIFEST).write_text(json.dumps(self.manifest, indent=2, ensure_ascii=False))
            _sync_folder(staging)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError) or _is_faiss_io_error(exc):
                raise StoreError(_unwritable(folder, exc)) from exc
            raise
        shutil.rmtree(retired, ignore_errors=True)
        try:
            if folder.exists():
                folder.rename(retired)
            staging.rename(folder)
        except OSError as exc:
            if retired.exists() and not folder.exists():
                retired.rename(folder)
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreError(_unwritable(folder, exc)) from exc
        shutil.rmtree(retired, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> Store:
        """Read and verify a saved index; any problem is a StoreError that says what to run."""
        retired = folder.with_name(f".{folder.name}.previous")
        if not folder.exists() and retired.exists():  # interrupted between the two renames of save()
            retired.rename(folder)
        if not (folder / MANIFEST).is_file():
            if folder.exists():
                raise _corrupt(folder, "it has no manifest.json")
            raise StoreError(f"There is no index in {folder}: run `matchbot index` to build it.")
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            format_version = manifest["format"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise _corrupt(folder, f"its manifest cannot be read ({exc})") from exc
        if format_version != FORMAT_VERSION:
            raise StoreError(
                f"The index in {folder} has format {format_version}, this matchbot reads format "
                f"{FORMAT_VERSION}: run `matchbot index --rebuild`."
            )
        articles = manifest.get("articles")
        plans = manifest.get("search")
        if not isinstance(manifest.get("model"), str) or not (
            isinstance(articles, dict)
            and all(isinstance(entry, dict) and entry.keys() >= _ENTRY_KEYS for entry in articles.values())
        ):
            raise _corrupt(folder, "its manifest lacks the model or the article list")
        if not (
            isinstance(plans, dict) and all(isinstance(plans.get(n), dict) for n in ("sentences", "contexts"))
        ):
            raise _corrupt(folder, "its manifest does not say how its vectors are searched")
        try:
            lines = (folder / CHUNKS).read_text(encoding="utf-8").splitlines()
            chunks = [Chunk(**fields) for fields in json.loads(f"[{','.join(lines)}]")]  # one parse: quicker
            sentences = faiss.read_index(str(folder / SENTENCES))
            contexts = faiss.read_index(str(folder / CONTEXTS))
            scores = np.load(folder / DISTINCT, allow_pickle=False)
            ann.configure(sentences, plans["sentences"])
            ann.configure(contexts, plans["contexts"])
            lexical = Lexical.load(folder / LEXICAL) if (folder / LEXICAL).is_dir() else None
        except (OSError, ValueError, TypeError, RuntimeError, KeyError) as exc:
            raise _corrupt(folder, f"a file is missing or unreadable ({exc})") from exc
        if scores.ndim != 2 or scores.shape[1] != 2 or scores.dtype != np.float32:
            raise _corrupt(folder, f"{DISTINCT} does not hold two float32 columns")
        counts = [len(chunks), sentences.ntotal, contexts.ntotal, len(scores), manifest.get("chunks")]
        if lexical is not None:
            counts.append(len(lexical.passages))
        if len(set(counts)) != 1:
            raise _corrupt(folder, f"its files disagree on the chunk count ({', '.join(map(str, counts))})")
        if not sentences.d == contexts.d == manifest.get("dimension"):
            raise _corrupt(folder, "its vectors do not have the dimension in its manifest")
        return cls(chunks, sentences, contexts, manifest, scores, lexical)

    def vectors(self, rows: Sequence[int] | np.ndarray, *, contexts: bool = False) -> np.ndarray:
        """The stored unit vectors of ``rows``."""
        index = self.contexts if contexts else self.sentences
        ids = np.asarray(rows, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, index.d), dtype=np.float32)
        return index.reconstruct_batch(ids)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as float32 rows of length 1 (an all-zero row stays zero): the index never relies on
    an embedder to normalise, so its inner products are cosines whatever the embedder gives."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def indexed_text(chunk: Chunk) -> str:
    """What is embedded and scored for a chunk: its text, and who posted a tweet (and when) or said a
    quotation, with social-media handles read as the words they join (``@AchrafHakimi`` as
    ``@Achraf Hakimi``), so that a question naming Hakimi finds a message addressed to him."""
    text = _HANDLE.sub(_handle_words, chunk.text)
    if chunk.author:
        posted = f" on {chunk.posted}" if chunk.posted else ""
        return f"Tweet by {chunk.author}{posted}: {text}"
    if chunk.speaker:
        return f"{chunk.speaker} said: {text}"
    return text


def _handle_words(handle: re.Match[str]) -> str:
    words = _HANDLE_WORD.findall(handle[1])
    return "@" + " ".join(words) if words else handle[0]


def neighbours(chunks: Sequence[Chunk], row: int) -> tuple[int | None, int | None]:
    """The rows just before and after ``row`` in the same article (None at an article's edge)."""

    def same_article(other: int) -> int | None:
        inside = 0 <= other < len(chunks) and chunks[other].article == chunks[row].article
        return other if inside else None

    return same_article(row - 1), same_article(row + 1)


def context_text(chunks: Sequence[Chunk], row: int) -> str:
    """The chunk at ``row`` read with the chunks before and after it: what the context vector sees."""
    before, after = neighbours(chunks, row)
    return " ".join(indexed_text(chunks[r]) for r in (before, row, after) if r is not None)


def _reusable_rows(previous: Store | None, embedder: Embedder) -> dict[str, list[int]]:
    """Rows of the previous index per article, when its vectors are still valid for this build."""
    if previous is None:
        return {}
    same_recipe = previous.manifest.get("chunker") == CHUNKER_VERSION
    if not same_recipe or previous.model != embedder.name:
        return {}
    rows: dict[str, list[int]] = {article_id: [] for article_id in previous.articles}  # some have no chunk
    for row, chunk in enumerate(previous.chunks):
        rows.setdefault(chunk.article, []).append(row)
    return rows


def _vectors(
    chunks: list[Chunk],
    rows: list[int | None],
    embedder: Embedder,
    previous: Store | None,
    progress: Progress | None,
) -> tuple[np.ndarray, np.ndarray]:
    sentences = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    contexts = np.zeros_like(sentences)
    kept = [(new, old) for new, old in enumerate(rows) if old is not None]
    if kept and previous is not None:
        new_rows, old_rows = (list(side) for side in zip(*kept, strict=True))
        sentences[new_rows] = previous.vectors(old_rows)
        contexts[new_rows] = previous.vectors(old_rows, contexts=True)
    fresh = [new for new, old in enumerate(rows) if old is None]
    if fresh:
        texts = [indexed_text(chunks[row]) for row in fresh] + [context_text(chunks, row) for row in fresh]
        encoded = unit_rows(embed_new_texts(texts, embedder, previous, progress))
        sentences[fresh] = encoded[: len(fresh)]
        contexts[fresh] = encoded[len(fresh) :]
    return sentences, contexts


def _sync_folder(folder: Path) -> None:
    """Flush the files of ``folder`` to disk, so a power cut after the rename cannot leave them empty."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as written:
                os.fsync(written.fileno())


def _is_faiss_io_error(error: BaseException) -> bool:
    # faiss reports a failed fwrite as a RuntimeError ("... could not write ..." / "fwrite"), not OSError
    return isinstance(error, RuntimeError) and ("write" in str(error) or "fopen" in str(error))


def _unwritable(folder: Path, error: BaseException) -> str:
    if not isinstance(error, OSError):  # faiss: "... write error in FILE: 4051 != 25600 (File too large)"
        reason = re.search(r"\(([^()]+)\)\s*$", str(error))
        error = OSError(0, reason[1] if reason else "write failed")
    return disk_problem("write the index", folder, error) + "; the previous index is unchanged."


def _corrupt(folder: Path, why: str) -> StoreError:
    return StoreError(
        f"The index in {folder} is incomplete or corrupt ({why}): run `matchbot index --rebuild`."
    )
