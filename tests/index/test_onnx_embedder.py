"""The lean encoder (MiniLM exported to ONNX) against the sentence-transformers reference."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import onnx_embedder
from index.chunking import context_text, indexed_text
from index.embedding import Embedder
from index.export import export_model
from index.library import Library
from index.onnx_embedder import OnnxEmbedder, find_export, load_embedder
from index.retriever import Retriever

pytestmark = pytest.mark.model
REPOSITORY = Path(__file__).resolve().parents[2]
SEED_QUESTIONS = REPOSITORY / "tests" / "data" / "seed_questions.jsonl"


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    """The bundled MiniLM exported afresh into a temporary folder (as `matchbot export-model` does)."""
    folder = tmp_path_factory.mktemp("export") / "all-MiniLM-L6-v2"
    export_model(None, folder)
    return OnnxEmbedder.load(folder, "all-MiniLM-L6-v2")


def test_the_export_embeds_every_seed_passage_as_the_reference_does(
    lean: OnnxEmbedder, embedder: Embedder, seed_library: Library
) -> None:
    chunks = seed_library.retriever.store.chunks
    texts = [indexed_text(chunk) for chunk in chunks]
    texts += [context_text(chunks, row) for row in range(len(chunks))]

    assert lean.dimension == embedder.dimension
    assert np.abs(lean.encode(texts) - embedder.encode(texts)).max() < 1e-4


def test_the_lean_path_gives_the_same_answers_as_the_reference(
    lean: OnnxEmbedder, seed_library: Library
) -> None:
    reference = seed_library.retriever
    # the index built by the reference model, the same path with the export in its place
    lean_retriever = Retriever(reference.store, replace(reference.pipeline, encoder=lean))
    lines = (REPOSITORY / "tests" / "data" / "seed_questions.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]

    expected = reference.search_many(questions, k=3)
    found = lean_retriever.search_many(questions, k=3)

    assert [[p.text for p in a.passages] for a in found] == [[p.text for p in a.passages] for a in expected]
    assert [a.answered for a in found] == [a.answered for a in expected]


def test_without_an_export_the_reference_model_answers(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(onnx_embedder, "exports_folder", lambda: tmp_path)

    assert find_export(None) is None
    assert isinstance(load_embedder(None), Embedder)


def test_an_export_of_another_model_folder_is_not_used(lean: OnnxEmbedder, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(onnx_embedder, "exports_folder", lambda: lean.model.folder.parent)
    record = lean.model.folder / onnx_embedder.SOURCE_FILE
    assert find_export(None) == lean.model.folder

    record.write_text(json.dumps(json.loads(record.read_text()) | {"fingerprint": "another model"}))

    assert find_export(None) is None


def test_answering_with_the_export_never_imports_torch(seed_library: Library, tmp_path: Path) -> None:
    """`matchbot ask` with the export made by `make setup` and a built index loads neither torch nor
    sentence-transformers: that is what makes its cold start fast."""
    assert find_export(None) is not None, "no ONNX export in this environment: run `make setup`"
    data = seed_library.index_dir.parent
    script = (
        "import sys\n"
        "from bot.cli import main\n"
        f"code = main(['ask', 'was hakimi upset?', '--json', '--data', {str(data)!r}, "
        f"'--seeds', {str(REPOSITORY / 'seeds')!r}])\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["passages"], done.stdout
    assert "HEAVY []" in done.stderr


def test_a_questions_vector_does_not_depend_on_what_it_is_encoded_with(
    lean: OnnxEmbedder, seed_library: Library
) -> None:
    # questions go 32 to a batch, sentences 8: each text's vector must be the one it gets alone
    questions = [json.loads(line)["question"] for line in SEED_QUESTIONS.read_text("utf-8").splitlines()][:80]
    sentences = [indexed_text(chunk) for chunk in seed_library.retriever.store.chunks]
    texts = questions + sentences
    alone = lean.encode(texts, batch_size=1)
    assert np.array_equal(lean.encode(texts), alone)
    assert np.array_equal(lean.encode(questions), alone[: len(questions)])
