"""BM25 without bm25s on the question's path: the terms and the scores are bm25s's own, to the last bit,
and opening a saved index and scoring a question import neither bm25s nor scipy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bm25s
import numpy as np
import pytest

from index.lexical import Analyzer, LexicalIndex, TermSets, fold
from tests.index.test_ann import reports

TEXTS = {
    "en": [
        "Mbappe's words to Hakimi: \"Don't be sad, bro\" — 2-0, the 79th minute.",
        "He was seen in the tunnel.",
    ],
    "fr": [
        "Qu'a dit Regragui après le match ? Les joueurs marocains étaient fiers.",
        "C'est la vie, 12 buts.",
    ],
    "de": ["Wer hat das zweite Tor geschossen? Die Spieler waren müde.", "Übermorgen spielen sie."],
    "ru": ["Кто забил второй гол? Игроки были счастливы.", "Мбаппе"],
    "tr": ["İkinci golü kim attı? Oyuncular çok mutluydu.", "Fas takımı"],
}
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_terms_are_those_bm25s_tokenize_gives(language: str) -> None:
    analyzer = Analyzer(language)
    folded = [fold(text) for text in TEXTS[language]]
    stopwords = "en" if language == "en" else sorted(analyzer._stopwords)

    expected = bm25s.tokenize(
        folded, stopwords=stopwords, stemmer=analyzer._stemmer, return_ids=False, show_progress=False
    )
    assert analyzer.terms(folded) == expected


def test_scores_are_those_of_bm25s_to_the_last_bit(tmp_path: Path) -> None:
    texts = [text for article in reports(6) for text in article.text.split(". ")]
    built = LexicalIndex(texts)
    built.save(tmp_path)
    reference = bm25s.BM25.load(str(tmp_path), show_progress=False)
    loaded = LexicalIndex.load(tmp_path)

    for question in ["goal scored in the final", "penalty penalty keeper", "zzz", texts[3], texts[-1]]:
        terms = loaded.terms(question)
        expected = reference.get_scores(terms) if terms else np.zeros(len(texts), dtype=np.float32)
        assert np.array_equal(loaded.scores(question), expected)
        assert np.array_equal(built.scores(question), expected)


def test_a_loaded_index_saved_again_is_the_same_index(tmp_path: Path) -> None:
    texts = [text for article in reports(3) for text in article.text.split(". ")]
    LexicalIndex(texts).save(tmp_path / "a")
    LexicalIndex.load(tmp_path / "a").save(tmp_path / "b")

    for name in ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"):
        assert np.array_equal(np.load(tmp_path / "a" / name), np.load(tmp_path / "b" / name))
    for name in ("vocab.index.json", "params.index.json", "words.json"):
        assert json.loads((tmp_path / "a" / name).read_text()) == json.loads(
            (tmp_path / "b" / name).read_text()
        )


def test_a_saved_index_is_opened_and_asked_without_importing_bm25s_or_scipy(tmp_path: Path) -> None:
    LexicalIndex(["France beat Morocco in the semi-final.", "Mbappe consoled Hakimi."]).save(tmp_path)
    script = (
        "import sys; from pathlib import Path; from index.lexical import LexicalIndex; "
        f"index = LexicalIndex.load(Path({str(tmp_path)!r})); print(index.scores('Mbappe and Hakimi')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'bm25s', 'scipy'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True, timeout=120
    )
    assert result.stdout.strip().endswith("[]"), result.stdout


def test_term_sets_tell_which_of_a_questions_terms_each_text_holds(tmp_path: Path) -> None:
    sets = TermSets.build([["mbapp", "hakimi", "hug"], [], ["hakimi", "hakimi", "tunnel"]])
    sets.save(tmp_path / "terms")
    loaded = TermSets.load(tmp_path / "terms")

    for found in (sets, loaded):
        held = found.holding(["hakimi", "tunnel", "unknown"], np.array([2, 0, 1, 2]))
        assert held.tolist() == [
            [True, True, False],
            [True, False, False],
            [False, False, False],
            [True, True, False],
        ]
        assert found.holding(["unknown"], np.array([0, 1])).tolist() == [[False], [False]]
        assert found.holding(["hug"], np.array([], dtype=np.int64)).shape == (0, 1)
    assert len(loaded) == 3
