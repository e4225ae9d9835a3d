"""The multilingual encoder's cache: read back, it is the same model; damaged or unwritable, it is
skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import onnx_embedder, use_encoder
from index.use_encoder import UseEncoder

TEXTS = ["What did Mbappe say to Hakimi after the match?", "Qu'a dit Regragui ?", "ماذا قال مبابي"]


def caches(folder: Path) -> list[Path]:
    return sorted((folder / use_encoder.NAME).glob(f"{use_encoder.CACHE_PREFIX}*.pickle"))


@pytest.mark.model
def test_the_cached_model_encodes_as_the_model_read_from_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_embedder, "exports_folder", lambda: tmp_path)
    first = UseEncoder.load()  # read from the files, then cached
    assert len(caches(tmp_path)) == 1
    cached = UseEncoder.load()

    assert np.array_equal(first.encode(TEXTS), cached.encode(TEXTS))
    assert cached._backend.sp is not first._backend.sp  # type: ignore[attr-defined]  # read back, not shared
    assert isinstance(cached._backend.table, np.memmap)  # type: ignore[attr-defined]  # rows read on use


@pytest.mark.model
@pytest.mark.parametrize("damaged", [".pickle", ".table.npy"])  # the model, or its embedding table
def test_a_damaged_cache_is_read_again_from_the_model_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damaged: str
) -> None:
    monkeypatch.setattr(onnx_embedder, "exports_folder", lambda: tmp_path)
    reference = UseEncoder.load().encode(TEXTS)
    [cache] = caches(tmp_path)
    part = cache.with_suffix(damaged)
    part.write_bytes(part.read_bytes()[:1000])

    assert np.array_equal(UseEncoder.load().encode(TEXTS), reference)
    assert part.stat().st_size > 1000


@pytest.mark.model
def test_a_folder_that_cannot_be_written_leaves_no_cache_and_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(onnx_embedder, "exports_folder", lambda: blocked)

    assert UseEncoder.load().encode(TEXTS).shape == (3, use_encoder.DIMENSION)
    assert not list(tmp_path.glob("**/*.pickle"))
