"""The lean encoder: MiniLM exported to ONNX and run with onnxruntime and tokenizers, never torch.

``matchbot export-model`` (run by ``make setup``) exports the sentence-transformers model once, checks the
export against it, and saves ``model.onnx`` and ``tokenizer.json`` in ``<venv>/share/matchbot/models/``
with a ``source.json`` that names the model folder it came from. ``load_embedder`` then opens that
export, which answers and indexes exactly as the reference does (mean pooling, L2 normalisation) without
importing torch or sentence-transformers; when there is no export it falls back to the reference model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embedding import BUNDLED_MODEL_NAME, Embedder, Progress, bundled_model_path, languages_of
from index.errors import ModelError
from index.onnx import MODEL_FILE, TOKENIZER_FILE, OnnxModel, exports_folder

SOURCE_FILE = "source.json"
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length: longer texts are cut, as the reference cuts them
BATCH = 8  # length-sorted batches of sentences this small pad least; measured fastest on two cores
# Short texts (questions) are encoded more at a time: a batch holds up to BATCH_CHARACTERS characters
# of its longest text, never fewer than BATCH texts nor more than SHORT_BATCH. A sentence of 125
# characters or more is still read 8 at a time; a question batch of 16-32 costs about 14% less a
# question than one of 8 (README, "Speed"). The vectors are the same at any batch size, bit for bit.
BATCH_CHARACTERS = 1000
SHORT_BATCH = 32
EXPORT_HINT = "run `matchbot export-model` (make setup does) to answer without loading torch"


def model_source(model: str | os.PathLike[str] | None) -> tuple[str, Path]:
    """The model's name (as written in an index's manifest) and its sentence-transformers folder."""
    if model:
        path = Path(model).expanduser()
        return path.resolve().name, path
    return BUNDLED_MODEL_NAME, bundled_model_path()


def fingerprint(folder: Path) -> str:
    """Names and sizes of the model folder's files: changes when the model is replaced."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(folder)}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def export_folder(model: str | os.PathLike[str] | None) -> Path:
    name, _ = model_source(model)
    return exports_folder() / name


class OnnxEmbedder:
    """Turns texts into L2-normalised float32 vectors with the exported model; same interface as Embedder."""

    def __init__(self, model: OnnxModel, name: str, dimension: int) -> None:
        self.model = model
        self.name = name
        self.languages = languages_of(name)
        self.dimension = dimension

    @classmethod
    def load(cls, folder: Path, name: str, *, threads: int | None = None) -> OnnxEmbedder:
        model = OnnxModel.load(folder, max_length=MAX_TOKENS, setting="MATCHBOT_MODEL", threads=threads)
        dimension = int(model.run(model.tokenize(["a"])).shape[-1])
        return cls(model, name, dimension)

    def encode(
        self, texts: Sequence[str], *, batch_size: int | None = None, progress: Progress | None = None
    ) -> np.ndarray:
        """Embed ``texts`` as an ``(n, dimension)`` array of unit vectors, longest first in small batches
        so that each pads to about the same length (``batch_size`` texts each; by default as many as
        ``BATCH_CHARACTERS`` allows)."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        reported = 0
        start = 0
        while start < len(order):
            size = batch_size or min(
                SHORT_BATCH, max(BATCH, BATCH_CHARACTERS // max(1, len(texts[order[start]])))
            )
            rows = order[start : start + size]
            vectors[rows] = self._embed([texts[row] for row in rows])
            start += len(rows)
            if progress and (start - reported >= BATCH * 8 or start == len(texts)):
                progress(start, len(texts))
                reported = start
        return vectors

    def _embed(self, texts: list[str]) -> np.ndarray:
        inputs = self.model.tokenize(texts)
        hidden = np.asarray(self.model.run(inputs), dtype=np.float32)
        mask = inputs["attention_mask"][:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def find_export(model: str | os.PathLike[str] | None) -> Path | None:
    """The export of ``model`` when there is one made from this very model folder, else None."""
    name, source = model_source(model)
    folder = exports_folder() / name
    try:
        recorded = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    present = all((folder / file).is_file() for file in (MODEL_FILE, TOKENIZER_FILE))
    if not present or recorded.get("fingerprint") != fingerprint(source):
        return None
    return folder


def load_embedder(model: str | os.PathLike[str] | None = None) -> OnnxEmbedder | Embedder:
    """The exported model when there is one (no torch), else the sentence-transformers reference."""
    name, _ = model_source(model)
    folder = find_export(model)
    if folder is not None:
        try:
            return OnnxEmbedder.load(folder, name)
        except ModelError as exc:
            logging.getLogger(__name__).warning("%s; using the reference model instead", exc)
    logging.getLogger(__name__).info("No ONNX export of %s: %s.", name, EXPORT_HINT)
    return Embedder.load(model)
