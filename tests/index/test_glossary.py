"""The glossary (``index.glossary``): football's words across the languages members ask in."""

from __future__ import annotations

import pytest

from index.glossary import ENTRIES, GLOSSARY
from index.lexical import fold

LANGUAGES = {"en", "fr", "es", "pt", "de", "it", "nl", "tr", "ar"}


def test_a_members_verb_is_read_as_the_reports_words_first() -> None:
    assert GLOSSARY.translate("غلبت", "ar", "en")[:2] == ("beat", "won")  # "beat", in a member's Arabic
    assert GLOSSARY.translate("entraîne", "fr", "en")[:2] == ("coach", "manager")


def test_a_word_is_found_with_or_without_its_accents_and_in_any_case() -> None:
    assert GLOSSARY.translate("Éliminé", "fr", "en") == GLOSSARY.translate("elimine", "fr", "en")
    assert GLOSSARY.translate("Roi", "fr", "en")[0] == "king"


@pytest.mark.parametrize(
    ("word", "meaning"),
    [("والمغرب", "morocco"), ("للملك", "king"), ("فالانستغرام", "instagram"), ("لحكيمي", None)],
)
def test_an_arabic_word_is_found_behind_the_particles_written_onto_it(word: str, meaning: str | None) -> None:
    found = GLOSSARY.translate(word, "ar", "en")
    assert (found[0] if found else None) == meaning


def test_a_word_of_two_meanings_reads_as_both() -> None:
    """ "Trikottausch" is a shirt swap: the gloss's first two words are each meaning's first."""
    assert GLOSSARY.translate("Trikottausch", "de", "en")[:2] == ("shirts", "exchanging")


def test_it_reads_into_any_of_the_articles_languages_and_knows_nothing_of_other_words() -> None:
    assert GLOSSARY.translate("coach", "en", "fr")[:2] == ("entraineur", "selectionneur")
    assert GLOSSARY.translate("mbappe", "fr", "en") == ()
    assert GLOSSARY.translate("battu", "fr", "xx") == ()
    assert not GLOSSARY.knows("mbappe", "fr") and GLOSSARY.knows("quand", "fr")


def test_every_entry_is_written_as_the_lookup_reads_it() -> None:
    """Every meaning has the English reports' words, in known languages, each word once as the lookup
    folds it."""
    for entry in ENTRIES:
        assert "en" in entry and set(entry) <= LANGUAGES, entry
        for language, words in entry.items():
            folded = [fold(word) for word in words.split()]
            assert folded and len(set(folded)) == len(folded), (language, words)
