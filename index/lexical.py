"""Lexical scoring with BM25 (bm25s): stemmed, stop-word free, accent and case folded.

``fold("Mbappé")`` and ``fold("MBAPPE")`` are both ``"mbappe"``, so names match however they are typed.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

_WORD = re.compile(r"[^\W\d_]{2,}")
MIN_CORRECTED = 5
CORRECTION_CUTOFF = 0.8
WORDS = "words.json"  # beside bm25s's own files in a saved LexicalIndex: the text count and their words

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


def fold(text: str) -> str:
    """Case-fold and strip accents: ``"Mbappé's"`` → ``"mbappe's"``."""
    if text.isascii():  # nothing to strip: the common case, and 40 times quicker
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


class LexicalIndex:
    """BM25 over a fixed list of texts; ``scores`` gives one score per text.

    Built from the texts, or loaded from a folder written by ``save``: a saved index opens without
    reading a text again, which is what keeps a large index quick to open.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        folded = [fold(text) for text in texts]
        bm25 = bm25s.BM25()
        if texts:
            corpus = bm25s.tokenize(folded, stopwords="en", stemmer=self._stemmer, show_progress=False)
            bm25.index(corpus, show_progress=False)
        self._attach(bm25, len(texts), (word for text in folded for word in _WORD.findall(text)))

    def _attach(self, bm25: bm25s.BM25, size: int, words: Iterable[str]) -> None:
        """Take ``bm25`` (indexed over ``size`` texts, or empty) and the texts' folded words."""
        self._bm25 = bm25
        self._size = size
        self._vocabulary = set(bm25.vocab_dict) if size else set()
        self._words = _by_letter(words)

    def save(self, folder: Path) -> None:
        """Write the postings, the vocabulary and the corpus's words (for ``correct``) to ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        if self._size:
            self._bm25.save(str(folder), show_progress=False)
        words = sorted(word for known in self._words.values() for word in known)
        (folder / WORDS).write_text(json.dumps({"texts": self._size, "words": words}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """An index written by ``save``; a missing or unreadable file raises OSError or ValueError."""
        saved = json.loads((folder / WORDS).read_text(encoding="utf-8"))
        size = int(saved["texts"])
        index = object.__new__(cls)
        index._stemmer = Stemmer.Stemmer("english")
        index._attach(
            bm25s.BM25.load(str(folder), show_progress=False) if size else bm25s.BM25(), size, saved["words"]
        )
        return index

    def __len__(self) -> int:
        return self._size

    def correct(self, query: str) -> str:
        """The query, folded, with each unknown word of 5+ letters replaced by the closest corpus word.

        ``"mbape hakimy"`` → ``"mbappe hakimi"``: members misspell names; the articles do not.
        """

        def closest(match: re.Match[str]) -> str:
            word = match.group()
            known = self._words.get(word[0], ())
            if len(word) < MIN_CORRECTED or word in known:
                return word
            found = difflib.get_close_matches(word, known, n=1, cutoff=CORRECTION_CUTOFF)
            return found[0] if found else word

        return _WORD.sub(closest, fold(query))

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

    def matches(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """The texts holding a query term (sorted row numbers) and their BM25 scores: the same scores as
        ``scores``, read from the terms' postings alone, so the work follows the terms' frequency, not the
        number of texts. Every other text scores 0."""
        terms = self.terms(query)
        if not terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        postings = self._bm25.scores
        ids = np.asarray(self._bm25.get_tokens_ids(terms), dtype=np.int64)
        starts, ends = postings["indptr"][ids], postings["indptr"][ids + 1]
        rows = np.concatenate([postings["indices"][a:b] for a, b in zip(starts, ends, strict=True)])
        weights = np.concatenate([postings["data"][a:b] for a, b in zip(starts, ends, strict=True)])
        # summed per text by counting, not by sorting the postings: common terms' run to 100,000s of rows
        totals = np.bincount(rows, weights=weights, minlength=self._size)
        found = np.flatnonzero(np.bincount(rows, minlength=self._size))
        return found.astype(np.int64), totals[found].astype(np.float32)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for ``query`` (zeros when no term matches)."""
        terms = self.terms(query)
        if not terms:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)


def _by_letter(words: Iterable[str]) -> dict[str, set[str]]:
    """Words grouped by their first letter (``correct`` compares a word with those sharing its first)."""
    grouped: dict[str, set[str]] = defaultdict(set)
    for word in words:
        grouped[word[0]].add(word)
    return grouped
