"""Opening a model: its optimised graph is saved once and read back at later starts, scores unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from index import onnx
from index.rerank import CROSS_ENCODER, CROSS_SETTING, CrossEncoder

pytestmark = pytest.mark.model
PAIRS = [
    ("who scored the first goal", "Theo Hernandez opened the scoring after five minutes."),
    ("was mbappe sad for hakimi", "The duo shared a warm hug at the final whistle."),
    ("who scored the first goal", "Moroccan fans filled the stands long before kick-off."),
]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model files onnxruntime is asked to open, in order (each still opened for real)."""
    paths: list[str] = []
    real = onnxruntime.InferenceSession

    def session(path: str, *args: object, **kwargs: object) -> object:
        paths.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", session)
    return paths


def saved_graphs(folder: Path) -> list[Path]:
    return sorted((folder / onnx.SESSIONS).glob("*.onnx"))


def test_a_later_start_opens_the_saved_graph_and_scores_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, opened: list[str]
) -> None:
    monkeypatch.setattr(onnx, "exports_folder", lambda: tmp_path)
    first = CrossEncoder.load().score_pairs(PAIRS)
    [saved] = saved_graphs(tmp_path)

    again = CrossEncoder.load().score_pairs(PAIRS)

    assert opened[-1] == str(saved)
    assert not opened[0].startswith(str(tmp_path))  # the first start read the shipped model
    assert np.array_equal(first, again)
    assert first[0] > first[2]  # a model that reads: the answering pair scores higher


def test_a_damaged_saved_graph_is_made_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(onnx, "exports_folder", lambda: tmp_path)
    expected = CrossEncoder.load().score_pairs(PAIRS)
    [saved] = saved_graphs(tmp_path)
    saved.write_bytes(saved.read_bytes()[:1000])

    scores = CrossEncoder.load().score_pairs(PAIRS)

    assert np.array_equal(scores, expected)
    assert saved_graphs(tmp_path) == [saved] and saved.stat().st_size > 1000


def test_a_folder_that_cannot_be_written_still_opens_the_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(onnx, "exports_folder", lambda: tmp_path)
    expected = CrossEncoder.load().score_pairs(PAIRS)
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(onnx, "exports_folder", lambda: blocked)

    assert np.array_equal(CrossEncoder.load().score_pairs(PAIRS), expected)
    assert blocked.read_text() == "not a folder"


def test_the_graph_of_a_model_folder_that_is_gone_is_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(onnx, "exports_folder", lambda: tmp_path / "exports")
    elsewhere = tmp_path / "another model"
    shutil.copytree(onnx.packaged_model(CROSS_ENCODER, CROSS_SETTING), elsewhere)
    CrossEncoder.load(elsewhere)
    [theirs] = saved_graphs(tmp_path / "exports")
    shutil.rmtree(elsewhere)

    CrossEncoder.load()

    [ours] = saved_graphs(tmp_path / "exports")
    assert ours != theirs and not theirs.with_suffix(".source").exists()
