"""The synthetic corpora of the scale benchmark look, where it matters for search, like real sentences."""

from __future__ import annotations

import numpy as np

from bench import synthetic

SQUAD_10TH, SQUAD_30TH = 0.469, 0.396  # squad-dev-a's 4,990 MiniLM sentence vectors (bench.synthetic)


def nearest_cosines(vectors: np.ndarray) -> np.ndarray:
    """Each row's cosines with the other rows, highest first."""
    similarities = vectors @ vectors.T
    np.fill_diagonal(similarities, -np.inf)
    return -np.sort(-similarities, axis=1)


def test_topic_corpus_neighbours_are_as_close_as_real_ones_and_mostly_from_the_topic() -> None:
    corpus = synthetic.topics(4_990)
    cosines = nearest_cosines(corpus.vectors)
    articles = np.array([int(chunk.article[1:]) for chunk in corpus.chunks])
    topic = articles // synthetic.ARTICLES_PER_TOPIC
    nearest = np.argsort(-(corpus.vectors @ corpus.vectors.T - 2 * np.eye(4_990)), axis=1)[:, :30]

    assert abs(cosines[:, 9].mean() - SQUAD_10TH) < 0.03
    assert abs(cosines[:, 29].mean() - SQUAD_30TH) < 0.03
    assert (topic[nearest] == topic[:, None]).mean() > 0.7  # squad-dev-a: 79% from the same title
    assert (articles[nearest] == articles[:, None]).mean() < 0.9  # not its article alone


def test_flat_corpus_is_the_earlier_generator_without_topics() -> None:
    corpus = synthetic.flat(4_990)
    cosines = nearest_cosines(corpus.vectors)

    assert abs(cosines[:, 9].mean() - 0.43) < 0.02 and abs(cosines[:, 29].mean() - 0.38) < 0.02
    assert not any(word.istitle() for chunk in corpus.chunks for word in chunk.text.split())  # no names


def test_each_question_is_words_of_a_passage_with_a_vector_near_it() -> None:
    for make in synthetic.CORPORA.values():
        corpus = make(2_000)
        texts = [set(chunk.text.rstrip(".").split()) for chunk in corpus.chunks]
        best = (corpus.queries @ corpus.vectors.T).argmax(axis=1)

        assert len(corpus.questions) == len(corpus.queries) == synthetic.QUESTIONS
        assert np.allclose(np.linalg.norm(corpus.queries, axis=1), 1, atol=1e-5)
        assert all(set(q.split()) <= texts[row] for q, row in zip(corpus.questions, best, strict=True))


def test_topic_passages_name_their_topic() -> None:
    corpus = synthetic.topics(4_000)  # four topics of a thousand passages
    names = [
        {
            word
            for chunk in corpus.chunks[start : start + 1_000]
            for word in chunk.text.rstrip(".").split()
            if word.istitle()
        }
        for start in range(0, 4_000, 1_000)
    ]

    assert all(0 < len(found) <= synthetic.NAMES_PER_TOPIC for found in names)
    assert not names[0] & names[1]
