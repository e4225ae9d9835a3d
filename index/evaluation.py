"""Retrieval quality on a question file: hit@1, hit@3, MRR@k (k = 10 unless told) and decline rates.

A question file is JSON lines, each either ``{"question", "expect": [str, ...]}`` (answerable: a passage
is a hit when its matched sentence and an expected string contain one another, whitespace-normalised and
case-folded) or ``{"question", "decline": true}`` (off-topic: the right answer is to decline). An
optional ``"split"`` field lets a run keep to the tuning ("dev") or held-out ("test") questions; a line
without one is "dev" when its position among the questions (from 0) is a multiple of 3, else "test".
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index.chunking import Chunk
from index.errors import MatchbotError
from index.first_stage import COLUMNS
from index.fusion import Fusion
from index.retriever import Answer, Query, Retriever

DEPTH = 10  # MRR@10 unless a run asks for another depth
MAX_DEPTH = 100
Progress = Callable[[int, int], None]
# The baselines ``matchbot eval --baselines`` runs beside matchbot: one first-stage score alone.
BASELINES = {"bm25": {"lexical": 1.0}, "dense": {"sentence": 1.0}}


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    question: str
    expect: tuple[str, ...] = ()
    split: str | None = None
    language: str | None = None  # the question's, as its record says (``"lang"``)

    @property
    def off_topic(self) -> bool:
        return not self.expect


@dataclass(frozen=True, slots=True)
class Scores:
    """One system's figures over one question set."""

    system: str
    answerable: int
    off_topic: int
    hit_at_1: float
    hit_at_3: float
    k: int
    mrr_at_k: float
    declined_off_topic: float | None  # share of off-topic questions declined
    declined_answerable: float | None  # share of answerable questions wrongly declined

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


def read_questions(path: Path, split: str | None = None) -> list[EvalQuestion]:
    """Read a question file; a malformed line is a MatchbotError naming the line."""
    if not path.is_file():
        raise MatchbotError(f"The question file {path} does not exist.")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MatchbotError(f"Cannot read the question file {path}: {exc}") from None
    questions: list[EvalQuestion] = []
    skipped = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question = str(record["question"])
            if not question.strip():
                raise ValueError("the question is empty")
            if isinstance(record.get("expect"), str):
                raise ValueError('"expect" must be a list of strings')
            expect = tuple(str(text) for text in record.get("expect", ()) if str(text).strip())
            if not expect and record.get("decline") is not True:
                raise ValueError('needs "expect": [...] or "decline": true')
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MatchbotError(f"{path} line {number} is not a question record: {exc}") from None
        position = len(questions) + skipped
        own_split = record.get("split") or ("dev" if position % 3 == 0 else "test")
        if split is None or own_split == split:
            language = str(record["lang"]).lower() if record.get("lang") else None
            questions.append(EvalQuestion(question, expect, own_split, language))
        else:
            skipped += 1
    if not questions:
        raise MatchbotError(f"{path} holds no questions" + (f" in split {split!r}." if split else "."))
    return questions


def is_hit(sentence: str, expected: Iterable[str]) -> bool:
    """Whether a matched sentence and any expected string contain one another."""
    found = _normal(sentence)
    wanted = [want for text in expected if (want := _normal(text))]  # "" would be in every sentence
    return bool(found) and any(want in found or found in want for want in wanted)


def evaluate(
    retriever: Retriever,
    questions: Sequence[EvalQuestion],
    *,
    system: str = "matchbot",
    k: int = DEPTH,
    declines: bool = True,
    progress: Progress | None = None,
) -> Scores:
    """Run every question through ``retriever`` and score the rankings (MRR to depth ``k``) and declines."""
    answers = answer_all(retriever, questions, k=max(k, 3), progress=progress)
    return score(system, questions, answers, k=k, declines=declines)


def by_language(
    questions: Sequence[EvalQuestion], answers: Sequence[Answer], chunks: Sequence[Chunk]
) -> dict[str, list[int]]:
    """The questions' positions grouped by language (``fr``, as their records say) and by language pair
    (``fr→en``: a French question whose expected sentences are in English articles; ``mixed`` when they
    are in several languages; off-topic questions have no pair)."""
    language_of: dict[str, set[str]] = {}
    groups: dict[str, list[int]] = {}
    for number, question in enumerate(questions):
        asked = question.language or "en"
        groups.setdefault(asked, []).append(number)
        if question.off_topic:
            continue
        wanted = question.expect
        key = "\n".join(wanted)
        if key not in language_of:
            language_of[key] = {chunk.language for chunk in chunks if is_hit(chunk.text, wanted)}
        found = language_of[key]
        answered_in = next(iter(found)) if len(found) == 1 else "mixed"
        groups.setdefault(f"{asked}→{answered_in}", []).append(number)
    return dict(sorted(groups.items(), key=lambda item: ("→" in item[0], item[0])))


def answer_all(
    retriever: Retriever,
    questions: Sequence[EvalQuestion],
    *,
    k: int,
    batch: int = 256,
    progress: Progress | None = None,
) -> list[Answer]:
    """Each question's answer with ``k`` passages, asked in batches."""
    answers: list[Answer] = []
    for start in range(0, len(questions), batch):
        chunk = questions[start : start + batch]
        answers.extend(retriever.search_many([q.question for q in chunk], k=k))
        if progress:
            progress(len(answers), len(questions))
    return answers


def score(
    system: str,
    questions: Sequence[EvalQuestion],
    answers: Sequence[Answer],
    *,
    k: int = DEPTH,
    declines: bool = True,
) -> Scores:
    """Figures for answers already computed, one per question; ranks below ``k`` (or 3) do not count."""
    depth = max(k, 3)
    ranks = []  # 1-based rank of the first hit among answerable questions, 0 when none in the top depth
    declined_right = declined_wrong = 0
    for question, answer in zip(questions, answers, strict=True):
        if question.off_topic:
            declined_right += not answer.answered
            continue
        declined_wrong += not answer.answered
        rank = next(
            (i for i, p in enumerate(answer.passages[:depth], 1) if is_hit(p.text, question.expect)), 0
        )
        ranks.append(rank)
    answerable, off_topic = len(ranks), len(questions) - len(ranks)
    return Scores(
        system=system,
        answerable=answerable,
        off_topic=off_topic,
        hit_at_1=_share(sum(r == 1 for r in ranks), answerable),
        hit_at_3=_share(sum(1 <= r <= 3 for r in ranks), answerable),
        k=k,
        mrr_at_k=_share(sum(1 / r for r in ranks if 1 <= r <= k), answerable),
        declined_off_topic=_share(declined_right, off_topic) if declines and off_topic else None,
        declined_answerable=_share(declined_wrong, answerable) if declines else None,
    )


@dataclass(frozen=True, slots=True)
class Calibration:
    """The threshold that best separates off-topic from answerable questions (Youden's J)."""

    threshold: float
    declined_off_topic: float
    declined_answerable: float
    below: str  # the questions whose confidences the threshold lies between ("": below them all)
    above: str
    # how well the confidence tells answerable from off-topic questions, whatever the cut: the area under
    # the ROC curve, the chance that an answerable question is more confident than an off-topic one
    # (``calibrate`` measures it; NaN where only a cut was placed, as ``index.learning`` places them)
    separation: float = float("nan")

    @property
    def j(self) -> float:
        return self.declined_off_topic - self.declined_answerable


def calibrate(
    questions: Sequence[EvalQuestion], answers: Sequence[Answer], *, max_wrong: float | None = None
) -> Calibration:
    """A cut between two neighbouring confidences, placed midway between them: the one that declines
    the most off-topic questions while wrongly declining at most ``max_wrong`` of the answerable ones,
    or, with no ``max_wrong``, the one that maximises declined off-topic minus wrongly declined
    answerable (Youden's J). Ties go to the lower cut. With it, how well the confidence separates the two
    kinds whatever the cut (``separation``)."""
    confidences = [answer.confidence for answer in answers]
    found = calibrate_confidences(questions, confidences, max_wrong=max_wrong)
    return replace(found, separation=separation(questions, confidences))


def calibrate_confidences(
    questions: Sequence[EvalQuestion], confidences: Sequence[float], *, max_wrong: float | None = None
) -> Calibration:
    """``calibrate``'s cut over each question's confidence, without its ``separation``."""
    ranked = sorted(zip(confidences, questions, strict=True), key=lambda p: p[0])
    off_topic = sum(q.off_topic for q in questions)
    answerable = len(questions) - off_topic
    if not off_topic or not answerable:
        raise MatchbotError("Calibrating needs both answerable and off-topic questions.")
    # Declining nothing is a cut too: below the lowest confidence (when it is an answerable question's,
    # and too few questions are asked for declining even one to stay within ``max_wrong``).
    lowest, first = ranked[0]
    cuts = [Calibration(round(max(0.0, lowest - 0.001), 3), 0.0, 0.0, "", first.question)]
    declined_right = declined_wrong = 0
    for (low, below), (high, above) in itertools.pairwise(ranked):
        declined_right += below.off_topic
        declined_wrong += not below.off_topic
        if high == low:
            continue
        cuts.append(
            Calibration(
                threshold=round((low + high) / 2, 3),
                declined_off_topic=declined_right / off_topic,
                declined_answerable=declined_wrong / answerable,
                below=below.question,
                above=above.question,
            )
        )
    if max_wrong is not None:
        cuts = [cut for cut in cuts if cut.declined_answerable <= max_wrong + 1e-9]
    gain = (lambda cut: cut.declined_off_topic) if max_wrong is not None else (lambda cut: cut.j)
    best = cuts[0]
    for cut in cuts[1:]:
        if gain(cut) > gain(best) + 1e-9:  # a tie keeps the lower cut
            best = cut
    return best


def separation(questions: Sequence[EvalQuestion], confidences: Sequence[float]) -> float:
    """The area under the ROC curve of ``confidences`` as a test of which questions are answerable: the
    chance that an answerable question is more confident than an off-topic one, ties counting half (1:
    some threshold separates them all; 0.5: the confidence tells nothing)."""
    from sklearn.metrics import roc_auc_score

    answerable = [not question.off_topic for question in questions]
    return float(roc_auc_score(answerable, np.asarray(confidences, dtype=np.float64)))


def baseline(retriever: Retriever, name: str) -> Retriever:
    """``retriever`` ranking by one of ``BASELINES`` alone, with no later stage."""
    first = retriever.first_stage_only()
    return first.with_pipeline(first.pipeline.with_fusion(first.fusion.as_mean(BASELINES[name])))


@dataclass(frozen=True, slots=True)
class Tuned:
    """One setting tried by a tuner, and its figures on the answerable questions."""

    fusion: Fusion
    mrr: float
    hit_at_1: float


def tune(
    retriever: Retriever,
    questions: Sequence[EvalQuestion],
    settings: Sequence[Fusion],
    *,
    progress: Progress | None = None,
) -> list[Tuned]:
    """Every fusion in ``settings`` and the one in use, each scored as matchbot answers with it: the
    same tables (``Retriever.first_scores`` and ``rescore``), ranking and duplicate collapsing as
    ``evaluate``, so a tuned setting's figures are the ones ``matchbot eval`` then prints. Best first, by
    MRR@10 then hit@1.

    Each question is encoded and its first-stage table made once; every later-stage score is computed
    once per (question, passage) and kept (each text is read in a call of its own, so a kept score is
    the one the stage would give again).
    """
    answerable = [q for q in questions if not q.off_topic]
    first = retriever.first_scores([q.question for q in answerable])
    kept = [KeptStage(stage) for stage in retriever.pipeline.stages]
    pipeline = replace(retriever.pipeline, stages=tuple(kept))
    tried = list(dict.fromkeys([*settings, retriever.fusion]))
    results = []
    for number, fusion in enumerate(tried, 1):
        system = retriever.with_pipeline(replace(pipeline, fusion=fusion))
        tables = system.rescore(first)
        answers = [
            system.answer(Query(q.question, DEPTH), q.question, table)
            for q, table in zip(answerable, tables, strict=True)
        ]
        found = score("tuning", answerable, answers, declines=False)
        results.append(Tuned(fusion, found.mrr_at_k, found.hit_at_1))
        if progress:
            progress(number, len(tried))
    return sorted(results, key=lambda r: (-r.mrr, -r.hit_at_1))


def first_stage_grid(fusion: Fusion, step: float = 0.1) -> list[Fusion]:
    """Weighted means of the first stage's scores (``fusion``'s stages and depths), every weighting on a
    grid of ``step`` that sums to 1."""
    mean = fusion.as_mean()
    return [
        mean.with_weights(
            {**mean.weights, **dict(zip(COLUMNS, (round(float(w), 3) for w in row), strict=True))}
        )
        for row in _weight_grid(len(COLUMNS), step)
    ]


@dataclass(frozen=True, slots=True)
class SecondStageGrid:
    """The second-stage settings ``second_stage_grid`` makes, every combination of them."""

    depths: tuple[int, ...] = (10, 20, 30)
    late: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    cross: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)
    cross_depths: tuple[int, ...] = (1, 2, 3, 5)


def second_stage_grid(fusion: Fusion, grid: SecondStageGrid | None = None) -> list[Fusion]:
    """Weighted means (``fusion``'s stages) with every late-interaction and cross-encoder weight and
    depth on ``grid``, the first stage's weights those of ``index.fusion.MEAN_WEIGHTS``."""
    grid = grid or SecondStageGrid()
    fusion = fusion.as_mean()
    return [
        replace(
            fusion,
            weights={**fusion.weights, "late": late, "cross": cross},
            depths={**fusion.depths, "late": depth, "cross": cross_depth},
        )
        for depth in grid.depths
        for late in grid.late
        for cross in grid.cross
        for cross_depth in grid.cross_depths
    ]


class KeptStage:
    """A later stage whose scores are computed once per (question, passage) and kept."""

    def __init__(self, stage: object) -> None:
        self.stage = stage
        self.name = stage.name  # type: ignore[attr-defined]
        self.languages = getattr(stage, "languages", None)
        self._kept: dict[tuple[str, int], dict[str, float]] = {}

    def score_many(
        self, questions: Sequence[str], passages: Sequence[Sequence[Chunk]]
    ) -> list[dict[str, np.ndarray]]:
        missing = {
            (q, id(chunk)): (q, chunk)
            for q, chunks in zip(questions, passages, strict=True)
            for chunk in chunks
            if (q, id(chunk)) not in self._kept
        }
        asked = list(dict.fromkeys(q for q, _ in missing.values()))
        groups = [[chunk for q, chunk in missing.values() if q == question] for question in asked]
        for question, chunks, columns in zip(
            asked,
            groups,
            self.stage.score_many(asked, groups),
            strict=True,  # type: ignore[attr-defined]
        ):
            for n, chunk in enumerate(chunks):
                self._kept[(question, id(chunk))] = {
                    name: float(values[n]) for name, values in columns.items()
                }
        found = []
        for question, chunks in zip(questions, passages, strict=True):
            rows = [self._kept[(question, id(chunk))] for chunk in chunks]
            names = rows[0].keys() if rows else ()
            found.append({name: np.array([row[name] for row in rows]) for name in names})
        return found


def _weight_grid(size: int, step: float) -> np.ndarray:
    """Every vector of ``size`` non-negative multiples of ``step`` that sum to 1, one per row."""
    steps = round(1 / step)
    # Stars and bars: choosing size - 1 bar positions among steps + size - 1 slots.
    rows = []
    for bars in itertools.combinations(range(steps + size - 1), size - 1):
        edges = (-1, *bars, steps + size - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(size)])
    return np.array(rows, dtype=np.float32) / steps


def _share(count: float, total: int) -> float:
    return count / total if total else 0.0


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()
