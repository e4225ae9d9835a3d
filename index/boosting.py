"""Boosted trees over a question's best candidates: the part of the ranking a weighted sum cannot say.

The learned fusion's linear model (``index.fusion``) weighs each score alike for every question. Which
score to trust, though, depends on the others: a cross-encoder logit well above the question's other
candidates' means more than the same logit among candidates that all score high. ``Trees`` is a
gradient-boosted model (fitted by scikit-learn's ``HistGradientBoostingClassifier`` in ``matchbot
learn-fusion``, ``index.learning``) that reads, for each candidate, every score it has and how far it
lies from the question's other candidates (its z-score among those that have that score); its
probability is blended with the linear model's for the candidates every later stage in use read.

The trees are saved in ``index/fusion.json`` as plain arrays and walked here with NumPy, so answering
imports no scikit-learn. A missing score (NaN) takes the branch the trees learned for missing values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from index.scores import ScoreTable

# The columns of a node in the saved arrays, each a list per tree (padded to the longest tree).
_NODE_FIELDS = ("feature", "threshold", "missing_left", "left", "right", "leaf", "value")


@dataclass(frozen=True, eq=False)
class Trees:
    """Boosted trees over ``names`` (each score's value, then its z-score among the question's
    candidates), blended with the linear ranking for the candidates the later stages ``stages`` all
    read: ``blend`` × the linear probability + (1 − ``blend``) × theirs."""

    names: tuple[str, ...]
    stages: tuple[str, ...]  # the later stages in use the trees were fitted with (sorted)
    blend: float
    baseline: float
    feature: np.ndarray  # (trees, nodes) int: the column a node splits on
    threshold: np.ndarray  # (trees, nodes) float: values ≤ it go left
    missing_left: np.ndarray  # (trees, nodes) bool: where a missing value goes
    left: np.ndarray  # (trees, nodes) int
    right: np.ndarray  # (trees, nodes) int
    leaf: np.ndarray  # (trees, nodes) bool
    value: np.ndarray  # (trees, nodes) float: a leaf's contribution to the logit

    def applies(self, stages_in_use: Sequence[str]) -> bool:
        """Whether the trees rank for these later stages (the ones they were fitted with)."""
        return tuple(sorted(stages_in_use)) == self.stages

    def logit(self, matrix: np.ndarray) -> np.ndarray:
        """The trees' logit for each row of ``matrix`` (``features`` of a table)."""
        rows = np.arange(len(matrix))[:, None]
        trees = np.arange(len(self.feature))[None, :]
        node = np.zeros((len(matrix), len(self.feature)), dtype=np.int64)
        for _ in range(self.feature.shape[1]):  # a walk is never longer than a tree's nodes
            done = self.leaf[trees, node]
            if done.all():
                break
            values = matrix[rows, self.feature[trees, node]]
            left = np.where(
                np.isnan(values), self.missing_left[trees, node], values <= self.threshold[trees, node]
            )
            step = np.where(left, self.left[trees, node], self.right[trees, node])
            node = np.where(done, node, step)
        return self.baseline + self.value[trees, node].sum(axis=1)

    def probability(self, table: ScoreTable, at: np.ndarray | None = None) -> np.ndarray:
        """The probability of answering, by the trees alone, of the candidates ``at`` (a mask or
        positions; all when None). Each score's z-score is still taken among all of the table's."""
        rows = features(table, self.names)
        return 1.0 / (1.0 + np.exp(-self.logit(rows if at is None else rows[at])))

    def to_json(self) -> dict:
        saved: dict = {
            "names": list(self.names),
            "stages": list(self.stages),
            "blend": self.blend,
            "baseline": self.baseline,
        }
        for name in _NODE_FIELDS:
            saved[name] = getattr(self, name).tolist()
        return saved

    @classmethod
    def from_json(cls, saved: Mapping) -> Trees:
        shapes = {len(saved[name]) for name in _NODE_FIELDS}
        if len(shapes) != 1:
            raise ValueError("the trees' node arrays differ in length")
        trees = cls(
            names=tuple(str(name) for name in saved["names"]),
            stages=tuple(sorted(str(name) for name in saved["stages"])),
            blend=float(saved["blend"]),
            baseline=float(saved["baseline"]),
            feature=np.asarray(saved["feature"], dtype=np.int64),
            threshold=np.asarray(saved["threshold"], dtype=np.float64),
            missing_left=np.asarray(saved["missing_left"], dtype=bool),
            left=np.asarray(saved["left"], dtype=np.int64),
            right=np.asarray(saved["right"], dtype=np.int64),
            leaf=np.asarray(saved["leaf"], dtype=bool),
            value=np.asarray(saved["value"], dtype=np.float64),
        )
        width = 2 * len(trees.names)
        if trees.feature.ndim != 2 or (~trees.leaf & ((trees.feature < 0) | (trees.feature >= width))).any():
            raise ValueError("a tree splits on a feature it does not name")
        return trees


def features(table: ScoreTable, names: Sequence[str]) -> np.ndarray:
    """Each candidate's row: the value of each score in ``names`` (NaN where missing), then its z-score
    among the candidates of ``table`` that have it (NaN where missing; 0 when they all have the same)."""
    from index.fusion import ranking_column

    values = (
        np.stack([ranking_column(table, name) for name in names], axis=1)
        if names
        else np.zeros((len(table), 0))
    )
    spread = np.full(values.shape, np.nan)
    for number in range(values.shape[1]):
        present = ~np.isnan(values[:, number])
        if present.any():
            column = values[present, number]
            deviation = column.std()
            spread[present, number] = (column - column.mean()) / deviation if deviation > 1e-9 else 0.0
    return np.hstack([values, spread])


def fit(
    matrix: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    names: Sequence[str],
    stages: Sequence[str],
    blend: float,
    **settings: float,
) -> Trees:
    """Trees fitted on ``features`` rows (answering or not), scikit-learn's ``HistGradientBoostingClassifier``
    with ``settings``, turned into arrays."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(random_state=0, early_stopping=False, **settings)
    model.fit(matrix, labels, sample_weight=weights)
    grown = [predictors[0].nodes for predictors in model._predictors]  # one tree per round (two classes)
    size = max(len(nodes) for nodes in grown)

    def padded(field: str, dtype: type) -> np.ndarray:
        found = np.zeros((len(grown), size), dtype=dtype)
        for number, nodes in enumerate(grown):
            found[number, : len(nodes)] = nodes[field]
        return found

    return Trees(
        names=tuple(names),
        stages=tuple(sorted(stages)),
        blend=float(blend),
        baseline=float(np.ravel(model._baseline_prediction)[0]),
        feature=padded("feature_idx", np.int64),
        threshold=padded("num_threshold", np.float64),
        missing_left=padded("missing_go_to_left", bool),
        left=padded("left", np.int64),
        right=padded("right", np.int64),
        leaf=padded("is_leaf", bool),
        value=padded("value", np.float64),
    )
