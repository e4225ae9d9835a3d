"""The first stage: a question's candidate passages and their cheap scores, for every candidate.

Candidates are the best rows by sentence cosine, by context cosine and by BM25. Each gets five scores,
each comparable across questions:

- ``sentence``: cosine between the question and the chunk's sentence;
- ``context``: cosine between the question and the sentence read with its neighbours, so
  "He was seen sitting on the floor…" is found by a question about Mbappe;
- ``lexical``: BM25 (stemmed, accent-folded), divided by the question's best BM25 score;
- ``article_lexical``: BM25 of the chunk's whole article (title and text), divided by the best;
- ``distinct``: 1 minus the sentence's mean cosine with its nearest other sentences. A sentence that
  resembles many others ("Kylian Mbappe went straight over to console his good friend…", among many
  sentences on the pair) is near every question without answering any; this is the hubness
  correction of CSLS (Conneau et al., 2018), worked out when the index is built (``index.distinct``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from index.scores import ScoreTable
from index.store import Store, unit_rows

CANDIDATES = 200
# Above this many passages BM25 is read from the question's terms' postings alone (LexicalIndex.matches)
# rather than scored for every passage; the scores are the same, only ties among the last candidates
# may be broken differently, so below it every ranking stays exactly as it was measured.
LEXICAL_SCAN_UP_TO = 50_000
COLUMNS = ("sentence", "context", "lexical", "article_lexical", "distinct")


class FirstStage:
    """Gathers and scores one Store's candidates for a question. Blocking (FAISS, BM25)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lexical = store.lexical.passages
        self._article_lexical = store.lexical.articles
        self._article_of_row = store.article_numbers()
        self._distinct = store.distinct[:, 0]

    def prepare(self, question: str) -> str:
        """The question as it is searched: accents and case folded, misspelt words corrected."""
        return self._lexical.correct(question)

    def score(self, question: str, vector: np.ndarray) -> ScoreTable:
        """The candidates for a prepared ``question`` (and its vector) with their five scores."""
        n = len(self.store.chunks)
        if n == 0:
            return ScoreTable(np.zeros(0, dtype=np.int64), {name: np.zeros(0) for name in COLUMNS})
        query = unit_rows(vector.reshape(1, -1))  # a cosine, whatever length the encoder gave
        depth = min(n, CANDIDATES)
        candidates, lexical_of = self._lexical_candidates(question, depth)
        for index in (self.store.sentences, self.store.contexts):
            candidates.update(int(row) for row in index.search(query, depth)[1][0] if row >= 0)
        rows = np.fromiter(sorted(candidates), dtype=np.int64)
        scores = {
            "sentence": self.store.vectors(rows) @ query[0],
            "context": self.store.vectors(rows, contexts=True) @ query[0],
            "lexical": lexical_of(rows),
            "article_lexical": self._article_bm25(question, self._article_of_row[rows]),
            "distinct": self._distinct[rows],
        }
        return ScoreTable(rows, {name: np.asarray(values, np.float32) for name, values in scores.items()})

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
