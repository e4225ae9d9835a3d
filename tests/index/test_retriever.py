"""Question → passages: validation, paging, near-duplicates, the JSON shape, and declining with passages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index import first_stage as first_stage_module
from index.articles import Article
from index.errors import QuestionError
from index.evaluation import baseline
from index.lexical import LexicalIndex
from index.pipeline import Pipeline
from index.retriever import MAX_QUESTION_CHARS, Retriever, check_question
from index.store import Store
from tests.index.test_ann import reports
from tests.index.test_store import UnevenEmbedder

CONSOLED = "Mbappe consoled Hakimi on the pitch after the final whistle."
ARTICLES = [
    Article(
        id="semi",
        title="Semi-final",
        date="2022-12-15",
        text=(
            "France beat Morocco in the semi-final. " + CONSOLED + " The two are PSG teammates.\n\n"
            "Regragui said his players made Morocco proud. The fans sang all night."
        ),
    ),
    Article(
        id="reaction",
        title="Reaction",
        text=(
            "Hakimi was in tears at the end. " + CONSOLED.upper().replace(".", "!") + "\n\n"
            "Mbappe then sat with Hakimi in the tunnel. Hakimi thanked Mbappe for the kind words."
        ),
    ),
    Article(
        id="final",
        title="Final",
        text="Argentina beat France on penalties in the final. Messi lifted the trophy.",
    ),
]


@pytest.fixture(scope="module")
def retriever(make_embedder) -> Retriever:
    embedder = make_embedder()
    store, _ = Store.build(ARTICLES, embedder)
    return Retriever(store, Pipeline(embedder))


@pytest.mark.parametrize("question", ["", " ", "\n\t  \n"])
def test_an_empty_or_blank_question_is_refused_with_a_clear_message(
    retriever: Retriever, question: str
) -> None:
    with pytest.raises(QuestionError, match="The question is empty"):
        retriever.search(question)


def test_a_question_over_1000_characters_is_refused_saying_how_long_it_is(retriever: Retriever) -> None:
    question = "why " * 250 + "?"  # 1,001 characters

    with pytest.raises(QuestionError) as error:
        retriever.search(question)

    message = str(error.value)
    assert "1,001 characters" in message
    assert "1,000" in message
    assert "\n" not in message


def test_a_question_of_exactly_1000_characters_is_asked(retriever: Retriever) -> None:
    question = ("Mbappe " * 200)[: MAX_QUESTION_CHARS - 1] + "?"

    assert len(check_question(question)) == MAX_QUESTION_CHARS
    assert retriever.search(question).passages


def test_one_bad_question_in_a_batch_refuses_the_batch(retriever: Retriever) -> None:
    with pytest.raises(QuestionError, match="empty"):
        retriever.search_many(["who won the semi-final", "  "])


def test_the_question_is_given_back_with_its_whitespace_tidied(retriever: Retriever) -> None:
    assert retriever.search("  who   consoled\nHakimi? ").question == "who consoled Hakimi?"


def test_k_passages_are_returned_best_first(retriever: Retriever) -> None:
    answer = retriever.search("who consoled Hakimi on the pitch", k=3)

    assert len(answer.passages) == 3
    scores = [passage.score for passage in answer.passages]
    assert scores == sorted(scores, reverse=True)
    assert len(retriever.search("who consoled Hakimi on the pitch", k=1).passages) == 1


def test_scores_are_cosines_whatever_length_the_embedder_gives_a_question(
    retriever: Retriever, make_embedder
) -> None:
    uneven = Retriever(retriever.store, Pipeline(UnevenEmbedder(make_embedder())))
    for question in ("who consoled hakimi", "who won the final", "what did regragui say"):
        expected, found = retriever.search(question, 3), uneven.search(question, 3)
        assert [p.text for p in found.passages] == [p.text for p in expected.passages]
        assert found.confidence == pytest.approx(expected.confidence, abs=1e-5)


def test_the_same_sentence_in_two_articles_is_quoted_once(retriever: Retriever) -> None:
    answer = retriever.search("Mbappe consoled Hakimi on the pitch after the final whistle", k=5)

    texts = [passage.text.casefold().rstrip(".!") for passage in answer.passages]
    assert texts.count(CONSOLED.casefold().rstrip(".")) == 1
    assert len(answer.passages) == 5  # the duplicate's place goes to another passage


def test_offset_returns_the_next_passages(retriever: Retriever) -> None:
    question = "what did Mbappe and Hakimi do"
    first, second = (retriever.search(question, k=2, offset=offset) for offset in (0, 2))
    both = retriever.search(question, k=4)

    assert [p.text for p in first.passages + second.passages] == [p.text for p in both.passages]
    assert not {p.text for p in first.passages} & {p.text for p in second.passages}
    assert retriever.search(question, k=3, offset=100).passages == []


def test_a_passage_brings_its_neighbours_from_its_own_article_only(retriever: Retriever) -> None:
    [passage] = retriever.search("The two are PSG teammates", k=1).passages
    [first] = retriever.search("France beat Morocco in the semi-final", k=1).passages
    [last] = retriever.search("Messi lifted the trophy", k=1).passages

    assert passage.text == "The two are PSG teammates."
    assert passage.before == CONSOLED
    assert passage.context.startswith(CONSOLED + " The two are PSG teammates.")
    assert (first.text, first.before) == ("France beat Morocco in the semi-final.", "")
    assert first.context.startswith("France beat Morocco in the semi-final. " + CONSOLED)
    assert (last.article, last.after) == ("final", "")
    assert last.context == "Argentina beat France on penalties in the final. Messi lifted the trophy."
    # Numbered, so that passages next to each other can be quoted together (index/quotes.py).
    assert passage.numbered == [
        (2, CONSOLED),
        (3, "The two are PSG teammates."),
        (4, "Regragui said his players made Morocco proud."),
    ]
    assert (first.before_sentence, first.after_sentence) == (None, 2)
    assert [number for number, _ in last.numbered] == [1, 2]


def test_the_answer_json_has_what_the_cli_and_bot_print(retriever: Retriever) -> None:
    answer = retriever.search("who consoled Hakimi", k=2)

    data = json.loads(json.dumps(answer.to_json()))

    assert {"question", "answered", "passages"} <= data.keys()
    assert (data["question"], type(data["answered"]), len(data["passages"])) == (
        "who consoled Hakimi",
        bool,
        2,
    )
    for passage, original in zip(data["passages"], answer.passages, strict=True):
        assert {"text", "context", "article", "title", "date", "sentence", "score"} <= passage.keys()
        assert passage["text"] == original.text
        assert original.text in passage["context"]
        assert passage["article"] in {"semi", "reaction", "final"}
        assert (
            passage["title"]
            == {"semi": "Semi-final", "reaction": "Reaction", "final": "Final"}[passage["article"]]
        )
        assert passage["date"] == ("2022-12-15" if passage["article"] == "semi" else None)
        assert isinstance(passage["sentence"], int)
        assert passage["sentence"] >= 1
        assert isinstance(passage["score"], float)


def test_a_declined_answer_still_carries_the_nearest_passages(retriever: Retriever) -> None:
    declined = retriever.search("who consoled Hakimi", k=3, threshold=1.01)
    answered = retriever.search("who consoled Hakimi", k=3, threshold=-1.0)

    assert not declined.answered
    assert len(declined.passages) == 3
    assert [p.text for p in declined.passages] == [p.text for p in answered.passages]
    assert answered.answered
    assert declined.to_json()["answered"] is False


@pytest.mark.model
def test_an_off_topic_question_is_declined_but_still_shows_passages(seed_library, served) -> None:
    answer = seed_library.retriever.with_pipeline(served).search("what is the capital of australia", k=3)

    assert not answer.answered
    assert len(answer.passages) == 3


@pytest.mark.model
def test_a_question_about_the_match_is_answered(seed_library) -> None:
    answer = seed_library.retriever.search("what did ESPN tweet about Morocco", k=3)

    assert answer.answered
    assert any("won our hearts" in passage.text for passage in answer.passages)


def test_a_quotation_is_found_by_its_speaker_named_only_in_the_paragraph_before(make_embedder) -> None:
    embedder = make_embedder()
    text = '"We were honest," Regragui said.\n\n"I am proud of them."\n\nThe fans were proud too.'
    store, _ = Store.build([Article(id="a", title="Coach", text=text)], embedder)

    answer = baseline(Retriever(store, Pipeline(embedder)), "bm25").search("was regragui proud", k=1)

    assert answer.passages[0].text == '"I am proud of them."'


def test_a_given_name_is_searched_with_the_surname_the_report_uses(make_embedder) -> None:
    embedder = make_embedder()
    text = "Walid Regragui's side lost to France.\n\nRegragui said they had shown their values."
    store, _ = Store.build([Article(id="a", title="Semi-final", text=text)], embedder)
    retriever = Retriever(store, Pipeline(embedder))

    assert retriever.prepare("What did Walid say?") == "what did walid regragui say?"


@pytest.mark.model
def test_a_question_calling_the_coach_by_his_given_name_gets_his_words(seed_library) -> None:
    answer = seed_library.retriever.search("what did walid say after the game", k=3)

    assert answer.answered
    assert answer.passages[0].text.endswith("Regragui said.")


def test_bm25_read_from_postings_gives_every_text_the_score_of_a_full_scan() -> None:
    lexical = LexicalIndex([text for article in reports(6) for text in article.text.split(". ")])

    for question in ("who scored twice in match 3", "player 7 after 21 minutes", "penalty shoot-out"):
        rows, scores = lexical.matches(question)
        full = lexical.scores(question)
        assert np.array_equal(rows, np.flatnonzero(full))
        np.testing.assert_allclose(scores, full[rows], rtol=1e-6)


def test_at_scale_bm25_is_queried_and_the_ranking_is_unchanged(make_embedder, monkeypatch) -> None:
    store, _ = Store.build(reports(12), make_embedder())
    scanning = Retriever(store, Pipeline(make_embedder()))
    questions = ["who scored twice in match 3", "player 7 after 21 minutes", "match 11 player 30"]
    before = [scanning.search(question, k=10).passages for question in questions]
    monkeypatch.setattr(first_stage_module, "LEXICAL_SCAN_UP_TO", 0)
    monkeypatch.setattr(LexicalIndex, "scores", None)  # at scale nothing scores every passage

    after = [scanning.search(question, k=10).passages for question in questions]

    for old, new in zip(before, after, strict=True):
        assert [(p.article, p.sentence) for p in new] == [(p.article, p.sentence) for p in old]
        np.testing.assert_allclose([p.score for p in new], [p.score for p in old], rtol=1e-5)
