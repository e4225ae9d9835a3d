"""Saved arrays are read again when CPython 3.11 fails the header's parse under threads (``index.arrays``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from index import arrays

FAULT = SystemError("AST constructor recursion depth mismatch (before=54, after=39)")


def failing(times: int, error: BaseException, calls: list[Path]) -> Callable[..., object]:
    """``np.load`` that raises ``error`` for its first ``times`` calls, then reads the file."""
    real = np.load

    def load(path: Path, **options: object) -> object:
        calls.append(path)
        if len(calls) <= times:
            raise error
        return real(path, **options)

    return load


def test_an_array_is_read_again_after_the_spurious_fault(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "vectors.npy"
    np.save(path, np.arange(6, dtype=np.float32).reshape(2, 3))
    calls: list[Path] = []
    monkeypatch.setattr(arrays.np, "load", failing(2, FAULT, calls))

    read = arrays.load(path, mmap_mode="r", allow_pickle=False)

    assert read.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert len(calls) == 3


def test_the_fault_every_time_and_any_other_error_are_raised(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "vectors.npy"
    np.save(path, np.zeros(2))
    calls: list[Path] = []
    monkeypatch.setattr(arrays.np, "load", failing(arrays.ATTEMPTS, FAULT, calls))
    with pytest.raises(SystemError, match="recursion depth mismatch"):
        arrays.load(path)
    assert len(calls) == arrays.ATTEMPTS

    calls.clear()
    monkeypatch.setattr(arrays.np, "load", failing(1, SystemError("something else"), calls))
    with pytest.raises(SystemError, match="something else"):
        arrays.load(path)
    assert len(calls) == 1  # not read again: only the known fault is
