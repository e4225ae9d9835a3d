"""Answer quality: normalisation and fusion units, and the seed figures as floors (real model).

The floors sit a stated margin under the lowest figures measured across processors (``MEASURED``), so a
change that makes matchbot answer worse fails here on any machine; they are below the project's goals,
which the README states beside them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from index.articles import Article
from index.evaluation import BASELINES, Scores, baseline, evaluate, read_questions
from index.first_stage import COLUMNS
from index.fusion import MEAN_WEIGHTS, Fusion
from index.lexical import LexicalIndex, fold
from index.pipeline import Pipeline
from index.retriever import Retriever
from index.store import Store

SEED_QUESTIONS = Path(__file__).resolve().parents[1] / "data" / "seed_questions.jsonl"


# -- normalisation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["Mbappé", "MBAPPE", "mbappe", "Mbappe\u0301"])
def test_names_fold_to_one_spelling_whatever_the_accents_and_case(typed: str) -> None:
    assert fold(typed) == "mbappe"


def test_bm25_matches_a_name_typed_without_its_accent() -> None:
    lexical = LexicalIndex(["Kylian Mbappé consoled Achraf Hakimi.", "Regragui praised his players."])
    assert lexical.scores("mbappe")[0] > 0 == lexical.scores("mbappe")[1]
    assert lexical.scores("MBAPPÉ?!").tolist() == lexical.scores("mbappe").tolist()


def test_bm25_matches_other_forms_of_a_word_by_stemming() -> None:
    lexical = LexicalIndex(["Mbappe was quick to console his teammate.", "The fans sang all night."])
    assert lexical.terms("consoling teammates") == ["consol", "teammat"]
    assert lexical.scores("consoling")[0] > 0


def test_misspelt_names_are_corrected_to_the_articles_spelling() -> None:
    lexical = LexicalIndex(["Kylian Mbappe consoled Achraf Hakimi; Regragui praised Morocco."])
    assert lexical.correct("mbape hakimy regragi morroco") == "mbappe hakimi regragui morocco"


def test_a_questions_names_misspelt_or_not_are_told_apart_from_its_other_words() -> None:
    """The words that tell nothing of a question's language: the articles' names, and words that
    misspell one ("hakimy" alone made "mbape hakimy shirt swap" Turkish)."""
    lexical = LexicalIndex(["Kylian Mbappe consoled Achraf Hakimi; the pair swapped shirts."])
    assert lexical.named("mbape HAKIMY shirt swap") == {"mbape", "hakimy"}
    assert lexical.named("Mbappé a consolé hakimi") == {"mbappe", "hakimi"}
    assert lexical.named("shirts swapped") == set()  # the articles' words, but no names


def test_a_given_name_is_read_with_the_surname_the_articles_write_it_before() -> None:
    """Members say "walid" or "kylian"; the report says "Regragui" and "Mbappe" once it has named them."""
    lexical = LexicalIndex(
        [
            "Walid Regragui's side lost. Regragui was proud. Kylian Mbappe consoled Achraf Hakimi.",
            "Mbappe hugged Hakimi. While Morocco were praised, the World Cup went on. Morocco lost.",
        ]
    )
    assert lexical.surnames == {"walid": "regragui", "kylian": "mbappe", "achraf": "hakimi"}
    assert lexical.in_full("what did walid say") == "what did walid regragui say"
    assert lexical.in_full("did kylian hug achraf") == "did kylian mbappe hug achraf hakimi"
    assert lexical.in_full("walid regragui") == "walid regragui"  # already in full
    assert lexical.in_full("how did the world react") == "how did the world react"  # "Cup" is never alone


def test_surnames_are_saved_with_the_index_and_read_back(tmp_path: Path) -> None:
    lexical = LexicalIndex(["Walid Regragui's side lost. Regragui was proud."])
    lexical.save(tmp_path / "words")

    assert LexicalIndex.load(tmp_path / "words").surnames == {"walid": "regragui"}


def test_short_and_known_words_are_left_as_typed() -> None:
    lexical = LexicalIndex(["Kylian Mbappe consoled Achraf Hakimi."])
    assert lexical.correct("who is the GOAT, mbappe?") == "who is the goat, mbappe?"


def test_a_word_of_the_questions_language_is_not_a_misspelling_of_an_articles_word() -> None:
    """The seed never writes "where", "whistle" or "raining"; they were read as "were", "while" and
    "reigning". A word the question's language commonly uses is left as typed; names are still
    corrected, and so is a word that is no word of that language."""
    lexical = LexicalIndex(["They were reigning champions while Mbappe consoled Hakimi in the night."])
    assert lexical.correct("where was mbape after the whistle") == "where was mbappe after the whistle"
    assert lexical.correct("was it raining") == "was it raining"
    assert lexical.correct("hat mbappe nicht gefeiert", "de") == "hat mbappe nicht gefeiert"
    assert lexical.correct("hat mbappe nicht gefeiert") == "hat mbappe night gefeiert"  # not English


# -- fusion ----------------------------------------------------------------------------------------

ARTICLES = [
    Article(id="a", title="Semi-final", text="Mbappe consoled Hakimi. The stadium lights went out."),
    Article(id="b", title="Other", text="Hakimi cried. Fans consoled each other."),
]


@pytest.fixture
def retriever(make_embedder) -> Retriever:
    embedder = make_embedder()
    store, _ = Store.build(ARTICLES, embedder)
    return Retriever(store, Pipeline(embedder, fusion=Fusion.load().as_mean()))


def first_scores(retriever: Retriever, question: str):  # type: ignore[no-untyped-def]
    return retriever.first_scores([question])[0]


def test_a_weighted_mean_fuses_the_first_stages_five_scores(retriever: Retriever) -> None:
    table = first_scores(retriever, "did mbappe console hakimi")
    rows, fused = retriever.ranked(table)
    weights = retriever.fusion.weights
    expected = {
        int(row): sum(weights[name] * table.column(name)[n] for name in COLUMNS)
        for n, row in enumerate(table.rows)
    }
    assert fused.tolist() == pytest.approx([expected[row] for row in rows.tolist()], abs=1e-5)
    assert fused.tolist() == sorted(fused.tolist(), reverse=True)


def test_lexical_scores_are_relative_to_the_best_match(retriever: Retriever) -> None:
    table = first_scores(retriever, "consoled hakimi")
    lexical, article_lexical = table.column("lexical"), table.column("article_lexical")
    assert lexical.max() == pytest.approx(1.0) and lexical.min() >= 0
    assert article_lexical.max() == pytest.approx(1.0)


def test_a_sentence_like_many_others_is_less_distinct_than_an_odd_one_out(make_embedder) -> None:
    embedder = make_embedder()
    lines = ["Morocco won hearts.", "Morocco won praise.", "Morocco won fans.", "Tunnel floor chat."]
    store, _ = Store.build([Article(id="a", title="A", text=" ".join(lines))], embedder)
    table = first_scores(Retriever(store, Pipeline(embedder)), "morocco won")
    texts = [store.chunks[row].text for row in table.rows]
    distinct = dict(zip(texts, table.column("distinct").tolist(), strict=True))
    assert distinct["Tunnel floor chat."] > max(distinct[line] for line in lines[:3])


def test_bm25_only_ranks_by_words_and_dense_only_by_meaning(retriever: Retriever) -> None:
    bm25 = baseline(retriever, "bm25").search("mbappe consoled hakimi", k=1)
    assert bm25.passages[0].text == "Mbappe consoled Hakimi."
    dense = baseline(retriever, "dense")
    table = first_scores(dense, "stadium lights")
    _, fused = dense.ranked(table)
    assert fused.tolist() == pytest.approx(sorted(table.column("sentence").tolist(), reverse=True), abs=1e-5)


def test_the_weighted_means_weights_sum_to_one_so_scores_stay_between_0_and_1() -> None:
    assert sum(MEAN_WEIGHTS[name] for name in COLUMNS) == pytest.approx(1.0)
    for weights in BASELINES.values():
        assert sum(weights.values()) == pytest.approx(1.0)


# -- the seed figures, with the real model ---------------------------------------------------------


@pytest.fixture(scope="module")
def seed_retriever(seed_library, served) -> Retriever:
    """matchbot as it answers by default: both encoders, both later stages, the shipped fusion."""
    return seed_library.retriever.with_pipeline(served)


# The figures measured by `python scripts/cpu_spread.py --cpus` (README, "Quality on other processors"): for
# each system and split, the lowest hit@1, hit@3, MRR@10 and share of off-topic questions declined, and the
# highest share of answerable questions declined, over the variants it ran (an AVX-512 VNNI processor with
# exact and with default int8 kernels, and both later models in fp32). With the boosted trees blended into
# the ranking, the fp32 models have put up to five more questions first than the int8 ones (over all; four
# held out) and declined two more off-topic questions; with the current fusion one question fewer first over
# all and on the tuning split, one more in the top three over all and held out, and one answerable
# question fewer declined. Exact and default kernels give the same figures. An AVX2 processor without VNNI
# computes the same exact kernels (it gave the same figures as the VNNI machine to the question with
# earlier fusions). The
# floors sit MARGINS questions below the lowest: for the whole path the widest spread measured between the
# variants (five questions), for the first stage, whose variants agree, two; so a processor that ranks a few
# questions otherwise still passes and a change that loses more fails.
MARGINS = {"both": 5, "first": 2}
MEASURED = {
    ("both", None): (0.928, 0.985, 0.958, 0.793, 0.012),
    ("both", "dev"): (0.949, 0.995, 0.972, 0.949, 0.005),
    ("both", "test"): (0.896, 0.970, 0.935, 0.615, 0.022),
    ("first", None): (0.772, 0.961, 0.867, 0.802, 0.018),
    ("first", "dev"): (0.763, 0.970, 0.866, 0.932, 0.010),
    ("first", "test"): (0.785, 0.948, 0.869, 0.654, 0.030),
}


def short_of_floors(scores: Scores, measured: tuple[float, ...], margin: int) -> list[str]:
    """The figures of ``scores`` that fall below their floor (or above the ceiling of wrong declines),
    each as ``name value < floor``; empty when all hold."""
    hit_at_1, hit_at_3, mrr, declined, wrongly = measured
    answerable, off_topic = margin / scores.answerable, margin / scores.off_topic
    found = {
        "hit@1": (scores.hit_at_1, hit_at_1 - answerable),
        "hit@3": (scores.hit_at_3, hit_at_3 - answerable),
        "MRR@10": (scores.mrr_at_k, mrr - answerable),
        "off-topic declined": (scores.declined_off_topic, declined - off_topic),
    }
    short = [f"{name} {value:.3f} < {floor:.3f}" for name, (value, floor) in found.items() if value < floor]
    if scores.declined_answerable > wrongly + answerable:
        short.append(f"answerable declined {scores.declined_answerable:.3f} > {wrongly + answerable:.3f}")
    return short


@pytest.mark.model
@pytest.mark.parametrize(("stages", "split"), list(MEASURED), ids=[f"{a}-{b or 'all'}" for a, b in MEASURED])
def test_seed_questions_are_answered_at_least_as_well_as_measured_on_any_processor(
    seed_retriever: Retriever, stages: str, split: str | None
) -> None:
    retriever = seed_retriever if stages == "both" else seed_retriever.first_stage_only()
    scores = evaluate(retriever, read_questions(SEED_QUESTIONS, split))
    assert short_of_floors(scores, MEASURED[stages, split], MARGINS[stages]) == []


@pytest.mark.model
def test_the_floors_catch_a_ranking_that_really_got_worse(seed_retriever: Retriever) -> None:
    """With the weighted mean matchbot used before its fusion was learned (``MEAN_WEIGHTS``), it ranks
    worse by more than the margin: the floors see it."""
    weakened = seed_retriever.with_pipeline(
        seed_retriever.pipeline.with_fusion(seed_retriever.fusion.as_mean())
    )
    scores = evaluate(weakened, read_questions(SEED_QUESTIONS, "dev"))
    assert short_of_floors(scores, MEASURED["both", "dev"], MARGINS["both"]) != []


@pytest.mark.model
def test_a_question_asking_for_what_the_article_never_gives_is_declined(seed_retriever: Retriever) -> None:
    """The seed gives no age, no salary, no time of day, no number of yellow cards, no scorer, no referee,
    no penalty, no birthplace, no weather, no channel, no stadium's name, no predecessor, no captain and
    not the final's opponent: asked for one, matchbot
    declines (confidence at most 0.15, against a threshold of 0.235 when measured) and says what is
    missing, and it still answers the score, a tweet, and the walk around the stadium."""
    asked = {
        "how old is regragui": "age",
        "what is mbappe's salary": "money",
        "what time is it": "time",
        "how many yellow cards were there": "count",
        "who scored the goals for france": "scorer",
        "who was the referee": "referee",
        "was there a penalty": "penalty",
        "where was regragui born": "birth",
        "was it raining during the match": "weather",  # read as typed, not as corrected ("reigning")
        "what channel was the game on": "broadcast",
        "what stadium hosted the match": "stadium",
        "who was morocco coach before regragui": "former",  # a predecessor, not the coach it names
        "who is the captain of morocco": "captain",
        "who will france play in the final": "next",
    }
    for question, missing in asked.items():
        answer = seed_retriever.search(question)
        assert (answer.answered, answer.missing) == (False, missing), question
    answer = seed_retriever.search("what was the final score")
    assert answer.answered
    assert "2-0" in answer.passages[0].text
    answer = seed_retriever.search("what did espn post about morocco")
    assert answer.answered
    assert answer.passages[0].author == "ESPN FC (@ESPNFC)"
    answer = seed_retriever.search("did mbappe walk round the stadium with hakimi")
    assert answer.answered
    assert "walked around the stadium" in answer.passages[0].text


@pytest.mark.model
def test_the_result_and_a_persons_role_are_found_though_the_question_shares_no_word_with_them(
    seed_retriever: Retriever,
) -> None:
    """A question asking who won the match asks for its result, and one asking a player's nationality
    for their role or standing, which the seed gives in words the questions do not use ("2-0", "French
    sensation Kylian Mbappe", "the French striker"); "who won the golden ball" asks for neither, and the
    seed cannot answer it."""
    answer = seed_retriever.search("who won france or morocco")
    assert answer.answered and "2-0" in answer.passages[0].text
    answer = seed_retriever.search("what nationality is mbappe")
    assert answer.answered
    assert any(role in answer.passages[0].text for role in ("French sensation Kylian", "the French striker"))
    assert not seed_retriever.search("who won the golden ball").answered


@pytest.mark.model
def test_a_club_question_finds_the_passage_that_names_the_club_not_one_that_says_club(
    seed_retriever: Retriever,
) -> None:
    """ "his Moroccan club teammate" says that Hakimi and Mbappe share a club, not which: the passage
    that names it ("Paris Saint-Germain teammate") answers. When every passage with "club" or
    "teammate" held a club, the first of these was first."""
    answer = seed_retriever.search("which club does hakimi play for")
    assert answer.answered and "Paris Saint-Germain" in answer.passages[0].text


@pytest.mark.model
@pytest.mark.parametrize("split", ["dev", "test"])
def test_matchbot_beats_bm25_alone_and_dense_alone_on_the_same_sentences(
    seed_retriever: Retriever, split: str
) -> None:
    questions = read_questions(SEED_QUESTIONS, split)
    ours = evaluate(seed_retriever, questions)
    for name in BASELINES:
        theirs = evaluate(baseline(seed_retriever, name), questions, declines=False)
        assert ours.mrr_at_k > theirs.mrr_at_k
        assert ours.hit_at_1 > theirs.hit_at_1
