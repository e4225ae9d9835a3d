"""Word translation (``index.translation``): a question's words looked up among the articles' words in
other languages, by a model-free stand-in of the multilingual encoder and by the real one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from index import translation
from index.retriever import Retriever
from index.translation import MIN_COSINE, WordTranslator

# The stand-in's word space: each word is a unit vector; translations share one.
MEANINGS = {"valeurs": 0, "values": 0, "triste": 1, "sad": 1, "upset": 1, "tunnel": 2, "roi": 3}


class WordSpace:
    """An encoder that places the words of ``MEANINGS`` on their meaning's axis and any other text
    on an axis of its own; "roi" (king) is near "values", below the cosine a translation needs."""

    name = "word-space"
    dimension = 16

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], **_: object) -> np.ndarray:
        self.calls.append(list(texts))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            axis = MEANINGS.get(text, 4 + hash(text) % (self.dimension - 4))
            vectors[row, axis] = 1.0
            if text == "roi":
                vectors[row, 0] = MIN_COSINE - 0.1
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def articles(*texts: tuple[str, str]) -> SimpleNamespace:
    """A stand-in of an index: its chunks' texts, each with its language."""
    chunks = [SimpleNamespace(text=text, language=language) for language, text in texts]
    languages = np.array([language for language, _ in texts], dtype=object)
    return SimpleNamespace(chunks=chunks, row_languages=lambda: languages)


def test_a_questions_words_are_found_among_the_articles_words_in_another_language() -> None:
    store = articles(("en", "He showed the values of the team."), ("en", "Hakimi was sad and upset."))
    translator = WordTranslator(store, WordSpace())
    assert translator.translate_many(["les valeurs", "était-il triste ?"], ["fr", "fr"]) == [
        "values",
        "sad upset",
    ]


def test_a_word_too_far_from_every_article_word_is_not_translated() -> None:
    store = articles(("en", "He showed the values of the team."))
    assert WordTranslator(store, WordSpace()).translate_many(["le roi"], ["fr"]) == [""]


def test_a_question_in_the_articles_own_language_is_left_as_asked_and_nothing_is_encoded() -> None:
    space = WordSpace()
    store = articles(("en", "He was sad in the tunnel."))
    assert WordTranslator(store, space).translate_many(["was he sad?", "tunnel"], ["en", "en"]) == ["", ""]
    assert space.calls == []


def test_only_the_articles_in_other_languages_are_searched_and_stop_words_are_not_looked_up() -> None:
    space = WordSpace()
    store = articles(("fr", "Il était triste."), ("en", "He was sad."))
    translator = WordTranslator(store, space)
    assert translator.translate_many(["il était triste"], ["fr"]) == ["sad"]  # not "triste" itself
    asked = space.calls[0]  # the question's words, before the articles'
    assert asked == ["triste"]  # "il" and "était" are French stop words


def test_each_languages_words_are_encoded_once_for_every_question_after() -> None:
    space = WordSpace()
    translator = WordTranslator(articles(("en", "He was sad.")), space)
    translator.translate_many(["triste"], ["fr"])
    translator.translate_many(["triste", "valeurs"], ["fr", "fr"])
    encoded = [text for call in space.calls for text in call]
    assert encoded.count("sad") == 1  # the article's word, once
    assert len(space.calls) == 3  # the article's words, then each batch of questions' words once


@pytest.fixture(scope="module")
def translating(seed_library, served) -> tuple[Retriever, Retriever]:
    off = seed_library.retriever.with_pipeline(served)
    return off, off.with_pipeline(replace(served, translate_words=True))


@pytest.mark.model
def test_a_french_question_finds_the_english_words_it_asks_about(
    translating: tuple[Retriever, Retriever],
) -> None:
    """ "Who wrote 'don't be sad'" in French: "écrit" is "wrote", "triste" is "sad". With its words
    translated the tweet is quoted first with confidence; without them the bot was unsure."""
    off, on = translating
    question = "qui a écrit ne sois pas triste"
    assert on._translator is not None
    assert {"wrote", "sad"} <= set(on._translator.translate_many([question], ["fr"])[0].split())
    answer = on.search(question)
    assert answer.answered and "Don't be sad bro" in answer.passages[0].text
    assert answer.confidence > off.search(question).confidence + 0.2


@pytest.mark.model
def test_english_questions_about_english_articles_are_answered_as_without_translation(
    translating: tuple[Retriever, Retriever],
) -> None:
    off, on = translating
    questions = ["was hakimi upset?", "who consoled him", "what was the score", "where was mbappe sitting"]
    assert [a.to_json() for a in on.search_many(questions)] == [
        a.to_json() for a in off.search_many(questions)
    ]


def test_a_large_index_is_read_in_a_sample_of_passages_and_keeps_its_most_frequent_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(translation, "MAX_ROWS", 3)
    monkeypatch.setattr(translation, "MAX_WORDS", 1)
    store = articles(*[("en", "He was sad.") for _ in range(9)], ("en", "The values."))
    read: list[int] = []
    chunks = store.chunks
    store.chunks = ReadCounter(chunks, read)
    space = WordSpace()
    assert WordTranslator(store, space).translate_many(["triste valeurs"], ["fr"]) == ["sad"]
    assert read == [0, 4, 9]  # the first, the middle and the last passage
    assert space.calls[-1] == ["sad"]  # "values" is rarer: not kept


class ReadCounter(list):
    """A list of chunks that notes which were read."""

    def __init__(self, chunks: list, read: list[int]) -> None:
        super().__init__(chunks)
        self.read = read

    def __getitem__(self, row: int) -> object:
        self.read.append(row)
        return super().__getitem__(row)
