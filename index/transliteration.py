"""A name as another script writes it: مبابي is Mbappe, حكيمي Hakimi, الركراكي Regragui.

An Arabic question names the players the English report names, in Arabic letters, and the multilingual
encoder places such a word poorly: "مبابي" lies nearer "moroccan" (0.49) than "mbappe" (0.45), and
"الركراكي" is not within the ten nearest of "regragui". So a word in another script is read in Latin
letters (``anyascii``: "مبابي" → "mbby") and both it and the articles' names are reduced to a *key*:
their consonants, with those that the two scripts confuse merged (p and b, v and f, g, j, q, c and k,
z and s; "sh", "ch" and "sch" one sound, "kh" an h), vowels, "w" and "y" dropped after the first
letter (Arabic writes long vowels with them), and a letter repeated once. "mbby" and "mbappe" are both ``mb``;
"'shrf" and "achraf" ``Xrf``. Arabic's article and one-letter prefixes ("ال", "لـ", "وـ": "لحكيمي",
"to Hakimi") are tried off as well.

A key of a single consonant matches too much to mean anything, so a word must be four letters or
more and its key two consonants or more. Letters are counted in the word's own script, so a name
written in Chinese, Japanese or Korean (two or three signs, a syllable each) is not read this way.
"""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

MIN_LETTERS = 4  # a word shorter than this is not read as a name ("من", "who", would be Muani)
MIN_KEY = 2  # consonants a key must have
# Arabic's article and the one-letter prefixes written onto a word: "والركراكي" is "and Regragui".
ARABIC_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ل", "ب", "ف")
# "kh" is an h: Cyrillic writes Hakimi "Хакими" (anyascii "Khakimi"), and Arabic's "خ" is "kh" too
_DIGRAPHS = (("sch", "X"), ("ch", "X"), ("sh", "X"), ("ph", "f"), ("th", "t"), ("kh", "h"), ("gh", "k"))
_CONSONANTS = str.maketrans(
    {
        "p": "b",
        "v": "f",
        "g": "k",
        "j": "k",
        "q": "k",
        "c": "k",
        "z": "s",
        "x": "ks",
    }
)
_NOT_LETTERS = re.compile(r"[^a-zX]")
_VOWELS = re.compile(r"(?<!^)[aeiouwy]|^[aeiou]")
_REPEATED = re.compile(r"(.)\1+")
_ARABIC = re.compile(r"[\u0600-\u06ff]")


def key(word: str) -> str:
    """The consonants of ``word`` (in any script) as both scripts write them: ``"Mbappé"`` → ``"mb"``."""
    latin = anyascii(unicodedata.normalize("NFC", word)).lower()
    for digraph, sound in _DIGRAPHS:
        latin = latin.replace(digraph, sound)
    latin = _NOT_LETTERS.sub("", latin.translate(_CONSONANTS))
    return _REPEATED.sub(r"\1", _VOWELS.sub("", latin))


def keys(word: str) -> set[str]:
    """The keys ``word`` may stand for as a name: its own and, for an Arabic word, its own without each
    prefix it may carry; none for a word too short to be read as a name."""
    if len(word) < MIN_LETTERS:
        return set()
    forms = [word]
    if _ARABIC.search(word):
        forms += [word[len(p) :] for p in ARABIC_PREFIXES if word.startswith(p) and len(word) - len(p) >= 3]
    return {found for form in forms if len(found := key(form)) >= MIN_KEY}


def is_latin(word: str) -> bool:
    """Whether ``word``'s letters are all Latin ones (accented or not)."""
    return all(not char.isalpha() or "LATIN" in unicodedata.name(char, "") for char in word)
