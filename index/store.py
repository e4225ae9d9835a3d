"""The saved index: a folder holding the chunk table, each encoder's FAISS indexes and a manifest.

    data/index/
      manifest.json      format version, the primary model, chunk count, per-article content hashes, and
                         for each encoder its dimension, folder and how its indexes are searched (exact,
                         or IVF with its nlist and nprobe)
      chunks.jsonl       one Chunk a line, in row order
      vectors/<encoder>/ one folder per encoder (the primary one, MiniLM, first):
        sentences.faiss  each chunk's sentence embedding, normalised here (inner product over unit vectors:
                         scores are cosines)
        contexts.faiss   each chunk's embedding read with the chunks before and after it
      distinct.npy       each chunk's ``distinct`` score and reach (index.distinct), worked out at build time
      bm25/              BM25 over the chunks (passages/) and over whole articles (articles/), built with
                         the index so that opening it reads no text (an index saved without it builds it
                         when opened)

A folder is written aside and renamed into place, so a failed or interrupted build leaves the previous
index as it was. Loading checks every file against the manifest.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from index import ann, arrays, chunk_table, distinct
from index.articles import Article
from index.chunk_table import ChunkTable
from index.chunking import CHUNKER_VERSION, Chunk, chunk_article, context_text, indexed_text
from index.embedding_cache import embed_new_texts
from index.encoder import Encoder
from index.errors import OlderIndex, StoreError, disk_problem
from index.lexical import LexicalIndex, TermSets
from index.vocabulary import expand, synonyms_version

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 2: search plans in the manifest, distinct.npy; 3: vectors kept per encoder
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
VECTORS = "vectors"
SENTENCES = "sentences.faiss"
CONTEXTS = "contexts.faiss"
DISTINCT = "distinct.npy"
LEXICAL = "bm25"
TERMS = "terms"  # in LEXICAL: each chunk's terms, synonyms added
Progress = Callable[[int, int], None]
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
    encoded: list[str] = field(default_factory=list)  # encoders the previous index had no vectors of
    # where the build's time went, in seconds: ``vectors`` (each encoder's FAISS indexes trained, filled
    # and their nprobe measured), ``distinct probe`` (choosing distinct's neighbour search), ``distinct``,
    # ``bm25`` (on its own thread, beside the others) and ``bm25 wait`` (what it added after them)
    seconds: dict[str, float] = field(default_factory=dict)
    # the previous index was saved by an earlier matchbot, without a part today's saves (BM25's term
    # sets): the same index, to be saved again once so that later starts need not build the part
    upgraded: bool = False

    @property
    def modified(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.encoded)

    def summary(self) -> str:
        encoded = f"; every chunk embedded with {', '.join(self.encoded)}" if self.encoded else ""
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged; {self.chunks} chunks{encoded}"
        )


@dataclass(frozen=True, slots=True)
class Vectors:
    """One encoder's two FAISS indexes over the chunks, row-aligned with them."""

    sentences: faiss.Index
    contexts: faiss.Index

    def index(self, *, contexts: bool = False) -> faiss.Index:
        return self.contexts if contexts else self.sentences


@dataclass(frozen=True, slots=True)
class Lexical:
    """BM25 over each chunk's indexed text, and over each article's title and text (articles in order of
    first appearance); and each chunk's terms with its football words' synonyms (``terms``), from which
    the first stage's ``coverage`` is read."""

    passages: LexicalIndex
    articles: LexicalIndex
    terms: TermSets

    @classmethod
    def build(cls, chunks: Sequence[Chunk]) -> Lexical:
        articles: dict[str, list[str]] = {}
        languages: dict[str, str] = {}
        for chunk in chunks:
            articles.setdefault(chunk.article, [chunk.title]).append(chunk.text)
            languages.setdefault(chunk.article, chunk.language)
        texts = [indexed_text(chunk) for chunk in chunks]
        passages = LexicalIndex(texts, [chunk.language for chunk in chunks])
        return cls(
            passages,
            LexicalIndex(
                [" ".join(parts) for parts in articles.values()], list(languages.values()), given_names=False
            ),
            TermSets.build(passages.analyse(expand(text)) for text in texts),
        )

    def save(self, folder: Path) -> None:
        self.passages.save(folder / "passages")
        self.articles.save(folder / "articles")
        self.terms.save(folder / TERMS)

    @classmethod
    def saved_in(cls, folder: Path) -> bool:
        """Whether ``folder`` holds a saved Lexical (an index saved before ``terms`` existed holds only
        BM25's two folders: it is built again from the chunks)."""
        return (folder / TERMS).is_dir()

    @classmethod
    def load(cls, folder: Path) -> Lexical:
        return cls(
            LexicalIndex.load(folder / "passages"),
            LexicalIndex.load(folder / "articles"),
            TermSets.load(folder / TERMS),
        )


class Store:
    """Chunks and each encoder's vectors of them, row-aligned, with the manifest that describes them.

    The first encoder is the primary one: its vectors find the candidates and make ``distinct``;
    ``sentences``, ``contexts`` and ``vectors`` without ``encoder`` are its.
    """

    def __init__(
        self,
        chunks: Sequence[Chunk],
        vectors: dict[str, Vectors],
        manifest: dict,
        distinct: np.ndarray,
        lexical: Lexical | None = None,
    ) -> None:
        self.chunks = chunks
        self._vectors = vectors
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
        """The primary encoder's name."""
        return str(self.manifest["model"])

    @property
    def encoders(self) -> list[str]:
        """The names of the encoders whose vectors the index holds, the primary one first."""
        return list(self._vectors)

    @property
    def sentences(self) -> faiss.Index:
        return self._vectors[self.model].sentences

    @property
    def contexts(self) -> faiss.Index:
        return self._vectors[self.model].contexts

    @property
    def articles(self) -> dict[str, dict]:
        """Per article: content hash, title, date, url, source file and chunk count."""
        return self.manifest["articles"]

    @property
    def search_plans(self) -> dict[str, dict]:
        """How the primary encoder's ``sentences`` and ``contexts`` are searched (index.ann plans)."""
        return self.manifest["encoders"][self.model]["search"]

    def index(self, encoder: str | None = None, *, contexts: bool = False) -> faiss.Index:
        """An encoder's (the primary one's) FAISS index of sentences or of contexts."""
        return self._vectors[encoder or self.model].index(contexts=contexts)

    def vectors(
        self, rows: Sequence[int] | np.ndarray, *, contexts: bool = False, encoder: str | None = None
    ) -> np.ndarray:
        """The stored unit vectors of ``rows``, by an encoder (the primary one unless named)."""
        index = self.index(encoder, contexts=contexts)
        ids = np.asarray(rows, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, index.d), dtype=np.float32)
        return index.reconstruct_batch(ids)

    def article_rows(self) -> dict[str, range] | None:
        """Each article's rows, read from the manifest without parsing the chunk table: each article's
        chunks follow the previous article's, in the manifest's order. None if the table disagrees."""
        rows, start = {}, 0
        for article_id, entry in self.articles.items():
            rows[article_id] = range(start, start + int(entry["chunks"]))
            start += int(entry["chunks"])
        if start != len(self.chunks) or any(
            len(found) and self.chunks[found.start].article != article_id
            for article_id, found in rows.items()
        ):
            return None
        return rows

    def article_numbers(self) -> np.ndarray:
        """Each row's article number, numbering the articles that have chunks in order of first appearance
        (as ``lexical.articles`` does)."""
        rows = self.article_rows()
        if rows is not None:
            counts = np.array([len(found) for found in rows.values() if len(found)], dtype=np.int64)
            return np.repeat(np.arange(len(counts)), counts)
        numbers = {name: number for number, name in enumerate(dict.fromkeys(c.article for c in self.chunks))}
        return np.fromiter((numbers[c.article] for c in self.chunks), dtype=np.int64, count=len(self.chunks))

    def row_languages(self) -> np.ndarray:
        """Each row's language (its article's), read from the manifest where it names every article's,
        else from the chunks."""
        rows = self.article_rows()
        held = {name: found for name, found in (rows or {}).items() if len(found)}
        if rows is not None and all("language" in self.articles[name] for name in held):
            languages = np.array([self.articles[name]["language"] for name in held], dtype=object)
            return np.repeat(languages, [len(found) for found in held.values()])
        return np.array([chunk.language for chunk in self.chunks], dtype=object)

    def embedded_texts(self) -> dict[str, tuple[int, bool]]:
        """Every text the index embedded: its row, and whether it is that row's context (else its
        sentence); what ``index.embedding_cache`` re-uses."""
        known = {context_text(self.chunks, row): (row, True) for row in range(len(self.chunks))}
        known.update((indexed_text(chunk), (row, False)) for row, chunk in enumerate(self.chunks))
        return known

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        articles: Sequence[Article],
        encoders: Encoder | Sequence[Encoder],
        *,
        previous: Store | None = None,
        progress: Progress | None = None,
        search: str = "auto",
    ) -> tuple[Store, IndexReport]:
        """Index ``articles`` with each of ``encoders`` (the primary one first), re-using ``previous``'s
        vectors for every article that is unchanged and every encoder it already has.

        ``search`` is the kind of FAISS index (index.ann.KINDS): ``auto`` searches exactly up to
        ``ann.EXACT_UP_TO`` chunks and by IVF above.
        """
        encoders = [encoders] if not isinstance(encoders, Sequence) else list(encoders)
        primary = encoders[0]
        report = IndexReport()
        reusable = _reusable_rows(previous)
        known = previous.articles if previous else {}
        pieces: list[range | list[Chunk]] = []  # per article: its rows in the previous index, or its chunks
        rows: list[int | None] = []  # the previous row of each chunk, or None when it needs embedding
        for article in articles:
            entry = known.get(article.id)
            if entry and entry["hash"] == article.content_hash and article.id in reusable:
                report.unchanged += 1
                pieces.append(reusable[article.id])
                rows.extend(reusable[article.id])
                continue
            (report.changed if entry else report.added).append(article.id)
            pieces.append(chunk_article(article))
            rows.extend([None] * len(pieces[-1]))
        report.removed = sorted(set(known) - {article.id for article in articles})
        report.chunks = len(rows)
        unchanged = previous is not None and rows == list(range(len(previous.chunks)))
        chunks = previous.chunks if unchanged else _gather(pieces, previous)  # type: ignore[union-attr]

        manifest = {
            "format": FORMAT_VERSION,
            "chunker": CHUNKER_VERSION,
            "synonyms": synonyms_version(),
            "model": primary.name,
            "dimension": primary.dimension,
            "chunks": len(chunks),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "articles": {
                article.id: {
                    "hash": article.content_hash,
                    "title": article.title,
                    "date": article.date,
                    "url": article.url,
                    "source": article.source,
                    "language": _language(article, piece, previous),
                    "chunks": len(piece),
                }
                for article, piece in zip(articles, pieces, strict=True)
            },
        }
        plan = ann.plan(len(chunks), search)
        kept_vectors = {e.name: _kept(previous, e.name, e.dimension) for e in encoders}
        if (
            unchanged
            and all(kept_vectors.values())
            and all(_searched_as(previous, encoder, plan) for encoder in encoders)  # type: ignore[arg-type]
        ):
            # nothing to embed, add or recompute: opening an unchanged index stays quick at any size
            entries = {e.name: previous.manifest["encoders"][e.name] for e in encoders}  # type: ignore[union-attr]
            manifest |= {"encoders": entries, "distinct": previous.manifest["distinct"]}  # type: ignore[union-attr]
            vectors = {e.name: previous._vectors[e.name] for e in encoders}  # type: ignore[union-attr]
            report.upgraded = previous._lexical is None  # type: ignore[union-attr]
            return cls(chunks, vectors, manifest, previous.distinct, previous._lexical), report  # type: ignore[union-attr]

        jobs = _embedding_jobs(chunks, rows, encoders, previous, kept_vectors)
        report.encoded = (
            [e.name for e in encoders if not kept_vectors[e.name]] if previous is not None else []
        )
        embedded = _embed(jobs, previous, progress)
        store = cls.from_vectors(
            chunks, embedded, manifest, search=search, previous=previous, rows=rows, report=report
        )
        return store, report

    @classmethod
    def from_vectors(
        cls,
        chunks: Sequence[Chunk],
        embedded: Mapping[str, tuple[np.ndarray, np.ndarray]],
        manifest: dict,
        *,
        search: str = "auto",
        previous: Store | None = None,
        rows: Sequence[int | None] | None = None,
        report: IndexReport | None = None,
    ) -> Store:
        """The index of ``chunks`` from each encoder's unit sentence and context vectors of them (the
        primary encoder first), with ``manifest`` (all but its ``encoders`` and ``distinct`` entries):
        the FAISS indexes built and measured, the ``distinct`` scores worked out, BM25 built.

        BM25 is built on a thread of its own beside the vectors' work, which FAISS and ``index.distinct``
        spread over every core. With ``previous`` and ``rows`` (each chunk's row there, or None), an
        update re-uses the previous index's trained lists and its scores of unchanged rows.
        """
        report = report if report is not None else IndexReport()
        rows = list(rows) if rows is not None else [None] * len(chunks)
        plan = ann.plan(len(chunks), search)
        with ThreadPoolExecutor(1) as beside:
            lexical = beside.submit(_timed, Lexical.build, chunks)
            started = time.perf_counter()
            vectors, entries = {}, {}
            for name, (sentences, contexts) in embedded.items():
                kept = _kept(previous, name, sentences.shape[1])
                built, plans = [], {}
                for kind, fresh in (("sentences", sentences), ("contexts", contexts)):
                    trained = kept.index(contexts=kind == "contexts") if kept else None
                    index = ann.build(fresh, plan, trained=trained)
                    plans[kind] = ann.calibrate(index, fresh, plan)
                    built.append(index)
                vectors[name] = Vectors(*built)
                entries[name] = {
                    "dimension": int(sentences.shape[1]),
                    "folder": f"{VECTORS}/{_folder_name(name)}",
                    "search": plans,
                }
            report.seconds["vectors"] = time.perf_counter() - started
            primary = next(iter(embedded))
            scores, estimate = _distinct(vectors[primary].sentences, previous, rows, primary, report)
            manifest = manifest | {
                "encoders": entries,
                "distinct": {
                    "file": DISTINCT,
                    "neighbours": distinct.HUB_NEIGHBOURS,
                    "approximate": plan["kind"] != "exact",
                    **estimate,
                },
            }
            started = time.perf_counter()
            built_lexical, report.seconds["bm25"] = lexical.result()
            report.seconds["bm25 wait"] = time.perf_counter() - started
            return cls(chunks, vectors, manifest, scores, built_lexical)

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
            table = chunk_table.encode(self.chunks)
            (staging / CHUNKS).write_bytes(table)
            manifest = self.manifest | {"chunks_checksum": chunk_table.checksum(table)}
            for name, vectors in self._vectors.items():
                place = staging / self.manifest["encoders"][name]["folder"]
                place.mkdir(parents=True)
                faiss.write_index(vectors.sentences, str(place / SENTENCES))
                faiss.write_index(vectors.contexts, str(place / CONTEXTS))
            np.save(staging / DISTINCT, self.distinct)
            self.lexical.save(staging / LEXICAL)
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
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
        self.manifest = manifest  # with the chunk table's checksum, as it is loaded

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
            older = isinstance(format_version, int) and format_version < FORMAT_VERSION
            kind = OlderIndex if older else StoreError
            raise kind(
                f"The index in {folder} has format {format_version}, this matchbot reads format "
                f"{FORMAT_VERSION}: run `matchbot index --rebuild`."
            )
        articles = manifest.get("articles")
        entries = manifest.get("encoders")
        if not isinstance(manifest.get("model"), str) or not (
            isinstance(articles, dict)
            and all(isinstance(entry, dict) and entry.keys() >= _ENTRY_KEYS for entry in articles.values())
        ):
            raise _corrupt(folder, "its manifest lacks the model or the article list")
        if not (
            isinstance(entries, dict)
            and manifest["model"] in entries
            and all(_described(entry) for entry in entries.values())
        ):
            raise _corrupt(
                folder, "its manifest does not say where its vectors are and how they are searched"
            )
        try:
            chunks = ChunkTable.read(folder / CHUNKS, manifest.get("chunks_checksum"))
            vectors = {}
            for name, entry in sorted(entries.items(), key=lambda item: item[0] != manifest["model"]):
                place = (folder / entry["folder"]).resolve()
                if not place.is_relative_to(folder.resolve()):
                    raise ValueError(f"the vectors of {name} are outside the index")
                found = Vectors(
                    faiss.read_index(str(place / SENTENCES)), faiss.read_index(str(place / CONTEXTS))
                )
                ann.configure(found.sentences, entry["search"]["sentences"])
                ann.configure(found.contexts, entry["search"]["contexts"])
                vectors[name] = found
            scores = arrays.load(folder / DISTINCT, allow_pickle=False)
            lexical = Lexical.load(folder / LEXICAL) if Lexical.saved_in(folder / LEXICAL) else None
            if lexical is not None and (
                lexical.passages.surnames is None or manifest.get("synonyms") != synonyms_version()
            ):
                # saved before surnames were kept, or with other synonyms in its terms: built again from
                # the chunks (and saved again by the library that opens it)
                lexical = None
        except (OSError, ValueError, TypeError, RuntimeError, KeyError) as exc:
            raise _corrupt(folder, f"a file is missing or unreadable ({exc})") from exc
        if scores.ndim != 2 or scores.shape[1] != 2 or scores.dtype != np.float32:
            raise _corrupt(folder, f"{DISTINCT} does not hold two float32 columns")
        counts = [len(chunks), len(scores), manifest.get("chunks")]
        counts += [index.ntotal for found in vectors.values() for index in (found.sentences, found.contexts)]
        if lexical is not None:
            counts += [len(lexical.passages), len(lexical.terms)]
        if len(set(counts)) != 1:
            raise _corrupt(folder, f"its files disagree on the chunk count ({', '.join(map(str, counts))})")
        if manifest.get("dimension") != entries[manifest["model"]]["dimension"]:
            raise _corrupt(folder, "its manifest gives two dimensions for its model")
        for name, found in vectors.items():
            if not found.sentences.d == found.contexts.d == entries[name]["dimension"]:
                raise _corrupt(folder, f"the vectors of {name} do not have the dimension in its manifest")
        return cls(chunks, vectors, manifest, scores, lexical)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as float32 rows of length 1 (an all-zero row stays zero): the index never relies on
    an encoder to normalise, so its inner products are cosines whatever the encoder gives."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def _gather(pieces: Sequence[range | list[Chunk]], previous: Store | None) -> list[Chunk]:
    """The chunks of ``pieces``, each an article's rows in ``previous`` or its new chunks."""
    kept = list(previous.chunks) if previous is not None else []  # one pass over a saved table
    return [
        chunk
        for piece in pieces
        for chunk in (kept[piece.start : piece.stop] if isinstance(piece, range) else piece)
    ]


def _language(article: Article, piece: range | list[Chunk], previous: Store | None) -> str | None:
    """The language of ``article``'s chunks (its rows in ``previous``, or its new chunks): the first
    chunk's, read alone from a saved table; the article's own when it has no chunk."""
    if isinstance(piece, range):
        return previous.chunks[piece.start].language if len(piece) else article.language  # type: ignore[union-attr]
    return piece[0].language if piece else article.language


def _reusable_rows(previous: Store | None) -> dict[str, range]:
    """Rows of the previous index per article, when its chunks are still cut the same way."""
    if previous is None or previous.manifest.get("chunker") != CHUNKER_VERSION:
        return {}
    return previous.article_rows() or {}  # rows out of the manifest's order: embed everything again


def _kept(previous: Store | None, encoder: str, dimension: int) -> Vectors | None:
    """The previous index's vectors by ``encoder``, when it has them at ``dimension`` (else None)."""
    if previous is None or encoder not in previous.encoders:
        return None
    same = previous.manifest["encoders"][encoder]["dimension"] == dimension
    return previous._vectors[encoder] if same else None


def _distinct(
    sentences: faiss.Index,
    previous: Store | None,
    rows: list[int | None],
    primary: str,
    report: IndexReport,
) -> tuple[np.ndarray, dict]:
    """The ``distinct`` scores of ``sentences`` (index.distinct), and for an approximate index the
    neighbour search they came from with its measured error (``{"probe": 8, "error": 0.003, …}``).

    When ``previous`` has the primary encoder's vectors only what the update changes is recomputed, with
    the previous index's ``probe`` if it had one, so that every row's score comes from the same search.
    """
    kept_rows = [(new, old) for new, old in enumerate(rows) if old is not None]
    started = time.perf_counter()
    if previous is None or not kept_rows or not _kept(previous, primary, sentences.d):
        estimate = distinct.calibrate(sentences)
        report.seconds["distinct probe"] = time.perf_counter() - started
        report.distinct_recomputed = len(rows)
        scores = distinct.distinctness(sentences, probe=estimate.get("probe"))
        report.seconds["distinct"] = time.perf_counter() - started - report.seconds["distinct probe"]
        return scores, estimate
    before = previous.manifest["distinct"].get("probe")
    estimate = distinct.calibrate(sentences, (before,) if before else distinct.PROBES)
    report.seconds["distinct probe"] = time.perf_counter() - started
    scores, report.distinct_recomputed = distinct.update(
        previous.distinct,
        previous.sentences,
        sentences,
        kept_rows,
        exact=not estimate,
        probe=estimate.get("probe"),
    )
    report.seconds["distinct"] = time.perf_counter() - started - report.seconds["distinct probe"]
    return scores, estimate


def _timed(work: Callable[..., Lexical], *args: object) -> tuple[Lexical, float]:
    """``work(*args)`` and the seconds it took."""
    started = time.perf_counter()
    return work(*args), time.perf_counter() - started


def _searched_as(previous: Store, encoder: Encoder, plan: dict) -> bool:
    """Whether the previous index searches ``encoder``'s vectors as ``plan`` says."""
    search = previous.manifest["encoders"][encoder.name]["search"]
    return all(search[name]["kind"] == plan["kind"] for name in ("sentences", "contexts"))


@dataclass(slots=True)
class _Job:
    """One encoder's vectors for a build: those kept filled in, the texts of the rest to embed."""

    encoder: Encoder
    sentences: np.ndarray
    contexts: np.ndarray
    fresh: list[int]  # rows whose sentence and context need a vector
    texts: list[str]  # their sentences, then their contexts


def _embedding_jobs(
    chunks: Sequence[Chunk],
    rows: list[int | None],
    encoders: Sequence[Encoder],
    previous: Store | None,
    kept: dict[str, Vectors | None],
) -> list[_Job]:
    jobs = []
    for encoder in encoders:
        sentences = np.zeros((len(chunks), encoder.dimension), dtype=np.float32)
        contexts = np.zeros_like(sentences)
        pairs = [(new, old) for new, old in enumerate(rows) if old is not None] if kept[encoder.name] else []
        if pairs and previous is not None:
            new_rows, old_rows = (list(side) for side in zip(*pairs, strict=True))
            sentences[new_rows] = previous.vectors(old_rows, encoder=encoder.name)
            contexts[new_rows] = previous.vectors(old_rows, contexts=True, encoder=encoder.name)
        done = {new for new, _ in pairs}
        fresh = [row for row in range(len(chunks)) if row not in done]
        texts = [indexed_text(chunks[row]) for row in fresh] + [context_text(chunks, row) for row in fresh]
        jobs.append(_Job(encoder, sentences, contexts, fresh, texts))
    return jobs


def _embed(
    jobs: list[_Job], previous: Store | None, progress: Progress | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each job's encoder's sentence and context vectors, the fresh ones embedded (one progress count
    over every encoder's texts)."""
    total = sum(len(job.texts) for job in jobs)
    done = 0
    found = {}
    for job in jobs:
        if job.fresh:

            def step(count: int, _: int, before: int = done) -> None:
                if progress is not None:
                    progress(before + count, total)

            encoded = unit_rows(embed_new_texts(job.texts, job.encoder, previous, step))
            job.sentences[job.fresh] = encoded[: len(job.fresh)]
            job.contexts[job.fresh] = encoded[len(job.fresh) :]
            done += len(job.texts)
        found[job.encoder.name] = (job.sentences, job.contexts)
    return found


def _described(entry: object) -> bool:
    """Whether an encoder's manifest entry says where its vectors are, their dimension and their plans."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("folder"), str)
        and isinstance(entry.get("dimension"), int)
        and isinstance(entry.get("search"), dict)
        and all(isinstance(entry["search"].get(name), dict) for name in ("sentences", "contexts"))
    )


def _folder_name(encoder: str) -> str:
    """A folder name for an encoder's vectors: its name, with anything but letters, digits, ``.``,
    ``-`` and ``_`` replaced."""
    return re.sub(r"[^\w.-]", "_", encoder).strip(".") or "encoder"


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
