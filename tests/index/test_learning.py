"""The shipped fusion is reproducible: ``matchbot learn-fusion`` run again on the shipped tuning questions
(real models) gives a fusion that answers as ``index/fusion.json`` does, within the margin the quality
floors allow between processors."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.evaluation import Scores, evaluate, read_questions
from index.fusion import Fusion
from index.learning import SETS_FILE, QuestionSet, keep_stages, learn, read_sets
from index.library import Library
from index.retriever import Retriever

DATA = Path(__file__).resolve().parents[1] / "data"
MARGIN = 2  # questions, as in test_quality
# Learning reads every tuning question through both later stages: minutes on a busy machine. A bound,
# not a timing: the test fails only on what the fusions answer.
pytestmark = pytest.mark.timeout(1500)


@pytest.fixture(scope="module")
def relearned(served, seed_library, tmp_path_factory: pytest.TempPathFactory) -> Fusion:
    """The fusion ``learn`` fits on the shipped question sets, the seed's index shared with the session."""
    folder = tmp_path_factory.mktemp("learning")

    def open_retriever(question_set: QuestionSet) -> Retriever:
        if question_set.seeds.resolve() == seed_library.seeds_dir.resolve():
            return seed_library.retriever.with_pipeline(served)
        library = Library(question_set.seeds, folder / question_set.name.replace(" ", "_"), served)
        library.reindex()
        return library.retriever

    fusion, _ = learn(read_sets(DATA / SETS_FILE), open_retriever, command=Fusion.load().produced_by)
    return fusion


def answered(retriever: Retriever, fusion: Fusion, questions: Path) -> Scores:
    fused = retriever.with_pipeline(retriever.pipeline.with_fusion(fusion))
    return evaluate(fused, read_questions(questions))


@pytest.mark.model
@pytest.mark.parametrize("questions", ["seed_questions.jsonl", "multilingual/seed_questions.jsonl"])
def test_learning_again_from_the_shipped_questions_answers_as_the_shipped_fusion(
    relearned: Fusion, seed_library, served, questions: str
) -> None:
    retriever = keep_stages(seed_library.retriever.with_pipeline(served))  # each pair read once
    shipped, again = (answered(retriever, f, DATA / questions) for f in (Fusion.load(), relearned))
    answerable, off_topic = MARGIN / shipped.answerable, MARGIN / shipped.off_topic
    assert again.hit_at_1 == pytest.approx(shipped.hit_at_1, abs=answerable)
    assert again.hit_at_3 == pytest.approx(shipped.hit_at_3, abs=answerable)
    assert again.declined_off_topic == pytest.approx(shipped.declined_off_topic, abs=off_topic)
    assert again.declined_answerable == pytest.approx(shipped.declined_answerable, abs=answerable)
    assert set(relearned.thresholds) == set(Fusion.load().thresholds)
    assert set(relearned.declines) == set(Fusion.load().declines)
