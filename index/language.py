"""The language of an article or a question, among the sixteen the multilingual encoder reads.

Scripts that belong to one language here (Arabic, Thai, Korean's Hangul, Japanese kana, Cyrillic for
Russian, Chinese characters) decide at once; text in Latin script is detected by lingua
(``lingua-language-detector``, its models bundled in the wheel) among English, French, Spanish,
Portuguese, German, Italian, Dutch, Turkish and Polish.

Questions are short and full of names ("mbappe hakimi tunnel"), which say nothing of their language, so
``question_language`` leaves out the words it is told are names (the articles' proper nouns) and
digits, and calls a question English unless another language is clearly more likely: a question taken
for English is read by every model, one taken for another language loses the English-only ones.

lingua reads a short text with its models of every n-gram length, about 2 s to load; its low-accuracy
mode, trigrams alone, loads in 0.1 s. A question the trigrams are sure is English, and that holds none of
the other Latin-script languages' small words (their stop words that are not English's: "hat", "le", "que"),
is English without the full models; any other goes to them: a cold ``matchbot ask`` of most English
questions never loads them (README, "How it works").
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Iterable

ENGLISH = "en"
# The languages of Universal Sentence Encoder multilingual v3 (its sixteen: Chinese counts twice).
LANGUAGES = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")
LATIN = ("en", "fr", "es", "pt", "de", "it", "nl", "tr", "pl")
NAMES = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ru": "Russian",
    "th": "Thai",
    "tr": "Turkish",
    "zh": "Chinese",
}
# Below this confidence (lingua's, 0–1) for its best language, a question is taken for English. Chosen
# on the dev questions (README, "Members ask in their own language").
QUESTION_CONFIDENCE = 0.3
# At or above this confidence of lingua's trigrams alone that a question is English, it is, without the
# full models, unless it holds another language's small word. Chosen on the dev questions, where it
# changes no question's language (README, "How it works").
QUICK_ENGLISH = 0.8
# A question holding this many of the other Latin-script languages' small words ("que", "el", "de") is
# taken for the language lingua finds likeliest even below QUESTION_CONFIDENCE, as long as that is not
# English. One is not enough: "man" is German's, "les" in "les bleus" French's.
FOREIGN_WORDS = 2
_WORD = re.compile(r"[^\W\d_]+")
# Read by ``warm``: a short text in letters every Latin-script language here shares. lingua reads a text
# under 120 characters with its models of every n-gram length (a longer one with its trigrams alone), so
# this loads every model a question can need, for each of the languages.
_WARM_UP = "who scored the second goal"
_SCRIPTS = (  # (first code point, last, language), for scripts one language here writes
    (0x0600, 0x06FF, "ar"),
    (0x0750, 0x077F, "ar"),
    (0xFB50, 0xFDFF, "ar"),
    (0xFE70, 0xFEFF, "ar"),
    (0x0E00, 0x0E7F, "th"),
    (0xAC00, 0xD7AF, "ko"),
    (0x1100, 0x11FF, "ko"),
    (0x3040, 0x30FF, "ja"),
    (0x0400, 0x04FF, "ru"),
    (0x4E00, 0x9FFF, "zh"),
)


class LanguageDetector:
    """Detects languages; lingua's models are loaded on first use (about 2 s), once, thread-safely."""

    def __init__(self) -> None:
        self._lingua: object | None = None
        self._quick: object | None = None  # lingua's trigrams alone
        self._lock = threading.Lock()

    def article_language(self, text: str) -> str:
        """The language most of ``text`` is written in: as for a question, its own proper nouns left out
        (an article as short as a few words reads like a question)."""
        from index.lexical import proper_nouns

        sample = text[:5000]
        return self.question_language(sample, proper_nouns([sample]))

    def question_language(self, question: str, names: Iterable[str] = ()) -> str:
        """The language of a question, ``names`` (folded words such as the articles' proper nouns)
        left out; English unless another is clearly more likely."""
        by_script = _by_script(question)
        if by_script:
            return by_script
        ignored = set(names)
        words = [word for word in _WORD.findall(question.casefold()) if _fold(word) not in ignored]
        if not words:
            return ENGLISH
        text = " ".join(words)
        foreign = _foreign_words().intersection(words)
        if not foreign and (
            self._detector(quick=True).compute_language_confidence(text, _english()) >= QUICK_ENGLISH  # type: ignore[attr-defined]
            or _common_english(words)
        ):
            return ENGLISH
        values = self._detector().compute_language_confidence_values(text)  # type: ignore[attr-defined]
        best = values[0]
        code = _code(best.language)
        # below the confidence, a question holding two small words of other languages is not English
        sure = best.value >= QUESTION_CONFIDENCE or len(foreign) >= FOREIGN_WORDS
        return code if code == ENGLISH or sure else ENGLISH

    def warm(self) -> None:
        """Load lingua's models now (the bot does, in the background, as it starts): a short question
        in letters they all share loads every model a question can need, in each language."""
        self._detector(quick=True).compute_language_confidence_values(_WARM_UP)  # type: ignore[attr-defined]
        self._detector().compute_language_confidence_values(_WARM_UP)  # type: ignore[attr-defined]

    def _detector(self, *, quick: bool = False) -> object:
        with self._lock:
            if quick and self._quick is None:
                self._quick = _build(quick=True)
            if not quick and self._lingua is None:
                self._lingua = _build(quick=False)
            return self._quick if quick else self._lingua


def _build(*, quick: bool) -> object:
    """lingua's detector among the Latin-script languages: with its trigrams alone when ``quick``."""
    from lingua import Language, LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_languages(*(Language.from_iso_code_639_1(_iso(c)) for c in LATIN))
    return (builder.with_low_accuracy_mode() if quick else builder).build()


@functools.cache
def _foreign_words() -> frozenset[str]:
    """The other Latin-script languages' stop words (bm25s's lists) that are not English's: "hat", "le",
    "que", but not "was" (German and English) or "me"."""
    from index.lexical import bm25s_stopwords

    lists = bm25s_stopwords()
    others = set().union(*(getattr(lists, f"STOPWORDS_{name}") for name in _OTHER_STOPWORDS))
    return frozenset(others - set(lists.STOPWORDS_EN_PLUS))


_OTHER_STOPWORDS = ("DUTCH", "FRENCH", "GERMAN", "ITALIAN", "PORTUGUESE", "SPANISH", "TURKISH")


def _common_english(words: Iterable[str]) -> bool:
    """Whether every word is one English commonly uses (wordfreq's list, ``index.lexical.common_words``):
    "ben jacobs tweet" is English, though lingua takes "tweet" alone for Dutch."""
    from index.lexical import common_words

    english = common_words(ENGLISH)
    return all(_fold(word) in english for word in words)


def _english() -> object:
    from lingua import Language

    return Language.ENGLISH


def _by_script(text: str) -> str | None:
    """The language a script here belongs to, when most of the letters of ``text`` are in it."""
    counts: dict[str, int] = {}
    letters = 0
    for char in text:
        if not char.isalpha():
            continue
        letters += 1
        point = ord(char)
        for first, last, language in _SCRIPTS:
            if first <= point <= last:
                counts[language] = counts.get(language, 0) + 1
                break
    if not letters or not counts:
        return None
    language, count = max(counts.items(), key=lambda item: item[1])
    if language == "zh" and counts.get("ja"):  # kana among Chinese characters: Japanese
        language, count = "ja", count + counts["ja"]
    return language if count * 2 >= letters else None


def _iso(code: str) -> object:
    from lingua import IsoCode639_1

    return getattr(IsoCode639_1, code.upper())


def _code(language: object) -> str:
    return language.iso_code_639_1.name.lower()  # type: ignore[attr-defined]


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_SHARED = LanguageDetector()


def detect_article_language(text: str) -> str:
    """An article's language, with the detector this process shares (its models loaded once)."""
    return _SHARED.article_language(text)
