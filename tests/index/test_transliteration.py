"""A name in another script (``index.transliteration``): the keys both scripts' spellings share."""

from __future__ import annotations

import pytest

from index.transliteration import is_latin, key, keys


@pytest.mark.parametrize(
    ("latin", "other"),
    [
        ("Mbappé", "مبابي"),
        ("Hakimi", "حكيمي"),
        ("Hakimi", "لحكيمي"),  # "to Hakimi"
        ("Regragui", "الركراكي"),  # the article written onto the name
        ("Achraf", "أشرف"),
        ("Kylian", "كيليان"),
        ("Hernandez", "هيرنانديز"),
        ("Griezmann", "غريزمان"),
        ("Mbappe", "Мбаппе"),  # Cyrillic too
        ("Hakimi", "Хакими"),  # which writes an h as "kh"
        ("Al Khor", "الخور"),
    ],
)
def test_a_name_and_its_spelling_in_another_script_share_a_key(latin: str, other: str) -> None:
    assert key(latin) in keys(other)


@pytest.mark.parametrize(("one", "other"), [("Mbappe", "حكيمي"), ("Regragui", "كيليان"), ("Hakimi", "أشرف")])
def test_different_names_have_different_keys(one: str, other: str) -> None:
    assert not keys(one) & keys(other)


@pytest.mark.parametrize("word", ["من", "قطر", "ثيو", "qui"])
def test_a_word_under_four_letters_is_not_read_as_a_name(word: str) -> None:
    """The Arabic for "who", "من", would otherwise be Muani."""
    assert keys(word) == set()


def test_only_latin_letters_with_or_without_accents_are_latin() -> None:
    assert is_latin("mbappé") and is_latin("Straße") and is_latin("en-nesyri")
    assert not is_latin("مبابي") and not is_latin("Мбаппе")
