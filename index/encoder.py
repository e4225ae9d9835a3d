"""What every text encoder matchbot uses provides, whichever library runs it.

The encoders are the ONNX export of MiniLM (``index.onnx_embedder.OnnxEmbedder``, answering without
torch), its sentence-transformers reference (``index.embedding.Embedder``), and the test suite's
model-free stand-in. An index records each encoder's ``name`` beside the vectors it made, so vectors of
one model are never compared with another's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

Progress = Callable[[int, int], None]


class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors, so inner products are cosines."""

    name: str  # the model's name, as an index's manifest records it
    dimension: int

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None) -> np.ndarray:
        """An ``(n, dimension)`` float32 array of unit vectors, one row per text."""
        ...
