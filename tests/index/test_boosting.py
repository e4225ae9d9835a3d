"""The boosted trees of the final ranking: walked with NumPy as scikit-learn walks them, saved and read
back unchanged, and blended only where they were fitted to rank."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import boosting
from index.errors import MatchbotError
from index.fusion import Fusion
from index.scores import ScoreTable

NAMES = ("a", "late", "cross_logit")
LINEAR = Fusion(
    weights={"a": 2.0, "late": 1.0, "cross_logit": 0.5},
    stages=(("a",), ("late",), ("cross_logit",)),
    depths={"late": 4, "cross_logit": 3},
    kind="logistic",
    bias=-1.0,
)


def sample(rows: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (values then z-scores) with missing values, and labels that depend on both."""
    random = np.random.default_rng(seed)
    matrix = random.normal(size=(rows, 2 * len(NAMES)))
    matrix[random.random(rows) < 0.2, 1] = np.nan
    labels = (matrix[:, 0] + np.nan_to_num(matrix[:, 1], nan=-1.0) * matrix[:, 5] > 0.3).astype(bool)
    return matrix, labels


def fitted(**settings: float) -> boosting.Trees:
    matrix, labels = sample()
    return boosting.fit(
        matrix, labels, np.ones(len(labels)), NAMES, ("late", "cross_logit"), 0.7, max_iter=30, **settings
    )


def test_the_trees_walked_with_numpy_give_scikit_learns_logits() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    matrix, labels = sample()
    model = HistGradientBoostingClassifier(random_state=0, early_stopping=False, max_iter=30, max_depth=3)
    model.fit(matrix, labels, sample_weight=np.ones(len(labels)))
    trees = fitted(max_depth=3)
    new, _ = sample(200, seed=1)  # rows it was not fitted on, missing values among them
    assert trees.logit(new) == pytest.approx(model.decision_function(new), abs=1e-9)


def test_trees_saved_as_json_read_back_the_same(tmp_path: Path) -> None:
    trees = fitted(max_depth=2)
    fusion = replace(LINEAR, trees=trees)
    path = tmp_path / "fusion.json"
    fusion.save(path)
    again = Fusion.load(path)
    assert again.to_json() == json.loads(path.read_text(encoding="utf-8")) == fusion.to_json()
    new, _ = sample(50, seed=2)
    assert again.trees is not None and np.array_equal(again.trees.logit(new), trees.logit(new))


def test_a_fusion_file_whose_trees_are_damaged_says_to_reinstall(tmp_path: Path) -> None:
    saved = replace(LINEAR, trees=fitted(max_depth=2)).to_json()
    saved["trees"]["feature"][0][0] = 99  # a split on a column the trees do not have
    path = tmp_path / "fusion.json"
    path.write_text(json.dumps(saved), encoding="utf-8")
    with pytest.raises(MatchbotError, match="reinstall matchbot"):
        Fusion.load(path)


def test_features_are_each_score_then_its_z_score_among_the_candidates_that_have_it() -> None:
    table = ScoreTable(np.arange(3), {"a": np.array([1.0, 2.0, 3.0]), "late": np.array([0.5, np.nan, 0.5])})
    rows = boosting.features(table, ("a", "late", "cross_logit"))
    assert rows[:, :3].tolist()[0] == [1.0, 0.5, pytest.approx(np.nan, nan_ok=True)]
    assert rows[:, 3] == pytest.approx([-1.2247449, 0.0, 1.2247449])
    assert rows[0, 4] == 0.0 and np.isnan(rows[1, 4])  # all alike: 0; missing stays missing
    assert np.isnan(rows[:, 5]).all()


def scored_table() -> ScoreTable:
    """Six candidates: the cross-encoder read three, late interaction four, the first stage all."""
    table = ScoreTable(np.arange(6), {"a": np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])})
    table.add("late", [0.2, 0.4, 0.6, 0.8], at=np.arange(4))
    table.add("cross_logit", [-3.0, 1.0, 4.0], at=np.arange(3))
    return table


def stub_trees(probabilities: list[float]) -> boosting.Trees:
    """One tree splitting on ``a`` that gives each of the first three candidates (a = 0.9, 0.8, 0.7) the
    probability asked for."""
    logits = [float(np.log(p / (1 - p))) for p in probabilities]
    return boosting.Trees(
        names=NAMES,
        stages=("cross_logit", "late"),
        blend=0.5,
        baseline=0.0,
        feature=np.array([[0, 0, 0, 0, 0]]),
        threshold=np.array([[0.75, 0.0, 0.85, 0.0, 0.0]]),
        missing_left=np.array([[True, False, False, False, False]]),
        left=np.array([[1, 0, 3, 0, 0]]),
        right=np.array([[2, 0, 4, 0, 0]]),
        leaf=np.array([[False, True, False, True, True]]),
        value=np.array([[0.0, logits[2], 0.0, logits[1], logits[0]]]),
    )


def test_the_trees_reorder_only_what_every_stage_in_use_read() -> None:
    table = scored_table()
    linear_order, _ = LINEAR.rank(table)
    assert linear_order[:3].tolist() == [2, 1, 0]  # the cross-encoder's three, by the linear model
    blended = replace(LINEAR, trees=stub_trees([0.99, 0.5, 0.01]))  # the trees much prefer candidate 0
    order, scores = blended.rank(table, ("late", "cross_logit"))
    assert order[0] == 0 and set(order[:3].tolist()) == {0, 1, 2}
    assert order[3:].tolist() == linear_order[3:].tolist()  # what the cross-encoder did not read stays below
    assert (np.diff(scores) <= 0).all()
    # the cascade (no stages named) and a self-hoster's other stages rank with the linear model alone
    assert blended.rank(table)[0].tolist() == linear_order.tolist()
    assert blended.rank(table, ("late",))[0].tolist() == linear_order.tolist()
