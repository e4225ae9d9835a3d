"""The fusion learned from the shipped questions: ``matchbot learn-fusion``.

The tuning questions (``"split": "dev"``) of every question set that ships in ``tests/data`` (the
English seed questions, the questions in five languages about it, and the questions about the French and
the Arabic reports, each set asked of its own articles) are answered through the answer path as it
serves: every candidate's scores, as the first stage and the later stages give them. Two logistic
models (scikit-learn, L2-regularised, each feature's weight and, for the scores a candidate may lack,
an offset when it has it) and boosted trees are then fitted:

- the ranking: the probability that a candidate passage answers its question, from all its scores; the
  regularisation is chosen by 5-fold cross-validation over the questions, on MRR@10. The first
  round's later stages read the candidates a fixed weighted mean (``index.fusion.MEAN_WEIGHTS``) ranks
  best, the second round's those the first model ranks best, so the result depends on the questions
  alone, not on the fusion file it replaces. The scores another language's pairs have are weighed a
  second time for those pairs (``OTHER_LANGUAGE_SCORES``), so that what their questions teach does
  not move the English ranking;
- the trees (``index.boosting``): gradient-boosted trees over the same scores and how far each lies
  from the question's other candidates', fitted on the candidates every later stage read (the tuning
  questions scored once more through the cascade the ranking above chooses) and blended into their
  final ranking at ``BLEND``; the k-fold hit@1 and MRR@10 with and without them is reported;
- the decline: the probability that the articles answer the question at all, from the question's
  evidence (``index.fusion.evidence``), fitted on answerable against off-topic questions, one for each
  combination of later stages (a self-hoster may switch either off: its scores are then missing, and
  what the others say without them means something else) and kind of pair.

Each combination of later stages and kind of pair then gets its threshold, the cut that declines the
most off-topic tuning questions while staying sure of declining at most 3% of new answerable ones (5%
for another language's pairs, the bar the goals set for them): it may decline only as many answerable
tuning questions as the bar leaves room for given how few they are (``within_bar``), and it is placed
on out-of-fold confidences so that it holds on questions the model was not fitted on (``thresholds``,
``index.evaluation.calibrate``). The
result is written to ``index/fusion.json`` with the command that produced it; the held-out questions
(``"split": "test"``) are never read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index import boosting
from index.errors import MatchbotError
from index.evaluation import DEPTH, EvalQuestion, KeptStage, calibrate_confidences, is_hit, read_questions
from index.fusion import (
    OTHER_LANGUAGE,
    Fusion,
    Linear,
    evidence,
    has_score,
    other_language,
    ranking_column,
    threshold_key,
)
from index.retriever import Retriever
from index.scores import ScoreTable

log = logging.getLogger(__name__)

SETS_FILE = "fusion_sets.json"  # in tests/data: which questions are asked of which articles
# The scores a pair in another language has (the English-only readers' are missing): weighed again for
# such pairs, on top of the weights they share with English pairs (``index.fusion.ranking_column``).
OTHER_LANGUAGE_SCORES = (
    "use_sentence",
    "use_context",
    "lexical",
    "article_lexical",
    "distinct",
    "answer_type",
    "coverage",
)
# The scores the ranking model weighs (``cross`` is the sigmoid of ``cross_logit``: the logit is kept).
RANKING = (
    "sentence",
    "context",
    "use_sentence",
    "use_context",
    "lexical",
    "article_lexical",
    "distinct",
    "late",
    "cross_logit",
    "gloss_late",  # the later stages on the gloss of a question in another language
    "gloss_cross_logit",
    "answer_type",
    "coverage",
    *(f"{name}{OTHER_LANGUAGE}" for name in OTHER_LANGUAGE_SCORES),
)
DECLINE = (
    "top",
    "best:cross_logit",
    "best:late",
    "best:sentence",
    "best:gloss_cross_logit",
    "best:gloss_late",
    "best:use_sentence",
    "best:use_context",
    "top:lexical",
    "top:coverage",
    "top:answer_type",
    "margin",
    "best:coverage",
    "unheld",
)
REGULARISATION = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # scikit-learn's C: the inverse of the L2 penalty
FOLDS = 5
# The ranking's regularisation is chosen on the mean of this many shuffles of the questions into folds: with
# one, which C won moved with the shuffle (the k-fold MRR@10 of C = 0.01 and C = 1 within 0.001 of each
# other), and weights that differ by three times with it.
SHUFFLES = 3
MAX_WRONG = 0.03  # the share of answerable tuning questions a threshold may decline (English pairs)
MAX_WRONG_OTHER_LANGUAGE = 0.05  # … for another language's pairs (``index.fusion.OTHER_LANGUAGE``)
# Shuffles of the tuning questions into folds when a threshold is calibrated, the median cut kept. The
# cut of one shuffle is noisy (both later stages: 0.295 to 0.341 over the first five); the median of
# five was 0.326, of twenty 0.306.
CALIBRATION_ROUNDS = 20
# The decline models' regularisation (scikit-learn's C), chosen for each key by cross-validation on the
# off-topic questions declined within the bar (``decline_regularisation``), over this many shuffles;
# DECLINE_C where none is chosen.
DECLINE_REGULARISATION = (0.03, 0.1, 0.3, 1.0, 3.0)
DECLINE_SHUFFLES = 10
DECLINE_C = 1.0
# The boosted trees blended into the final ranking (``index.boosting``): scikit-learn's settings, and the
# linear model's share of the blend. The depth and learning rate were chosen by 5-fold cross-validation
# on the tuning questions (depth 2 at 0.05 and 0.1, depth 3 at 0.05), then the share (0.5 or 0.7); the
# rest are set, not tuned.
TREE_SETTINGS = {
    "max_depth": 3,
    "learning_rate": 0.05,
    "max_iter": 200,
    "l2_regularization": 1.0,
    "min_samples_leaf": 20,
}
BLEND = 0.7
SURE = 0.8  # how sure a threshold must be that it declines no more than its bar of new answerable questions
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class QuestionSet:
    """Questions asked of the articles at ``seeds``."""

    name: str
    questions: Path
    seeds: Path


@dataclass
class Example:
    """One tuning question, its scored candidates, which of them answer it, and the fusion whose cascade
    chose which candidates the later stages read."""

    question: EvalQuestion
    table: ScoreTable
    hits: np.ndarray  # per candidate
    source: str  # the question set's name
    fusion: Fusion


def read_sets(path: Path) -> list[QuestionSet]:
    """The question sets a sets file lists (paths relative to it)."""
    try:
        listed = json.loads(path.read_text(encoding="utf-8"))
        return [
            QuestionSet(entry["name"], path.parent / entry["questions"], path.parent / entry["seeds"])
            for entry in listed
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MatchbotError(f"Cannot read the question sets in {path} ({exc}).") from None


def collect(
    retriever: Retriever, questions: Sequence[EvalQuestion], source: str, first: Sequence[ScoreTable]
) -> list[Example]:
    """Each question's candidates scored by the answer path as ``retriever`` serves, from ``first``, the
    questions' first-stage tables (they do not depend on the fusion; the later stages' scores are kept,
    so a second run with another fusion recomputes only what it has not read)."""
    tables = retriever.rescore(first)
    chunks = retriever.store.chunks
    return [
        Example(
            q,
            table,
            np.array([is_hit(chunks[r].text, q.expect) for r in table.rows], bool),
            source,
            retriever.fusion,
        )
        for q, table in zip(questions, tables, strict=True)
    ]


def keep_stages(retriever: Retriever) -> Retriever:
    """``retriever`` with each later stage's scores kept per (question, passage)."""
    kept = tuple(KeptStage(stage) for stage in retriever.pipeline.stages)
    return retriever.with_pipeline(replace(retriever.pipeline, stages=kept))


def _differences(example: Example, features: np.ndarray) -> np.ndarray | None:
    """For an answerable example, each (answering, not answering) pair of its candidates that the same
    stages read, as the difference of their feature rows (``features``: values, then presences); None
    when it has none."""
    if example.question.off_topic or not example.hits.any():
        return None
    reached = example.fusion.reached(example.table)
    found = []
    for stage in np.unique(reached):
        group = reached == stage
        answering = np.flatnonzero(example.hits & group)
        others = np.flatnonzero(~example.hits & group)
        if len(answering) and len(others):
            found.append(
                (features[answering][:, None, :] - features[others][None, :, :]).reshape(
                    -1, features.shape[1]
                )
            )
    return np.vstack(found) if found else None


def _stacked(differences: Sequence[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """The examples' pairs in one matrix, each example's weighing 1 in all."""
    kept = [rows for rows in differences if rows is not None]
    return np.vstack(kept), np.concatenate([np.full(len(rows), 1 / len(rows)) for rows in kept])


def feature_rows(table: ScoreTable, names: Sequence[str]) -> np.ndarray:
    """Each candidate's features: the value of each score (0 where missing), then whether it has it."""
    columns = np.stack([ranking_column(table, name) for name in names], axis=1)
    return np.hstack([np.nan_to_num(columns, nan=0.0), (~np.isnan(columns)).astype(float)])


def fit_pairwise(
    examples: Sequence[Example],
    features: Sequence[np.ndarray],
    differences: Sequence[np.ndarray | None],
    names: Sequence[str],
    regularisation: float,
) -> Linear:
    """A ranking model fitted on the examples' pairs (``_differences``, each example's pairs weighing 1
    in all): a logistic regression with no intercept on their differences, then calibrated (Platt's
    sigmoid over its score, on every candidate) so that its score is a probability. ``features`` and
    ``differences`` are each example's, made once for every fit that reads them (``fit_ranking`` fits
    each fold once for each regularisation)."""
    from sklearn.linear_model import LogisticRegression

    stacked, weights = _stacked(differences)
    count = len(names)
    spread = stacked[:, :count].std(axis=0)
    spread[spread < 1e-9] = 1.0
    scaled = np.hstack([stacked[:, :count] / spread, stacked[:, count:]])
    model = LogisticRegression(C=regularisation, fit_intercept=False, max_iter=5000)
    model.fit(
        np.vstack([scaled, -scaled]),
        np.r_[np.ones(len(scaled)), np.zeros(len(scaled))],
        sample_weight=np.r_[weights, weights],
    )
    weight = model.coef_[0][:count] / spread
    offset = model.coef_[0][count:]
    slope, bias = _calibration(examples, features, count, weight, offset)
    return Linear(
        weights={name: round(float(slope * weight[i]), 6) for i, name in enumerate(names)},
        offsets={name: round(float(slope * offset[i]), 6) for i, name in enumerate(names)},
        bias=round(bias, 6),
    )


def _calibration(
    examples: Sequence[Example],
    features: Sequence[np.ndarray],
    count: int,
    weight: np.ndarray,
    offset: np.ndarray,
) -> tuple[float, float]:
    """Platt's sigmoid over the ranking score: the slope and intercept that make it a probability that
    a candidate answers (``features``: each example's feature rows, ``count`` scores wide)."""
    from sklearn.linear_model import LogisticRegression

    scores, labels, weights = [], [], []
    for example, rows in zip(examples, features, strict=True):
        if example.question.off_topic or not example.hits.any():
            continue
        scores.append(rows[:, :count] @ weight + rows[:, count:] @ offset)
        labels.append(example.hits)
        hits = example.hits.sum()
        weights.append(np.where(example.hits, 0.5 / hits, 0.5 / max(1, len(example.hits) - hits)))
    model = LogisticRegression(C=100.0, max_iter=5000)
    model.fit(np.concatenate(scores)[:, None], np.concatenate(labels), sample_weight=np.concatenate(weights))
    return float(model.coef_[0][0]), float(model.intercept_[0])


def ranked_mrr(examples: Sequence[Example], fusion: Fusion) -> float:
    """MRR@10 of the answerable examples' candidates as ``fusion`` ranks them."""
    found = reciprocal_ranks(examples, fusion)
    return float(np.mean(found)) if found else 0.0


def ranking_names(examples: Sequence[Example]) -> list[str]:
    """The scores of ``RANKING`` that some example's candidates have."""
    return [
        name
        for name in RANKING
        if any(
            has_score(e.table, name) and (~np.isnan(ranking_column(e.table, name))).any() for e in examples
        )
    ]


def fit_ranking(examples: Sequence[Example], base: Fusion) -> tuple[Fusion, float, dict[float, float], float]:
    """The ranking model, its regularisation chosen by 5-fold cross-validation over the questions on
    MRR@10 (``SHUFFLES`` shuffles into folds): the strongest whose mean is within one standard error
    (over the folds) of the best mean, so that a difference the folds cannot tell does not move the
    weights; with the regularisation chosen, the mean MRR@10 of the held-out folds for each one tried,
    and the standard error of the best."""
    names, features, differences = _pairs_of(examples)
    splits = _splits(len(examples), seed=0)
    scores: dict[float, float] = {}
    errors: dict[float, float] = {}
    for regularisation in REGULARISATION:
        held_out = []
        for chosen, tested in splits:
            model = _fit_on(examples, features, differences, names, chosen, regularisation)
            held_out.append(ranked_mrr([examples[i] for i in tested], _logistic(base, model)))
        scores[regularisation] = round(float(np.mean(held_out)), 4)
        errors[regularisation] = float(np.std(held_out, ddof=1) / np.sqrt(len(held_out)))
    error = errors[chosen_c(scores)]
    chosen = chosen_c(scores, within=error)
    fitted = _logistic(base, fit_pairwise(examples, features, differences, names, chosen))
    return fitted, chosen, scores, error


def chosen_c(scores: Mapping[float, float], within: float = 0.0) -> float:
    """The strongest regularisation whose cross-validated figure is within ``within`` of the best."""
    best = max(scores.values())
    return min(c for c, score in scores.items() if score >= best - within - 1e-9)


def _pairs_of(examples: Sequence[Example]) -> tuple[list[str], list[np.ndarray], list[np.ndarray | None]]:
    """The ranking's names, and each example's feature rows and pairs, made once for every fit."""
    names = ranking_names(examples)
    features = [feature_rows(e.table, names) for e in examples]
    differences = [_differences(e, rows) for e, rows in zip(examples, features, strict=True)]
    return names, features, differences


def _splits(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fitted on, held out) positions of ``count`` examples: ``FOLDS`` folds for each of ``SHUFFLES``
    shuffles."""
    random = np.random.default_rng(seed)
    folds = [random.permutation(count) % FOLDS for _ in range(SHUFFLES)]
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for fold in folds for k in range(FOLDS)]


def _fit_on(
    examples: Sequence[Example],
    features: Sequence[np.ndarray],
    differences: Sequence[np.ndarray | None],
    names: Sequence[str],
    chosen: np.ndarray,
    regularisation: float,
) -> Linear:
    """``fit_pairwise`` on the examples at positions ``chosen``."""
    return fit_pairwise(
        [examples[i] for i in chosen],
        [features[i] for i in chosen],
        [differences[i] for i in chosen],
        names,
        regularisation,
    )


TreeRows = tuple[np.ndarray, np.ndarray, np.ndarray]  # one example's features, answering or not, weights


def tree_rows(examples: Sequence[Example], names: Sequence[str]) -> list[TreeRows | None]:
    """The rows each example gives the trees to learn from: for an answerable example, the candidates of
    the furthest group the cascade read (the ones the trees rank, ``Fusion.rank``) when some answer and
    some do not, their ``index.boosting.features``, whether each answers, and weights that give the
    example's answering and other candidates half of its 1 each; None for an example that gives none."""
    found: list[TreeRows | None] = []
    for example in examples:
        last = example.fusion.furthest(example.table)
        hits = example.hits[last]
        if example.question.off_topic or hits.all() or not hits.any():
            found.append(None)
            continue
        weights = np.where(hits, 0.5 / hits.sum(), 0.5 / (~hits).sum())
        found.append((boosting.features(example.table, names)[last], hits, weights))
    return found


def fit_trees(examples: Sequence[Example], names: Sequence[str], stages: Sequence[str]) -> boosting.Trees:
    """The boosted trees for the final ranking with the later stages ``stages`` (``TREE_SETTINGS``, blended
    at ``BLEND``)."""
    return _fit_trees_on(tree_rows(examples, names), names, stages)


def _fit_trees_on(
    rows: Sequence[TreeRows | None], names: Sequence[str], stages: Sequence[str]
) -> boosting.Trees:
    """``fit_trees`` on rows ``tree_rows`` made."""
    kept = [given for given in rows if given is not None]
    matrix, labels, weights = (np.concatenate([given[part] for given in kept]) for part in range(3))
    return boosting.fit(matrix, labels, weights, names, stages, BLEND, **TREE_SETTINGS)


def cross_validate_trees(
    examples: Sequence[Example], base: Fusion, regularisation: float, stages: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """Hit@1 and MRR@10 of the held-out folds (5 folds, ``SHUFFLES`` shuffles) with the linear ranking
    alone (fitted with ``regularisation``) and with the trees blended in, each fold's fitted on the
    others."""
    names, features, differences = _pairs_of(examples)
    rows = tree_rows(examples, names)  # made once: every fold's trees read them
    found: dict[str, list[float]] = {"linear": [], "with trees": []}
    for chosen, held in _splits(len(examples), seed=1):
        linear = _logistic(base, _fit_on(examples, features, differences, names, chosen, regularisation))
        blended = replace(linear, trees=_fit_trees_on([rows[i] for i in chosen], names, stages))
        for label, fusion in (("linear", linear), ("with trees", blended)):
            found[label].extend(reciprocal_ranks([examples[i] for i in held], fusion, stages))
    return {
        label: (round(float(np.mean(np.array(ranks) == 1)), 4), round(float(np.mean(ranks)), 4))
        for label, ranks in found.items()
    }


def reciprocal_ranks(
    examples: Sequence[Example], fusion: Fusion, stages: Sequence[str] | None = None
) -> list[float]:
    """1/rank of each answerable example's first answering candidate as ``fusion`` ranks them (0 beyond
    ``DEPTH``): for the final answer with ``stages`` in use, else as the cascade does."""
    found = []
    for example in examples:
        if example.question.off_topic:
            continue
        order, _ = fusion.rank(example.table, stages)
        hits = np.flatnonzero(example.hits[order][:DEPTH])
        found.append(1 / (hits[0] + 1) if len(hits) else 0.0)
    return found


def fit_linear(
    matrix: np.ndarray, labels: np.ndarray, weights: np.ndarray, names: Sequence[str], regularisation: float
) -> Linear:
    """A ``Linear`` model fitted on rows of ``len(names)`` values then as many presences, the values
    standardised for the fit and the model turned back to raw values."""
    from sklearn.linear_model import LogisticRegression

    count = len(names)
    values, present = matrix[:, :count], matrix[:, count:] > 0
    mean = np.array([values[present[:, i], i].mean() if present[:, i].any() else 0.0 for i in range(count)])
    spread = np.array([values[present[:, i], i].std() if present[:, i].any() else 1.0 for i in range(count)])
    spread[spread < 1e-9] = 1.0
    scaled = np.where(present, (values - mean) / spread, 0.0)
    model = LogisticRegression(C=regularisation, max_iter=5000)
    model.fit(np.hstack([scaled, present.astype(float)]), labels, sample_weight=weights)
    coefficients = model.coef_[0]
    weight = coefficients[:count] / spread
    offset = coefficients[count:] - coefficients[:count] * mean / spread
    used = [i for i in range(count) if present[:, i].any()]
    return Linear(
        weights={names[i]: round(float(weight[i]), 6) for i in used},
        offsets={names[i]: round(float(offset[i]), 6) for i in used},
        bias=round(float(model.intercept_[0]), 6),
    )


@dataclass
class Combination:
    """The tuning questions answered with one combination of later stages: each one's scored table."""

    names: tuple[str, ...]  # the later stages in use, in cascade order (none: the first stage alone)
    questions: list[EvalQuestion]
    tables: list[ScoreTable]


def score_combinations(
    retrievers: Sequence[tuple[Retriever, Sequence[EvalQuestion], Sequence[ScoreTable]]], fusion: Fusion
) -> list[Combination]:
    """Every tuning question answered with every combination of later stages (each stage switched
    off as a self-hoster may), ranked by ``fusion``: the tables the decline model learns from and the
    thresholds are calibrated on. Each retriever comes with its questions and their first-stage
    tables."""
    found = []
    for chosen in _combinations(retrievers[0][0].pipeline.stages):
        for retriever, asked, first in retrievers:
            system = retriever.with_pipeline(replace(retriever.pipeline, stages=chosen, fusion=fusion))
            found.append(Combination(tuple(s.name for s in chosen), list(asked), system.rescore(first)))
    return found


def by_key(
    combinations: Sequence[Combination], fusion: Fusion
) -> dict[str, list[tuple[Combination, EvalQuestion, ScoreTable]]]:
    """Every combination's tuning questions grouped by their thresholds' key
    (``index.fusion.threshold_key``): the later stages in use, and whether the best candidate, as
    ``fusion`` ranks them, is a same-language English pair or another."""
    groups: dict[str, list[tuple[Combination, EvalQuestion, ScoreTable]]] = {}
    for combination in combinations:
        for question, table in zip(combination.questions, combination.tables, strict=True):
            order = fusion.rank(table, combination.names)[0]
            key = threshold_key(combination.names, other=other_language(table, order))
            groups.setdefault(key, []).append((combination, question, table))
    return groups


def evidence_by_key(
    combinations: Sequence[Combination], fusion: Fusion
) -> dict[str, tuple[list[EvalQuestion], np.ndarray]]:
    """For each key of ``by_key``, its tuning questions and their evidence as ``fusion`` ranks them
    (a row of ``DECLINE`` values each, NaN where missing)."""
    found = {}
    for key, members in by_key(combinations, fusion).items():
        rows = []
        for combination, _, table in members:
            order, scores = fusion.rank(table, combination.names)
            shown = evidence(table, order, scores)
            rows.append([shown.get(name, np.nan) for name in DECLINE])
        found[key] = ([question for _, question, _ in members], np.array(rows, dtype=float))
    return found


def fit_declines(
    evidence_of: Mapping[str, tuple[list[EvalQuestion], np.ndarray]],
    regularisation: Mapping[str, float] | None = None,
) -> dict[str, Linear]:
    """The decline models, one for each key that has both answerable and off-topic questions:
    answerable against off-topic, from each one's evidence (with ``regularisation``'s C for its key,
    else ``DECLINE_C``)."""
    found = {}
    for key, (questions, rows) in evidence_of.items():
        answerable = np.array([not question.off_topic for question in questions])
        if answerable.all() or not answerable.any():
            continue
        found[key] = fit_decline(rows, answerable, (regularisation or {}).get(key, DECLINE_C))
    return found


def fit_decline(
    evidence_rows: np.ndarray, answerable: np.ndarray, regularisation: float = DECLINE_C
) -> Linear:
    """One decline model: the probability that a question is answerable, from its evidence (a row of
    ``DECLINE`` values, NaN where missing), answerable and off-topic questions weighing alike."""
    share = answerable.mean()
    weights = np.where(answerable, 0.5 / share, 0.5 / (1 - share))
    matrix = np.hstack([np.nan_to_num(evidence_rows, nan=0.0), (~np.isnan(evidence_rows)).astype(float)])
    return fit_linear(matrix, answerable, weights, DECLINE, regularisation)


def decline_regularisation(
    evidence_of: Mapping[str, tuple[list[EvalQuestion], np.ndarray]],
) -> tuple[dict[str, float], dict[str, dict[float, float]]]:
    """For each key with answerable and off-topic questions, the decline model's C chosen by 5-fold
    cross-validation: the share of its off-topic questions that out-of-fold confidences decline while
    declining at most ``within_bar`` of its answerable ones, the mean over ``DECLINE_SHUFFLES`` shuffles
    into folds; the strongest regularisation within one off-topic question of the best, as for the
    ranking (``chosen_c``). With the share for each C tried."""
    chosen, tried = {}, {}
    for key, (questions, rows) in evidence_of.items():
        answerable = np.array([not question.off_topic for question in questions])
        if answerable.all() or not answerable.any():
            continue
        allowed = within_bar(int(answerable.sum()), max_wrong(key))
        shares = {}
        for regularisation in DECLINE_REGULARISATION:
            found = []
            for shuffle in range(DECLINE_SHUFFLES):
                confidence = _out_of_fold(rows, answerable, regularisation, seed=100 + shuffle)
                found.append(
                    calibrate_confidences(questions, confidence, max_wrong=allowed).declined_off_topic
                )
            shares[regularisation] = round(float(np.mean(found)), 4)
        chosen[key] = chosen_c(shares, within=1 / int((~answerable).sum()))
        tried[key] = shares
    return chosen, tried


def _out_of_fold(rows: np.ndarray, answerable: np.ndarray, regularisation: float, seed: int) -> list[float]:
    """Each question's confidence by a decline model fitted without its fold (``FOLDS`` folds)."""
    fold = np.random.default_rng(seed).permutation(len(rows)) % FOLDS
    confidence = np.zeros(len(rows))
    for held in range(FOLDS):
        out = fold == held
        model = fit_decline(rows[~out], answerable[~out], regularisation)
        confidence[out] = model.probability(evidence_columns(rows[out]), int(out.sum()))
    return confidence.tolist()


def max_wrong(key: str) -> float:
    """The share of answerable tuning questions the threshold for ``key`` may decline."""
    return MAX_WRONG_OTHER_LANGUAGE if key.endswith(OTHER_LANGUAGE) else MAX_WRONG


def within_bar(answerable: int, bar: float) -> float:
    """The share of ``answerable`` tuning questions a threshold may decline so that it is ``SURE`` to
    decline at most ``bar`` of new ones: the most it may decline, k, is the largest for which declining
    k or fewer would have had a chance of at most 1 − ``SURE`` were the true share ``bar`` (the one-sided
    Clopper–Pearson bound). Placed at ``bar`` itself, a cut exceeds it on about half of all new
    samples of questions, and the fewer the tuning questions, the further."""
    from scipy.stats import binom

    if not answerable:
        return 0.0
    wrong = np.arange(answerable + 1)
    allowed = wrong[binom.cdf(wrong, answerable, bar) <= 1 - SURE]
    return int(allowed.max(initial=0)) / answerable


def thresholds(
    evidence_of: Mapping[str, tuple[list[EvalQuestion], np.ndarray]],
    declines: Mapping[str, Linear],
    regularisation: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """For each key with a decline model, the cut that declines the most off-topic tuning questions
    while declining at most ``within_bar`` of the answerable ones for the bar ``max_wrong(key)``,
    placed on out-of-fold confidences: each question's confidence by a model fitted without it
    (``FOLDS`` folds, the cut found for each of ``CALIBRATION_ROUNDS`` fixed shuffles, their median
    kept), each fitted with the key's C as ``fit_declines``. A model judged on the questions it was
    fitted on is surer of them than it will be of new ones, so a cut placed there declines more
    answerable questions than it should once the bot serves."""
    found = {}
    for key, (questions, rows) in evidence_of.items():
        if key not in declines:
            continue
        answerable = np.array([not question.off_topic for question in questions])
        allowed = within_bar(int(answerable.sum()), max_wrong(key))
        strength = (regularisation or {}).get(key, DECLINE_C)
        cuts = []
        for shuffle in range(CALIBRATION_ROUNDS):
            confidence = _out_of_fold(rows, answerable, strength, seed=shuffle)
            cuts.append(calibrate_confidences(questions, confidence, max_wrong=allowed).threshold)
        found[key] = round(float(np.median(cuts)), 3)
    return found


def evidence_columns(rows: np.ndarray) -> dict[str, np.ndarray]:
    """Rows of ``DECLINE`` values as the decline model reads them: a column per name."""
    return {name: rows[:, number] for number, name in enumerate(DECLINE)}


def _combinations(stages: Sequence[object]) -> list[tuple]:
    """Every subset of the later stages, in cascade order (the empty one first)."""
    import itertools

    return [combo for size in range(len(stages) + 1) for combo in itertools.combinations(stages, size)]


def _logistic(base: Fusion, model: Linear) -> Fusion:
    return replace(base, kind="logistic", weights=model.weights, offsets=model.offsets, bias=model.bias)


def learn(
    sets: Sequence[QuestionSet],
    open_retriever: Callable[[QuestionSet], Retriever],
    *,
    command: str,
    progress: Progress | None = None,
) -> tuple[Fusion, dict[str, object]]:
    """The fusion learned from the tuning questions of ``sets``, and what was measured on the way."""
    say = progress or (lambda _: None)
    opened = []  # per set: its retriever, tuning questions, name, and their first-stage tables
    for question_set in sets:
        retriever = keep_stages(open_retriever(question_set))
        questions = read_questions(question_set.questions, "dev")
        first = retriever.first_scores([q.question for q in questions])  # the same whatever the fusion
        opened.append((retriever, questions, question_set.name, first))

    def scored(fusion: Fusion) -> list[Example]:
        """Every set's tuning questions, their later stages reading what ``fusion`` ranks best."""
        return [
            example
            for retriever, questions, name, first in opened
            for example in collect(
                retriever.with_pipeline(retriever.pipeline.with_fusion(fusion)), questions, name, first
            )
        ]

    base = opened[0][0].fusion.as_mean()
    fusion = base  # the first round's later stages read what the starting mean ranks best
    report: dict[str, object] = {}
    for round_number in (1, 2):  # the second round's later stages read what the first model ranks best
        say(f"round {round_number}: scoring the tuning questions")
        examples = scored(fusion)
        say(f"round {round_number}: fitting the ranking on {len(examples)} questions")
        fusion, regularisation, cross_validated, error = fit_ranking(examples, base)
        kept = f"C={regularisation:g} kept, the best's standard error {error:.3f}"
        report[f"round {round_number} k-fold MRR@10 ({kept})"] = cross_validated
    say("scoring the tuning questions with the learned ranking, for the trees")
    examples = scored(fusion)
    stages = opened[0][0].pipeline.stage_names
    say(f"fitting the trees on {len(examples)} questions")
    report["k-fold hit@1, MRR@10"] = cross_validate_trees(examples, base, regularisation, stages)
    fusion = replace(fusion, trees=fit_trees(examples, ranking_names(examples), stages))
    say("scoring every combination of later stages")
    combinations = score_combinations([(r, q, first) for r, q, _, first in opened], fusion)
    evidence_of = evidence_by_key(combinations, fusion)
    say("fitting the decline")
    strength, tried = decline_regularisation(evidence_of)
    for key, shares in tried.items():
        report[f"decline {key}, k-fold off-topic declined"] = shares
    declines = fit_declines(evidence_of, strength)
    say("calibrating the thresholds")
    cuts = thresholds(evidence_of, declines, strength)
    fusion = replace(fusion, declines=declines, thresholds=cuts, produced_by=command)
    return fusion, report
