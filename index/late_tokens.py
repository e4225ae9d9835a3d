"""The late-interaction model's token vectors of every passage, saved beside the index.

Late interaction (``index.rerank``) compares a question's token vectors with each passage's. A passage's
vectors do not depend on the question, so they are worked out once, when the index is brought up to
date, and saved in ``<data>/late_tokens/<model key>/``; a fresh process then reads them instead of
running the model over the twenty passages of its first question (about 0.2 s of a cold ``matchbot
ask``, README "Speed"). Each passage is encoded in a call of its own, as at question time, so the
saved vectors are the very ones the model would give, and every score stays the same.

The folder is named by the model (its folder, its file's size and time, onnxruntime's version, the
session's settings and the processor: int8 kernels differ between processors), and it holds one
*generation* at a time: ``<generation>.npy``, every passage's vectors one after another (float32, read
memory-mapped: a start reads only the pages its passages use), ``<generation>.json``, which text (by
its SHA-256) owns which rows, and ``current``, the name of the generation in use, replaced last. A
text already saved is not encoded again, whatever the index change; texts no longer in the index are
dropped. Above ``SAVED_UP_TO`` passages nothing is saved (the vectors would take gigabytes) and the
stage encodes passages as it meets them, as before. A missing, damaged or unwritable folder costs
time only: the vectors are then made at question time.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from index import arrays
from index.encoder import Progress

log = logging.getLogger(__name__)

FOLDER = "late_tokens"  # in the data folder, beside the index
SAVED_UP_TO = 5_000  # passages (about 65 KB each): above this many, none are saved
CURRENT = "current"
BATCH = 64  # passages encoded between two progress reports


class TokenModel(Protocol):
    """What a late-interaction stage offers to have its passages' vectors saved."""

    key: str | None  # names the model and what shapes its vectors; None: not saved

    def passage_vectors(self, texts: Sequence[str]) -> list[np.ndarray]: ...

    def remember(self, vectors: dict[str, np.ndarray]) -> None: ...


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class SavedTokens:
    """One generation: passages' token vectors by their text's digest."""

    def __init__(self, rows: dict[str, tuple[int, int]], vectors: np.ndarray) -> None:
        self.rows = rows  # digest → (first row, end row) in ``vectors``
        self.vectors = vectors

    def get(self, text_digest: str) -> np.ndarray | None:
        span = self.rows.get(text_digest)
        return None if span is None else self.vectors[span[0] : span[1]]

    @classmethod
    def load(cls, folder: Path) -> SavedTokens | None:
        """The generation ``folder/current`` names; None when there is none or it does not fit."""
        try:
            generation = (folder / CURRENT).read_text(encoding="utf-8").strip()
            listed = json.loads((folder / f"{generation}.json").read_text(encoding="utf-8"))
            vectors = arrays.load(folder / f"{generation}.npy", mmap_mode="r", allow_pickle=False)
            rows = {str(d): (int(start), int(end)) for d, start, end in listed["rows"]}
            if vectors.ndim != 2 or any(not 0 <= s < e <= len(vectors) for s, e in rows.values()):
                raise ValueError("rows outside the vectors")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.info("Ignoring the saved token vectors in %s (%s): they will be made again.", folder, exc)
            return None
        return cls(rows, vectors)

    @classmethod
    def write(cls, folder: Path, parts: Iterable[tuple[str, np.ndarray]]) -> SavedTokens:
        """A new generation of ``parts`` (digest, vectors), saved in ``folder`` and made current; older
        generations removed. OSError when the folder cannot be written."""
        rows: dict[str, tuple[int, int]] = {}
        arrays = []
        size = 0
        for text_digest, vectors in parts:
            rows[text_digest] = (size, size + len(vectors))
            arrays.append(np.asarray(vectors, dtype=np.float32))
            size += len(vectors)
        dimension = arrays[0].shape[1] if arrays else 0
        joined = np.concatenate(arrays) if arrays else np.zeros((0, dimension), dtype=np.float32)
        folder.mkdir(parents=True, exist_ok=True)
        generation = uuid.uuid4().hex[:12]
        np.save(folder / f"{generation}.npy", joined, allow_pickle=False)
        listed = {"rows": [[d, start, end] for d, (start, end) in rows.items()]}
        (folder / f"{generation}.json").write_text(json.dumps(listed), encoding="utf-8")
        staging = folder / f".{CURRENT}.{os.getpid()}"
        staging.write_text(generation, encoding="utf-8")
        os.replace(staging, folder / CURRENT)
        for older in folder.iterdir():
            if older.suffix in (".npy", ".json") and older.stem != generation:
                with contextlib.suppress(OSError):
                    older.unlink()
        return cls(rows, joined)


def bring_up_to_date(
    data_dir: Path, model: TokenModel, passages: Iterable[str], progress: Progress | None = None
) -> int:
    """Give ``model`` the token vectors of ``passages`` (the index's passages as it reads them), from
    its saved generation, encoding and saving those it lacks (``progress`` is told after each batch).
    Returns how many were encoded (0 when every one was saved, or when there are more than
    ``SAVED_UP_TO``: no more than one passage over that is read from ``passages``)."""
    if model.key is None:
        return 0
    texts = list(itertools.islice(passages, SAVED_UP_TO + 1))
    if not texts or len(texts) > SAVED_UP_TO:
        return 0
    folder = data_dir / FOLDER / model.key
    saved = SavedTokens.load(folder)
    wanted = {digest(text): text for text in texts}
    found = {d: v for d in wanted if saved is not None and (v := saved.get(d)) is not None}
    missing = [d for d in wanted if d not in found]
    if missing:
        log.info("Saving the late-interaction vectors of %d passages.", len(missing))
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            found.update(zip(batch, model.passage_vectors([wanted[d] for d in batch]), strict=True))
            if progress is not None:
                progress(start + len(batch), len(missing))
    if missing or saved is None or len(saved.rows) != len(wanted):  # new texts, or texts gone
        try:
            saved = SavedTokens.write(folder, ((d, found[d]) for d in wanted))
            found = {d: saved.get(d) for d in wanted}  # type: ignore[misc]
        except OSError as exc:
            log.info("Cannot save the late-interaction vectors in %s (%s).", folder, exc)
    model.remember({wanted[d]: vectors for d, vectors in found.items()})
    return len(missing)
