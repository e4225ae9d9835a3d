"""A question's words looked up among the articles' words, by the multilingual encoder.

A French question about an English report shares its names with it ("regragui", "hakimi") but not its
words; an English question may use a word the articles never write ("upset" for "sad"). The
multilingual encoder places a single word near its translations and near words of like meaning, as it
places sentences (its cosine between "valeurs" and "values" is 0.94, between "triste" and "sad" 0.93),
so a question's words are looked up among the articles' words, and those close enough are added to
what BM25 and ``coverage`` read:

- every word of a question is looked up among the words of the articles in the other languages: this is
  cross-lingual query translation with a bilingual word space (as in Vulić and Moens, SIGIR 2015);
- a word the articles do not hold at all is looked up among the words of the articles in its own
  language, so a member's word finds the reporter's.

The words found in another language, in the question's order (a word the articles write as it is
asked, a name, kept as it is), are also the question's *gloss* in that language: what the later
stages, which read English only, read of a question in another language (``LookedUp.glosses``,
``index.retriever.Retriever.rescore``).

Some of the articles' words lie near a great many others in the encoder's space ("donned", "along",
"over": each within a cosine of about 0.75 of its ten nearest), and so near many a question's words they do
not translate ("score", "postou" and the Arabic for "be sad" all reached "donned"). Such a hub is found
for every word and translates none: this is the hubness that CSLS corrects in word translation (Conneau et
al., ICLR 2018). So a word's cosine with an article word is lowered by ``HUB_PENALTY`` times how far that
word's mean cosine with its ``HUB_NEIGHBOURS`` nearest article words of its language lies above the
median word's.

The cosine a word needs (``MIN_COSINE``), how many one word may find (``PER_WORD``) and the penalty were
chosen on the tuning questions (README, "Answer quality"). ``MATCHBOT_WORD_LOOKUP=off`` turns the lookup
off. Each language's words are encoded once, with how far each is a hub, at most ``MAX_WORDS`` of each
language, the most frequent first: on the first question that needs them (the seed's 229 English words
take about 0.1 s; 10,000 words several seconds), or ahead of it by ``warm``, which the bot calls in the
background whenever its index changes (``index.library.Library``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index import arrays
from index.encoder import Encoder
from index.glossary import GLOSSARY, Glossary
from index.lexical import Analyzer, fold
from index.store import Store
from index.transliteration import is_latin, keys

if TYPE_CHECKING:
    from index.first_stage import FirstStage
    from index.pipeline import Pipeline

log = logging.getLogger(__name__)

MIN_COSINE = 0.6
PER_WORD = 2
HUB_PENALTY = 1.0
HUB_NEIGHBOURS = 10
_HUB_BLOCK = 1024  # rows of the word-by-word cosines computed at once (1,024 × 10,000 floats: 40 MB)
# Of each language's words, the most frequent: 10,000 are encoded in about 2 s (SQuAD's articles
# hold 13,931 words) and take 20 MB. They are counted in at most MAX_ROWS passages, evenly spread.
MAX_WORDS = 10_000
MAX_ROWS = 50_000
FOLDER = "words"  # in the data folder, beside the index: each encoder's words of each language
_WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True, slots=True)
class LookedUp:
    """What a question's words were found as among the articles' words."""

    words: str = ""  # the articles' words found for them, joined by spaces: what BM25 and coverage add
    # by the articles' other languages: the question word by word in that language, the nearest
    # article words of each of its words (one the articles write as it is asked, a name, kept),
    # for the readers of that language alone (``index.retriever.Retriever.rescore``)
    glosses: Mapping[str, str] = field(default_factory=dict)


class WordLookup:
    """Finds, for each word of a question, the articles' words that mean the same: in the other
    languages for every word, in its own language for a word the articles do not hold. Blocking
    (encoding); thread-safe."""

    def __init__(
        self,
        store: Store,
        encoder: Encoder,
        languages: frozenset[str] | None = None,
        *,
        known: Callable[[str], bool] = lambda _: True,
        row_languages: np.ndarray | None = None,
        folder: Path | None = None,
        names: frozenset[str] = frozenset(),
        glossary: Glossary | None = GLOSSARY,
    ) -> None:
        self._store = store
        # football's words across languages, asked before the encoder (None: an empty table)
        self._glossary = glossary if glossary is not None else Glossary(())
        self._encoder = encoder
        self._folder = folder  # where each language's encoded words are saved (None: nowhere)
        self._reads = languages  # the encoder's languages (None: all)
        self._known = known  # whether the articles hold a word (folded), in any language
        self._names = names  # the articles' names, folded ("mbappe")
        # per language: its names by whether they are in Latin letters and by their key
        self._named: dict[str, dict[tuple[bool, str], list[int]]] = {}
        self._lock = threading.Lock()
        # each row's language, as the first stage already holds it (else read from the store)
        self._row_languages = store.row_languages() if row_languages is None else row_languages
        self._languages = [
            str(own) for own in np.unique(self._row_languages) if self._reads_language(str(own))
        ]
        # per language: its words, their vectors, and how far each is a hub (``hubness``)
        self._vocabulary: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
        self._stopwords: dict[str, frozenset[str]] = {}

    def look_up(self, questions: Sequence[str], languages: Sequence[str]) -> list[LookedUp]:
        """For each question in its language, the articles' words found for its words, and the question
        glossed into each of the articles' other languages. The words of every question are encoded in
        one call."""
        # per question: (the articles' language, the question's words looked up there, each with the
        # glossary's words for it there); the encoder reads only the words the glossary gives nothing for
        asked: list[list[tuple[str, list[tuple[str, list[str]]]]]] = []
        for question, language in zip(questions, languages, strict=True):
            words = self._question_words(question, language) if self._reads_language(language) else []
            stop = self._stop(language) if words else frozenset()
            pairs = []
            for other in self._languages:
                if other == language:
                    continue
                told = [(w, list(self._glossary.translate(w, language, other))) for w in words]
                # a small word the glossary has nothing for in that language is not looked up
                kept = [(w, t) for w, t in told if t or fold(w) not in stop]
                if kept:
                    pairs.append((other, kept))
            unknown = [(w, []) for w in words if not self._known(fold(w)) and fold(w) not in stop]
            pairs += [(language, unknown)] if language in self._languages and unknown else []
            asked.append(pairs)
        if not any(words for pairs in asked for _, words in pairs):
            return [LookedUp() for _ in questions]
        distinct = list(
            dict.fromkeys(w for pairs in asked for _, words in pairs for w, told in words if not told)
        )
        vectors = dict(zip(distinct, self._encoder.encode(distinct), strict=True)) if distinct else {}
        read = {word: (is_latin(word), keys(word)) for word in distinct}  # as a name: its script, keys
        found = []
        for pairs, language in zip(asked, languages, strict=True):
            extra: list[str] = []
            glosses: dict[str, str] = {}
            for other, words in pairs:
                targets, matrix, hubs = self._words(other)
                encoded = [word for word, told in words if not told]
                rows = (
                    np.stack([vectors[w] for w in encoded]) @ matrix.T - HUB_PENALTY * hubs if encoded else []
                )
                cosines = dict(zip(encoded, rows, strict=True))
                gloss: list[str] = []
                named = self._names_by_key(other)
                for word, told in words:
                    if told:  # the glossary's: the gloss reads two, BM25 and coverage those written
                        extra += [t for t in told if t != word and self._known(t)][:PER_WORD]
                        gloss += told[:PER_WORD]
                        continue
                    row = cosines[word]
                    best = np.argsort(-row, kind="stable")[: PER_WORD + 1]  # ties: the more frequent word
                    near = [targets[i] for i in best if row[i] >= MIN_COSINE]
                    latin, word_keys = read[word]
                    same = [n for k in word_keys for n in named.get((not latin, k), ())]
                    if same and not (latin and near):
                        # a name in another script: the one the articles write, the nearest if several
                        # (for a word in Latin letters, only when nothing else was found for it)
                        near = [targets[max(same, key=lambda n: (row[n], -n))]]
                    extra += [target for target in near if target != word][:PER_WORD]
                    gloss += [word] if word in near else near[:PER_WORD]  # a name stands for itself
                if other != language and gloss:
                    glosses[other] = " ".join(dict.fromkeys(gloss))
            found.append(LookedUp(" ".join(dict.fromkeys(extra)), glosses))
        return found

    def warm(self, still_wanted: Callable[[], bool] = lambda: True) -> None:
        """Encode every language's words now, and key its names, so that no question waits for them (a
        large library's take seconds: ``MAX_WORDS``). Blocking; stops between two languages once
        ``still_wanted()`` is false (the index it looks into was replaced)."""
        for language in self._languages:
            if not still_wanted():
                return
            self._names_by_key(language)  # encodes the words first

    def _names_by_key(self, language: str) -> dict[tuple[bool, str], list[int]]:
        """The words of the articles in ``language`` that may be names a question writes in another
        script, by whether they are in Latin letters and by their keys (``index.transliteration``), as
        positions among ``_words(language)``: the articles' names when they are in Latin letters, else
        (Arabic has no capitals to tell a name by) every word long enough."""
        if language not in self._named:
            found: dict[tuple[bool, str], list[int]] = {}
            for number, word in enumerate(self._words(language)[0]):
                latin = is_latin(word)
                if latin and fold(word) not in self._names:
                    continue
                for k in keys(word):
                    found.setdefault((latin, k), []).append(number)
            self._named[language] = found
        return self._named[language]

    def _reads_language(self, language: str) -> bool:
        return self._reads is None or language in self._reads

    def _question_words(self, question: str, language: str) -> list[str]:
        """The question's words but its language's small words, except those the glossary knows
        ("quand", "كم": what a question asks)."""
        stop = self._stop(language)
        known = self._glossary.knows
        return list(
            dict.fromkeys(
                w for w in _WORD.findall(question.lower()) if fold(w) not in stop or known(w, language)
            )
        )

    def _stop(self, language: str) -> frozenset[str]:
        if language not in self._stopwords:
            self._stopwords[language] = Analyzer(language).stop_words
        return self._stopwords[language]

    def _words(self, language: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The words of the articles in ``language`` (the most frequent ``MAX_WORDS``), their vectors,
        and how far each is a hub (``hubness``): read from the folder they were saved in, else encoded
        (and saved there) on first use."""
        with self._lock:
            if language not in self._vocabulary:
                words = self._article_words(language)
                saved = self._saved(language, words)
                self._vocabulary[language] = saved if saved is not None else self._encoded(language, words)
            return self._vocabulary[language]

    def _article_words(self, language: str) -> list[str]:
        rows = np.flatnonzero(self._row_languages == language)
        if len(rows) > MAX_ROWS:
            rows = rows[np.linspace(0, len(rows) - 1, MAX_ROWS).astype(np.int64)]
        count: Counter[str] = Counter()
        for row in rows:
            count.update(_WORD.findall(self._store.chunks[int(row)].text.lower()))
        stop = self._stop(language)
        return [w for w, _ in count.most_common() if fold(w) not in stop][:MAX_WORDS]

    def _encoded(self, language: str, words: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        began = time.perf_counter()
        matrix = self._encoder.encode(words)
        hubs = hubness(matrix)
        took = time.perf_counter() - began
        log.info("Word lookup: %d words in %s encoded in %.1f s.", len(words), language, took)
        self._save(language, words, matrix, hubs)
        return words, matrix, hubs

    def _file(self, language: str) -> Path | None:
        if self._folder is None:
            return None
        return self._folder / re.sub(r"[^\w.-]", "_", self._encoder.name) / f"{language}.npz"

    def _saved(self, language: str, words: list[str]) -> tuple[list[str], np.ndarray, np.ndarray] | None:
        """The words' vectors and hubs as saved, when they were saved for these very words, by this
        encoder, with this many neighbours for the hubs; else None (a damaged file is logged)."""
        path = self._file(language)
        if path is None or not path.exists():
            return None
        try:
            with arrays.load(path, allow_pickle=False) as saved:
                same = (
                    str(saved["encoder"]) == self._encoder.name
                    and int(saved["neighbours"]) == HUB_NEIGHBOURS
                    and saved["words"].tolist() == words
                )
                return (words, saved["vectors"], saved["hubs"]) if same else None
        except (OSError, ValueError, KeyError, EOFError) as exc:
            log.warning("Encoding the articles' words again: %s cannot be read (%s).", path, exc)
            return None

    def _save(self, language: str, words: list[str], vectors: np.ndarray, hubs: np.ndarray) -> None:
        """Keep the words' vectors for the next process (written aside, then renamed into place)."""
        path = self._file(language)
        if path is None:
            return
        staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with staging.open("wb") as file:
                np.savez(
                    file,
                    words=np.array(words, dtype=str),
                    vectors=vectors,
                    hubs=hubs,
                    encoder=np.array(self._encoder.name),
                    neighbours=np.array(HUB_NEIGHBOURS),
                )
            os.replace(staging, path)
        except OSError as exc:
            log.info("Cannot save the articles' encoded words in %s (%s).", path.parent, exc)
            with contextlib.suppress(OSError):
                staging.unlink()


def hubness(vectors: np.ndarray, neighbours: int = HUB_NEIGHBOURS) -> np.ndarray:
    """For each of ``vectors`` (unit rows), how far its mean cosine with its ``neighbours`` nearest other
    rows lies above the median row's (0 for a row at or below it)."""
    count = len(vectors)
    if count < 2:
        return np.zeros(count, dtype=np.float32)
    k = min(neighbours, count - 1)
    density = np.empty(count, dtype=np.float32)
    for start in range(0, count, _HUB_BLOCK):
        cosines = vectors[start : start + _HUB_BLOCK] @ vectors.T
        cosines[np.arange(len(cosines)), np.arange(start, start + len(cosines))] = -np.inf  # not itself
        density[start : start + len(cosines)] = np.partition(cosines, -k, axis=1)[:, -k:].mean(axis=1)
    return np.maximum(density - np.median(density), 0).astype(np.float32)


def word_lookup(first_stage: FirstStage, pipeline: Pipeline, folder: Path | None = None) -> WordLookup | None:
    """The word lookup of ``first_stage``'s index by ``pipeline``'s multilingual encoder (the first
    other encoder reading several languages whose vectors the index holds), made once per index,
    encoder and use of the glossary (``Pipeline.glossary``), its encoded words saved in ``folder``
    (``FOLDER`` in the data folder, for ``Library``); None when there is no such encoder."""
    for encoder in pipeline.other_encoders:
        languages = getattr(encoder, "languages", None)
        if encoder.name in first_stage.store.encoders and (languages is None or len(languages) > 1):
            key = (encoder.name, pipeline.glossary)
            if key not in first_stage.lookups:
                first_stage.lookups[key] = WordLookup(
                    first_stage.store,
                    encoder,
                    frozenset(languages) if languages else None,
                    known=first_stage.knows,
                    names=first_stage.names,
                    row_languages=first_stage.language_of_row,
                    folder=folder,
                    glossary=GLOSSARY if pipeline.glossary else None,
                )
            return first_stage.lookups[key]
    return None
