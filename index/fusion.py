"""How named scores become one ranking and a decision to answer: weights, stages and thresholds, in one file.

``index/fusion.json`` holds everything the answer path weighs, and the command that produced it:

- ``kind`` and the weights. A ``mean`` fusion scores a candidate by the weighted mean of the scores it
  has (``weights``): a missing score drops out of the mean, its weight too. A ``logistic`` fusion (learned
  by ``matchbot learn-fusion``, ``index.learning``) scores it by the probability that it answers the
  question: the sigmoid of ``bias`` plus, for each score it has, ``weights[name] · score +
  offsets[name]``; a missing score adds nothing, so a candidate the cross-encoder did not read is scored
  by what the other scores say of it, on the same scale.
  A name with the suffix ``@other-language`` weighs its score only for the pairs the English-only
  readers did not read (``ranking_column``), on top of the score's own weight.
- ``stages``: the scores each stage of the cascade adds, in order, and ``depths``: how many of the best
  candidates each later stage reads. The candidates a later stage read come first, each group ordered
  by fused score.
- ``trees``: boosted trees (``index.boosting``) over every score and how far it lies from the
  question's other candidates', blended into a logistic fusion's final ranking of the candidates every
  later stage in use read, when those are the stages they were fitted with.
- ``declines``: logistic models over the question's evidence (the top candidate's score, and the best
  and the top candidate's value of each score, ``best:cross_logit`` or ``top:coverage``), each giving
  the probability that the articles answer the question: the answer's confidence. They are keyed as
  the thresholds are: one for each combination of later stages in use (a stage switched off leaves its
  scores missing, and the others then say more), and each again for questions whose best passage the
  English-only readers did not read (a question or a passage in another language). Without one, the
  confidence is the top candidate's score.
- ``thresholds``: the confidence below which an answer is declined, one for each combination of later
  stages in use (calibrated by ``matchbot eval --calibrate``), and each again with the suffix
  ``@other-language`` for questions whose best passage is a pair the English-only readers do not read
  (a question or a passage in another language).

A new score is one more column from the stage that computes it plus its weight here; nothing else
changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index.boosting import Trees
from index.errors import MatchbotError
from index.scores import GLOSS, ScoreTable

FUSION_FILE = Path(__file__).with_name("fusion.json")
FIRST_STAGE = "first"  # the thresholds' key when no later stage is in use
# The thresholds' suffix for a question whose best candidate is a pair the English-only readers did not
# read (a question or a passage in another language): its confidence rests on fewer scores, so it has a
# threshold of its own, calibrated on such pairs.
OTHER_LANGUAGE = "@other-language"
KINDS = ("mean", "logistic")


# A weighted mean of the scores, the answer path before any fusion is learned: where ``matchbot
# learn-fusion`` starts, and what ``matchbot eval --tune`` varies (``Fusion.as_mean``).
MEAN_WEIGHTS = {"sentence": 0.2, "context": 0.25, "lexical": 0.2, "article_lexical": 0.1, "distinct": 0.25}
MEAN_WEIGHTS |= {"use_sentence": 0.2, "use_context": 0.25, "late": 1.0, "cross": 4.0}
MEAN_WEIGHTS |= {"gloss_late": 1.0, "gloss_cross": 4.0}


@dataclass(frozen=True)
class Linear:
    """A logistic model over named features that may be missing: the sigmoid of ``bias`` plus, for each
    feature present, ``weights[name] · value + offsets[name]``."""

    weights: Mapping[str, float]
    offsets: Mapping[str, float] = field(default_factory=dict)
    bias: float = 0.0

    def logit(self, features: Mapping[str, np.ndarray], size: int) -> np.ndarray:
        total = np.full(size, self.bias, dtype=np.float64)
        for name, weight in self.weights.items():
            values = features.get(name)
            if values is None:
                continue
            present = ~np.isnan(values)
            total[present] += weight * values[present] + self.offsets.get(name, 0.0)
        return total

    def probability(self, features: Mapping[str, np.ndarray], size: int) -> np.ndarray:
        return 1 / (1 + np.exp(-self.logit(features, size)))

    def to_json(self) -> dict:
        return {"weights": dict(self.weights), "offsets": dict(self.offsets), "bias": self.bias}

    @classmethod
    def from_json(cls, saved: Mapping) -> Linear:
        return cls(
            weights={str(k): float(v) for k, v in saved["weights"].items()},
            offsets={str(k): float(v) for k, v in saved.get("offsets", {}).items()},
            bias=float(saved.get("bias", 0.0)),
        )


@dataclass(frozen=True)
class Fusion:
    """Weights per score, the cascade's stages and depths, the decline model and thresholds."""

    weights: Mapping[str, float]
    stages: tuple[tuple[str, ...], ...]
    depths: Mapping[str, int] = field(default_factory=dict)  # per later stage's first score name
    thresholds: Mapping[str, float] = field(default_factory=dict)
    produced_by: str = ""
    kind: str = "mean"
    offsets: Mapping[str, float] = field(default_factory=dict)  # a logistic fusion's, per score present
    bias: float = 0.0
    declines: Mapping[str, Linear] = field(default_factory=dict)  # keyed as the thresholds
    trees: Trees | None = None  # blended into a logistic fusion's final ranking (``index.boosting``)

    def __hash__(self) -> int:  # settings are compared and collected in tuning
        return hash(json.dumps(self.to_json(), sort_keys=True))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fusion) and self.to_json() == other.to_json()

    @classmethod
    def load(cls, path: Path = FUSION_FILE) -> Fusion:
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            kind = str(saved.get("kind", "mean"))
            if kind not in KINDS:
                raise ValueError(f"kind {kind!r} is none of {', '.join(KINDS)}")
            return cls(
                weights={str(k): float(v) for k, v in saved["weights"].items()},
                stages=tuple(tuple(str(name) for name in stage) for stage in saved["stages"]),
                depths={str(k): int(v) for k, v in saved.get("depths", {}).items()},
                thresholds={str(k): float(v) for k, v in saved.get("thresholds", {}).items()},
                produced_by=str(saved.get("produced_by", "")),
                kind=kind,
                offsets={str(k): float(v) for k, v in saved.get("offsets", {}).items()},
                bias=float(saved.get("bias", 0.0)),
                declines={str(k): Linear.from_json(v) for k, v in saved.get("declines", {}).items()},
                trees=Trees.from_json(saved["trees"]) if saved.get("trees") else None,
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            problem = f"The fusion file {path} cannot be read ({exc}): reinstall matchbot."
            raise MatchbotError(problem) from exc

    def to_json(self) -> dict:
        saved: dict = {"produced_by": self.produced_by, "kind": self.kind, "weights": dict(self.weights)}
        if self.kind == "logistic":
            saved |= {"offsets": dict(self.offsets), "bias": self.bias}
        saved |= {
            "stages": [list(stage) for stage in self.stages],
            "depths": dict(self.depths),
            "thresholds": dict(self.thresholds),
        }
        if self.declines:
            saved["declines"] = {key: model.to_json() for key, model in self.declines.items()}
        if self.trees is not None:
            saved["trees"] = self.trees.to_json()
        return saved

    def save(self, path: Path = FUSION_FILE) -> None:
        """Written indented, each of the trees' arrays on a line of its own (thousands of numbers)."""
        saved = self.to_json()
        trees = saved.pop("trees", None)
        text = json.dumps(saved, indent=2)
        if trees is not None:
            lines = ",\n".join(
                f"    {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in trees.items()
            )
            text = text[: text.rindex("}")].rstrip() + ',\n  "trees": {\n' + lines + "\n  }\n}"
        path.write_text(text + "\n", encoding="utf-8")

    def as_mean(self, weights: Mapping[str, float] = MEAN_WEIGHTS) -> Fusion:
        """A weighted mean of ``weights`` with this fusion's stages, depths and thresholds, no decline
        model and no trees."""
        return replace(
            self, kind="mean", weights=dict(weights), offsets={}, bias=0.0, declines={}, trees=None
        )

    def with_weights(self, weights: Mapping[str, float]) -> Fusion:
        return replace(self, weights=dict(weights))

    def with_depth(self, stage: str, depth: int) -> Fusion:
        return replace(self, depths={**self.depths, stage: depth})

    def depth(self, stage: str) -> int:
        """How many of the best candidates the stage that adds the score ``stage`` reads."""
        return self.depths.get(stage, 0)

    def threshold(self, stages_in_use: Iterable[str], *, other: bool = False) -> float:
        """The calibrated threshold for the later stages in use (their first score names), and, when the
        best candidate is another language's pair (``other_language``), theirs if one is calibrated."""
        stages = list(stages_in_use)
        if other and threshold_key(stages, other=True) in self.thresholds:
            return self.thresholds[threshold_key(stages, other=True)]
        key = threshold_key(stages)
        if key not in self.thresholds:
            raise MatchbotError(
                f"No decline threshold is calibrated for {key!r}: set MATCHBOT_THRESHOLD, or run "
                "`matchbot eval tests/data/seed_questions.jsonl --split dev --calibrate`."
            )
        return self.thresholds[key]

    def score(self, table: ScoreTable) -> np.ndarray:
        """Each candidate's fused score, 0–1 (0 when it has no score that counts)."""
        if self.kind == "logistic":
            columns = {name: ranking_column(table, name) for name in self.weights if has_score(table, name)}
            return Linear(self.weights, self.offsets, self.bias).probability(columns, len(table))
        total = np.zeros(len(table))
        weight = np.zeros(len(table))
        for name, w in self.weights.items():
            if w and name in table:
                values = table.column(name)
                present = ~np.isnan(values)
                total[present] += w * values[present]
                weight[present] += w
        return np.divide(total, weight, out=np.zeros(len(table)), where=weight > 0)

    def reached(self, table: ScoreTable) -> np.ndarray:
        """The last stage of the cascade that read each candidate (0: the first stage only)."""
        stage = np.zeros(len(table), dtype=np.int64)
        for number, names in enumerate(self.stages[1:], 1):
            for name in (*names, *(GLOSS + score for score in names)):  # on the question or its gloss
                if name in table:
                    stage[table.present(name)] = number
        return stage

    def furthest(self, table: ScoreTable) -> np.ndarray:
        """Which candidates the furthest stage of the cascade read: the group the trees rank."""
        reached = self.reached(table)
        return reached == reached.max(initial=0)

    def rank(
        self, table: ScoreTable, stages_in_use: Iterable[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate positions best first, and their scores, which fall in order: those a later stage
        read come first, each group by fused score, a candidate's score capped at the one above it.
        Given the later stages in use (the final ranking, every stage's scores in), the candidates of
        the furthest group are scored with the trees blended in when they were fitted with those
        stages; the cascade, choosing what each stage reads, ranks without them."""
        scores = self.score(table)
        if self.trees is not None and stages_in_use is not None and self.trees.applies(list(stages_in_use)):
            last = self.furthest(table)
            blend = self.trees.blend
            scores[last] = blend * scores[last] + (1 - blend) * self.trees.probability(table, last)
        order = np.lexsort((-scores, -self.reached(table)))  # the last key sorts first
        return order, np.minimum.accumulate(scores[order]) if len(order) else scores[order]

    def confidence(
        self, table: ScoreTable, order: np.ndarray, scores: np.ndarray, stages_in_use: Iterable[str]
    ) -> float:
        """How sure the answer is that the articles answer the question: the probability the decline
        model for the later stages in use (and the kind of pair the best candidate is) gives over the
        question's evidence, else the top candidate's score."""
        if not len(order):
            return 0.0
        stages = list(stages_in_use)
        key = threshold_key(stages, other=other_language(table, order))
        model = self.declines.get(key) or self.declines.get(threshold_key(stages))
        if model is None:
            return float(scores[0])
        found = evidence(table, order, scores)
        features = {name: np.array([value]) for name, value in found.items()}
        return float(model.probability(features, 1)[0])


def ranking_column(table: ScoreTable, name: str) -> np.ndarray:
    """A score's column as the ranking reads it. ``<score>@other-language`` is the score only where the
    English-only readers did not read the pair (``sentence`` missing), NaN elsewhere: its weight and
    offset add to the score's own for those pairs, so a learned fusion weighs the scores another
    language's pairs have by what they say for such pairs, without moving the English ones."""
    if not name.endswith(OTHER_LANGUAGE):
        return table.column(name)
    values = table.column(name.removesuffix(OTHER_LANGUAGE))
    if "sentence" not in table:
        return values
    return np.where(np.isnan(table.column("sentence")), values, np.nan)


def has_score(table: ScoreTable, name: str) -> bool:
    """Whether ``table`` has the column ``ranking_column`` reads for ``name``."""
    return name.removesuffix(OTHER_LANGUAGE) in table


def threshold_key(stages_in_use: Iterable[str], *, other: bool = False) -> str:
    """The thresholds' key for the later stages in use (``cross+late``, ``first`` for none), with
    ``OTHER_LANGUAGE`` for another language's pairs."""
    return ("+".join(sorted(stages_in_use)) or FIRST_STAGE) + (OTHER_LANGUAGE if other else "")


def other_language(table: ScoreTable, order: np.ndarray) -> bool:
    """Whether the best candidate is a pair the primary (English) encoder did not read: a passage in
    another language, or a question in one (its table has no such column at all)."""
    if not len(order):
        return False
    return "sentence" not in table or bool(np.isnan(table.column("sentence")[order[0]]))


def unheld(table: ScoreTable) -> bool:
    """Whether the question asks for a kind of answer (``answer_type`` is scored) that none of its
    candidates holds."""
    return "answer_type" in table and len(table) > 0 and not np.nansum(table.column("answer_type"))


def evidence(table: ScoreTable, order: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """What a question's ranked candidates say of whether the articles answer it: ``top`` (the best
    candidate's fused score), ``margin`` (how far it leads the second), ``unheld`` (1 when the question
    asks for a kind of answer, an age or a score, that none of its candidates holds, else 0) and, for
    every score, ``best:<name>`` (its highest value among the candidates that have it) and
    ``top:<name>`` (the best candidate's); NaN where there is none."""
    found = {
        "top": float(scores[0]) if len(scores) else float("nan"),
        "margin": float(scores[0] - scores[1]) if len(scores) > 1 else float("nan"),
        "unheld": float(unheld(table)),
    }
    for name in table:
        values = table.column(name)
        present = values[~np.isnan(values)]
        found[f"best:{name}"] = float(present.max()) if len(present) else float("nan")
        found[f"top:{name}"] = float(values[order[0]]) if len(order) else float("nan")
    return found
