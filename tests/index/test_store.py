"""The saved index: FAISS agrees with a brute force, a save loads back the same, damage is one clear line."""

from __future__ import annotations

import json
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pytest

from index import chunk_table, vocabulary
from index.articles import Article, read_seeds
from index.chunking import Chunk, chunk_article, indexed_text, neighbours
from index.errors import StoreError
from index.first_stage import FirstStage
from index.store import FORMAT_VERSION, IndexReport, Lexical, Store
from index.vocabulary import expand

SEMI = Article(
    id="semi",
    title="Semi-final",
    date="2022-12-14",
    url="https://example.com/semi",
    text=(
        "France beat Morocco 2-0 in Qatar. Theo Hernandez scored early.\n\n"
        "Mbappe consoled Hakimi after the game."
    ),
    source="semi.txt",
)
FINAL = Article(
    id="final",
    title="Final",
    text="Argentina beat France on penalties. Messi lifted the trophy at last.",
    source="final.txt",
)


class RandomEmbedder:
    """Random unit vectors: no meaning at all, just numbers for FAISS to search."""

    name = "random"
    dimension = 48

    def __init__(self, seed: int = 7) -> None:
        self._random = np.random.default_rng(seed)

    def encode(self, texts, *, batch_size: int = 64, progress=None) -> np.ndarray:
        vectors = self._random.standard_normal((len(texts), self.dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class UnevenEmbedder:
    """Another embedder's directions at lengths from 0.1 to 10, set by each text: one that does not
    normalise."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension

    def encode(self, texts, *, batch_size: int = 64, progress=None) -> np.ndarray:
        lengths = [0.1 + zlib.crc32(text.encode("utf-8")) % 1000 / 100 for text in texts]
        vectors = self.embedder.encode(texts, batch_size=batch_size, progress=progress)
        return vectors * np.asarray(lengths, dtype=np.float32)[:, None]


def many_sentences(count: int) -> Article:
    text = " ".join(f"Sentence number {number} of the report." for number in range(count))
    return Article(id="long", title="Long", text=text)


@pytest.fixture(scope="module")
def store(make_embedder, seed_file) -> Store:
    """The seed and two small articles, indexed with the fake embedder (tests only read it)."""
    seed = read_seeds(seed_file).articles[0]
    built, _ = Store.build([seed, SEMI, FINAL], make_embedder())
    return built


@pytest.fixture(scope="module")
def random_store() -> Store:
    built, _ = Store.build([many_sentences(300)], RandomEmbedder())
    return built


@pytest.mark.parametrize("k", [1, 5, 40, 300])
def test_faiss_finds_what_a_numpy_brute_force_finds(random_store: Store, k: int) -> None:
    store = random_store
    stored = store.vectors(np.arange(len(store.chunks)))
    assert len(stored) == 300
    queries = RandomEmbedder(seed=99).encode(["q"] * 10)

    scores, ids = store.sentences.search(queries, k)

    for query, found_ids, found_scores in zip(queries, ids, scores, strict=True):
        cosines = stored @ query
        expected = np.argsort(-cosines, kind="stable")[:k]
        assert found_ids.tolist() == expected.tolist()
        np.testing.assert_allclose(found_scores, cosines[expected], rtol=0, atol=1e-5)


def test_stored_vectors_are_unit_length_whatever_the_embedder_gives_so_scores_are_cosines(
    store: Store, make_embedder, seed_file
) -> None:
    uneven = UnevenEmbedder(make_embedder())
    given = uneven.encode(["a question", "a passage", "another passage"])
    assert np.ptp(np.linalg.norm(given, axis=1)) > 1  # the embedder's vectors really are of many lengths
    built, _ = Store.build([read_seeds(seed_file).articles[0], SEMI, FINAL], uneven)
    rows = np.arange(len(built.chunks))
    for contexts in (False, True):
        vectors = built.vectors(rows, contexts=contexts)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(vectors, store.vectors(rows, contexts=contexts), atol=1e-6)
    question = store.vectors([3])[0]
    scores, ids = built.sentences.search(question[None], 5)
    np.testing.assert_allclose(scores[0], store.vectors(ids[0]) @ question, atol=1e-5)  # cosines


def test_the_manifest_describes_what_was_indexed(store: Store, fake_embedder) -> None:
    manifest = store.manifest

    assert manifest["format"] == FORMAT_VERSION
    assert manifest["model"] == fake_embedder.name
    assert manifest["dimension"] == fake_embedder.dimension
    assert manifest["chunks"] == len(store.chunks) == store.sentences.ntotal == store.contexts.ntotal
    assert list(manifest["articles"]) == ["world_cup_2022_semi-final_france_2-0_morocco", "semi", "final"]
    semi = manifest["articles"]["semi"]
    assert semi["hash"] == SEMI.content_hash
    assert (semi["title"], semi["date"], semi["url"], semi["source"]) == (
        "Semi-final",
        "2022-12-14",
        "https://example.com/semi",
        "semi.txt",
    )
    assert semi["chunks"] == len(chunk_article(SEMI)) == 3


def test_chunks_are_stored_in_article_order_row_for_row(store: Store) -> None:
    assert [(chunk.article, chunk.text) for chunk in store.chunks[-5:]] == [
        ("semi", "France beat Morocco 2-0 in Qatar."),
        ("semi", "Theo Hernandez scored early."),
        ("semi", "Mbappe consoled Hakimi after the game."),
        ("final", "Argentina beat France on penalties."),
        ("final", "Messi lifted the trophy at last."),
    ]
    assert {chunk.article for chunk in store.chunks[:-5]} == {"world_cup_2022_semi-final_france_2-0_morocco"}


def test_save_then_load_gives_the_same_chunks_vectors_and_manifest(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    store.save(folder)

    loaded = Store.load(folder)

    assert loaded.chunks == store.chunks
    rows = np.arange(len(store.chunks))
    assert np.array_equal(loaded.vectors(rows), store.vectors(rows))
    assert np.array_equal(loaded.vectors(rows, contexts=True), store.vectors(rows, contexts=True))
    assert loaded.manifest == store.manifest
    query = store.vectors([3])
    assert np.array_equal(loaded.sentences.search(query, 5)[1], store.sentences.search(query, 5)[1])


def test_bm25_is_saved_with_the_index_and_scores_as_one_built_from_the_chunks(
    store: Store, tmp_path: Path
) -> None:
    store.save(tmp_path / "index")
    loaded = Store.load(tmp_path / "index")
    built = Lexical.build(store.chunks)

    for question in ["mbape consoled hakimy", "Théo Hernandez scored", "who won the final", "penalties"]:
        assert loaded.lexical.passages.correct(question) == built.passages.correct(question)
        assert np.array_equal(loaded.lexical.passages.scores(question), built.passages.scores(question))
        assert np.array_equal(loaded.lexical.articles.scores(question), built.articles.scores(question))
    assert loaded.lexical.passages.scores("penalties").argmax() == next(
        row for row, chunk in enumerate(store.chunks) if "penalties" in chunk.text
    )


def test_coverage_read_from_the_saved_term_sets_is_the_sentence_read_with_its_neighbours(
    store: Store, tmp_path: Path
) -> None:
    store.save(tmp_path / "index")
    first = FirstStage(Store.load(tmp_path / "index"))
    analyse = first.store.lexical.passages.analyse

    def share(question: str, rows: list[int]) -> float:  # the rows' text read whole, synonyms added
        held = set(analyse(expand(" ".join(indexed_text(store.chunks[r]) for r in rows))))
        return len(set(analyse(question)) & held) / len(set(analyse(question)))

    helped = 0
    for question in ["who was the manager of morocco", "Mbappe consoled Hakimi in the tunnel", "penalties"]:
        table = first.score(first.prepare(question), store.vectors([0])[0])
        for row, coverage in zip(table.rows.tolist(), table.column("coverage").tolist(), strict=True):
            near = [r for r in (*neighbours(store.chunks, row), row) if r is not None]
            assert coverage == pytest.approx(share(question, near))
            helped += share(question, near) > share(question, [row])
    assert helped  # a neighbour's words counted for some row


def test_an_index_saved_before_term_sets_opens_and_builds_them(store: Store, tmp_path: Path) -> None:
    store.save(tmp_path / "index")
    shutil.rmtree(tmp_path / "index" / "bm25" / "terms")  # as an index saved by an earlier matchbot

    loaded = Store.load(tmp_path / "index")

    built = Lexical.build(store.chunks).terms
    assert np.array_equal(loaded.lexical.terms.indptr, built.indptr)
    assert np.array_equal(loaded.lexical.terms.indices, built.indices)


def test_an_index_saved_before_surnames_opens_and_finds_them(store: Store, tmp_path: Path) -> None:
    store.save(tmp_path / "index")
    words = tmp_path / "index" / "bm25" / "passages" / "words.json"
    saved = json.loads(words.read_text(encoding="utf-8"))
    del saved["surnames"]  # as an index saved by an earlier matchbot
    words.write_text(json.dumps(saved), encoding="utf-8")

    loaded = Store.load(tmp_path / "index")

    assert loaded.lexical.passages.surnames == store.lexical.passages.surnames
    assert loaded.lexical.passages.surnames["kylian"] == "mbappe"


def test_an_index_saved_with_other_synonyms_builds_its_terms_again_with_todays(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each passage's terms are saved with its words' synonyms: an index saved before a group was added
    ("reigning world champions" for "holders") would never let "who are the holders" count them."""
    fewer = tuple(group for group in vocabulary.SYNONYMS if "holders" not in group)
    monkeypatch.setattr(vocabulary, "SYNONYMS", fewer)
    monkeypatch.setattr(vocabulary, "_GROUPS", {word: group for group in fewer for word in group})
    monkeypatch.setattr(vocabulary, "_PHRASE", vocabulary._any_of(vocabulary._GROUPS))
    manifest = store.manifest | {"synonyms": vocabulary.synonyms_version()}
    Store(store.chunks, store._vectors, manifest, store.distinct, Lexical.build(store.chunks)).save(
        tmp_path / "index"
    )  # as an earlier matchbot saved it
    old = Store.load(tmp_path / "index")
    monkeypatch.undo()

    loaded = Store.load(tmp_path / "index")

    row = next(row for row, chunk in enumerate(store.chunks) if "reigning world champions" in chunk.text)
    (holders,) = loaded.lexical.passages.analyse("holders")
    assert not old.lexical.terms.holding([holders], np.array([row]))[0, 0]
    assert loaded.lexical.terms.holding([holders], np.array([row]))[0, 0]


def test_an_index_saved_without_bm25_still_opens_and_builds_it(store: Store, tmp_path: Path) -> None:
    store.save(tmp_path / "index")
    shutil.rmtree(tmp_path / "index" / "bm25")  # as an index saved by an earlier matchbot

    loaded = Store.load(tmp_path / "index")

    scores = loaded.lexical.passages.scores("Mbappe consoled Hakimi")
    assert np.array_equal(scores, Lexical.build(store.chunks).passages.scores("Mbappe consoled Hakimi"))


def test_save_replaces_an_older_index_and_leaves_no_working_folder(
    store: Store, fake_embedder, tmp_path
) -> None:
    folder = tmp_path / "index"
    older, _ = Store.build([FINAL], fake_embedder)
    older.save(folder)

    store.save(folder)

    assert Store.load(folder).chunks == store.chunks
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_a_save_that_fails_while_writing_leaves_the_previous_index_as_it_was(
    store: Store, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    folder = tmp_path / "index"
    store.save(folder)
    before = snapshot(folder)
    newer, _ = Store.build([FINAL], fake_embedder)
    writes = []

    def write_index(index, path: str) -> None:
        writes.append(path)
        if len(writes) == 2:
            raise OSError("No space left on device")
        real_write_index(index, path)

    real_write_index = faiss.write_index
    monkeypatch.setattr(faiss, "write_index", write_index)

    with pytest.raises(StoreError, match=r"Cannot write the index in .* \(No space left on device\)"):
        newer.save(folder)

    assert len(writes) == 2
    assert snapshot(folder) == before
    assert Store.load(folder).chunks == store.chunks
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index"]


def test_a_save_cut_off_between_its_two_renames_still_loads(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    store.save(folder)
    folder.rename(tmp_path / ".index.previous")  # where save() puts the old folder just before the swap

    assert Store.load(folder).chunks == store.chunks
    assert (folder / "manifest.json").is_file()


def test_a_missing_index_says_to_run_matchbot_index(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"There is no index in .*: run `matchbot index`"):
        Store.load(tmp_path / "index")


def rewrite_manifest(**changes) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        for key, value in changes.items():
            if value is None:
                del manifest[key]
            else:
                manifest[key] = value
        (folder / "manifest.json").write_text(json.dumps(manifest))

    return damage


def found(folder: Path, name: str) -> Path:
    """The index's file ``name`` (a pattern: ``vectors/*/sentences.faiss`` is the primary encoder's)."""
    return next(folder.glob(name))


def truncate(name: str, keep: int) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = found(folder, name)
        path.write_bytes(path.read_bytes()[:keep])

    return damage


def remove(name: str) -> Callable[[Path], None]:
    return lambda folder: found(folder, name).unlink()


def overwrite(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda folder: found(folder, name).write_bytes(content)


def replace_bytes(name: str, old: bytes, new: bytes) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = found(folder, name)
        path.write_bytes(path.read_bytes().replace(old, new))

    return damage


def drop_last_chunk(folder: Path) -> None:
    lines = (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "chunks.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(remove("manifest.json"), id="no manifest"),
        pytest.param(overwrite("manifest.json", b""), id="empty manifest"),
        pytest.param(truncate("manifest.json", 40), id="half-written manifest"),
        pytest.param(overwrite("manifest.json", b"\xff\xfe\x00garbage"), id="binary manifest"),
        pytest.param(overwrite("manifest.json", b"[1, 2]"), id="manifest not an object"),
        pytest.param(rewrite_manifest(articles=None), id="manifest without articles"),
        pytest.param(rewrite_manifest(model=None), id="manifest without model"),
        pytest.param(rewrite_manifest(chunks=None), id="manifest without chunk count"),
        pytest.param(rewrite_manifest(chunks=5), id="manifest with another chunk count"),
        pytest.param(rewrite_manifest(dimension=3), id="manifest with another dimension"),
        pytest.param(remove("chunks.jsonl"), id="no chunks"),
        pytest.param(truncate("chunks.jsonl", 300), id="half-written chunks"),
        pytest.param(drop_last_chunk, id="a chunk missing"),
        pytest.param(overwrite("chunks.jsonl", b'{"unexpected": 1}\n'), id="chunks of another shape"),
        pytest.param(replace_bytes("chunks.jsonl", b"Qatar", b"Doha!"), id="a chunk changed, its length not"),
        pytest.param(remove("vectors/*/sentences.faiss"), id="no sentence vectors"),
        pytest.param(truncate("vectors/*/sentences.faiss", 100), id="half-written sentence vectors"),
        pytest.param(
            overwrite("vectors/*/contexts.faiss", b"not a faiss index at all"), id="garbage context vectors"
        ),
        pytest.param(remove("bm25/passages/words.json"), id="no BM25 words"),
        pytest.param(truncate("bm25/passages/vocab.index.json", 10), id="half-written BM25 vocabulary"),
        pytest.param(overwrite("bm25/articles/data.csc.index.npy", b"garbage"), id="garbage BM25 postings"),
        pytest.param(overwrite("bm25/passages/words.json", b'{"texts": 2, "words": []}'), id="BM25 of 2"),
        pytest.param(remove("bm25/terms/indices.npy"), id="no term sets"),
        pytest.param(overwrite("bm25/terms/terms.json", b"[]"), id="term sets without their terms"),
        pytest.param(overwrite("bm25/terms/indptr.npy", b"garbage"), id="garbage term sets"),
    ],
)
def test_a_corrupt_or_half_written_index_is_one_line_saying_to_rebuild(
    store: Store, tmp_path: Path, damage
) -> None:
    folder = tmp_path / "index"
    store.save(folder)
    damage(folder)
    damaged = snapshot(folder)

    with pytest.raises(StoreError) as error:
        Store.load(folder)

    message = str(error.value)
    assert "\n" not in message
    assert str(folder) in message
    assert "run `matchbot index --rebuild`" in message
    assert snapshot(folder) == damaged  # nothing is deleted or rewritten by a failed load


def test_an_empty_index_folder_is_corrupt_not_missing(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()

    with pytest.raises(StoreError, match=r"incomplete or corrupt .*`matchbot index --rebuild`"):
        Store.load(tmp_path / "index")


def test_an_index_of_another_format_version_says_to_rebuild(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    store.save(folder)
    rewrite_manifest(format=FORMAT_VERSION + 1)(folder)

    with pytest.raises(StoreError) as error:
        Store.load(folder)

    message = str(error.value)
    assert f"format {FORMAT_VERSION + 1}" in message
    assert message.endswith("run `matchbot index --rebuild`.")
    assert "\n" not in message


def test_what_is_embedded_credits_tweets_and_quotations_and_reads_handles_as_words() -> None:
    article = Article(
        id="a",
        title="A",
        text=(
            'Mbappe consoled him. The 2018 World Cup winner wrote: "You made history - @AchrafHakimi."\n\n'
            "They won our hearts pic.twitter.com/0xTkngqHZJ — ESPN FC (@ESPNFC) December 14, 2022"
        ),
    )
    message, tweet = [indexed_text(chunk) for chunk in chunk_article(article)][1:]
    assert message == 'Mbappe said: The 2018 World Cup winner wrote: "You made history - @Achraf Hakimi."'
    assert tweet == "Tweet by ESPN FC (@ESPNFC) on December 14, 2022: They won our hearts"


def test_an_index_holds_each_encoders_vectors_and_saves_them_apart(make_embedder, tmp_path: Path) -> None:
    primary, other = make_embedder(), make_embedder(name="other-model", dimension=64)
    store, _ = Store.build([SEMI, FINAL], [primary, other])
    rows = np.arange(len(store.chunks))
    texts = [indexed_text(chunk) for chunk in store.chunks]

    assert store.encoders == ["fake-hashing", "other-model"] and store.model == "fake-hashing"
    np.testing.assert_allclose(store.vectors(rows), primary.encode(texts), atol=1e-6)
    np.testing.assert_allclose(store.vectors(rows, encoder="other-model"), other.encode(texts), atol=1e-6)
    assert store.vectors(rows, contexts=True, encoder="other-model").shape == (len(rows), 64)

    store.save(tmp_path / "index")
    assert sorted(p.name for p in (tmp_path / "index" / "vectors").iterdir()) == [
        "fake-hashing",
        "other-model",
    ]
    loaded = Store.load(tmp_path / "index")
    for name in store.encoders:
        for contexts in (False, True):
            wanted = store.vectors(rows, contexts=contexts, encoder=name)
            assert np.array_equal(loaded.vectors(rows, contexts=contexts, encoder=name), wanted)


def test_an_encoder_joining_an_index_embeds_every_chunk_with_it_alone(make_embedder) -> None:
    primary = make_embedder()
    before, _ = Store.build([SEMI, FINAL], primary)
    primary.calls.clear()
    other = make_embedder(name="other-model")

    after, report = Store.build([SEMI, FINAL], [primary, other], previous=before)

    assert primary.calls == []  # the primary encoder's vectors are the previous index's
    assert len(other.texts) == 2 * len(after.chunks)  # every sentence and context, with the new one
    assert report.encoded == ["other-model"] and report.modified
    assert "every chunk embedded with other-model" in report.summary()
    _, report = Store.build([SEMI, FINAL], [primary, other], previous=after)
    assert not report.modified and primary.calls == [] and len(other.texts) == 2 * len(after.chunks)


FINALE = Article(
    id="finale",
    title="Finale",
    text="L'Argentine bat la France aux tirs au but. Messi soulève enfin le trophée.",
    language="fr",
)


def test_opening_an_index_parses_one_chunk_an_article_and_reads_rows_from_the_manifest(
    make_embedder, tmp_path: Path, monkeypatch
) -> None:
    built, _ = Store.build(
        [SEMI, Article(id="empty", title="Empty", text="", language="en"), FINALE, FINAL], make_embedder()
    )
    built.save(tmp_path / "index")
    made: list[int] = []

    def chunk(**fields) -> Chunk:
        made.append(1)
        return Chunk(**fields)

    monkeypatch.setattr(chunk_table, "Chunk", chunk)
    loaded = Store.load(tmp_path / "index")
    FirstStage(loaded)

    assert len(made) == 3  # the first chunk of each article that has one, to check the manifest's order
    assert loaded.article_rows() == {
        "semi": range(0, 3),
        "empty": range(3, 3),
        "finale": range(3, 5),
        "final": range(5, 7),
    }
    assert loaded.article_numbers().tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert loaded.row_languages().tolist() == [chunk.language for chunk in built.chunks]
    assert loaded.row_languages().tolist() == ["en"] * 3 + ["fr"] * 2 + ["en"] * 2


def test_rows_out_of_the_manifests_order_are_read_from_the_chunks(make_embedder) -> None:
    built, _ = Store.build([SEMI, FINALE], make_embedder())
    shuffled = Store(built.chunks[3:] + built.chunks[:3], {}, built.manifest, built.distinct)

    assert shuffled.article_rows() is None
    assert shuffled.article_numbers().tolist() == [0, 0, 1, 1, 1]
    assert shuffled.row_languages().tolist() == ["fr", "fr", "en", "en", "en"]


def test_an_index_from_its_vectors_is_the_index_built_from_its_articles(make_embedder, seed_file) -> None:
    seed = read_seeds(seed_file).articles[0]
    built, _ = Store.build([seed, SEMI, FINALE], make_embedder())
    rows = np.arange(len(built.chunks))
    embedded = {built.model: (built.vectors(rows), built.vectors(rows, contexts=True))}
    manifest = {key: value for key, value in built.manifest.items() if key not in ("encoders", "distinct")}

    report = IndexReport()
    again = Store.from_vectors(built.chunks, embedded, manifest, report=report)

    assert again.manifest == built.manifest
    assert np.array_equal(again.distinct, built.distinct)
    for question in ["who consoled Hakimi", "tirs au but"]:
        assert np.array_equal(
            again.lexical.passages.scores(question), built.lexical.passages.scores(question)
        )
    query = built.vectors([4])
    assert np.array_equal(again.sentences.search(query, 5)[1], built.sentences.search(query, 5)[1])
    assert list(report.seconds) == ["vectors", "distinct probe", "distinct", "bm25", "bm25 wait"]
    assert all(spent >= 0 for spent in report.seconds.values())
