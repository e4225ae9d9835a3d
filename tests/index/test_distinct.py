"""The saved ``distinct`` scores: worked out at build time, saved, and kept right by updates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index import distinct
from index.store import Store
from tests.index.test_ann import ClusteredEmbedder, reports


def brute_force(store: Store) -> np.ndarray:
    """1 minus each sentence's mean cosine with its 30 nearest other sentences, by NumPy alone."""
    vectors = store.vectors(np.arange(len(store.chunks)))
    similarities = vectors @ vectors.T
    np.fill_diagonal(similarities, -np.inf)
    nearest = -np.sort(-similarities, axis=1)[:, : distinct.depth(len(vectors))]
    return 1 - nearest.mean(axis=1)


def test_the_saved_scores_equal_a_brute_force_recomputation(tmp_path: Path) -> None:
    built, report = Store.build(reports(12), ClusteredEmbedder())
    built.save(tmp_path / "index")

    loaded = Store.load(tmp_path / "index")

    assert report.distinct_recomputed == len(built.chunks)
    assert loaded.manifest["distinct"] == {"file": "distinct.npy", "neighbours": 30, "approximate": False}
    np.testing.assert_allclose(loaded.distinct[:, 0], brute_force(loaded), atol=1e-5)


def test_an_update_recomputes_only_the_affected_rows_and_equals_a_recomputation(tmp_path: Path) -> None:
    embedder = ClusteredEmbedder()
    before, _ = Store.build(reports(12), embedder)
    before.save(tmp_path / "index")
    articles = reports(12)
    articles[3] = reports(13, sentences=25)[12]  # one report replaced by another
    del articles[7]  # one removed
    articles += reports(15, sentences=10)[14:]  # one added

    after, report = Store.build(articles, embedder, previous=Store.load(tmp_path / "index"))
    after.save(tmp_path / "index")
    loaded = Store.load(tmp_path / "index")

    assert report.modified
    assert 35 <= report.distinct_recomputed < len(after.chunks)  # the new rows, and their neighbours only
    np.testing.assert_allclose(loaded.distinct[:, 0], brute_force(loaded), atol=1e-5)
    np.testing.assert_allclose(loaded.distinct, distinct.distinctness(loaded.sentences), atol=1e-5)


def test_with_ivf_an_update_stays_close_to_a_recomputation_on_the_same_index() -> None:
    embedder = ClusteredEmbedder()
    before, _ = Store.build(reports(40), embedder, search="ivf")
    articles = reports(40)
    articles[5] = reports(41, sentences=30)[40]
    del articles[20]

    after, report = Store.build(articles, embedder, previous=before, search="ivf")

    recomputed = distinct.distinctness(after.sentences)
    assert after.manifest["distinct"]["approximate"]
    assert report.distinct_recomputed < len(after.chunks)  # not every row
    assert np.abs(after.distinct[:, 0] - recomputed[:, 0]).max() < 0.02
    assert np.abs(after.distinct[:, 0] - brute_force(after)).mean() < 0.01  # IVF neighbours are near enough


def test_opening_an_unchanged_index_recomputes_nothing(tmp_path: Path) -> None:
    embedder = ClusteredEmbedder()
    built, _ = Store.build(reports(12), embedder)
    built.save(tmp_path / "index")

    reopened, report = Store.build(reports(12), embedder, previous=Store.load(tmp_path / "index"))

    assert not report.modified
    assert report.distinct_recomputed == 0
    assert np.array_equal(reopened.distinct, built.distinct)
