"""The late-interaction vectors saved beside the index: a fresh process reads them instead of running
the model over its first question's passages, scores exactly as before, and a change to the articles
encodes only its new passages."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import late_tokens
from index.chunk_table import ChunkTable
from index.evaluation import read_questions
from index.library import Library
from index.pipeline import Pipeline
from index.rerank import LateInteraction, LateInteractionStage

REPO = Path(__file__).resolve().parents[2]
SEED_QUESTIONS = REPO / "tests" / "data" / "seed_questions.jsonl"


class HashedTokens:
    """A late-interaction stage's part in saving, without a model: each text's vectors are made from
    its hash, and every text encoded is counted."""

    key = "hashed"

    def __init__(self) -> None:
        self.encoded: list[str] = []
        self.remembered: dict[str, np.ndarray] = {}

    @staticmethod
    def vectors_of(text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).standard_normal((1 + len(text) % 5, 8)).astype(np.float32)

    def passage_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        self.encoded.extend(texts)
        return [self.vectors_of(text) for text in texts]

    def remember(self, vectors: dict[str, np.ndarray]) -> None:
        self.remembered = vectors


def _same(remembered: dict[str, np.ndarray], texts: Sequence[str]) -> bool:
    return set(remembered) == set(texts) and all(
        np.array_equal(remembered[text], HashedTokens.vectors_of(text)) for text in texts
    )


def test_saved_vectors_are_read_back_and_a_change_encodes_only_its_new_passages(tmp_path: Path) -> None:
    first = HashedTokens()
    assert late_tokens.bring_up_to_date(tmp_path, first, ["a one", "a two", "a three"]) == 3
    assert _same(first.remembered, ["a one", "a two", "a three"])

    fresh = HashedTokens()  # the next start: nothing to encode
    assert late_tokens.bring_up_to_date(tmp_path, fresh, ["a one", "a two", "a three"]) == 0
    assert fresh.encoded == []
    assert _same(fresh.remembered, ["a one", "a two", "a three"])

    edited = HashedTokens()  # "a three" edited into "a four": only it is encoded, and "a three" dropped
    assert late_tokens.bring_up_to_date(tmp_path, edited, ["a one", "a two", "a four"]) == 1
    assert edited.encoded == ["a four"]
    saved = late_tokens.SavedTokens.load(tmp_path / late_tokens.FOLDER / HashedTokens.key)
    assert saved is not None
    assert set(saved.rows) == {late_tokens.digest(t) for t in ["a one", "a two", "a four"]}
    files = sorted(p.suffix for p in (tmp_path / late_tokens.FOLDER / HashedTokens.key).iterdir())
    assert files == ["", ".json", ".npy"]  # one generation left, and ``current``


@pytest.mark.parametrize("damage", ["vectors", "rows", "current"])
def test_damaged_saved_vectors_are_made_again(tmp_path: Path, damage: str) -> None:
    texts = ["b one", "b two"]
    late_tokens.bring_up_to_date(tmp_path, HashedTokens(), texts)
    folder = tmp_path / late_tokens.FOLDER / HashedTokens.key
    generation = (folder / late_tokens.CURRENT).read_text()
    if damage == "vectors":
        (folder / f"{generation}.npy").write_bytes(b"\x93NUMPY broken")
    elif damage == "rows":
        (folder / f"{generation}.json").write_text('{"rows": [["x", 0, 999]]}')
    else:
        (folder / late_tokens.CURRENT).write_text("gone")

    again = HashedTokens()
    assert late_tokens.bring_up_to_date(tmp_path, again, texts) == 2
    assert _same(again.remembered, texts)
    assert late_tokens.bring_up_to_date(tmp_path, HashedTokens(), texts) == 0  # and saved once more


def test_a_folder_that_cannot_be_written_still_hands_over_the_vectors(tmp_path: Path) -> None:
    blocked = tmp_path / "data"
    blocked.write_text("a file where the data folder should be")
    model = HashedTokens()
    assert late_tokens.bring_up_to_date(blocked, model, ["c one"]) == 1
    assert _same(model.remembered, ["c one"])


def test_above_the_limit_nothing_is_encoded_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(late_tokens, "SAVED_UP_TO", 2)
    model = HashedTokens()
    assert late_tokens.bring_up_to_date(tmp_path, model, ["d one", "d two", "d three"]) == 0
    assert model.encoded == [] and model.remembered == {}
    assert not (tmp_path / late_tokens.FOLDER).exists()


def test_above_the_limit_no_more_than_one_passage_over_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(late_tokens, "SAVED_UP_TO", 2)
    drawn = []

    def passages():  # a large index's texts, made as they are read
        for number in range(1000):
            drawn.append(number)
            yield f"e {number}"

    assert late_tokens.bring_up_to_date(tmp_path, HashedTokens(), passages()) == 0
    assert len(drawn) == 3


# -- with the real models ---------------------------------------------------------------------------


class Counting(LateInteraction):
    """The real late-interaction model, counting the passages it encodes."""

    def __init__(self, model: LateInteraction) -> None:
        super().__init__(model.model)
        self.passages = 0

    def passage_tokens(self, passages: Sequence[str]) -> list[np.ndarray]:
        self.passages += len(passages)
        return super().passage_tokens(passages)


@pytest.mark.model
def test_a_fresh_start_reads_the_saved_vectors_and_answers_the_same(
    served: Pipeline, seeds: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    library = Library(seeds, data, served)
    library.open()
    assert (data / late_tokens.FOLDER).is_dir()
    questions = [q.question for q in read_questions(SEED_QUESTIONS, "dev")[:40]]
    late = served.stages[0]
    assert isinstance(late, LateInteractionStage)

    # What a start without saved vectors gives: every passage encoded at question time.
    encoding = Counting(late.model)
    unsaved = library.retriever.with_pipeline(_with_late(served, LateInteractionStage(encoding)))
    before = [answer.to_json() for answer in unsaved.search_many(questions)]
    assert encoding.passages > 0

    # A fresh start over the same data folder: the saved vectors, no passage encoded, the same answers.
    reading = Counting(late.model)
    stage = LateInteractionStage(reading)
    restarted = Library(seeds, data, _with_late(served, stage))
    restarted.open()
    after = [answer.to_json() for answer in restarted.retriever.search_many(questions)]
    assert reading.passages == 0
    assert after == before


def _with_late(pipeline: Pipeline, stage: LateInteractionStage) -> Pipeline:
    return replace(pipeline, stages=(stage, *pipeline.stages[1:]))


@pytest.mark.model
def test_opening_an_index_too_large_to_save_does_not_parse_every_chunk(
    served: Pipeline, seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the chunk table parses a chunk when it is read: an index of a million passages opens in seconds
    # only because its chunks are not all parsed at the start
    Library(seeds, tmp_path / "data", served).open()
    monkeypatch.setattr(late_tokens, "SAVED_UP_TO", 2)
    reopened = Library(seeds, tmp_path / "data", served)
    reopened.open()
    chunks = reopened.retriever.store.chunks
    assert isinstance(chunks, ChunkTable) and len(chunks) > 3
    assert sum(chunk is not None for chunk in chunks._parsed) <= 3
