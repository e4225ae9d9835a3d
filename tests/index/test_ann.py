"""Approximate search: the IVF index finds what an exact search finds, and the store keeps its plan."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from index import ann
from index.articles import Article
from index.errors import StoreError
from index.store import Store


def clustered(count: int, dimension: int = 32, clusters: int = 64, seed: int = 0) -> np.ndarray:
    """Unit vectors scattered around random centres, as sentence embeddings gather around topics."""
    random = np.random.default_rng(seed)
    centres = random.standard_normal((clusters, dimension))
    vectors = centres[random.integers(clusters, size=count)] + 0.6 * random.standard_normal(
        (count, dimension)
    )
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


class ClusteredEmbedder:
    """Each text gets a vector near one of a few centres, the same vector every time it is encoded."""

    name = "clustered"
    dimension = 32

    def __init__(self) -> None:
        self._centres = clustered(16, self.dimension, seed=1)

    def encode(self, texts, *, batch_size: int = 64, progress=None) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            random = np.random.default_rng(int.from_bytes(hashlib.blake2b(text.encode()).digest()[:4]))
            vectors[row] = self._centres[len(text) % 16] + 0.5 * random.standard_normal(self.dimension)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def reports(count: int, sentences: int = 40) -> list[Article]:
    return [
        Article(
            id=f"report{number}",
            title=f"Report {number}",
            text=" ".join(
                f"In match {number} player {line} scored {'twice ' * (line % 7)}after {line * 3} minutes."
                for line in range(sentences)
            ),
        )
        for number in range(count)
    ]


@pytest.mark.parametrize("kind", ["ivf", "ivf-sq8"])
def test_ivf_finds_nine_in_ten_of_the_exact_nearest_while_probing_few_lists(kind: str) -> None:
    vectors, questions = np.split(clustered(20_200), [20_000])  # questions are not stored rows
    search = ann.plan(len(vectors), kind)
    index = ann.build(vectors, search)
    search = ann.calibrate(index, vectors, search)

    found = index.search(questions, 10)[1]

    assert ann.recall(found, ann.exact_neighbours(vectors, questions, 10)) >= 0.9
    assert search["nprobe"] <= search["nlist"] // 4  # it searched a fraction of the vectors


def test_vectors_without_clusters_are_reported_when_ivf_cannot_reach_its_recall(caplog) -> None:
    random = np.random.default_rng(0)
    vectors = random.standard_normal((45_000, 96)).astype(np.float32)  # no neighbourhoods to find
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    search = ann.plan(len(vectors), "ivf")

    search = ann.calibrate(ann.build(vectors, search), vectors, search)

    assert search["nprobe"] == ann.NPROBES[-1] and search["recall"] < ann.TARGET_RECALL
    assert "set MATCHBOT_ANN=exact" in caplog.text


def test_auto_searches_exactly_up_to_the_measured_size_and_by_ivf_above() -> None:
    assert ann.plan(ann.EXACT_UP_TO) == {"kind": "exact"}
    above = ann.plan(ann.EXACT_UP_TO + 1)
    assert above["kind"] == "ivf"
    assert ann.plan(1_000_000)["nlist"] == 4096
    assert ann.plan(10, "ivf") == {"kind": "exact"}  # too few vectors to train on
    with pytest.raises(StoreError, match="Unknown search kind 'hnsw': use one of auto, exact, ivf, ivf-sq8"):
        ann.plan(10, "hnsw")


def test_an_ivf_store_saves_its_plan_and_searches_the_same_after_loading(tmp_path: Path) -> None:
    store, _ = Store.build(reports(50), ClusteredEmbedder(), search="ivf")
    plans = store.search_plans
    assert plans["sentences"]["kind"] == plans["contexts"]["kind"] == "ivf"
    assert 1 <= plans["sentences"]["nprobe"] <= plans["sentences"]["nlist"]
    store.save(tmp_path / "index")

    loaded = Store.load(tmp_path / "index")

    rows = np.arange(0, len(store.chunks), 97)
    queries = store.vectors(rows)
    assert loaded.search_plans == plans
    assert np.array_equal(loaded.vectors(rows), queries)
    assert np.array_equal(loaded.sentences.search(queries, 10)[1], store.sentences.search(queries, 10)[1])
    assert (loaded.sentences.search(queries, 1)[1][:, 0] == rows).all()


def test_changing_the_search_kind_rebuilds_the_index_without_re_embedding(fake_embedder) -> None:
    exact, _ = Store.build(reports(5), fake_embedder)
    calls = len(fake_embedder.calls)

    ivf, report = Store.build(reports(5), fake_embedder, previous=exact, search="ivf")

    assert len(fake_embedder.calls) == calls
    assert report.unchanged == 5
    assert exact.search_plans["sentences"] == {"kind": "exact"}
    assert ivf.search_plans["sentences"]["kind"] == "ivf"
