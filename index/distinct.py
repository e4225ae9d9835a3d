"""The ``distinct`` score of every sentence: 1 minus its mean cosine with its nearest other sentences.

A sentence that resembles many others is near every question without answering any; this is the
hubness correction of CSLS (Conneau et al., 2018). It is a property of the corpus, not of a question, so
it is worked out when the index is built and saved beside it (``distinct.npy``), not when it is opened.

With exact search (``IndexFlatIP``) the nearest sentences are the exact ones. With an inverted file the
rows of each list are compared, in one matrix product, with the rows of the ``probe`` lists whose centres
are nearest that list's centre (the list itself first): a neighbour outside them is missed, so the score
can only come out a little higher than the exact one. ``calibrate`` picks the smallest ``probe`` whose
scores, on a sample of rows, are within ``TOLERANCE`` (mean absolute error) of the exact ones, and reports
that error; it is saved in the manifest.

Each row is saved with its *reach*, the cosine of the farthest of its nearest sentences. An update
recomputes the new rows and every kept row whose neighbourhood a changed sentence can enter or leave: a
row is affected when an added or removed sentence is at least as close to it as its reach and, with an
inverted file, in one of the lists its score reads. So an update equals a recomputation, as long as the
inverted file keeps its lists (an update re-uses the trained ones) and the same ``probe``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

HUB_NEIGHBOURS = 30  # nearest sentences averaged
TOLERANCE = 0.005  # the mean absolute error against exact scores that ``calibrate`` accepts
PROBES = (1, 2, 4, 8, 16, 32, 64, 128)
SAMPLE = 500  # rows whose exact scores ``calibrate`` compares with
_BLOCK = 8192  # rows searched at once with exact search, to bound memory at a million rows
_COMPARED = 65_536  # rows compared at once with an inverted file's lists
_FIRST = 32  # times the neighbours averaged: the rows of the nearest lists compared first
_TOLERANCE = 1e-5  # a changed sentence this much beyond a row's reach still counts as close
_SEED = 1234


def depth(size: int) -> int:
    """How many neighbours are averaged in an index of ``size`` sentences."""
    return min(HUB_NEIGHBOURS, size - 1)


def distinctness(
    index: faiss.Index, rows: np.ndarray | None = None, *, probe: int | None = None
) -> np.ndarray:
    """``distinct`` and reach of ``rows`` (default: all), one ``[distinct, reach]`` row each.

    An exact index is searched with its own stored vectors; an inverted file is read list by list,
    each list's rows against those of the ``probe`` lists nearest it (default: every list, exact).
    """
    size = index.ntotal
    rows = np.arange(size) if rows is None else np.asarray(rows, dtype=np.int64)
    out = np.empty((len(rows), 2), dtype=np.float32)
    if size < 2:
        out[:] = (1.0, -1.0)
        return out
    if not _is_ivf(index):
        return _by_search(index, rows, out)
    lists = _Lists(index)
    probe = lists.count if probe is None else probe
    where = lists.where(rows)
    order = np.argsort(where[:, 0], kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(where[order, 0])) + 1) if len(order) else []
    read = [lists.around(int(where[group[0], 0]), probe) for group in groups]

    def score(group: np.ndarray, lists_read: list[int]) -> None:
        queries = lists.vectors(lists_read[0])[where[group, 1]]
        out[group] = _scores(_nearest(queries, rows[group], lists_read, lists, depth(size)))

    # one list at a time on each core: small matrix products are quicker on one thread each
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(_workers()) as pool:
        for done in pool.map(score, groups, read):
            del done
    return out


def calibrate(index: faiss.Index, probes: Sequence[int] = PROBES, sample: int = SAMPLE) -> dict:
    """The smallest of ``probes`` whose scores on ``sample`` rows are within ``TOLERANCE`` of the exact
    ones (else the last): ``{"probe": 8, "error": 0.003, "max_error": 0.02}``, with the mean and largest
    absolute error on the sample. An exact index needs none: ``{}``."""
    if not _is_ivf(index) or index.ntotal < 2:
        return {}
    lists = _Lists(index)
    rows = np.sort(
        np.random.default_rng(_SEED).choice(index.ntotal, min(sample, index.ntotal), replace=False)
    )
    queries = index.reconstruct_batch(rows)
    exact = _scores(_nearest(queries, rows, range(lists.count), lists, depth(index.ntotal)))[:, 0]
    for probe in probes:
        probe = min(probe, lists.count)
        error = np.abs(distinctness(index, rows, probe=probe)[:, 0] - exact)
        if error.mean() <= TOLERANCE or probe >= lists.count:
            break
    return {
        "probe": int(probe),
        "error": round(float(error.mean()), 4),
        "max_error": round(float(error.max()), 4),
    }


def _by_search(index: faiss.Index, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
    wanted = depth(index.ntotal)
    for start in range(0, len(rows), _BLOCK):
        block = rows[start : start + _BLOCK]
        similarities, found = index.search(index.reconstruct_batch(block), wanted + 1)
        others = (found != block[:, None]) & (found >= 0)  # each row finds itself; leave it out
        out[start : start + len(block)] = _scores(np.where(others, similarities, -np.inf))
    return out


def _scores(top: np.ndarray) -> np.ndarray:
    """``[distinct, reach]`` from each row's nearest similarities (``-inf`` where there are none)."""
    found = np.isfinite(top)
    mean = np.where(found, top, 0).sum(axis=1) / np.maximum(found.sum(axis=1), 1)
    return np.stack([1 - mean, np.where(found, top, np.inf).min(axis=1)], axis=1).astype(np.float32)


def _nearest(
    queries: np.ndarray, ids: np.ndarray, lists_read: Iterator[int] | range, lists: _Lists, k: int
) -> np.ndarray:
    """The ``k`` largest similarities of each query with the rows of ``lists_read``, its own row left
    out (``-inf`` where fewer were found).

    The first lists (the nearest) give each query a first ``k``; of the rest only the similarities above
    a query's ``k``-th so far are merged in, which spares sorting the many that are not.
    """
    top = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    for found, vectors in lists.batches(lists_read, first=_FIRST * k):
        similarities = queries @ vectors.T
        similarities[ids[:, None] == found[None, :]] = -np.inf
        if top.shape[1] < k:
            top = np.concatenate([top, similarities], axis=1)
            if top.shape[1] > k:
                top = np.partition(top, top.shape[1] - k, axis=1)[:, -k:]
            continue
        rows, columns = np.nonzero(similarities > top.min(axis=1)[:, None])
        if len(rows):
            top = _merged(top, rows, similarities[rows, columns])
    return top


def _merged(top: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each row's ``top.shape[1]`` largest of its ``top`` and of the ``values`` given for it."""
    count, k = top.shape
    owners = np.concatenate([np.repeat(np.arange(count), k), rows])
    every = np.concatenate([top.ravel(), values])
    order = np.lexsort((-every, owners))  # by row, largest first
    starts = np.searchsorted(owners[order], np.arange(count))
    return every[order][starts[:, None] + np.arange(k)]


def _same_lists(one: faiss.Index, other: faiss.Index) -> bool:
    """Whether two inverted files share their lists' centres."""
    if not (_is_ivf(one) and _is_ivf(other)):
        return False
    first, second = _Lists(one), _Lists(other)
    return first.count == second.count and np.array_equal(first.centres, second.centres)


def _workers() -> int:
    """Threads to score lists with: as many as FAISS uses (``faiss.omp_set_num_threads``), every core."""
    return max(1, faiss.omp_get_max_threads())


def _is_ivf(index: faiss.Index) -> bool:
    try:
        faiss.extract_index_ivf(index)
    except RuntimeError:
        return False
    return True


class _Lists:
    """An inverted file's lists read in place: each list's row numbers and vectors, and which lists are
    nearest each other."""

    def __init__(self, index: faiss.Index) -> None:
        self.ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
        self.count = int(self.ivf.nlist)
        self.dimension = int(self.ivf.d)
        self.centres = self.ivf.quantizer.reconstruct_n(0, self.count)
        self._sizes = np.array([self.ivf.invlists.list_size(n) for n in range(self.count)], dtype=np.int64)
        self._flat = isinstance(self.ivf, faiss.IndexIVFFlat)
        self._order: np.ndarray | None = None

    def where(self, rows: np.ndarray) -> np.ndarray:
        """Each row's list and place in it, from the index's direct map."""
        if self.ivf.direct_map.type != faiss.DirectMap.Array:
            self.ivf.make_direct_map()
        packed = faiss.vector_to_array(self.ivf.direct_map.array)[rows]
        return np.stack([packed >> 32, packed & 0xFFFFFFFF], axis=1)

    def ids(self, number: int) -> np.ndarray:
        size = int(self._sizes[number])
        return (
            faiss.rev_swig_ptr(self.ivf.invlists.get_ids(number), size).copy()
            if size
            else np.zeros(0, np.int64)
        )

    def vectors(self, number: int) -> np.ndarray:
        size = int(self._sizes[number])
        if not size:
            return np.zeros((0, self.dimension), dtype=np.float32)
        codes = faiss.rev_swig_ptr(self.ivf.invlists.get_codes(number), size * self.ivf.code_size)
        if self._flat:
            return codes.view(np.float32).reshape(size, self.dimension)
        decoded = self.ivf.sq.decode(codes.reshape(size, -1).copy())
        return decoded + self.centres[number] if self.ivf.by_residual else decoded

    def around(self, number: int, probe: int) -> list[int]:
        """List ``number`` and the ``probe - 1`` lists whose centres are nearest its own, with more added
        while they hold no more than ``HUB_NEIGHBOURS`` rows."""
        if probe >= self.count:
            return [number, *(n for n in range(self.count) if n != number)]
        if self._order is None or self._order.shape[1] < probe + 1:
            wanted = min(self.count, max(PROBES[-1], probe) + 1)
            self._order = self.ivf.quantizer.search(self.centres, wanted)[1]
        nearest = [int(n) for n in self._order[number] if n >= 0 and n != number]
        chosen = [number, *nearest[: probe - 1]]
        for extra in [*nearest[probe - 1 :], *range(self.count)]:
            if self._sizes[chosen].sum() > HUB_NEIGHBOURS:
                break
            if extra not in chosen:
                chosen.append(extra)
        return chosen

    def readers(self, probe: int) -> list[list[int]]:
        """For each list, the lists whose rows are compared with its rows (``around`` inverted)."""
        found: list[list[int]] = [[] for _ in range(self.count)]
        for number in range(self.count):
            for read in self.around(number, probe):
                found[read].append(number)
        return found

    def batches(self, numbers, first: int = _COMPARED) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The row numbers and vectors of lists ``numbers``: about ``first`` rows, then about
        ``_COMPARED`` at a time."""
        ids, vectors, held, wanted = [], [], 0, first
        for number in numbers:
            if not self._sizes[number]:
                continue
            ids.append(self.ids(number))
            vectors.append(self.vectors(number))
            held += len(ids[-1])
            if held >= wanted:
                yield np.concatenate(ids), np.concatenate(vectors)
                ids, vectors, held, wanted = [], [], 0, _COMPARED
        if ids:
            yield np.concatenate(ids), np.concatenate(vectors)


def update(
    previous: np.ndarray,
    old_index: faiss.Index,
    new_index: faiss.Index,
    kept: list[tuple[int, int]],
    *,
    exact: bool,
    probe: int | None = None,
) -> tuple[np.ndarray, int]:
    """The saved scores of ``new_index`` from ``previous`` (those of ``old_index``), recomputing only
    what an update changes. ``kept`` pairs each unchanged row's new number with its old one; ``probe`` is
    as for ``distinctness``. Returns the scores and the number of rows recomputed."""
    size = new_index.ntotal
    if (
        size < 2
        or not kept
        or depth(size) != depth(old_index.ntotal)
        or len(previous) != old_index.ntotal
        or (not exact and not _same_lists(old_index, new_index))  # trained again: every row reads anew
    ):
        return distinctness(new_index, probe=probe), size
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
    else:  # a kept row is affected when its score reads the list a changed sentence is (or was) in:
        # the same lists in both indexes (checked above)
        lists = _Lists(new_index)
        home = lists.where(kept_new)[:, 0]
        readers = lists.readers(lists.count if probe is None else probe)
        changed = np.vstack([added, gone])
        changed_lists = np.concatenate([lists.where(fresh)[:, 0], _Lists(old_index).where(removed)[:, 0]])
        by_home = np.argsort(home, kind="stable")
        starts = np.searchsorted(home[by_home], np.arange(lists.count + 1))
        affected = np.zeros(len(kept_new), dtype=bool)
        for number in np.unique(changed_lists):
            near = np.concatenate([by_home[starts[r] : starts[r + 1]] for r in readers[number]])
            if len(near):
                vectors = new_index.reconstruct_batch(kept_new[near])
                closest = (vectors @ changed[changed_lists == number].T).max(axis=1)
                affected[near] |= closest >= reach[near]
        recompute = np.union1d(fresh, kept_new[affected])
    if len(recompute):
        scores[recompute] = distinctness(new_index, recompute, probe=probe)
    return scores, len(recompute)
