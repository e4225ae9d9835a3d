"""Question → ranked, quotable passages, with a decision to decline when nothing fits well enough.

Every chunk gets five scores, each comparable across questions:

- ``sentence``: cosine between the question and the chunk's sentence;
- ``context``: cosine between the question and the sentence read with its neighbours, so
  "He was seen sitting on the floor…" is found by a question about Mbappe;
- ``lexical``: BM25 (stemmed, accent-folded), divided by the question's best BM25 score;
- ``article_lexical``: BM25 of the chunk's whole article (title and text), divided by the best;
- ``distinct``: 1 minus the sentence's mean cosine with its nearest other sentences. A sentence that
  resembles many others ("Kylian Mbappe went straight over to console his good friend…", among many
  sentences on the pair) is near every question without answering any; this is the hubness
  correction of CSLS (Conneau et al., 2018).

They are fused as a weighted sum (weights chosen on data: see the README). A second stage, when the
retriever has one (``index/rerank.py``), then rereads the best candidates with the question and
rescores them. The best passage's final score is the answer's confidence; below the threshold
(calibrated on the seed's tuning questions, for the stages in use) the answer is declined, and still
carries the nearest passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, field, fields

import numpy as np

from index.embedding import Embedder
from index.errors import QuestionError
from index.lexical import fold
from index.rerank import Candidates, SecondStage
from index.store import Store, indexed_text, neighbours, unit_rows

MAX_QUESTION_CHARS = 1000
# Of the first stage alone (MATCHBOT_RERANK and MATCHBOT_LATE_INTERACTION off): the cut that declines the
# most off-topic seed dev questions while declining at most 3% of the answerable ones, found by
# `matchbot eval tests/data/seed_questions.jsonl --split dev --calibrate` (README, Declines). The second
# stage has its own, in index.rerank.DEFAULT_FUSION.
DEFAULT_THRESHOLD = 0.479
CANDIDATES = 200
# Above this many passages BM25 is read from the question's terms' postings alone (LexicalIndex.matches)
# rather than scored for every passage; the scores are the same, only ties among the last candidates
# may be broken differently, so below it every ranking stays exactly as it was measured.
LEXICAL_SCAN_UP_TO = 50_000
DUPLICATE_OVERLAP = 0.8


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each score counts in the fused ranking score."""

    sentence: float
    context: float
    lexical: float
    article_lexical: float
    distinct: float


# Chosen by grid search on the tuning questions of the seed set and of SQuAD together (see the README).
HYBRID = Weights(sentence=0.2, context=0.25, lexical=0.2, article_lexical=0.1, distinct=0.25)
DENSE_ONLY = Weights(sentence=1.0, context=0.0, lexical=0.0, article_lexical=0.0, distinct=0.0)
BM25_ONLY = Weights(sentence=0.0, context=0.0, lexical=1.0, article_lexical=0.0, distinct=0.0)


@dataclass(frozen=True, slots=True)
class Passage:
    """A quotable sentence with its neighbours and source."""

    text: str
    before: str
    after: str
    article: str
    title: str
    date: str | None
    url: str | None
    sentence: int
    score: float
    author: str | None = None  # an embedded tweet's "Name (@handle)"
    posted: str | None = None  # and its date, as written

    @property
    def context(self) -> str:
        return " ".join(part for part in (self.before, self.text, self.after) if part)

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "context": self.context,
            "article": self.article,
            "title": self.title,
            "date": self.date,
            "url": self.url,
            "sentence": self.sentence,
            "score": round(self.score, 4),
            "author": self.author,
            "posted": self.posted,
        }


@dataclass(frozen=True, slots=True)
class Query:
    """A question as asked: how many passages, after skipping ``offset``, and its threshold (None: the
    retriever's)."""

    question: str
    k: int = 3
    threshold: float | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Answer:
    """The passages for one question; ``answered`` is False when none is confident enough."""

    question: str
    answered: bool
    confidence: float
    threshold: float
    passages: list[Passage] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answered": self.answered,
            "confidence": round(self.confidence, 4),
            "threshold": self.threshold,
            "passages": [passage.to_json() for passage in self.passages],
        }


def check_question(question: str) -> str:
    """The question with surrounding blanks removed, or a QuestionError saying what is wrong."""
    cleaned = " ".join(question.split())
    if not cleaned:
        raise QuestionError("The question is empty: ask something about the match.")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"The question is {len(cleaned):,} characters long; keep it under {MAX_QUESTION_CHARS:,}."
        )
    return cleaned


class Retriever:
    """Searches one Store. Blocking (embedding, FAISS): call it off the event loop."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        threshold: float | None = None,
        weights: Weights = HYBRID,
        second_stage: SecondStage | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self._threshold = threshold
        self.weights = weights
        self.second_stage = second_stage
        self._lexical = store.lexical.passages
        self._article_of_row = _article_numbers(store)
        self._article_lexical = store.lexical.articles
        self._distinct = store.distinct[:, 0]  # worked out when the index was built (index.distinct)

    @property
    def threshold(self) -> float:
        """The confidence below which answers are declined: as set, else the calibrated default of
        the stage that decides (the second when there is one)."""
        if self._threshold is not None:
            return self._threshold
        return self.second_stage.fusion.threshold if self.second_stage else DEFAULT_THRESHOLD

    def with_weights(self, weights: Weights) -> Retriever:
        """A retriever over the same index that fuses the first stage's scores differently, with no
        second stage (baselines, tuning)."""
        return self._twin(weights=weights, second_stage=None)

    def with_second_stage(self, second_stage: SecondStage | None) -> Retriever:
        """A retriever over the same index with another second stage (None: the first stage alone)."""
        return self._twin(second_stage=second_stage)

    def _twin(self, **changes: object) -> Retriever:
        twin = object.__new__(Retriever)
        twin.__dict__.update(self.__dict__ | changes)
        return twin

    def search(self, question: str, k: int = 3, *, threshold: float | None = None, offset: int = 0) -> Answer:
        """The best ``k`` passages for ``question``, after skipping the first ``offset``."""
        return self.search_many([question], k, threshold=threshold, offset=offset)[0]

    def search_many(
        self,
        questions: Sequence[str],
        k: int = 3,
        *,
        threshold: float | None = None,
        offset: int = 0,
    ) -> list[Answer]:
        """Like ``search`` for many questions, encoded in one batch."""
        return self.answer_many([Query(question, k, threshold, offset) for question in questions])

    def answer_many(self, queries: Sequence[Query]) -> list[Answer]:
        """Answers to many queries, each with its own depth and threshold: the questions are encoded in
        one batch and their best candidates reread by the second stage together."""
        cleaned = [check_question(query.question) for query in queries]
        corrected = [self.prepare(question) for question in cleaned]
        vectors = self.embedder.encode(corrected) if cleaned else np.zeros((0, 1), np.float32)
        ranked = [self.rank(query, vector) for query, vector in zip(corrected, vectors, strict=True)]
        if self.second_stage is not None and ranked:
            ranked = self.rerank_many(corrected, ranked)
        answers = []
        for query, question, (rows, fused) in zip(queries, cleaned, ranked, strict=True):
            limit = self.threshold if query.threshold is None else query.threshold
            passages = self._passages(rows, fused, query.k + query.offset)[query.offset :]
            confidence = float(fused[0]) if len(fused) else 0.0
            answers.append(Answer(question, confidence >= limit, confidence, limit, passages))
        return answers

    def prepare(self, question: str) -> str:
        """The question as it is searched: accents and case folded, misspelt words corrected."""
        return self._lexical.correct(question)

    def rank(self, question: str, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate rows best first, with their fused scores."""
        rows, features = self.features(question, vector)
        fused = features.T @ np.asarray(astuple(self.weights), dtype=np.float32)
        order = np.argsort(-fused, kind="stable")
        return rows[order], fused[order]

    def rerank(self, question: str, rows: np.ndarray, fused: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first stage's ranking with its best few rescored by the second stage."""
        return self.rerank_many([question], [(rows, fused)])[0]

    def rerank_many(
        self, questions: Sequence[str], ranked: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``rerank`` for many questions, with one call per second-stage model for all of them."""
        assert self.second_stage is not None
        chunks = self.store.chunks
        candidates = []
        for question, (rows, fused) in zip(questions, ranked, strict=True):
            top = rows[: self.second_stage.fusion.depth]
            late = [indexed_text(chunks[row]) for row in top]
            cross = [f"{chunks[row].title}. {text}" for row, text in zip(top, late, strict=True)]
            candidates.append(Candidates(question, fused[: len(top)], late, cross))
        reranked = []
        for (rows, fused), (order, scores) in zip(
            ranked, self.second_stage.rerank_many(candidates), strict=True
        ):
            depth = len(order)
            reranked.append(
                (
                    np.concatenate([rows[:depth][order], rows[depth:]]),
                    np.concatenate([scores, fused[depth:]]).astype(np.float32),
                )
            )
        return reranked

    def features(self, question: str, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The candidate rows for a question and their five scores, one row each, in ``Weights`` order.

        Candidates are the best rows by each of sentence cosine, context cosine and BM25.
        """
        n = len(self.store.chunks)
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((len(fields(Weights)), 0), dtype=np.float32)
        query = unit_rows(vector.reshape(1, -1))  # a cosine, whatever length the embedder gave
        depth = min(n, CANDIDATES)
        candidates, lexical_of = self._lexical_candidates(question, depth)
        for index in (self.store.sentences, self.store.contexts):
            candidates.update(int(row) for row in index.search(query, depth)[1][0] if row >= 0)
        rows = np.fromiter(sorted(candidates), dtype=np.int64)
        articles = self._article_of_row[rows]
        features = np.vstack(
            [
                self.store.vectors(rows) @ query[0],
                self.store.vectors(rows, contexts=True) @ query[0],
                lexical_of(rows),
                self._article_bm25(question, articles),
                self._distinct[rows],
            ]
        ).astype(np.float32)
        return rows, features

    def _lexical_candidates(self, question: str, depth: int) -> tuple[set[int], Callable]:
        """The ``depth`` best rows by BM25, and a function giving any rows' BM25 relative to the best."""
        if len(self.store.chunks) <= LEXICAL_SCAN_UP_TO:
            relative = _relative(self._lexical.scores(question))
            return {int(row) for row in np.argpartition(-relative, depth - 1)[:depth]}, relative.__getitem__
        matched, scores = self._lexical.matches(question)
        relative = _relative(scores)
        best = matched[np.argpartition(-relative, depth - 1)[:depth]] if len(matched) > depth else matched
        return {int(row) for row in best}, lambda rows: _lookup(matched, relative, rows)

    def _article_bm25(self, question: str, articles: np.ndarray) -> np.ndarray:
        """The BM25 of ``articles`` (numbers) relative to the best article's."""
        if len(self.store.chunks) <= LEXICAL_SCAN_UP_TO:
            return _relative(self._article_lexical.scores(question))[articles]
        matched, scores = self._article_lexical.matches(question)
        return _lookup(matched, _relative(scores), articles)

    def _passages(self, rows: np.ndarray, scores: np.ndarray, depth: int) -> list[Passage]:
        passages: list[Passage] = []
        seen: list[set[str]] = []
        for row, score in zip(rows, scores, strict=True):
            if len(passages) >= depth:
                break
            words = set(re.findall(r"\w+", fold(self.store.chunks[row].text)))
            if any(_overlap(words, other) >= DUPLICATE_OVERLAP for other in seen):
                continue
            seen.append(words)
            passages.append(self._passage(int(row), float(score)))
        return passages

    def _passage(self, row: int, score: float) -> Passage:
        chunks = self.store.chunks
        chunk = chunks[row]
        before, after = neighbours(chunks, row)
        return Passage(
            text=chunk.text,
            before=chunks[before].text if before is not None else "",
            after=chunks[after].text if after is not None else "",
            article=chunk.article,
            title=chunk.title,
            date=chunk.date,
            url=chunk.url,
            sentence=chunk.sentence,
            score=score,
            author=chunk.author,
            posted=chunk.posted,
        )


def _overlap(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two word sets: 1 for the same words, whatever their order."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``values`` of the ``wanted`` keys, 0 for a key not in ``keys`` (sorted)."""
    slot = np.searchsorted(keys, wanted)
    found = slot < len(keys)
    found[found] = keys[slot[found]] == wanted[found]
    out = np.zeros(len(wanted), dtype=np.float32)
    out[found] = values[slot[found]]
    return out


def _relative(scores: np.ndarray) -> np.ndarray:
    """Scores divided by the best one, so each question's best BM25 match scores 1."""
    best = float(scores.max()) if len(scores) else 0.0
    return scores / best if best > 0 else np.zeros_like(scores)


def _article_numbers(store: Store) -> np.ndarray:
    """Each row's article number, numbering articles in order of first appearance (as
    ``Store.lexical.articles`` does)."""
    ids = {name: number for number, name in enumerate(dict.fromkeys(c.article for c in store.chunks))}
    return np.fromiter((ids[c.article] for c in store.chunks), dtype=np.int64, count=len(store.chunks))
