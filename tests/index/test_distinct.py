"""The saved ``distinct`` scores: worked out at build time, saved, and kept right by updates."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from index import ann, distinct
from index.store import Store
from tests.index.test_ann import ClusteredEmbedder, clustered, reports


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


@pytest.mark.parametrize("kind", ["ivf", "ivf-sq8"])
def test_with_ivf_an_update_equals_a_recomputation_with_the_same_neighbour_search(kind: str) -> None:
    embedder = ClusteredEmbedder()
    before, _ = Store.build(reports(40), embedder, search=kind)
    articles = reports(40)
    articles[5] = reports(41, sentences=45)[40]  # one report replaced by a longer one
    articles[20] = reports(42, sentences=35)[41]  # and one by a shorter one: as many lists as before

    after, report = Store.build(articles, embedder, previous=before, search=kind)

    plans = [store.manifest["encoders"]["clustered"]["search"]["sentences"] for store in (before, after)]
    assert plans[0]["nlist"] == plans[1]["nlist"]  # the update re-used the trained lists
    estimate = after.manifest["distinct"]
    assert estimate["approximate"] and estimate["probe"] == before.manifest["distinct"]["probe"]
    assert report.distinct_recomputed < len(after.chunks)  # not every row
    recomputed = distinct.distinctness(after.sentences, probe=estimate["probe"])
    if kind == "ivf":
        np.testing.assert_allclose(after.distinct, recomputed, atol=1e-5)
    else:  # a kept 8-bit vector is read back and stored again, which can move it by a step
        assert np.abs(after.distinct - recomputed).max() < 0.02
    assert np.abs(after.distinct[:, 0] - brute_force(after)).mean() < 2 * distinct.TOLERANCE


def test_opening_an_unchanged_index_recomputes_nothing(tmp_path: Path) -> None:
    embedder = ClusteredEmbedder()
    built, _ = Store.build(reports(12), embedder)
    built.save(tmp_path / "index")

    reopened, report = Store.build(reports(12), embedder, previous=Store.load(tmp_path / "index"))

    assert not report.modified
    assert report.distinct_recomputed == 0
    assert np.array_equal(reopened.distinct, built.distinct)


@pytest.mark.parametrize("kind", ["ivf", "ivf-sq8"])
def test_an_inverted_file_read_whole_gives_exact_scores(kind: str) -> None:
    vectors = clustered(5_000)
    index = ann.build(vectors, ann.plan(len(vectors), kind))
    stored = index.reconstruct_n(0, index.ntotal)  # what the index holds (8-bit vectors are approximate)
    similarities = stored @ stored.T
    np.fill_diagonal(similarities, -np.inf)
    nearest = -np.sort(-similarities, axis=1)[:, : distinct.HUB_NEIGHBOURS]

    scores = distinct.distinctness(index)

    np.testing.assert_allclose(scores[:, 0], 1 - nearest.mean(axis=1), atol=1e-5)
    np.testing.assert_allclose(scores[:, 1], nearest[:, -1], atol=1e-5)


def test_a_narrower_search_scores_no_row_below_exact_and_its_measured_error_holds_for_every_row() -> None:
    index = ann.build(clustered(20_000), ann.plan(20_000, "ivf"))
    exact = distinct.distinctness(index)[:, 0]

    estimate = distinct.calibrate(index)
    approximate = distinct.distinctness(index, probe=estimate["probe"])[:, 0]

    assert estimate["probe"] < faiss.extract_index_ivf(index).nlist // 4  # it read a fraction of the lists
    assert estimate["error"] <= distinct.TOLERANCE
    assert (approximate >= exact - 1e-5).all()  # missing a neighbour can only raise the score
    assert np.abs(approximate - exact).mean() <= 1.5 * distinct.TOLERANCE  # the sample spoke for every row
    narrower = distinct.distinctness(index, probe=max(1, estimate["probe"] // 2))[:, 0]
    assert np.abs(narrower - exact).mean() > np.abs(approximate - exact).mean()
