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
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import TypeVar

import numpy as np

from index.errors import MatchbotError
from index.rerank import Fusion, cross_step, late_step
from index.retriever import Answer, Retriever, Weights
from index.store import indexed_text

DEPTH = 10  # MRR@10 unless a run asks for another depth
MAX_DEPTH = 100
Progress = Callable[[int, int], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    question: str
    expect: tuple[str, ...] = ()
    split: str | None = None

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
            questions.append(EvalQuestion(question, expect, own_split))
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
    below: str  # the questions whose confidences the threshold lies between
    above: str

    @property
    def j(self) -> float:
        return self.declined_off_topic - self.declined_answerable


def calibrate(
    questions: Sequence[EvalQuestion], answers: Sequence[Answer], *, max_wrong: float | None = None
) -> Calibration:
    """A cut between two neighbouring confidences, placed midway between them: the one that declines
    the most off-topic questions while wrongly declining at most ``max_wrong`` of the answerable ones,
    or, with no ``max_wrong``, the one that maximises declined off-topic minus wrongly declined
    answerable (Youden's J). Ties go to the lower cut."""
    ranked = sorted(zip((a.confidence for a in answers), questions, strict=True), key=lambda p: p[0])
    off_topic = sum(q.off_topic for q in questions)
    answerable = len(questions) - off_topic
    if not off_topic or not answerable:
        raise MatchbotError("Calibrating needs both answerable and off-topic questions.")
    cuts: list[Calibration] = []
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
    if not cuts:
        raise MatchbotError(
            "No cut separates these questions"
            + (f" while declining at most {max_wrong:.0%} of the answerable ones." if max_wrong else ".")
        )
    gain = (lambda cut: cut.declined_off_topic) if max_wrong is not None else (lambda cut: cut.j)
    best = cuts[0]
    for cut in cuts[1:]:
        if gain(cut) > gain(best) + 1e-9:  # a tie keeps the lower cut
            best = cut
    return best


def tune_weights(
    retriever: Retriever,
    questions: Sequence[EvalQuestion],
    *,
    step: float = 0.05,
    progress: Progress | None = None,
) -> list[tuple[Weights, float, float]]:
    """Every weighting on a grid of ``step`` summing to 1, and the one in use, each with its MRR@10 and
    hit@1, best first.

    Each question's candidate features are computed once; the fusion is then one matrix product per
    question for all weightings. A wrong passage that ties with the best right one counts as above it.
    """
    answerable = [q for q in questions if not q.off_topic]
    queries = [retriever.prepare(q.question) for q in answerable]
    vectors = retriever.embedder.encode(queries)
    names = [field.name for field in fields(Weights)]
    grid = _weight_grid(len(names), step)
    weightings = [Weights(**dict(zip(names, (round(float(w), 3) for w in row), strict=True))) for row in grid]
    if retriever.weights not in weightings:
        grid = np.vstack([grid, np.asarray(astuple(retriever.weights), dtype=np.float32)])
        weightings.append(retriever.weights)
    reciprocal = np.zeros(len(grid))
    first = np.zeros(len(grid))
    chunks = retriever.store.chunks
    for number, (question, query, vector) in enumerate(zip(answerable, queries, vectors, strict=True)):
        rows, features = retriever.features(query, vector)
        hits = np.array([is_hit(chunks[row].text, question.expect) for row in rows], dtype=bool)
        if hits.any():
            fused = grid @ features  # one row per weighting
            best_hit = fused[:, hits].max(axis=1, keepdims=True)
            rank = 1 + (fused[:, ~hits] >= best_hit).sum(axis=1)
            reciprocal += np.where(rank <= DEPTH, 1 / rank, 0.0)
            first += rank == 1
        if progress:
            progress(number + 1, len(answerable))
    return _best_first(weightings, reciprocal, first, len(answerable))


def _weight_grid(size: int, step: float) -> np.ndarray:
    """Every vector of ``size`` non-negative multiples of ``step`` that sum to 1, one per row."""
    steps = round(1 / step)
    # Stars and bars: choosing size - 1 bar positions among steps + size - 1 slots.
    rows = []
    for bars in itertools.combinations(range(steps + size - 1), size - 1):
        edges = (-1, *bars, steps + size - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(size)])
    return np.array(rows, dtype=np.float32) / steps


def _best_first(
    settings: Sequence[T], reciprocal: np.ndarray, first: np.ndarray, questions: int
) -> list[tuple[T, float, float]]:
    """Each setting with its MRR@10 and hit@1 (sums of reciprocal ranks and of firsts over ``questions``),
    the best MRR first and hit@1 breaking ties."""
    results = [
        (setting, _share(mrr, questions), _share(hit, questions))
        for setting, mrr, hit in zip(settings, reciprocal, first, strict=True)
    ]
    return sorted(results, key=lambda result: (-result[1], -result[2]))


def _share(count: float, total: int) -> float:
    return count / total if total else 0.0


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class SecondStageGrid:
    """The second-stage settings ``tune_second_stage`` tries, every combination of them."""

    depths: tuple[int, ...] = (10, 20, 30)
    late: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    cross: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)
    cross_depths: tuple[int, ...] = (1, 2, 3, 5)


def tune_second_stage(
    retriever: Retriever,
    questions: Sequence[EvalQuestion],
    *,
    grid: SecondStageGrid | None = None,
    progress: Progress | None = None,
) -> list[tuple[Fusion, float, float]]:
    """Every second-stage fusion on ``grid`` (first weight 1; the threshold as in use), and the one in
    use, each with its MRR@10 and hit@1, best first.

    Each question's candidates, late-interaction scores and the cross-encoder logits of every row some
    setting would send to the cross-encoder are computed once; the settings are then scored offline.
    """
    stage = retriever.second_stage
    if stage is None or stage.late is None or stage.cross is None:
        raise MatchbotError(
            "Tuning the second stage needs both of its models: set MATCHBOT_RERANK and "
            "MATCHBOT_LATE_INTERACTION to on."
        )
    grid = grid or SecondStageGrid()
    used = stage.fusion
    settings = [
        Fusion(1.0, late, cross, depth, cross_depth, used.threshold)
        for depth in grid.depths
        for late in grid.late
        for cross in grid.cross
        for cross_depth in grid.cross_depths
    ]
    if used not in settings:
        settings.append(used)
    answerable = [q for q in questions if not q.off_topic]
    deepest = max(setting.depth for setting in settings)
    reciprocal = np.zeros(len(settings))
    first = np.zeros(len(settings))
    chunks = retriever.store.chunks
    vectors = retriever.embedder.encode([retriever.prepare(q.question) for q in answerable])
    for number, (question, vector) in enumerate(zip(answerable, vectors, strict=True)):
        query = retriever.prepare(question.question)
        rows, fused = retriever.rank(query, vector)
        rows, fused = rows[:deepest], fused[:deepest]
        late_texts = [indexed_text(chunks[row]) for row in rows]
        late = stage.late_scores(query, late_texts)
        # the rows some setting sends to the cross-encoder: the best of each late step's order
        crossed: set[int] = set()
        for setting in settings:
            depth = min(setting.depth, len(rows))
            order, _ = late_step(fused[:depth], late[:depth], setting)
            crossed.update(int(i) for i in order[: setting.cross_depth if setting.cross else 0])
        wanted = sorted(crossed)
        logits = np.full(len(rows), np.nan)
        texts = [f"{chunks[rows[i]].title}. {late_texts[i]}" for i in wanted]
        logits[wanted] = stage.cross.score(query, texts)
        hits = np.array([is_hit(chunks[row].text, question.expect) for row in rows], dtype=bool)
        for index, setting in enumerate(settings):
            depth = min(setting.depth, len(rows))
            order, scores = late_step(fused[:depth], late[:depth], setting)
            top = order[: setting.cross_depth if setting.cross else 0]
            order, _ = cross_step(order, scores, logits[top], setting)
            ranked = np.concatenate([hits[:depth][order], hits[depth:]])
            if ranked.any():
                rank = int(np.argmax(ranked)) + 1
                reciprocal[index] += 1 / rank if rank <= DEPTH else 0.0
                first[index] += rank == 1
        if progress:
            progress(number + 1, len(answerable))
    return _best_first(settings, reciprocal, first, len(answerable))
