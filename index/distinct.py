"""The ``distinct`` score of every sentence: 1 minus its mean cosine with its nearest other sentences.

A sentence that resembles many others is near every question without answering any; this is the
hubness correction of CSLS (Conneau et al., 2018). It is a property of the corpus, not of a question, so
it is worked out when the index is built and saved beside it (``distinct.npy``), not when it is opened.

Each row is saved with its *reach*, the cosine of the farthest of its nearest sentences. An update
recomputes the new rows and every kept row whose neighbourhood a changed sentence can enter or leave: a
row is affected when an added or removed sentence is at least as close to it as its reach. With exact
search that test runs over every kept row, so an update equals a recomputation; with an approximate
(IVF) index only the kept rows among each changed sentence's ``REACH_SEARCH`` nearest are tested, and
the neighbours themselves are the index's approximate ones.
"""

from __future__ import annotations

import faiss
import numpy as np

HUB_NEIGHBOURS = 30  # nearest sentences averaged
REACH_SEARCH = 4 * HUB_NEIGHBOURS  # with an approximate index: sentences tested around each change
_BLOCK = 8192  # rows searched at once, to bound memory at a million rows
_TOLERANCE = 1e-5  # a changed sentence this much beyond a row's reach still counts as close


def depth(size: int) -> int:
    """How many neighbours are averaged in an index of ``size`` sentences."""
    return min(HUB_NEIGHBOURS, size - 1)


def distinctness(index: faiss.Index, rows: np.ndarray | None = None) -> np.ndarray:
    """``distinct`` and reach of ``rows`` (default: all), one ``[distinct, reach]`` row each, by
    searching ``index`` with its own stored vectors."""
    size = index.ntotal
    rows = np.arange(size) if rows is None else np.asarray(rows, dtype=np.int64)
    out = np.empty((len(rows), 2), dtype=np.float32)
    if size < 2:
        out[:] = (1.0, -1.0)
        return out
    wanted = depth(size)
    for start in range(0, len(rows), _BLOCK):
        block = rows[start : start + _BLOCK]
        similarities, found = index.search(index.reconstruct_batch(block), wanted + 1)
        others = (found != block[:, None]) & (found >= 0)  # each row finds itself; leave it out
        counts = np.maximum(others.sum(axis=1), 1)
        mean = np.where(others, similarities, 0).sum(axis=1) / counts
        out[start : start + len(block), 0] = 1 - mean
        out[start : start + len(block), 1] = np.where(others, similarities, np.inf).min(axis=1)
    return out


def update(
    previous: np.ndarray,
    old_index: faiss.Index,
    new_index: faiss.Index,
    kept: list[tuple[int, int]],
    *,
    exact: bool,
) -> tuple[np.ndarray, int]:
    """The saved scores of ``new_index`` from ``previous`` (those of ``old_index``), recomputing only
    what an update changes. ``kept`` pairs each unchanged row's new number with its old one. Returns the
    scores and the number of rows recomputed."""
    size = new_index.ntotal
    if size < 2 or not kept or depth(size) != depth(old_index.ntotal) or len(previous) != old_index.ntotal:
        return distinctness(new_index), size
    kept_new = np.fromiter((new for new, _ in kept), dtype=np.int64, count=len(kept))
    kept_old = np.fromiter((old for _, old in kept), dtype=np.int64, count=len(kept))
    fresh = np.setdiff1d(np.arange(size), kept_new)
    removed = np.setdiff1d(np.arange(old_index.ntotal), kept_old)
    scores = np.empty((size, 2), dtype=np.float32)
    scores[kept_new] = previous[kept_old]
    reach = scores[kept_new, 1] - _TOLERANCE
    added = new_index.reconstruct_batch(fresh) if len(fresh) else np.zeros((0, new_index.d), np.float32)
    gone = old_index.reconstruct_batch(removed) if len(removed) else np.zeros((0, old_index.d), np.float32)
    if exact:
        kept_vectors = new_index.reconstruct_batch(kept_new)
        changed = np.vstack([added, gone])
        affected = np.zeros(len(kept_new), dtype=bool)
        for start in range(0, len(kept_new), _BLOCK):
            closest = (kept_vectors[start : start + _BLOCK] @ changed.T).max(axis=1, initial=-np.inf)
            affected[start : start + _BLOCK] = closest >= reach[start : start + _BLOCK]
        recompute = np.union1d(fresh, kept_new[affected])
    else:
        new_of_old = np.full(old_index.ntotal, -1, dtype=np.int64)
        new_of_old[kept_old] = kept_new
        position = np.full(size, -1, dtype=np.int64)
        position[kept_new] = np.arange(len(kept_new))
        near = [fresh]
        for index, vectors, to_new in ((new_index, added, None), (old_index, gone, new_of_old)):
            if not len(vectors):
                continue
            similarities, found = index.search(vectors, min(REACH_SEARCH, index.ntotal))
            rows = found if to_new is None else np.where(found >= 0, to_new[np.maximum(found, 0)], -1)
            slot = np.where(rows >= 0, position[np.maximum(rows, 0)], -1)
            close = (slot >= 0) & (similarities >= np.where(slot >= 0, reach[np.maximum(slot, 0)], np.inf))
            near.append(rows[close])
        recompute = np.unique(np.concatenate(near))
    if len(recompute):
        scores[recompute] = distinctness(new_index, recompute)
    return scores, len(recompute)
