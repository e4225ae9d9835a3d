"""Lexical scoring with BM25 (bm25s): stemmed, stop-word free, accent and case folded, in each text's
own language.

``fold("Mbappé")`` and ``fold("MBAPPE")`` are both ``"mbappe"``, so names match however they are typed.
Each text is cut into terms by its language's ``Analyzer``: Snowball's stemmer for that language
(PyStemmer) and its stop words (bm25s's lists, stopwordsiso's where bm25s has none); Chinese, Japanese
and Thai, written without spaces, by pairs of characters. A question is cut by the analyzer of every
language the texts are in, so a French question meets a French article by its French words and an
English one by the names and words the two share.

bm25s builds and saves the postings (each term's score in each text); answering reads them back and
scores with ``Postings``, which does what bm25s's ``load`` and ``get_scores`` do for the method used
here (lucene), so a question's path never imports bm25s (nor the scipy it pulls in). Texts are cut into
terms the way ``bm25s.tokenize`` cuts them, and the stop words are bm25s's own lists.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import logging
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import Stemmer

from index import arrays

if TYPE_CHECKING:
    import bm25s

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
COMMON_LIST = "small"  # wordfreq's list of the words used at least once in a million
WORDS = "words.json"  # beside bm25s's own files in a saved LexicalIndex: the text count and their words
# bm25s.tokenize's defaults, as the postings were built with them
TOKEN = re.compile(r"(?u)\b\w\w+\b")
# bm25s's saved files, and the scoring method whose postings need nothing more (the default)
POSTINGS_FILES = {name: f"{name}.csc.index.npy" for name in ("data", "indices", "indptr")}
VOCABULARY_FILE = "vocab.index.json"
PARAMETERS_FILE = "params.index.json"
METHODS = ("lucene", "robertson", "atire")


@functools.cache
def common_words(language: str) -> frozenset[str]:
    """The words ``language`` commonly uses (wordfreq's small list: at least once in a million words),
    folded; empty for a language wordfreq has no list of. Read once per language, on first use."""
    import wordfreq  # not imported until a question holds a word that would be corrected

    if language not in wordfreq.available_languages(COMMON_LIST):
        return frozenset()
    return frozenset(fold(word) for word in wordfreq.iter_wordlist(language, COMMON_LIST))


def fold(text: str) -> str:
    """Case-fold and strip accents: ``"Mbappé's"`` → ``"mbappe's"``."""
    if text.isascii():  # nothing to strip: the common case, and 40 times quicker
        return text.lower()
    return strip_marks(text).casefold()


def strip_marks(text: str) -> str:
    """``text`` with its letters' marks (accents, an Arabic hamza) stripped, its case kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


class Analyzer:
    """How one language's text becomes BM25 terms."""

    def __init__(self, language: str = ENGLISH) -> None:
        self.language = language
        self._stemmer = Stemmer.Stemmer(SNOWBALL[language]) if language in SNOWBALL else None
        words = bm25s_stopwords().STOPWORDS_EN if language == ENGLISH else _stopwords(language)
        self._stopwords = frozenset(words)

    @property
    def stop_words(self) -> frozenset[str]:
        """The language's stop words, folded."""
        return self._stopwords

    def terms(self, folded: Sequence[str]) -> list[list[str]]:
        """The terms of each (folded) text: as ``bm25s.tokenize`` gives them (lower-cased words of two
        characters or more, stop words left out, each stemmed), or pairs of characters."""
        if self.language in UNSPACED:
            return [_character_pairs(text, self._stopwords) for text in folded]
        found = []
        for text in folded:
            words = [word for word in TOKEN.findall(text.lower()) if word not in self._stopwords]
            found.append(self._stemmer.stemWords(words) if self._stemmer is not None and words else words)
        return found


class Postings:
    """BM25 postings as bm25s saves them: each term's score in each text holding it (a CSC matrix)."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        scores: dict[str, Any],
        size: int,
        dtype: str = "float32",
        parameters: dict[str, Any] | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        self.data, self.indices, self.indptr = scores["data"], scores["indices"], scores["indptr"]
        self.size = size
        self.dtype = np.dtype(dtype)
        self.parameters = parameters  # as read from a saved index, to write them back

    @classmethod
    def of(cls, bm25: bm25s.BM25, size: int) -> Postings:
        """The postings of an index bm25s just built."""
        if not size:
            return cls({}, {name: np.zeros(1 if name == "indptr" else 0) for name in POSTINGS_FILES}, 0)
        return cls(bm25.vocab_dict, bm25.scores, size, bm25.dtype)

    @classmethod
    def load(cls, folder: Path) -> Postings:
        """What ``bm25s.BM25.save`` wrote in ``folder``; OSError or ValueError when it cannot be read."""
        parameters = json.loads((folder / PARAMETERS_FILE).read_text(encoding="utf-8"))
        if parameters.get("method", "lucene") not in METHODS:
            raise ValueError(f"BM25 method {parameters.get('method')!r}")
        vocabulary = json.loads((folder / VOCABULARY_FILE).read_text(encoding="utf-8"))
        scores = {
            name: arrays.load(folder / file, allow_pickle=False) for name, file in POSTINGS_FILES.items()
        }
        dtype = parameters.get("dtype", "float32")
        return cls(vocabulary, scores, int(parameters["num_docs"]), dtype, parameters)

    def save(self, folder: Path) -> None:
        """Write loaded postings back as they were read (bm25s's files)."""
        for name, file in POSTINGS_FILES.items():
            np.save(folder / file, getattr(self, name), allow_pickle=False)
        vocabulary = json.dumps(self.vocabulary, ensure_ascii=False)
        (folder / VOCABULARY_FILE).write_text(vocabulary, encoding="utf-8")
        (folder / PARAMETERS_FILE).write_text(json.dumps(self.parameters, indent=4), encoding="utf-8")

    def ids(self, terms: Iterable[str]) -> list[int]:
        return [self.vocabulary[term] for term in terms if term in self.vocabulary]

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """Each text's BM25 score for ``terms``: the terms' postings added in order, in the postings'
        dtype, as bm25s's ``get_scores`` adds them (the same figures, to the last bit)."""
        ids = np.asarray(self.ids(terms), dtype=np.int64)
        scores = np.zeros(self.size, dtype=self.dtype)
        for start, end in zip(self.indptr[ids], self.indptr[ids + 1], strict=True):
            np.add.at(scores, self.indices[start:end], self.data[start:end])
        return scores


class TermSets:
    """Each text's set of terms, as term numbers in a CSR matrix (texts × terms), saved with the index:
    which of a question's terms a few hundred texts hold is then a lookup, not an analysis of each text
    at question time."""

    def __init__(self, vocabulary: dict[str, int], indptr: np.ndarray, indices: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)

    @classmethod
    def build(cls, texts_terms: Iterable[Iterable[str]]) -> TermSets:
        vocabulary: dict[str, int] = {}
        indptr, indices = [0], []
        for terms in texts_terms:
            own = {vocabulary.setdefault(term, len(vocabulary)) for term in terms}
            indices.extend(sorted(own))
            indptr.append(len(indices))
        return cls(vocabulary, np.array(indptr), np.array(indices))

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def holding(self, terms: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """Which of ``terms`` (distinct) each of ``rows`` holds: booleans, ``(len(rows), len(terms))``."""
        rows = np.asarray(rows, dtype=np.int64)
        held = np.zeros((len(rows), len(terms)), dtype=bool)
        column = {self.vocabulary[term]: n for n, term in enumerate(terms) if term in self.vocabulary}
        if not column or not len(rows):
            return held
        starts, lengths = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        owner = np.repeat(np.arange(len(rows)), lengths)
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        found = self.indices[np.repeat(starts, lengths) + offsets]
        hit = np.isin(found, np.fromiter(column, dtype=np.int32, count=len(column)))
        held[owner[hit], [column[int(term)] for term in found[hit]]] = True
        return held

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "indptr.npy", self.indptr, allow_pickle=False)
        np.save(folder / "indices.npy", self.indices, allow_pickle=False)
        (folder / "terms.json").write_text(json.dumps(list(self.vocabulary), ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> TermSets:
        """What ``save`` wrote; OSError or ValueError when a file is missing or does not fit."""
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        indptr = arrays.load(folder / "indptr.npy", allow_pickle=False)
        indices = arrays.load(folder / "indices.npy", allow_pickle=False)
        if indptr.ndim != 1 or not len(indptr) or indptr[-1] != len(indices):
            raise ValueError(f"{folder} holds term sets that do not fit together")
        if len(indices) and (indices.min() < 0 or indices.max() >= len(terms)):
            raise ValueError(f"{folder} holds term numbers outside its terms")
        return cls({term: n for n, term in enumerate(terms)}, indptr, indices)


class LexicalIndex:
    """BM25 over a fixed list of texts, each in its language; ``scores`` gives one score per text.

    Built from the texts, or loaded from a folder written by ``save``: a saved index opens without
    reading a text again, which is what keeps a large index quick to open.
    """

    def __init__(
        self, texts: Sequence[str], languages: Sequence[str] | None = None, *, given_names: bool = True
    ) -> None:
        """BM25 over ``texts`` (each in its language, English by default), with their words, proper nouns
        and, when ``given_names``, the surname each given name comes with (``surnames``; an index no
        question is put ``in_full`` against, the whole articles', does without)."""
        languages = list(languages) if languages is not None else [ENGLISH] * len(texts)
        folded = [fold(text) for text in texts]
        tokens: list[list[str]] = [[] for _ in texts]
        for language in dict.fromkeys(languages):
            rows = [row for row, own in enumerate(languages) if own == language]
            for row, terms in zip(rows, Analyzer(language).terms([folded[row] for row in rows]), strict=True):
                tokens[row] = terms
        import bm25s  # building only: answering reads the saved postings without it

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # its import sets DEBUG: every build logs
        bm25 = bm25s.BM25()
        if texts:
            bm25.index(tokens, show_progress=False)
        self._bm25: bm25s.BM25 | None = bm25  # kept to be saved
        words = (word for text in folded for word in _WORD.findall(text))
        postings = Postings.of(bm25, len(texts))
        names = proper_nouns(texts)
        given = surnames(texts, names) if given_names else {}
        self._attach(postings, sorted(set(languages)) or [ENGLISH], words, names, given)

    def _attach(
        self,
        postings: Postings,
        languages: list[str],
        words: Iterable[str],
        names: Iterable[str],
        given: Mapping[str, str] | None,
    ) -> None:
        """Take the postings (over ``postings.size`` texts, maybe none), the texts' languages, their folded
        words, their proper nouns and the surname each given name comes with (None: not known, an index
        saved before they were kept)."""
        self._postings = postings
        self._size = postings.size
        self.languages = languages
        self._analyzers = [Analyzer(language) for language in languages]
        self._vocabulary = set(postings.vocabulary)
        self._words = _by_letter(words)
        self.names = frozenset(names)  # folded: a question's words that tell nothing of its language
        self.surnames = dict(given) if given is not None else None  # folded: {"walid": "regragui"}
        self._names = _by_letter(self.names)

    def save(self, folder: Path) -> None:
        """Write the postings, the languages and the corpus's words (for ``correct``) to ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        if self._size:
            if self._bm25 is None:  # loaded, not built: write the postings back as they were read
                self._postings.save(folder)
            else:
                self._bm25.save(str(folder), show_progress=False)
        words = sorted(word for known in self._words.values() for word in known)
        saved = {
            "texts": self._size,
            "languages": self.languages,
            "words": words,
            "names": sorted(self.names),
            "surnames": self.surnames,
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
        index._bm25 = None
        postings = Postings.load(folder) if size else Postings.of(None, 0)  # type: ignore[arg-type]
        if postings.size != size:
            raise ValueError(f"{folder} holds postings of {postings.size} texts, not {size}")
        given = saved.get("surnames")
        if given is not None and not (
            isinstance(given, dict) and all(isinstance(v, str) for v in given.values())
        ):
            raise ValueError(f"{folder} holds surnames that are not words")
        index._attach(postings, languages, saved["words"], saved.get("names", ()), given)
        return index

    def __len__(self) -> int:
        return self._size

    def holds(self, word: str) -> bool:
        """Whether a text holds ``word`` (folded)."""
        return bool(word) and word in self._words.get(word[0], ())

    def correct(self, query: str, language: str = "en") -> str:
        """The query, folded, with each word of 5+ letters that neither the texts hold nor ``language``
        commonly uses (``common_words``) replaced by the closest corpus word.

        ``"mbape hakimy"`` → ``"mbappe hakimi"``: members misspell names; the articles do not. "where",
        "whistle" and "raining" are words, even in a question about an article that never writes them.
        """

        def closest(match: re.Match[str]) -> str:
            word = match.group()
            found = self._misspelling_of(word, self._words)
            # the language's list is read only when a word would be corrected
            return found if found and word not in common_words(language) else word

        return _WORD.sub(closest, fold(query))

    def named(self, query: str) -> frozenset[str]:
        """The folded words of ``query`` that are the texts' proper nouns, or misspell one as ``correct``
        would mend it (``"hakimy"``): words that tell nothing of the question's language."""
        words = _WORD.findall(fold(query))
        return frozenset(w for w in words if w in self.names or self._misspelling_of(w, self._names))

    def _misspelling_of(self, word: str, among: Mapping[str, set[str]]) -> str | None:
        """The word of ``among`` (grouped by first letter) that ``word`` (folded) misspells: the closest
        one, for a word of 5+ letters that the texts do not hold; else None."""
        if len(word) < MIN_CORRECTED or word in self._words.get(word[0], ()):
            return None
        found = difflib.get_close_matches(word, among.get(word[0], ()), n=1, cutoff=CORRECTION_CUTOFF)
        return found[0] if found else None

    def in_full(self, query: str) -> str:
        """The (folded) query with each given name the texts write before a surname followed by it, unless
        the query already holds that surname: "what did walid say" → "what did walid regragui say".
        Members call players and coaches by either name; a report calls them by the surname."""
        given = self.surnames
        if not given:
            return query
        written = set(_WORD.findall(query))
        return _WORD.sub(
            lambda match: (
                f"{match[0]} {given[match[0]]}"
                if match[0] in given and given[match[0]] not in written
                else match[0]
            ),
            query,
        )

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
        postings = self._postings
        ids = np.asarray(postings.ids(terms), dtype=np.int64)
        starts, ends = postings.indptr[ids], postings.indptr[ids + 1]
        rows = np.concatenate([postings.indices[a:b] for a, b in zip(starts, ends, strict=True)])
        weights = np.concatenate([postings.data[a:b] for a, b in zip(starts, ends, strict=True)])
        # summed per text by counting, not by sorting the postings: common terms' run to 100,000s of rows
        totals = np.bincount(rows, weights=weights, minlength=self._size)
        found = np.flatnonzero(np.bincount(rows, minlength=self._size))
        return found.astype(np.int64), totals[found].astype(np.float32)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for ``query`` (zeros when no term matches)."""
        terms = self.terms(query)
        if not terms:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._postings.scores(terms), dtype=np.float32)


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


_FULL_NAME = re.compile(r"(?<![^\W\d_])([^\W\d_]{2,}) (?=([^\W\d_]{2,}))")  # two words, overlapping


def surnames(texts: Iterable[str], names: Iterable[str]) -> dict[str, str]:
    """The given names the texts write before a surname, folded: ``{"walid": "regragui"}`` from "Walid
    Regragui". A given name is a capitalised word never written in lower case that English does not
    commonly use (wordfreq's list: "While Morocco", "New England Patriots" give none); its surname a
    proper noun the texts also write on its own ("Regragui said"), and the only one the given name comes
    before, every time it is written ("World Cup" gives none: "Cup" is never written alone)."""
    names = set(names)
    before: dict[str, set[str]] = defaultdict(set)
    paired: Counter[str] = Counter()  # how often a word comes before a name
    written: Counter[str] = Counter()  # how often it is written at all
    lower: set[str] = set()
    alone: set[str] = set()
    for text in texts:
        words = _WORD.findall(text)
        folded = [fold(word) for word in words]
        written.update(folded)
        for previous, word, folded_word in zip(["", *words], words, folded, strict=False):
            if word[:1].islower():
                lower.add(folded_word)
            elif word[:1].isupper() and not previous[:1].isupper():
                alone.add(folded_word)  # capitalised, after a word that is not
        for match in _FULL_NAME.finditer(text):
            if not (match[1][:1].isupper() and match[2][:1].isupper()):
                continue
            given, surname = fold(match[1]), fold(match[2])
            if surname in names:
                before[given].add(surname)
                paired[given] += 1
    common = common_words(ENGLISH) if before else frozenset()
    found = {}
    for given, after in before.items():
        if len(after) > 1:
            continue
        (surname,) = after
        if given in lower or given == surname or surname not in alone:
            continue
        if paired[given] < written[given]:  # "Fatimid Egypt" and "Fatimid caliphate": no given name
            continue
        if given not in common:
            found[given] = surname
    return found


def _stopwords(language: str) -> list[str]:
    """A language's stop words, folded: bm25s's list where it has one, else stopwordsiso's."""
    if language in BM25S_STOPWORDS:
        words = getattr(bm25s_stopwords(), BM25S_STOPWORDS[language])
    else:
        import stopwordsiso

        words = stopwordsiso.stopwords(language) if stopwordsiso.has_lang(language) else ()
    return sorted({fold(word) for word in words})


def bm25s_stopwords() -> ModuleType:
    """bm25s's stop-word lists (``bm25s.stopwords``, data only), read without importing the bm25s package,
    whose ``__init__`` loads scipy."""
    loaded = sys.modules.get("bm25s.stopwords") or sys.modules.get(_STOPWORDS_MODULE)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("bm25s")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("bm25s is not installed", name="bm25s")
    path = Path(next(iter(spec.submodule_search_locations))) / "stopwords.py"
    found = importlib.util.spec_from_file_location(_STOPWORDS_MODULE, path)
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    sys.modules[_STOPWORDS_MODULE] = module
    return module


_STOPWORDS_MODULE = "index._bm25s_stopwords"


def _character_pairs(text: str, ignored: frozenset[str]) -> list[str]:
    """Each run of letters as overlapping pairs of characters (a lone character stays as it is)."""
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
