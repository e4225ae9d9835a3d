"""How named scores become one ranking and a decision to answer: weights, stages and thresholds, in one file.

``index/fusion.json`` holds everything the answer path weighs, and the command that chose it:

- ``weights``: a weight per score name (``index.scores``). A candidate's fused score is the weighted mean
  of the scores it has; a missing score drops out of the mean (its weight too), so a candidate that the
  cross-encoder did not read is scored by what the cheaper stages say of it, on the same 0–1 scale.
- ``stages``: the scores each stage of the cascade adds, in order. A later stage reads only the best
  candidates of the ranking before it, and those it read come first: a candidate's rank is decided by
  the last stage that read it, then by its fused score.
- ``depths``: how many candidates each later stage reads.
- ``thresholds``: the confidence (the best passage's fused score) below which an answer is declined,
  one for each combination of second-stage models in use (calibrated by ``matchbot eval --calibrate``).

A new score is one more column from the stage that computes it plus its weight here; nothing else
changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index.errors import MatchbotError
from index.scores import ScoreTable

FUSION_FILE = Path(__file__).with_name("fusion.json")
FIRST_STAGE = "first"  # the thresholds' key when no second-stage model is in use


@dataclass(frozen=True)
class Fusion:
    """Weights per score, the cascade's stages and depths, and the decline thresholds."""

    weights: Mapping[str, float]
    stages: tuple[tuple[str, ...], ...]
    depths: Mapping[str, int] = field(default_factory=dict)  # per later stage's first score name
    thresholds: Mapping[str, float] = field(default_factory=dict)
    produced_by: str = ""

    def __hash__(self) -> int:  # settings are compared and collected in tuning
        return hash(
            (
                tuple(sorted(self.weights.items())),
                self.stages,
                tuple(sorted(self.depths.items())),
                tuple(sorted(self.thresholds.items())),
            )
        )

    @classmethod
    def load(cls, path: Path = FUSION_FILE) -> Fusion:
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                weights={str(k): float(v) for k, v in saved["weights"].items()},
                stages=tuple(tuple(str(name) for name in stage) for stage in saved["stages"]),
                depths={str(k): int(v) for k, v in saved.get("depths", {}).items()},
                thresholds={str(k): float(v) for k, v in saved.get("thresholds", {}).items()},
                produced_by=str(saved.get("produced_by", "")),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MatchbotError(
                f"The fusion file {path} cannot be read ({exc}): reinstall matchbot."
            ) from exc

    def save(self, path: Path = FUSION_FILE) -> None:
        saved = {
            "produced_by": self.produced_by,
            "weights": dict(self.weights),
            "stages": [list(stage) for stage in self.stages],
            "depths": dict(self.depths),
            "thresholds": dict(self.thresholds),
        }
        path.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")

    def with_weights(self, weights: Mapping[str, float]) -> Fusion:
        return replace(self, weights=dict(weights))

    def with_depth(self, stage: str, depth: int) -> Fusion:
        return replace(self, depths={**self.depths, stage: depth})

    def depth(self, stage: str) -> int:
        """How many of the best candidates the stage that adds the score ``stage`` reads."""
        return self.depths.get(stage, 0)

    def threshold(self, stages_in_use: Iterable[str]) -> float:
        """The calibrated threshold for the later stages in use (their first score names)."""
        key = "+".join(sorted(stages_in_use)) or FIRST_STAGE
        if key not in self.thresholds:
            raise MatchbotError(
                f"No decline threshold is calibrated for {key!r}: set MATCHBOT_THRESHOLD, or run "
                "`matchbot eval tests/data/seed_questions.jsonl --split dev --calibrate`."
            )
        return self.thresholds[key]

    def score(self, table: ScoreTable) -> np.ndarray:
        """Each candidate's weighted mean of the scores it has (0 when it has none that count)."""
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
            for name in names:
                if name in table:
                    stage[table.present(name)] = number
        return stage

    def rank(self, table: ScoreTable) -> tuple[np.ndarray, np.ndarray]:
        """Candidate positions best first, and their scores: those a later stage read come first, each
        group by fused score; a candidate's score is capped at the one above it, so scores fall in order
        and the first is the answer's confidence."""
        scores = self.score(table)
        order = np.lexsort((-scores, -self.reached(table)))  # the last key sorts first
        return order, np.minimum.accumulate(scores[order]) if len(order) else scores[order]
