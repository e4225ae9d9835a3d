"""How the store's vectors are searched: exactly (``IndexFlatIP``) up to a measured size, by an inverted
file (IVF) above it, optionally with 8-bit scalar-quantised vectors (SQ8) to take a quarter of the memory.

A search plan is a small dict kept in the manifest (``{"kind": "ivf", "nlist": 4096, "nprobe": 8}``), so
an index is searched with the parameters it was built and measured with. ``nprobe`` is measured when the
index is built: the smallest that finds at least ``TARGET_RECALL`` of the ten nearest rows that an exact
search finds, for queries made like questions: stored rows moved away from themselves by random noise as
long as they are (cosine about 0.7 with the row), so they match no row exactly.
"""

from __future__ import annotations

import logging

import faiss
import numpy as np

from index.errors import StoreError

log = logging.getLogger(__name__)

KINDS = ("auto", "exact", "ivf", "ivf-sq8")
# Above this many passages ``auto`` switches from exact search to IVF. An estimate, not a measured
# crossing point: exact search stays exact and takes about 1.5 ms at 10k, 15 ms at 100k; IVF already
# searches 40 times faster at 10k on the synthetic benchmark (README, Scale), but its recall on real
# vectors of that size is not measured.
EXACT_UP_TO = 50_000
TARGET_RECALL = 0.97
RECALL_DEPTH = 10
CALIBRATION_QUERIES = 200
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TRAINING_PER_LIST = 40  # k-means training rows per inverted list (FAISS warns below 39)
TRAINING_ITERATIONS = 10
_SEED = 1234


def plan(size: int, kind: str = "auto") -> dict:
    """The search plan for ``size`` vectors: exact up to ``EXACT_UP_TO`` under ``auto``, else IVF with
    about 4·√size inverted lists (a power of two, at most one per ``TRAINING_PER_LIST`` vectors)."""
    if kind not in KINDS:
        raise StoreError(f"Unknown search kind {kind!r}: use one of {', '.join(KINDS)}.")
    if kind == "auto":
        kind = "exact" if size <= EXACT_UP_TO else "ivf"
    if kind == "exact" or size < 2 * TRAINING_PER_LIST:
        return {"kind": "exact"}
    wanted = 2 ** round(np.log2(4 * np.sqrt(size)))
    nlist = int(max(1, min(wanted, size // TRAINING_PER_LIST)))
    return {"kind": kind, "nlist": nlist, "nprobe": 1}


def build(vectors: np.ndarray, search: dict, *, trained: faiss.Index | None = None) -> faiss.Index:
    """An index of ``vectors`` (unit rows) following the plan ``search``.

    ``trained``, an index built to the same plan, lends its k-means centroids (and SQ8 ranges), so an
    update of a large index adds its vectors without training again.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dimension = vectors.shape[1]
    if search["kind"] == "exact":
        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(vectors)
        return index
    if trained is not None and _same_shape(trained, search, dimension):
        index = faiss.clone_index(trained)
        index.reset()
    else:
        index = _empty(dimension, search)
        sample = _sample(len(vectors), TRAINING_PER_LIST * search["nlist"])
        index.cp.niter = TRAINING_ITERATIONS
        index.cp.seed = _SEED
        index.train(vectors[sample])
    index.add(vectors)
    configure(index, search)
    return index


def configure(index: faiss.Index, search: dict) -> None:
    """Set a loaded or built index up to be searched by its plan: ``nprobe`` lists, rows readable back."""
    if search["kind"] == "exact":
        return
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = int(search["nprobe"])
    ivf.make_direct_map()  # Store.vectors reads rows back by number


def calibrate(index: faiss.Index, vectors: np.ndarray, search: dict) -> dict:
    """``search`` with the smallest ``nprobe`` reaching ``TARGET_RECALL`` for question-like queries, and
    the recall measured with it (a warning when even the widest ``nprobe`` falls short)."""
    if search["kind"] == "exact":
        return search
    queries = question_like(vectors, CALIBRATION_QUERIES)
    depth = min(RECALL_DEPTH, len(vectors))
    truth = exact_neighbours(vectors, queries, depth)
    ivf = faiss.extract_index_ivf(index)
    for nprobe in NPROBES:
        ivf.nprobe = min(nprobe, search["nlist"])
        found = recall(index.search(queries, depth)[1], truth)
        if found >= TARGET_RECALL or ivf.nprobe >= search["nlist"]:
            break
    else:
        log.warning(
            "Approximate search finds %.0f%% of the %d nearest passages at its widest (nprobe %d), short of "
            "%.0f%%: set MATCHBOT_ANN=exact for exact search.",
            100 * found,
            depth,
            ivf.nprobe,
            100 * TARGET_RECALL,
        )
    return search | {"nprobe": int(ivf.nprobe), "recall": round(float(found), 3)}


def question_like(vectors: np.ndarray, count: int) -> np.ndarray:
    """``count`` unit queries, each a stored row plus random noise of the same length, normalised."""
    random = np.random.default_rng(_SEED)
    rows = vectors[_sample(len(vectors), count)]
    noise = random.standard_normal(rows.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    queries = rows + noise
    return np.ascontiguousarray(queries / np.linalg.norm(queries, axis=1, keepdims=True), dtype=np.float32)


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, depth: int) -> np.ndarray:
    """The rows of ``vectors`` with the ``depth`` largest inner products with each query."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return flat.search(np.ascontiguousarray(queries, dtype=np.float32), depth)[1]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """The share of each query's true neighbours that were found, averaged over queries."""
    if not truth.size:
        return 1.0
    hits = sum(len(set(row[row >= 0]) & set(want[want >= 0])) for row, want in zip(found, truth, strict=True))
    return hits / max(int((truth >= 0).sum()), 1)


def describe(search: dict) -> str:
    """``"exact"``, or ``"ivf (nlist 4096, nprobe 8)"``."""
    if search["kind"] == "exact":
        return "exact"
    return f"{search['kind']} (nlist {search['nlist']}, nprobe {search['nprobe']})"


def _empty(dimension: int, search: dict) -> faiss.Index:
    quantizer = faiss.IndexFlatIP(dimension)
    if search["kind"] == "ivf-sq8":
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, search["nlist"], faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    else:
        index = faiss.IndexIVFFlat(quantizer, dimension, search["nlist"], faiss.METRIC_INNER_PRODUCT)
    return index


def _same_shape(index: faiss.Index, search: dict, dimension: int) -> bool:
    try:
        ivf = faiss.downcast_index(faiss.extract_index_ivf(index))  # extract_index_ivf gives the base class
    except RuntimeError:
        return False
    sq8 = isinstance(ivf, faiss.IndexIVFScalarQuantizer)
    return ivf.nlist == search["nlist"] and ivf.d == dimension and sq8 == (search["kind"] == "ivf-sq8")


def _sample(size: int, count: int) -> np.ndarray:
    if size <= count:
        return np.arange(size)
    return np.sort(np.random.default_rng(_SEED).choice(size, count, replace=False))
