"""Scoring retrieval: what counts as a hit, reading question files, and the figures on known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.articles import Article
from index.errors import MatchbotError
from index.evaluation import (
    BASELINES,
    EvalQuestion,
    SecondStageGrid,
    _weight_grid,
    answer_all,
    baseline,
    calibrate,
    evaluate,
    first_stage_grid,
    is_hit,
    read_questions,
    score,
    second_stage_grid,
    tune,
)
from index.first_stage import COLUMNS
from index.pipeline import Pipeline
from index.retriever import Answer, Passage, Retriever
from index.store import Store

TUNNEL = "He was seen sitting on the floor of the tunnel greeting other players from the Moroccan team."


def test_a_passage_containing_the_expected_words_is_a_hit() -> None:
    assert is_hit(TUNNEL, ["sitting on the floor of the tunnel"])


def test_a_passage_contained_in_the_expected_text_is_a_hit() -> None:
    assert is_hit("He was seen sitting on the floor.", ["Mbappe? He was seen sitting on the floor. Yes."])


def test_hits_ignore_case_and_whitespace() -> None:
    assert is_hit(TUNNEL, ["SITTING on the\n  floor   OF the tunnel"])
    assert is_hit("He  was seen\tsitting", ["he was seen sitting on the floor"])


def test_other_text_is_no_hit() -> None:
    assert not is_hit(TUNNEL, ["standing in the tunnel", "Don't be sad bro"])
    assert not is_hit(TUNNEL, [])


def test_an_empty_expected_string_is_no_hit_for_every_passage() -> None:
    assert not is_hit(TUNNEL, ["", "   "])
    assert not is_hit("", ["sitting on the floor"])


def write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


def test_a_question_file_holds_answerable_and_off_topic_questions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"question": "where did mbappe sit", "expect": ["floor of the tunnel"], "split": "dev"},
        "",
        {"question": "capital of australia", "decline": True, "split": "test"},
    )

    questions = read_questions(path)

    assert questions == [
        EvalQuestion("where did mbappe sit", ("floor of the tunnel",), "dev"),
        EvalQuestion("capital of australia", (), "test"),
    ]
    assert [question.off_topic for question in questions] == [False, True]
    assert read_questions(path, split="test") == questions[1:]


def test_the_seed_question_file_reads() -> None:
    path = Path(__file__).resolve().parents[1] / "data" / "seed_questions.jsonl"

    questions = read_questions(path)

    assert len(questions) > 50
    assert any(question.off_topic for question in questions)
    assert {question.split for question in questions} == {"dev", "test"}


@pytest.mark.parametrize(
    ("bad_line", "why"),
    [
        ("{not json", "Expecting"),
        ('["a list"]', "question record"),
        (json.dumps({"expect": ["floor"]}), "question"),
        (json.dumps({"question": "where did mbappe sit"}), "needs"),
        (json.dumps({"question": "where did mbappe sit", "expect": []}), "needs"),
        (json.dumps({"question": "where did mbappe sit", "expect": [" "]}), "needs"),
        (json.dumps({"question": "where did mbappe sit", "expect": "floor of the tunnel"}), "list"),
        (json.dumps({"question": "  ", "expect": ["floor"]}), "empty"),
        (json.dumps({"question": "capital of australia", "decline": "yes"}), "needs"),
    ],
)
def test_a_malformed_line_is_an_error_naming_the_line(tmp_path: Path, bad_line: str, why: str) -> None:
    path = write(tmp_path, {"question": "where did mbappe sit", "expect": ["floor"]}, bad_line)

    with pytest.raises(MatchbotError) as error:
        read_questions(path)

    message = str(error.value)
    assert f"{path} line 2" in message
    assert why in message
    assert "\n" not in message


def test_a_missing_question_file_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(MatchbotError, match=r"nothing\.jsonl does not exist"):
        read_questions(tmp_path / "nothing.jsonl")


def test_a_question_file_that_is_not_utf8_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_bytes('{"question": "où", "decline": true}'.encode("latin-1"))

    with pytest.raises(MatchbotError, match=r"Cannot read the question file .*questions\.jsonl"):
        read_questions(path)


def test_a_file_or_split_without_questions_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MatchbotError, match="holds no questions"):
        read_questions(write(tmp_path, ""))
    path = write(tmp_path, {"question": "q", "decline": True, "split": "dev"})
    with pytest.raises(MatchbotError, match="holds no questions in split 'test'"):
        read_questions(path, split="test")


def passage(text: str) -> Passage:
    return Passage(
        text=text, before="", after="", article="a", title="A", date=None, url=None, sentence=1, score=0.5
    )


def answer(question: str, *texts: str, answered: bool = True) -> Answer:
    return Answer(question, answered, 0.5, 0.35, [passage(text) for text in texts])


QUESTIONS = [
    EvalQuestion("first", ("right",)),
    EvalQuestion("third", ("right",)),
    EvalQuestion("fifth", ("right",)),
    EvalQuestion("missed", ("right",)),
    EvalQuestion("off topic, declined"),
    EvalQuestion("off topic, answered"),
]
ANSWERS = [
    answer("first", "the right one", "wrong", "wrong"),
    answer("third", "wrong", "wrong", "RIGHT", "right"),
    answer("fifth", "wrong", "wrong", "wrong", "wrong", "right"),
    answer("missed", "wrong", answered=False),
    answer("off topic, declined", "wrong", answered=False),
    answer("off topic, answered", "wrong"),
]


def test_scores_on_known_answers() -> None:
    scores = score("hand-made", QUESTIONS, ANSWERS)

    assert (scores.system, scores.answerable, scores.off_topic) == ("hand-made", 4, 2)
    assert scores.hit_at_1 == pytest.approx(1 / 4)
    assert scores.hit_at_3 == pytest.approx(2 / 4)
    assert scores.mrr_at_k == pytest.approx((1 + 1 / 3 + 1 / 5) / 4)
    assert scores.declined_off_topic == pytest.approx(1 / 2)
    assert scores.declined_answerable == pytest.approx(1 / 4)
    assert json.loads(json.dumps(scores.to_json()))["mrr_at_k"] == pytest.approx(scores.mrr_at_k)


def test_a_system_that_never_declines_has_no_decline_figures() -> None:
    scores = score("bm25", QUESTIONS, ANSWERS, declines=False)

    assert (scores.declined_off_topic, scores.declined_answerable) == (None, None)
    assert scores.hit_at_3 == pytest.approx(2 / 4)


def test_a_hit_below_the_tenth_passage_does_not_count() -> None:
    late = answer("late", *(["wrong"] * 10 + ["right"]))

    scores = score("x", [EvalQuestion("late", ("right",))], [late])

    assert (scores.hit_at_1, scores.hit_at_3, scores.mrr_at_k) == (0.0, 0.0, 0.0)


def test_mrr_counts_only_hits_within_the_depth_asked_for() -> None:
    scores = score("x", QUESTIONS, ANSWERS, k=3)

    assert scores.k == 3
    assert scores.mrr_at_k == pytest.approx((1 + 1 / 3) / 4)  # the hit at rank 5 is past the depth
    assert scores.hit_at_3 == pytest.approx(2 / 4)


class CannedRetriever:
    """Answers each question with the hand-made answer of the same question."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def search_many(self, questions: list[str], k: int) -> list[Answer]:
        self.batches.append(questions)
        by_question = {canned.question: canned for canned in ANSWERS}
        return [by_question[question] for question in questions]


def test_questions_are_asked_in_batches_with_progress() -> None:
    retriever = CannedRetriever()
    progress: list[tuple[int, int]] = []

    answers = answer_all(retriever, QUESTIONS, k=3, batch=4, progress=lambda *step: progress.append(step))

    assert answers == ANSWERS
    assert [len(batch) for batch in retriever.batches] == [4, 2]
    assert progress == [(4, 6), (6, 6)]


def test_evaluate_scores_like_score() -> None:
    assert evaluate(CannedRetriever(), QUESTIONS, system="canned") == score("canned", QUESTIONS, ANSWERS)


def confident(question: EvalQuestion, confidence: float) -> Answer:
    return Answer(question.question, True, confidence, 0.5, [])


def test_calibration_cuts_midway_where_off_topic_and_answerable_separate_best() -> None:
    questions = [
        EvalQuestion("off 1"),
        EvalQuestion("off 2"),
        EvalQuestion("right 1", ("x",)),
        EvalQuestion("off 3"),
        EvalQuestion("off 4"),
        EvalQuestion("right 2", ("x",)),
        EvalQuestion("right 3", ("x",)),
    ]
    confidences = [0.1, 0.2, 0.3, 0.35, 0.45, 0.55, 0.7]

    found = calibrate(questions, [confident(q, c) for q, c in zip(questions, confidences, strict=True)])

    # Below 0.5 all four off-topic are declined and one answerable of three: J = 1 - 1/3, against
    # J = 2/4 - 0 for the cut below "right 1".
    assert found.threshold == pytest.approx(0.5)
    assert (found.declined_off_topic, found.declined_answerable) == (1.0, pytest.approx(1 / 3))
    assert (found.below, found.above) == ("off 4", "right 2")


def test_calibration_can_keep_wrong_declines_under_a_limit() -> None:
    questions = [
        EvalQuestion("off 1"),
        EvalQuestion("right 1", ("x",)),
        EvalQuestion("off 2"),
        EvalQuestion("off 3"),
        EvalQuestion("right 2", ("x",)),
        EvalQuestion("right 3", ("x",)),
    ]
    answers = [confident(q, c) for q, c in zip(questions, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], strict=True)]

    assert calibrate(questions, answers).threshold == pytest.approx(0.45)  # Youden: all off-topic, 1 wrong
    limited = calibrate(questions, answers, max_wrong=0.0)
    assert limited.threshold == pytest.approx(0.15)  # only "off 1" can go without declining "right 1"
    assert (limited.declined_off_topic, limited.declined_answerable) == (pytest.approx(1 / 3), 0.0)


def test_when_any_decline_would_be_wrong_too_often_the_cut_declines_nothing() -> None:
    questions = [EvalQuestion("right 1", ("x",)), EvalQuestion("off 1"), EvalQuestion("right 2", ("x",))]
    answers = [confident(q, c) for q, c in zip(questions, [0.2, 0.3, 0.6], strict=True)]

    found = calibrate(questions, answers, max_wrong=0.03)  # declining "right 1" would be 50% wrong

    assert found.threshold < 0.2 and (found.declined_off_topic, found.declined_answerable) == (0.0, 0.0)
    assert (found.below, found.above) == ("", "right 1")


def test_calibration_says_how_well_the_confidence_separates_the_two_kinds_of_question() -> None:
    questions = [
        EvalQuestion("off 1"),
        EvalQuestion("right 1", ("x",)),
        EvalQuestion("off 2"),
        EvalQuestion("right 2", ("x",)),
        EvalQuestion("right 3", ("x",)),
    ]
    apart = [confident(q, c) for q, c in zip(questions, [0.1, 0.6, 0.2, 0.7, 0.8], strict=True)]
    # "off 2" above "right 1": of the six (answerable, off-topic) pairs, five are ordered right
    crossed = [confident(q, c) for q, c in zip(questions, [0.1, 0.3, 0.4, 0.7, 0.8], strict=True)]
    tied = [confident(q, 0.5) for q in questions]

    assert calibrate(questions, apart).separation == 1.0
    assert calibrate(questions, crossed).separation == pytest.approx(5 / 6)
    assert calibrate(questions, tied).separation == 0.5  # a confidence that tells nothing


def test_calibration_needs_both_kinds_of_question() -> None:
    answerable = [EvalQuestion("right", ("x",)), EvalQuestion("also right", ("x",))]
    with pytest.raises(MatchbotError, match="both answerable and off-topic"):
        calibrate(answerable, [confident(q, 0.5) for q in answerable])


def test_the_weight_grid_holds_every_weighting_of_the_step_that_sums_to_one() -> None:
    grid = _weight_grid(5, 0.05)

    assert grid.shape == (10_626, 5)  # C(24, 4): 20 steps shared among 5 weights
    assert np.allclose(grid.sum(axis=1), 1) and grid.min() >= 0
    assert len({tuple(row) for row in grid.round(3).tolist()}) == len(grid)


QUESTIONS_ON_THREE = [
    EvalQuestion("who consoled hakimi", ("Mbappe consoled Hakimi.",)),
    EvalQuestion("the lights", ("The stadium lights went out.",)),
    EvalQuestion("what did the coach do", ("Regragui praised his players.",)),
    EvalQuestion("did the players get praise", ("Regragui praised his players.",)),
]
THREE = "Mbappe consoled Hakimi. The stadium lights went out. Regragui praised his players. Fans sang."


class WordsInCommon:
    """A later stage with no model: the share of the question's words a passage holds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.read: list[str] = []

    def score_many(self, questions, passages):  # type: ignore[no-untyped-def]
        found = []
        for question, chunks in zip(questions, passages, strict=True):
            asked = set(question.split())
            self.read += [chunk.text for chunk in chunks]
            found.append(
                {self.name: np.array([len(asked & set(c.text.lower().split())) / len(asked) for c in chunks])}
            )
        return found


def test_tuning_the_first_stage_scores_each_weighting_as_evaluating_it_would(make_embedder) -> None:
    embedder = make_embedder()
    store, _ = Store.build([Article(id="a", title="Semi", text=THREE)], embedder)
    retriever = Retriever(store, Pipeline(embedder))
    in_use = retriever.fusion.with_weights(dict(zip(COLUMNS, (0.3333, 0.1667, 0.2, 0.1, 0.2), strict=True)))
    retriever = retriever.with_pipeline(retriever.pipeline.with_fusion(in_use))  # off the grid

    results = tune(retriever, QUESTIONS_ON_THREE, first_stage_grid(retriever.fusion, step=0.5))

    assert len(results) == 15 + 1  # the grid of 0.5 steps, and the weighting in use
    for tuned in results:
        system = retriever.with_pipeline(retriever.pipeline.with_fusion(tuned.fusion))
        measured = evaluate(system, QUESTIONS_ON_THREE, declines=False)
        assert (tuned.mrr, tuned.hit_at_1) == (measured.mrr_at_k, measured.hit_at_1)
    names = {name: baseline(retriever, name).fusion.weights for name in BASELINES}
    assert names == {"bm25": {"lexical": 1.0}, "dense": {"sentence": 1.0}}


def test_tuning_the_later_stages_reproduces_what_evaluating_the_tuned_setting_gives(make_embedder) -> None:
    embedder = make_embedder()
    store, _ = Store.build([Article(id="a", title="Semi", text=THREE)], embedder)
    stages = (WordsInCommon("late"), WordsInCommon("cross"))
    retriever = Retriever(store, Pipeline(embedder, stages))
    grid = SecondStageGrid(depths=(1, 3), late=(0.0, 1.0), cross=(0.0, 2.0), cross_depths=(1, 2))

    results = tune(retriever, QUESTIONS_ON_THREE, second_stage_grid(retriever.fusion, grid))

    assert len(results) == 2 * 2 * 2 * 2 + 1
    assert [r.mrr for r in results] == sorted((r.mrr for r in results), reverse=True)
    for tuned in results:
        system = retriever.with_pipeline(retriever.pipeline.with_fusion(tuned.fusion))
        measured = evaluate(system, QUESTIONS_ON_THREE, declines=False)
        assert (tuned.mrr, tuned.hit_at_1) == (measured.mrr_at_k, measured.hit_at_1)
