"""A question's language, asked of lingua's trigrams first and of its full models only when needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index import language
from index.language import LanguageDetector
from index.lexical import proper_nouns

REPOSITORY = Path(__file__).resolve().parents[2]
DATA = REPOSITORY / "tests" / "data"
ARTICLES = [*sorted((REPOSITORY / "seeds").glob("*.txt")), *sorted((DATA / "multilingual").glob("*.txt"))]
QUESTION_FILES = [
    DATA / "seed_questions.jsonl",
    *sorted((DATA / "multilingual").glob("*.jsonl")),
]


def dev_questions() -> list[str]:
    return [
        row["question"]
        for path in QUESTION_FILES
        for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        if row.get("split") == "dev"
    ]


class FullModelsOnly(LanguageDetector):
    """The detector as it was before the trigrams were asked first: every question to the full models."""

    def question_language(self, question: str, names=()) -> str:  # type: ignore[no-untyped-def]
        quick, language.QUICK_ENGLISH = language.QUICK_ENGLISH, 2.0  # no confidence reaches it
        try:
            return super().question_language(question, names)
        finally:
            language.QUICK_ENGLISH = quick


def test_an_english_question_is_told_without_loading_the_full_models() -> None:
    detector = LanguageDetector()

    assert detector.question_language("What did Mbappe say to Hakimi after the match?") == "en"
    assert detector._lingua is None  # the 2 s a cold `matchbot ask` no longer spends

    assert detector.question_language("qui a marqué le premier but") == "fr"
    assert detector._lingua is not None


def test_asking_the_trigrams_first_changes_no_dev_questions_language() -> None:
    """The cut was chosen on these questions: at it, the trigrams alone are only trusted where the full
    models agree."""
    questions = dev_questions()
    assert len(questions) > 300
    names = proper_nouns([path.read_text(encoding="utf-8") for path in ARTICLES])  # as the retriever does
    first, full = LanguageDetector(), FullModelsOnly()

    changed = [q for q in questions if first.question_language(q, names) != full.question_language(q, names)]

    assert changed == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("qu'a dit regragui après le match", "fr"),
        ("¿quién marcó el segundo gol?", "es"),
        ("was hat espn getwittert", "de"),  # English to the trigrams alone (0.999), but "hat" is German
    ],
)
def test_a_short_question_in_another_language_still_goes_to_the_full_models(question, expected) -> None:
    assert LanguageDetector().question_language(question) == expected


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("ben jacobs tweet", {"ben", "jacobs"}),  # "tweet" alone is Dutch to lingua (0.50)
        ("shirt swap", set()),  # lingua: English 0.26, Dutch 0.21
        ("is achraf morocco's main man", {"achraf"}),  # one small word of German's ("man") is not enough
    ],
)
def test_a_question_of_everyday_english_words_is_english(question: str, names: set[str]) -> None:
    assert LanguageDetector().question_language(question, names) == "en"


def test_a_question_with_other_languages_small_words_is_not_english_though_lingua_is_unsure() -> None:
    # lingua's best (French 0.22, Italian 0.21, Spanish 0.20) is below its confidence; "que", "el" and
    # "de" make it another language's question all the same, read by the multilingual encoder
    assert LanguageDetector().question_language("que dice el tuit de espn fc", {"espn", "fc"}) != "en"
