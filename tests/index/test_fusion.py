"""The fusion: named scores weighed into one ranking, missing scores left out, the cascade's order, and a
new score added as one column and one weight."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.articles import Article
from index.errors import MatchbotError
from index.fusion import FUSION_FILE, OTHER_LANGUAGE, Fusion, Linear, other_language
from index.pipeline import Pipeline
from index.retriever import Retriever
from index.scores import ScoreTable
from index.store import Store

FUSION = Fusion(
    weights={"a": 1.0, "b": 1.0, "late": 1.0, "cross": 2.0},
    stages=(("a", "b"), ("late",), ("cross",)),
    depths={"late": 3, "cross": 2},
    thresholds={"first": 0.4, "cross+late": 0.5},
)


def table(**columns: list[float]) -> ScoreTable:
    size = len(next(iter(columns.values())))
    return ScoreTable(
        np.arange(size), {name: np.array(values, dtype=float) for name, values in columns.items()}
    )


def test_the_fused_score_is_the_weighted_mean_of_the_scores_present() -> None:
    scores = table(a=[0.9, 0.2], b=[0.1, 0.6], late=[0.5, np.nan])
    assert FUSION.score(scores).tolist() == pytest.approx([(0.9 + 0.1 + 0.5) / 3, (0.2 + 0.6) / 2])


def test_a_missing_score_is_left_out_not_counted_as_zero() -> None:
    missing = table(a=[0.8], b=[np.nan])
    zero = table(a=[0.8], b=[0.0])
    assert FUSION.score(missing)[0] == pytest.approx(0.8)
    assert FUSION.score(zero)[0] == pytest.approx(0.4)


def test_a_score_with_no_weight_does_not_move_the_ranking() -> None:
    scores = table(a=[0.9, 0.2], b=[0.1, 0.6])
    scores.add("cross_logit", [-9.0, 9.0])
    assert FUSION.score(scores).tolist() == pytest.approx([0.5, 0.4])


def test_candidates_a_later_stage_read_come_first_and_scores_fall_in_order() -> None:
    scores = table(a=[0.9, 0.6, 0.5, 0.1], b=[0.9, 0.6, 0.5, 0.1])
    scores.add("late", [0.1, 0.8, 0.5], at=np.array([0, 1, 2]))
    scores.add("cross", [0.0, 1.0], at=np.array([1, 2]))  # read 1 and 2, much prefers 2
    order, final = FUSION.rank(scores)
    assert order.tolist() == [2, 1, 0, 3]
    # 2 and 1 were read by the cross-encoder; 0 only by late interaction; 3 by the first stage alone
    assert final[0] == pytest.approx((0.5 + 0.5 + 0.5 + 2 * 1.0) / 5)
    assert final.tolist() == sorted(final.tolist(), reverse=True)
    assert final[2] <= final[1]  # capped: 0's own fused score (0.63) is above 1's (0.4)


def test_scores_stay_between_0_and_1_so_a_threshold_can_cut_them() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        scores = table(a=rng.random(6).tolist(), b=rng.random(6).tolist())
        scores.add("late", rng.random(3), at=np.arange(3))
        scores.add("cross", rng.random(2), at=np.arange(2))
        _, final = FUSION.rank(scores)
        assert ((final >= 0) & (final <= 1)).all()


def test_the_threshold_is_the_one_calibrated_for_the_stages_in_use() -> None:
    assert FUSION.threshold([]) == 0.4
    assert FUSION.threshold(["late", "cross"]) == 0.5
    with pytest.raises(MatchbotError, match="MATCHBOT_THRESHOLD"):
        FUSION.threshold(["late"])


LEARNED = Fusion(
    weights={"sentence": 2.0, "use_sentence": 1.0, "late": 3.0},
    stages=(("sentence", "use_sentence"), ("late",)),
    kind="logistic",
    offsets={"late": -1.0},
    bias=-1.0,
    thresholds={"first": 0.5, "first" + OTHER_LANGUAGE: 0.8},
    declines={
        "first": Linear({"best:sentence": 4.0}, bias=-2.0),
        "first" + OTHER_LANGUAGE: Linear({"best:use_sentence": 10.0}, bias=-5.0),
        "late": Linear({"best:sentence": 1.0, "best:late": 2.0}, bias=-1.0),
    },
)


def test_a_logistic_fusion_adds_what_each_score_present_says_and_nothing_for_a_missing_one() -> None:
    scores = table(sentence=[0.5, 0.5], use_sentence=[0.2, 0.2])
    scores.add("late", [0.9], at=np.array([0]))  # only the first was read by late interaction
    logits = [-1.0 + 2.0 * 0.5 + 0.2 + 3.0 * 0.9 - 1.0, -1.0 + 2.0 * 0.5 + 0.2]
    assert LEARNED.score(scores).tolist() == pytest.approx([1 / (1 + np.exp(-x)) for x in logits])


def test_a_weight_for_another_languages_pairs_moves_them_and_leaves_english_pairs_alone() -> None:
    extra = replace(
        LEARNED,
        weights={**LEARNED.weights, "use_sentence" + OTHER_LANGUAGE: 4.0},
        offsets={**LEARNED.offsets, "use_sentence" + OTHER_LANGUAGE: -0.5},
    )
    english = table(sentence=[0.6, 0.3], use_sentence=[0.5, 0.1])
    french = table(sentence=[np.nan, np.nan], use_sentence=[0.6, 0.1])
    asked_in_french = table(use_sentence=[0.6, 0.1])
    assert extra.score(english).tolist() == pytest.approx(LEARNED.score(english).tolist())
    for scores in (french, asked_in_french):
        logits = [-1.0 + (1.0 + 4.0) * value - 0.5 for value in (0.6, 0.1)]
        assert extra.score(scores).tolist() == pytest.approx([1 / (1 + np.exp(-x)) for x in logits])


def test_a_question_in_another_language_has_its_own_decline_model_and_threshold() -> None:
    english = table(sentence=[0.6, 0.3], use_sentence=[0.5, 0.1])
    french = table(sentence=[np.nan, np.nan], use_sentence=[0.6, 0.1])  # MiniLM does not read French
    asked_in_french = table(use_sentence=[0.6, 0.1])  # nor a question in French: no column at all
    for scores, expected_threshold in ((english, 0.5), (french, 0.8), (asked_in_french, 0.8)):
        other = other_language(scores, LEARNED.rank(scores)[0])
        assert LEARNED.threshold([], other=other) == expected_threshold
    order, fused = LEARNED.rank(english)
    assert LEARNED.confidence(english, order, fused, []) == pytest.approx(
        1 / (1 + np.exp(-(4.0 * 0.6 - 2.0)))
    )
    order, fused = LEARNED.rank(french)
    assert LEARNED.confidence(french, order, fused, []) == pytest.approx(
        1 / (1 + np.exp(-(10.0 * 0.6 - 5.0)))
    )
    assert LEARNED.threshold([]) == 0.5  # without a question, the same-language one


def test_each_combination_of_later_stages_has_its_own_decline_model() -> None:
    """With late interaction in use its model weighs its score; with it switched off, the first
    stage's model decides from what is left; a pair kind with no model of its own takes the
    same-language one of its stages."""
    scores = table(sentence=[0.6, 0.3], use_sentence=[0.5, 0.1])
    scores.add("late", [0.8], at=np.array([0]))
    order, fused = LEARNED.rank(scores)
    with_late = LEARNED.confidence(scores, order, fused, ["late"])
    assert with_late == pytest.approx(1 / (1 + np.exp(-(0.6 + 2.0 * 0.8 - 1.0))))
    assert LEARNED.confidence(scores, order, fused, []) == pytest.approx(1 / (1 + np.exp(-(4.0 * 0.6 - 2.0))))
    french = table(sentence=[np.nan, np.nan], use_sentence=[0.6, 0.1])
    order, fused = LEARNED.rank(french)
    bias_alone = 1 / (1 + np.exp(1.0))  # "late"'s model, none of whose evidence a French pair has
    assert LEARNED.confidence(french, order, fused, ["late"]) == pytest.approx(bias_alone)


def test_the_shipped_fusion_file_reads_and_writes_back_the_same(tmp_path: Path) -> None:
    shipped = Fusion.load()
    shipped.save(tmp_path / "fusion.json")
    assert Fusion.load(tmp_path / "fusion.json") == shipped
    stages = {"first", "late", "cross", "cross+late"}
    assert shipped.produced_by
    assert set(shipped.thresholds) == stages | {f"{k}{OTHER_LANGUAGE}" for k in stages}
    assert set(shipped.declines) == set(shipped.thresholds)  # a decline model for each threshold
    assert FUSION_FILE.read_text(encoding="utf-8") == (tmp_path / "fusion.json").read_text(encoding="utf-8")


def test_a_broken_fusion_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "fusion.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(MatchbotError, match="cannot be read") as caught:
        Fusion.load(tmp_path / "fusion.json")
    assert "\n" not in str(caught.value)


class Exclamations:
    """A toy sixth score, from a stage of its own: how excited a passage is."""

    name = "excited"

    def score_many(self, questions, passages):  # type: ignore[no-untyped-def]
        return [{self.name: np.array([min(1.0, c.text.count("!")) for c in chunks])} for chunks in passages]


def test_a_new_score_is_one_column_and_one_weight(make_embedder) -> None:
    text = "Morocco played well in Qatar. What a night for Morocco, who played so well! The fans sang."
    embedder = make_embedder()
    store, _ = Store.build([Article(id="a", title="Report", text=text)], embedder)
    plain = Retriever(store, Pipeline(embedder))
    shipped = plain.fusion
    toy = replace(
        shipped,
        weights={**shipped.weights, "excited": 5.0},
        stages=(*shipped.stages, ("excited",)),
        depths={**shipped.depths, "excited": 3},
        thresholds={**shipped.thresholds, "excited": 0.0},
    )
    excited = plain.with_pipeline(Pipeline(embedder, (Exclamations(),), toy))

    question = "did morocco play well"
    assert plain.search(question, k=1).passages[0].text == "Morocco played well in Qatar."
    assert excited.search(question, k=1).passages[0].text == "What a night for Morocco, who played so well!"
