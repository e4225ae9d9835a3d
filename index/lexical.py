"""Lexical scoring with BM25 (bm25s): stemmed, stop-word free, accent and case folded.

``fold("Mbappé")`` and ``fold("MBAPPE")`` are both ``"mbappe"``, so names match however they are typed.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


def fold(text: str) -> str:
    """Case-fold and strip accents: ``"Mbappé's"`` → ``"mbappe's"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


class LexicalIndex:
    """BM25 over a fixed list of texts; ``scores`` gives one score per text."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._size = len(texts)
        self._bm25 = bm25s.BM25()
        if texts:
            corpus = bm25s.tokenize(
                [fold(text) for text in texts],
                stopwords="en",
                stemmer=self._stemmer,
                show_progress=False,
            )
            self._bm25.index(corpus, show_progress=False)
            self._vocabulary = set(corpus.vocab)
        else:
            self._vocabulary = set()

    def terms(self, query: str) -> list[str]:
        """The query's stemmed terms that occur in the indexed texts."""
        tokens = bm25s.tokenize(
            fold(query),
            stopwords="en",
            stemmer=self._stemmer,
            return_ids=False,
            show_progress=False,
        )[0]
        return [token for token in tokens if token in self._vocabulary]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for ``query`` (zeros when no term matches)."""
        terms = self.terms(query)
        if not terms:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)
