"""The first stage: a question's candidate passages and their cheap scores, for every candidate.

Candidates are the best rows by BM25 and, for each encoder that reads the question's language, by
sentence cosine and by context cosine. Each gets these scores, each comparable across questions:

- ``sentence``: cosine between the question and the chunk's sentence;
- ``context``: cosine between the question and the sentence read with its neighbours, so
  "He was seen sitting on the floor…" is found by a question about Mbappe;
- ``lexical``: BM25 (stemmed, accent-folded), divided by the question's best BM25 score;
- ``article_lexical``: BM25 of the chunk's whole article (title and text), divided by the best;
- ``distinct``: 1 minus the sentence's mean cosine with its nearest other sentences. A sentence that
  resembles many others ("Kylian Mbappe went straight over to console his good friend…", among many
  sentences on the pair) is near every question without answering any; this is the hubness
  correction of CSLS (Conneau et al., 2018), worked out when the index is built (``index.distinct``);
- ``use_sentence`` and ``use_context``: the same two cosines by the multilingual encoder
  (``index.use_encoder``), which reads a question and a passage in different languages;
- ``coverage``: the share of the question's terms that the sentence and its neighbours hold, a football
  synonym counting as the word (``index.vocabulary``);
- ``answer_type``: 1 when the passage holds the kind of thing the question asks for (a score, a date,
  a place, a club, a coach, a birthplace…: ``index.vocabulary.SPECIFIC_FIRST`` lists them), read on the
  question as typed and as corrected, 0 when it holds none; missing when the question asks for none.

BM25 reads the question with the synonyms of its football words added, and with the articles' words
its own words were looked up as (``index.word_lookup``: their translations into the articles' other
languages, and the articles' words nearest a word they do not hold); so does ``coverage``.

An encoder reads only its languages (MiniLM English; the multilingual encoder sixteen): its cosines are
missing, not zero, for a question or a passage in another language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from index.encoder import Encoder
from index.lexical import fold
from index.scores import ScoreTable
from index.store import Store, unit_rows
from index.vocabulary import asked_types, counted, expand, held_types, holds_count
from index.word_lookup import WordLookup

CANDIDATES = 200
# Above this many passages BM25 is read from the question's terms' postings alone (LexicalIndex.matches)
# rather than scored for every passage; the scores are the same, only ties among the last candidates
# may be broken differently, so below it every ranking stays exactly as it was measured.
LEXICAL_SCAN_UP_TO = 50_000
COLUMNS = ("sentence", "context", "lexical", "article_lexical", "distinct")
PREFIXES = {"use-multilingual-v3": "use_"}  # the columns of an encoder other than the primary one


@dataclass(frozen=True, slots=True)
class Reader:
    """One encoder as the first stage uses it: its vectors in the index, its columns, its languages."""

    name: str
    sentence: str  # its column names
    context: str
    languages: frozenset[str] | None  # None: it reads every language

    def reads(self, language: str) -> bool:
        return self.languages is None or language in self.languages


def readers(encoders: Sequence[Encoder]) -> list[Reader]:
    """The first stage's view of ``encoders``, the primary one first (its columns ``sentence`` and
    ``context``)."""
    found = []
    for number, encoder in enumerate(encoders):
        prefix = "" if number == 0 else PREFIXES.get(encoder.name, f"{encoder.name}_")
        languages = getattr(encoder, "languages", None)
        found.append(
            Reader(
                encoder.name,
                f"{prefix}sentence",
                f"{prefix}context",
                frozenset(languages) if languages else None,
            )
        )
    return found


class FirstStage:
    """Gathers and scores one Store's candidates for a question. Blocking (FAISS, BM25)."""

    def __init__(self, store: Store, encoders: Sequence[Encoder] = ()) -> None:
        self.store = store
        self.readers = [reader for reader in readers(encoders) if reader.name in store.encoders] or [
            Reader(store.model, "sentence", "context", None)
        ]
        self._lexical = store.lexical.passages
        self._article_lexical = store.lexical.articles
        self._article_of_row = store.article_numbers()
        self._distinct = store.distinct[:, 0]
        self.language_of_row = store.row_languages()  # each row's language (its article's)
        self._held: dict[int, frozenset[str]] = {}  # per row: the kinds of answer it holds
        self._terms = store.lexical.terms  # each row's terms, synonyms too
        # by encoder and use of the glossary: kept by every retriever over it
        self.lookups: dict[tuple[str, bool], WordLookup] = {}

    def names_in(self, question: str) -> frozenset[str]:
        """The question's words (folded) that are the articles' proper nouns or misspell one: words that
        tell nothing of its language."""
        return self._lexical.named(question)

    @property
    def names(self) -> frozenset[str]:
        """The articles' names, folded: the proper nouns they write and the given names before them."""
        return self._lexical.names | frozenset(self._lexical.surnames or ())

    def knows(self, word: str) -> bool:
        """Whether the articles hold ``word`` (folded), in any language."""
        return self._lexical.holds(word)

    def prepare(self, question: str, language: str = "en") -> str:
        """The question as it is searched: accents and case folded, misspelt words corrected (a word
        ``language`` commonly uses is not misspelt), a given name followed by its surname ("walid" →
        "walid regragui")."""
        return self._lexical.in_full(self._lexical.correct(question, language))

    def score(
        self,
        question: str,
        vectors: Mapping[str, np.ndarray] | np.ndarray,
        language: str = "en",
        *,
        looked_up: str = "",
        typed: str = "",
    ) -> ScoreTable:
        """The candidates for a prepared ``question`` in ``language``, with its vector by each encoder
        that reads that language (a lone vector: the primary encoder's), and their scores; BM25 and
        ``coverage`` also read the words of ``looked_up``. The kinds of answer asked for are read on
        the question as ``typed`` too: correcting "raining" to an article's "reigning" asks for no
        weather."""
        if isinstance(vectors, np.ndarray):
            vectors = {self.readers[0].name: vectors}
        asked = [reader for reader in self.readers if reader.name in vectors and reader.reads(language)]
        n = len(self.store.chunks)
        if n == 0:
            names = [*COLUMNS, *(column for r in self.readers[1:] for column in (r.sentence, r.context))]
            return ScoreTable(np.zeros(0, dtype=np.int64), {name: np.zeros(0) for name in names}, language)
        queries = {r.name: unit_rows(np.asarray(vectors[r.name]).reshape(1, -1)) for r in asked}
        depth = min(n, CANDIDATES)
        words = f"{question} {looked_up}" if looked_up else question
        candidates, lexical_of = self._lexical_candidates(expand(words), depth)
        for reader in asked:
            for contexts in (False, True):
                index = self.store.index(reader.name, contexts=contexts)
                candidates.update(
                    int(row) for row in index.search(queries[reader.name], depth)[1][0] if row >= 0
                )
        rows = np.fromiter(sorted(candidates), dtype=np.int64)
        scores = {
            "lexical": lexical_of(rows),
            "article_lexical": self._article_bm25(words, self._article_of_row[rows]),
            "distinct": self._distinct[rows],
            "coverage": self._coverage(words, rows),
        }
        table = ScoreTable(rows, {name: np.asarray(v, np.float32) for name, v in scores.items()}, language)
        wording = f"{typed}\n{question}" if typed and fold(typed) != question else question
        kinds = table.asked = asked_types(wording)
        if kinds:
            things = counted(wording)
            table.add("answer_type", [float(self._holds(int(row), kinds, things)) for row in rows])
        for reader in asked:
            readable = np.flatnonzero([reader.reads(own) for own in self.language_of_row[rows]])
            query = queries[reader.name][0]
            for column, contexts in ((reader.sentence, False), (reader.context, True)):
                found = self.store.vectors(rows[readable], contexts=contexts, encoder=reader.name) @ query
                table.add(column, found, at=readable)
        return table

    def _coverage(self, question: str, rows: np.ndarray) -> np.ndarray:
        """The share of the question's terms each row holds, or the row before or after it in the same
        article does (the index's term sets: each chunk's terms with its synonyms)."""
        wanted = list(dict.fromkeys(self._lexical.analyse(question)))
        if not wanted:
            return np.zeros(len(rows), dtype=np.float32)
        article = self._article_of_row
        held = self._terms.holding(wanted, rows)
        for step in (-1, 1):
            near = rows + step
            inside = (near >= 0) & (near < len(article))
            inside[inside] = article[near[inside]] == article[rows[inside]]
            held[inside] |= self._terms.holding(wanted, near[inside])
        return (held.sum(axis=1) / len(wanted)).astype(np.float32)

    def _holds(self, row: int, kinds: frozenset[str], things: tuple[str, ...]) -> bool:
        """Whether the row holds a kind of answer ``kinds`` names (a count: of ``things``)."""
        return bool(kinds & self._held_by(row)) or (
            "count" in kinds and holds_count(self.store.chunks[row].text, things)
        )

    def _held_by(self, row: int) -> frozenset[str]:
        found = self._held.get(row)
        if found is None:
            found = self._held[row] = held_types(self.store.chunks[row])
        return found

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
