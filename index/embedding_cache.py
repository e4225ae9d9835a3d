"""Embeddings re-used by content: a changed article re-embeds only the texts that changed.

The previous index is the cache: every sentence and context it holds was embedded from a known text by
the model its manifest names. When an article changes, each of its new texts that the previous index
already embedded with the same model (an unchanged sentence, or a context none of whose sentences
changed) takes that vector instead of being encoded again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from index.embedding import Embedder
    from index.store import Store

Progress = Callable[[int, int], None]


def embed_new_texts(
    texts: Sequence[str], embedder: Embedder, previous: Store | None, progress: Progress | None = None
) -> np.ndarray:
    """``texts`` embedded, taking each vector the previous index holds for the same text and model."""
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    known = known_texts(previous) if previous is not None and previous.model == embedder.name else {}
    found = [(i, known[text]) for i, text in enumerate(texts) if text in known]
    for contexts in (False, True):
        pairs = [(i, row) for i, (row, is_context) in found if is_context == contexts]
        if pairs:
            wanted, rows = (list(side) for side in zip(*pairs, strict=True))
            vectors[wanted] = previous.vectors(rows, contexts=contexts)  # type: ignore[union-attr]
    missing = [i for i, text in enumerate(texts) if text not in known]
    if missing:
        vectors[missing] = embedder.encode([texts[i] for i in missing], progress=progress)
    return vectors


def known_texts(store: Store) -> dict[str, tuple[int, bool]]:
    """Every text the index embedded: its row, and whether it is that row's context (else its sentence)."""
    from index.chunking import context_text, indexed_text

    known = {context_text(store.chunks, row): (row, True) for row in range(len(store.chunks))}
    known.update((indexed_text(chunk), (row, False)) for row, chunk in enumerate(store.chunks))
    return known
