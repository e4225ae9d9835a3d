"""Re-indexing embeds only the texts that changed; a changed passage never keeps its old vector."""

from __future__ import annotations

import numpy as np

from index.articles import Article
from index.store import Store, context_text, indexed_text

SENTENCES = [
    "France beat Morocco in the semi-final.",
    "Mbappe consoled Hakimi on the pitch.",
    "The two are PSG teammates.",
    "Regragui said his players made Morocco proud.",
    "The fans sang all night.",
]


class Counting:
    """Wraps an embedder and keeps every text it was asked to encode."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.encoded: list[str] = []

    def encode(self, texts, **options) -> np.ndarray:
        self.encoded.extend(texts)
        return self.embedder.encode(texts, **options)


def article(sentences: list[str], article_id: str = "semi") -> Article:
    return Article(id=article_id, title="Semi-final", text=" ".join(sentences))


def test_changing_one_sentence_embeds_it_and_the_contexts_around_it_only(make_embedder) -> None:
    embedder = Counting(make_embedder())
    previous, _ = Store.build([article(SENTENCES), article(["Messi lifted the trophy."], "final")], embedder)
    embedder.encoded.clear()
    edited = [*SENTENCES[:2], "The two play together at PSG.", *SENTENCES[3:]]

    store, report = Store.build(
        [article(edited), article(["Messi lifted the trophy."], "final")], embedder, previous=previous
    )

    assert report.changed == ["semi"] and report.unchanged == 1
    changed = next(row for row, chunk in enumerate(store.chunks) if chunk.text == edited[2])
    assert sorted(embedder.encoded) == sorted(
        [indexed_text(store.chunks[changed])] + [context_text(store.chunks, row) for row in (1, 2, 3)]
    )
    fresh, _ = Store.build([article(edited), article(["Messi lifted the trophy."], "final")], make_embedder())
    for contexts in (False, True):
        rows = range(len(store.chunks))
        assert np.allclose(store.vectors(rows, contexts=contexts), fresh.vectors(rows, contexts=contexts))


def test_vectors_of_another_model_are_never_reused(make_embedder) -> None:
    previous, _ = Store.build([article(SENTENCES)], make_embedder(name="other"))
    embedder = Counting(make_embedder())

    Store.build([article([*SENTENCES, "A new sentence."])], embedder, previous=previous)

    assert len(embedder.encoded) == 2 * (len(SENTENCES) + 1)
