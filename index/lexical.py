"""Lexical scoring with BM25 (bm25s): stemmed, stop-word free, accent and case folded, in each text's
own language.

``fold("Mbappé")`` and ``fold("MBAPPE")`` are both ``"mbappe"``, so names match however they are typed.
Each text is cut into terms by its language's ``Analyzer``: Snowball's stemmer for that language
(PyStemmer) and its stop words (bm25s's lists, stopwordsiso's where bm25s has none); Chinese, Japanese
and Thai, written without spaces, by pairs of characters. A question is cut by the analyzer of every
language the texts are in, so a French question meets a French article by its French words and an
English one by the names and words the two share.
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
_RUN = re.compile(r"[^\W\d_]+")
# a word that follows another in a sentence (not its first, which any word may be capitalised as)
_INNER_WORD = re.compile(r"(?:(?<=[^\W\d_] )|(?<=[^\W\d_][,;:] )|(?<=[^\W\d_]['’]s ))([^\W\d_]{2,})")
ENGLISH = "en"
SNOWBALL = {
    "ar": "arabic",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "it": "italian",
    "nl": "dutch",
    "pl": "polish",
    "pt": "portuguese",
    "ru": "russian",
    "tr": "turkish",
}
BM25S_STOPWORDS = {
    "de": "STOPWORDS_GERMAN",
    "es": "STOPWORDS_SPANISH",
    "fr": "STOPWORDS_FRENCH",
    "it": "STOPWORDS_ITALIAN",
    "nl": "STOPWORDS_DUTCH",
    "pt": "STOPWORDS_PORTUGUESE",
    "ru": "STOPWORDS_RUSSIAN",
    "tr": "STOPWORDS_TURKISH",
    "ko": "STOPWORDS_KOREAN",
    "zh": "STOPWORDS_CHINESE",
}
UNSPACED = {"ja", "th", "zh"}  # written without spaces between words: terms are pairs of characters
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


class Analyzer:
    """How one language's text becomes BM25 terms."""

    def __init__(self, language: str = ENGLISH) -> None:
        self.language = language
        self._stemmer = Stemmer.Stemmer(SNOWBALL[language]) if language in SNOWBALL else None
        self._stopwords: str | list[str] = "en" if language == ENGLISH else _stopwords(language)

    def terms(self, folded: Sequence[str]) -> list[list[str]]:
        """The terms of each (folded) text."""
        if self.language in UNSPACED:
            return [_character_pairs(text, self._stopwords) for text in folded]
        return bm25s.tokenize(
            list(folded),
            stopwords=self._stopwords,
            stemmer=self._stemmer,
            return_ids=False,
            show_progress=False,
        )


class LexicalIndex:
    """BM25 over a fixed list of texts, each in its language; ``scores`` gives one score per text.

    Built from the texts, or loaded from a folder written by ``save``: a saved index opens without
    reading a text again, which is what keeps a large index quick to open.
    """

    def __init__(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> None:
        languages = list(languages) if languages is not None else [ENGLISH] * len(texts)
        folded = [fold(text) for text in texts]
        tokens: list[list[str]] = [[] for _ in texts]
        for language in dict.fromkeys(languages):
            rows = [row for row, own in enumerate(languages) if own == language]
            for row, terms in zip(rows, Analyzer(language).terms([folded[row] for row in rows]), strict=True):
                tokens[row] = terms
        bm25 = bm25s.BM25()
        if texts:
            bm25.index(tokens, show_progress=False)
        words = (word for text in folded for word in _WORD.findall(text))
        self._attach(bm25, len(texts), sorted(set(languages)) or [ENGLISH], words, proper_nouns(texts))

    def _attach(
        self, bm25: bm25s.BM25, size: int, languages: list[str], words: Iterable[str], names: Iterable[str]
    ) -> None:
        """Take ``bm25`` (indexed over ``size`` texts, or empty), the texts' languages, their folded words
        and their proper nouns."""
        self._bm25 = bm25
        self._size = size
        self.languages = languages
        self._analyzers = [Analyzer(language) for language in languages]
        self._vocabulary = set(bm25.vocab_dict) if size else set()
        self._words = _by_letter(words)
        self.names = frozenset(names)  # folded: a question's words that tell nothing of its language

    def save(self, folder: Path) -> None:
        """Write the postings, the languages and the corpus's words (for ``correct``) to ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        if self._size:
            self._bm25.save(str(folder), show_progress=False)
        words = sorted(word for known in self._words.values() for word in known)
        saved = {
            "texts": self._size,
            "languages": self.languages,
            "words": words,
            "names": sorted(self.names),
        }
        (folder / WORDS).write_text(json.dumps(saved), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """An index written by ``save``; a missing or unreadable file raises OSError or ValueError."""
        saved = json.loads((folder / WORDS).read_text(encoding="utf-8"))
        size = int(saved["texts"])
        languages = [str(language) for language in saved.get("languages", [ENGLISH])]
        if any(not language.isalpha() for language in languages):
            raise ValueError(f"unknown languages {languages}")
        index = object.__new__(cls)
        bm25 = bm25s.BM25.load(str(folder), show_progress=False) if size else bm25s.BM25()
        index._attach(bm25, size, languages, saved["words"], saved.get("names", ()))
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
        """The query's terms, cut by the analyzer of each language of the texts, that occur in them."""
        return [term for term in self.analyse(query) if term in self._vocabulary]

    def analyse(self, text: str) -> list[str]:
        """The terms of ``text``, cut by the analyzer of each language of the texts, whether they occur in
        them or not."""
        folded = fold(text)
        return list(
            dict.fromkeys(term for analyzer in self._analyzers for term in analyzer.terms([folded])[0])
        )

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


def proper_nouns(texts: Iterable[str]) -> set[str]:
    """The folded words the texts write capitalised inside a sentence and never in lower case: names
    (``mbappe``, ``qatar``), which say nothing of a question's language."""
    capitalised: set[str] = set()
    lower: set[str] = set()
    for text in texts:
        for match in _INNER_WORD.finditer(text):
            word = match[1]
            (capitalised if word[:1].isupper() else lower).add(fold(word))
    return capitalised - lower


def _stopwords(language: str) -> list[str]:
    """A language's stop words, folded: bm25s's list where it has one, else stopwordsiso's."""
    if language in BM25S_STOPWORDS:
        import bm25s.stopwords

        words = getattr(bm25s.stopwords, BM25S_STOPWORDS[language])
    else:
        import stopwordsiso

        words = stopwordsiso.stopwords(language) if stopwordsiso.has_lang(language) else ()
    return sorted({fold(word) for word in words})


def _character_pairs(text: str, stopwords: str | list[str]) -> list[str]:
    """Each run of letters as overlapping pairs of characters (a lone character stays as it is)."""
    ignored = set(stopwords) if isinstance(stopwords, list) else set()
    pairs = []
    for run in _RUN.findall(text):
        if run in ignored:
            continue
        pairs += [run[i : i + 2] for i in range(max(1, len(run) - 1))]
    return pairs


def _by_letter(words: Iterable[str]) -> dict[str, set[str]]:
    """Words grouped by their first letter (``correct`` compares a word with those sharing its first)."""
    grouped: dict[str, set[str]] = defaultdict(set)
    for word in words:
        grouped[word[0]].add(word)
    return grouped
