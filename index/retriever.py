"""Question → ranked, quotable passages, with a decision to decline when nothing fits well enough.

The answer path, stage by stage, each in its own module:

1. the question is checked and prepared (case and accents folded, misspellings corrected);
2. ``index.first_stage`` gathers candidates and gives each its cheap scores;
3. the later stages (``index.rerank``) reread the best few with the question and add their scores;
4. ``index.fusion`` weighs the scores into one ranking; the best passage's fused score is the answer's
   confidence, and below the threshold the answer is declined (it still carries the nearest passages);
5. near-duplicate passages are collapsed and the best are assembled with their neighbours and source.

``Retriever`` composes them over one Store with one ``Pipeline`` (``index.pipeline``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.chunking import neighbours
from index.errors import NoArticles, QuestionError
from index.first_stage import FirstStage
from index.fusion import Fusion, other_language, unheld
from index.language import ENGLISH
from index.lexical import fold
from index.pipeline import Pipeline
from index.scores import GLOSS, ScoreTable
from index.store import Store
from index.vocabulary import SPECIFIC_FIRST, plain
from index.word_lookup import LookedUp, word_lookup

MAX_QUESTION_CHARS = 1000
DUPLICATE_OVERLAP = 0.8
NO_ARTICLES = (
    "No articles have been added yet: add one with `matchbot add URL`, put .txt, .md or .jsonl files in "
    "the articles folder (MATCHBOT_SEEDS), or use /matchbot articles add on Discord."
)


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
    before_sentence: int | None = None  # the numbers of ``before`` and ``after`` in the article (None:
    after_sentence: int | None = None  # the sentence just before or after ``sentence``)

    @property
    def context(self) -> str:
        return " ".join(part for part in (self.before, self.text, self.after) if part)

    @property
    def numbered(self) -> list[tuple[int, str]]:
        """The passage's sentences in article order with their numbers: the context's (when there is
        one) and its own."""
        before = self.sentence - 1 if self.before_sentence is None else self.before_sentence
        after = self.sentence + 1 if self.after_sentence is None else self.after_sentence
        context = [(before, self.before), (self.sentence, self.text), (after, self.after)]
        return [(number, text) for number, text in context if text or number == self.sentence]

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
    # when declined: the kind of answer the question asks for that none of the passages found holds
    # ("age", "time", "money", "score"…: ``index.vocabulary``), else None
    missing: str | None = None

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answered": self.answered,
            "confidence": round(self.confidence, 4),
            "threshold": self.threshold,
            "passages": [passage.to_json() for passage in self.passages],
            "missing": self.missing,
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
    """Searches one Store with one Pipeline. Blocking (embedding, FAISS, models): call it off the event
    loop."""

    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        first_stage: FirstStage | None = None,
        *,
        words_folder: Path | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        same = first_stage is not None and [r.name for r in first_stage.readers] == _names(store, pipeline)
        self.first_stage = first_stage if same else FirstStage(store, pipeline.encoders)
        self._words: dict[int, set[str]] = {}  # each row's folded words, for collapsing duplicates
        # the word lookup's encoded words are saved in ``words_folder`` (``index.word_lookup.FOLDER``)
        self._words_folder = words_folder
        lookup = pipeline.look_up_words
        self._lookup = word_lookup(self.first_stage, pipeline, words_folder) if lookup else None

    @property
    def threshold(self) -> float:
        return self.pipeline.threshold

    @property
    def fusion(self) -> Fusion:
        return self.pipeline.fusion

    def with_pipeline(self, pipeline: Pipeline) -> Retriever:
        """A retriever over the same index and first stage that answers with ``pipeline``."""
        return Retriever(self.store, pipeline, self.first_stage, words_folder=self._words_folder)

    def first_stage_only(self) -> Retriever:
        return self.with_pipeline(self.pipeline.first_stage_only())

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
        one batch, and each later stage is called once for all of them. An index of no article answers
        nothing: NoArticles says how to add the first one."""
        cleaned = [check_question(query.question) for query in queries]
        if cleaned and not self.store.articles:
            raise NoArticles(NO_ARTICLES)
        tables = self.rescore(self.first_scores(cleaned))
        return [
            self.answer(query, question, table)
            for query, question, table in zip(queries, cleaned, tables, strict=True)
        ]

    def prepare(self, question: str, language: str = ENGLISH) -> str:
        """The question as it is searched: accents and case folded, misspelt words corrected."""
        return self.first_stage.prepare(question, language)

    def warm_word_lookup(self, still_wanted: Callable[[], bool] = lambda: True) -> None:
        """Encode the articles' words for the word lookup now rather than at the first question that
        needs them (``index.word_lookup.WordLookup.warm``). Blocking."""
        if self._lookup is not None:
            self._lookup.warm(still_wanted)

    def question_language(self, question: str) -> str:
        """The language ``question`` is in (``index.language``); English when the pipeline has no
        multilingual encoder, which would be the only one to read another."""
        detector = self.pipeline.languages
        if detector is None:
            return ENGLISH
        return detector.question_language(question, self.first_stage.names_in(question))

    def first_scores(self, questions: Sequence[str]) -> list[ScoreTable]:
        """Each (checked) question's candidates with the first stage's scores: a table for it in its
        language, its prepared text as the later stages read it (``index.vocabulary.plain``) as
        ``table.question``. Each encoder encodes, in one batch, the
        questions in a language it reads; the words of every question are looked up among the
        articles' in one batch too (``index.word_lookup``)."""
        languages = [self.question_language(question) for question in questions]
        prepared = [self.prepare(q, language) for q, language in zip(questions, languages, strict=True)]
        vectors: list[dict[str, np.ndarray]] = [{} for _ in questions]
        encoders = {encoder.name: encoder for encoder in self.pipeline.encoders}
        for reader in self.first_stage.readers:
            asked = [n for n, language in enumerate(languages) if reader.reads(language)]
            if asked and reader.name in encoders:
                found = encoders[reader.name].encode([prepared[n] for n in asked])
                for n, vector in zip(asked, found, strict=True):
                    vectors[n][reader.name] = vector
        looked_up = (
            self._lookup.look_up(questions, languages)
            if self._lookup is not None
            else [LookedUp() for _ in questions]
        )
        tables = []
        for typed, question, found, language, extra in zip(
            questions, prepared, vectors, languages, looked_up, strict=True
        ):
            table = self.first_stage.score(question, found, language, looked_up=extra.words, typed=typed)
            table.question = plain(question)
            table.glosses = dict(extra.glosses)
            tables.append(table)
        return tables

    def rescore(self, tables: Sequence[ScoreTable]) -> list[ScoreTable]:
        """The tables with the later stages' scores added (new tables): each stage reads, for every
        question, the best of the ranking so far among the passages in a language it reads, as deep as
        the fusion says: the question itself when it reads the question's language, else the question's
        gloss in a language it reads (``index.word_lookup.LookedUp``: its columns then have the prefix
        ``GLOSS``), else none."""
        tables = [table.take(np.arange(len(table))) for table in tables]
        chunks = self.store.chunks
        for stage in self.pipeline.stages:
            depth = self.fusion.depth(stage.name)
            languages = getattr(stage, "languages", None)
            tops, texts = [], []  # texts: (what the stage reads of the question, its columns' prefix)
            for table in tables:
                order = self.fusion.rank(table)[0]
                text = (table.question, "")
                if languages is not None:
                    text = read_as(table, languages)
                    order = order[[chunks[row].language in languages for row in table.rows[order]]]
                    order = order if text[0] else order[:0]
                tops.append(order[:depth])
                texts.append(text)
            asked = [n for n, top in enumerate(tops) if len(top)]
            read = [[chunks[row] for row in tables[n].rows[tops[n]]] for n in asked]
            found = stage.score_many([texts[n][0] for n in asked], read) if asked else []
            for n, columns in zip(asked, found, strict=True):
                for name, values in columns.items():
                    tables[n].add(texts[n][1] + name, values, at=tops[n])
        return tables

    def ranked(self, table: ScoreTable) -> tuple[np.ndarray, np.ndarray]:
        """The table's rows best first, and their scores, as the cascade ranks them."""
        order, scores = self.fusion.rank(table)
        return table.rows[order], scores

    def answer(self, query: Query, question: str, table: ScoreTable) -> Answer:
        """The answer a fully scored table gives ``query``: its passages and whether it is confident."""
        order, scores = self.fusion.rank(table, self.pipeline.stage_names)
        if query.threshold is None:
            limit = self.pipeline.threshold_for(other_language(table, order))
        else:
            limit = query.threshold
        passages = self._passages(table.rows[order], scores, query.k + query.offset)[query.offset :]
        confidence = self.fusion.confidence(table, order, scores, self.pipeline.stage_names)
        answered = confidence >= limit
        missing = None if answered else missing_kind(table)
        return Answer(question, answered, confidence, limit, passages, missing)

    def _passages(self, rows: np.ndarray, scores: np.ndarray, depth: int) -> list[Passage]:
        passages: list[Passage] = []
        seen: list[set[str]] = []
        for row, score in zip(rows, scores, strict=True):
            if len(passages) >= depth:
                break
            words = self._words_of(int(row))
            if any(_overlap(words, other) >= DUPLICATE_OVERLAP for other in seen):
                continue
            seen.append(words)
            passages.append(self._passage(int(row), float(score)))
        return passages

    def _words_of(self, row: int) -> set[str]:
        words = self._words.get(row)
        if words is None:
            words = self._words[row] = set(re.findall(r"\w+", fold(self.store.chunks[row].text)))
        return words

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
            before_sentence=chunks[before].sentence if before is not None else None,
            after_sentence=chunks[after].sentence if after is not None else None,
        )


def read_as(table: ScoreTable, languages: frozenset[str]) -> tuple[str, str]:
    """What a later stage reading ``languages`` reads of the table's question, and the prefix of the
    columns it adds: the question in its own language (no prefix), else its gloss in one of them
    (``GLOSS``), else "" (nothing: the stage's scores are missing)."""
    if table.language in languages:
        return table.question, ""
    gloss = next((table.glosses[language] for language in sorted(languages) if language in table.glosses), "")
    return gloss, GLOSS


def missing_kind(table: ScoreTable) -> str | None:
    """The kind of answer the question asks for that none of its candidates holds (the most specific of
    several), or None: what the decline's ``unheld`` evidence (``index.fusion.unheld``) says is missing."""
    if not unheld(table):
        return None
    return next((kind for kind in SPECIFIC_FIRST if kind in table.asked), None)


def _names(store: Store, pipeline: Pipeline) -> list[str]:
    """The encoders of ``pipeline`` whose vectors ``store`` holds, as ``FirstStage.readers`` lists them."""
    return [encoder.name for encoder in pipeline.encoders if encoder.name in store.encoders] or [store.model]


def _overlap(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two word sets: 1 for the same words, whatever their order."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
