"""Word translation between a question and the articles, by the multilingual encoder.

A French question about an English report shares its names with it ("regragui", "hakimi") but not its
words. The multilingual encoder places a single word near its translations, as it places sentences
(its cosine between "valeurs" and "values" is 0.94, between "triste" and "sad" 0.93), so each word of a
question is looked up among the words of the articles in other languages, and those close enough are
added to the question where BM25 and ``coverage`` read it. This is cross-lingual query translation with
a bilingual word space (as in Vulić and Moens, SIGIR 2015), with the encoder matchbot already runs; the
cosine a translation needs (``MIN_COSINE``) and how many a word may have (``PER_WORD``) were chosen on
the tuning questions (README, "Other languages").

It is used when ``MATCHBOT_WORD_TRANSLATION`` is on (off by default: the shipped fusion was learned
without it, README "Other languages"). Only the articles' words in a language other than the
question's are candidates, so a question asked of articles in its own language reads as it did. Each
language's words are encoded once, on the first question that needs them (the seed's 229 English words
take about 40 ms; 10,000 words about 2 s), at most ``MAX_WORDS`` of each language, the most frequent
first.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from index.encoder import Encoder
from index.lexical import Analyzer, fold
from index.store import Store

if TYPE_CHECKING:
    from index.first_stage import FirstStage
    from index.pipeline import Pipeline

MIN_COSINE = 0.6
PER_WORD = 2
# Of each language's words, the most frequent: 10,000 are encoded in about 2 s (SQuAD's articles
# hold 13,931 words) and take 20 MB. They are counted in at most MAX_ROWS passages, evenly spread.
MAX_WORDS = 10_000
MAX_ROWS = 50_000
_WORD = re.compile(r"[^\W\d_]{3,}")


class WordTranslator:
    """Finds, for each word of a question, the words of the articles in other languages that mean the
    same. Blocking (encoding); thread-safe."""

    def __init__(self, store: Store, encoder: Encoder, languages: frozenset[str] | None = None) -> None:
        self._store = store
        self._encoder = encoder
        self._reads = languages  # the encoder's languages (None: all)
        self._lock = threading.Lock()
        self._row_languages = store.row_languages()
        self._languages = sorted({str(language) for language in self._row_languages})
        self._vocabulary: dict[str, tuple[list[str], np.ndarray]] = {}
        self._stopwords: dict[str, frozenset[str]] = {}

    def translate_many(self, questions: Sequence[str], languages: Sequence[str]) -> list[str]:
        """For each question in its language, the translations of its words, joined by spaces ("" for
        none). The words of every question are encoded in one call."""
        wanted = [
            self._question_words(question, language) if self._others(language) else []
            for question, language in zip(questions, languages, strict=True)
        ]
        distinct = list(dict.fromkeys(word for words in wanted for word in words))
        if not distinct:
            return ["" for _ in questions]
        vectors = dict(zip(distinct, self._encoder.encode(distinct), strict=True))
        found = []
        for words, language in zip(wanted, languages, strict=True):
            extra: list[str] = []
            for other in self._others(language) if words else ():
                targets, matrix = self._words(other)
                cosines = np.stack([vectors[word] for word in words]) @ matrix.T
                for word, row in zip(words, cosines, strict=True):
                    best = np.argsort(-row, kind="stable")[: PER_WORD + 1]  # ties: the more frequent word
                    extra += [targets[i] for i in best if row[i] >= MIN_COSINE and targets[i] != word][
                        :PER_WORD
                    ]
            found.append(" ".join(dict.fromkeys(extra)))
        return found

    def _others(self, language: str) -> list[str]:
        """The articles' languages, other than ``language``, when the encoder reads them all."""
        if self._reads is not None and language not in self._reads:
            return []
        return [
            other
            for other in self._languages
            if other != language and (self._reads is None or other in self._reads)
        ]

    def _question_words(self, question: str, language: str) -> list[str]:
        stop = self._stop(language)
        return list(dict.fromkeys(w for w in _WORD.findall(question.lower()) if fold(w) not in stop))

    def _stop(self, language: str) -> frozenset[str]:
        if language not in self._stopwords:
            self._stopwords[language] = frozenset(Analyzer(language)._stopwords)
        return self._stopwords[language]

    def _words(self, language: str) -> tuple[list[str], np.ndarray]:
        """The words of the articles in ``language`` (the most frequent ``MAX_WORDS``) and their
        vectors, encoded on first use."""
        with self._lock:
            if language not in self._vocabulary:
                rows = np.flatnonzero(self._row_languages == language)
                if len(rows) > MAX_ROWS:
                    rows = rows[np.linspace(0, len(rows) - 1, MAX_ROWS).astype(np.int64)]
                count: Counter[str] = Counter()
                for row in rows:
                    count.update(_WORD.findall(self._store.chunks[int(row)].text.lower()))
                stop = self._stop(language)
                words = [w for w, _ in count.most_common() if fold(w) not in stop][:MAX_WORDS]
                self._vocabulary[language] = (words, self._encoder.encode(words))
            return self._vocabulary[language]


def translator(first_stage: FirstStage, pipeline: Pipeline) -> WordTranslator | None:
    """The word translator of ``first_stage``'s index by ``pipeline``'s multilingual encoder (the first
    other encoder reading several languages whose vectors the index holds), made once per index and
    encoder; None when there is no such encoder."""
    for encoder in pipeline.other_encoders:
        languages = getattr(encoder, "languages", None)
        if encoder.name in first_stage.store.encoders and (languages is None or len(languages) > 1):
            if encoder.name not in first_stage.translators:
                first_stage.translators[encoder.name] = WordTranslator(
                    first_stage.store, encoder, frozenset(languages) if languages else None
                )
            return first_stage.translators[encoder.name]
    return None
