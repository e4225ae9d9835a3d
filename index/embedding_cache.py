"""Embeddings re-used by content: a changed article re-embeds only the texts that changed.

The previous index is the cache: every sentence and context it holds was embedded from a known text by
each encoder it names. When an article changes, each of its new texts that the previous index already
embedded with the same encoder (an unchanged sentence, or a context none of whose sentences changed)
takes that vector instead of being encoded again. The cache reads the previous index through
``EmbeddedTexts`` only (``index.store.Store`` is one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from index.encoder import Encoder, Progress


class EmbeddedTexts(Protocol):
    """What the cache needs of a previous index."""

    @property
    def encoders(self) -> list[str]:
        """The encoders whose vectors it holds."""
        ...

    def embedded_texts(self) -> dict[str, tuple[int, bool]]:
        """Every text it embedded: its row, and whether it is that row's context (else its sentence)."""
        ...

    def vectors(
        self, rows: Sequence[int], *, contexts: bool = False, encoder: str | None = None
    ) -> np.ndarray:
        """The vectors the encoder made of the sentences (or contexts) of ``rows``."""
        ...


def embed_new_texts(
    texts: Sequence[str], encoder: Encoder, previous: EmbeddedTexts | None, progress: Progress | None = None
) -> np.ndarray:
    """``texts`` embedded by ``encoder``, taking each vector the previous index holds for the same text
    and encoder."""
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    same = previous is not None and encoder.name in previous.encoders
    known = previous.embedded_texts() if same else {}  # type: ignore[union-attr]
    found = [(i, known[text]) for i, text in enumerate(texts) if text in known]
    for contexts in (False, True):
        pairs = [(i, row) for i, (row, is_context) in found if is_context == contexts]
        if pairs:
            wanted, rows = (list(side) for side in zip(*pairs, strict=True))
            vectors[wanted] = previous.vectors(rows, contexts=contexts, encoder=encoder.name)  # type: ignore[union-attr]
    missing = [i for i, text in enumerate(texts) if text not in known]
    if missing:
        vectors[missing] = encoder.encode([texts[i] for i in missing], progress=progress)
    return vectors
