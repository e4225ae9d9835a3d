"""Synthetic corpora for the scale benchmark: passages, their vectors and questions, without a model.

Two generators, both 40 passages an article, 384-d unit vectors:

- ``topics`` (the default), as real news is: topics above articles (25 articles a topic, a club's season
  of reports), every vector drawn around its topic's centre and its article's. A passage is
  ``0.7·topic + 0.5·article + 1.15·e^(0.4·z)·noise``, normalised, where ``z`` is one standard normal draw a
  passage (some sentences say more than others) and every centre and noise vector is Gaussian with
  per-dimension spreads falling as ``k^-0.3`` (real sentence vectors use some directions more than
  others). Its text draws English's commonest words as often as real text does, and one to three names
  of its topic (teams, players).
- ``flat``, the earlier generator: one random centre per article, passages its centre plus isotropic
  Gaussian noise 1.2 times the centre's length; no topics, no names.

The constants were chosen against squad-dev-a's 4,990 MiniLM sentence vectors (24 Wikipedia titles as
topics, their 1,023 paragraphs as articles), the real corpus at hand. Mean figures at that size (the
generators with seed 0; ``topics`` with seeds 1 to 3 gives 10th and 30th nearest 0.44–0.46 and
0.39–0.41):

    mean cosine of                         squad-dev-a   topics   flat
    a sentence's 10th nearest              0.469         0.468    0.434
    a sentence's 30th nearest              0.396         0.421    0.385
    two sentences of one paragraph/article 0.389         0.371    0.410
    two of one title/topic, not article    0.239         0.254    -
    unrelated sentences: spread (std)      0.085         0.083    0.051
    spread (std) of ``distinct``           0.089         0.094    0.018

Text: each passage is 8 to 20 words drawn from a 30,000-word vocabulary of made-up words (syllable pairs)
with Zipf frequencies (exponent 1.1). A question is 4 words of a stored passage; its vector is that
passage's moved by noise as long as it (cosine about 0.7), as ``index.ann.question_like`` makes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.chunking import Chunk

DIMENSION = 384
PER_ARTICLE = 40
ARTICLES_PER_TOPIC = 25
QUESTIONS = 200
VOCABULARY = 30_000
NAMES_PER_TOPIC = 20
TOPIC, ARTICLE, NOISE, NOISE_SPREAD, FALL = 0.7, 0.5, 1.15, 0.4, 0.3  # ``topics``, see above
FLAT_NOISE = 1.2  # ``flat``
# The commonest words of English news, commonest first: ``topics`` text draws them at the head of its
# Zipf ranks (about half the words of a passage). BM25 drops the few on its stop list ("the", "of", …);
# the others ("he", "said", …) keep the long postings they have in real text.
_COMMON = (
    "the of and to a in is that for it was on with he as at by his said from this had not are but or have "
    "an they which were her she there their one all we him been has when who after will more no if out so "
    "what up its about into than them can only other first two time over also new would"
)
COMMON_WORDS = np.array(_COMMON.split(" "))
_BLOCK = 100_000  # vectors drawn at once
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


@dataclass(frozen=True, slots=True)
class Corpus:
    """Passages as chunks, their unit vectors (row-aligned), and questions with their vectors."""

    name: str
    chunks: list[Chunk]
    vectors: np.ndarray
    questions: list[str]
    queries: np.ndarray


def topics(size: int, seed: int = 0) -> Corpus:
    """``size`` passages in topics of ``ARTICLES_PER_TOPIC`` articles (see the module docstring)."""
    random = np.random.default_rng(seed)
    spread = np.arange(1, DIMENSION + 1, dtype=np.float32) ** -FALL
    spread /= np.linalg.norm(spread)  # each Gaussian vector is about 1 long

    def gaussian(count: int) -> np.ndarray:
        return random.standard_normal((count, DIMENSION), dtype=np.float32) * spread

    articles = -(-size // PER_ARTICLE)
    topic_centres = gaussian(-(-articles // ARTICLES_PER_TOPIC))
    article_centres = gaussian(articles)
    vectors = np.empty((size, DIMENSION), dtype=np.float32)
    for start in range(0, size, _BLOCK):
        rows = np.arange(start, min(size, start + _BLOCK))
        article = rows // PER_ARTICLE
        noise = NOISE * np.exp(NOISE_SPREAD * random.standard_normal(len(rows), dtype=np.float32))
        block = TOPIC * topic_centres[article // ARTICLES_PER_TOPIC] + ARTICLE * article_centres[article]
        block += noise[:, None] * gaussian(len(rows))
        vectors[rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    names = _words(random, NAMES_PER_TOPIC * len(topic_centres), syllables=3)
    topic_of = np.arange(size) // (PER_ARTICLE * ARTICLES_PER_TOPIC)
    return _corpus("topics", vectors, random, names.reshape(len(topic_centres), NAMES_PER_TOPIC)[topic_of])


def flat(size: int, seed: int = 0) -> Corpus:
    """``size`` passages, one random centre per article and no topics (see the module docstring)."""
    random = np.random.default_rng(seed)
    centres = random.standard_normal((-(-size // PER_ARTICLE), DIMENSION)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((size, DIMENSION), dtype=np.float32)
    for start in range(0, size, _BLOCK):
        count = min(_BLOCK, size - start)
        block = centres[np.arange(start, start + count) // PER_ARTICLE]
        block += random.standard_normal((count, DIMENSION)).astype(np.float32) * (
            FLAT_NOISE / np.sqrt(DIMENSION)
        )
        vectors[start : start + count] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return _corpus("flat", vectors, random, None)


CORPORA: dict[str, Callable[[int], Corpus]] = {"topics": topics, "flat": flat}


def _corpus(name: str, vectors: np.ndarray, random: np.random.Generator, names: np.ndarray | None) -> Corpus:
    """The corpus of ``vectors``: a text for each (with one to three of its row's ``names``, if any) and
    ``QUESTIONS`` questions, each 4 words of a passage with a vector near that passage's."""
    size = len(vectors)
    words = _words(random, VOCABULARY, syllables=2)
    if names is not None:  # English's commonest words first, as in real text
        words = np.concatenate([COMMON_WORDS, words[: VOCABULARY - len(COMMON_WORDS)]])
    frequency = 1 / np.arange(1, len(words) + 1) ** 1.1
    lengths = random.integers(8, 21, size=size)
    drawn = words[random.choice(len(words), size=int(lengths.sum()), p=frequency / frequency.sum())]
    ends = np.cumsum(lengths)
    if names is not None:
        named = random.integers(1, 4, size=size)
        picked = random.integers(NAMES_PER_TOPIC, size=(size, 3))
        places = random.integers(0, 8, size=(size, 3))  # among the first 8 words: every passage has 8
    chunks = []
    for row, end in enumerate(ends):
        passage = list(drawn[end - lengths[row] : end])
        if names is not None:
            for slot in range(named[row]):
                passage[places[row, slot]] = names[row, picked[row, slot]].capitalize()
        text = " ".join(passage) + "."
        article = row // PER_ARTICLE
        chunks.append(
            Chunk(f"a{article}", f"Report {article}", None, row % PER_ARTICLE + 1, 1, 0, len(text), text)
        )
    asked = np.sort(random.choice(size, min(QUESTIONS, size), replace=False))
    questions = [
        " ".join(random.choice(chunks[row].text.rstrip(".").split(), 4, replace=False)) for row in asked
    ]
    return Corpus(name, chunks, vectors, questions, _near(vectors[asked], random))


def _near(rows: np.ndarray, random: np.random.Generator) -> np.ndarray:
    """Each row moved by random noise as long as it, normalised (as ``ann.question_like``)."""
    noise = random.standard_normal(rows.shape).astype(np.float32)
    queries = rows + noise / np.linalg.norm(noise, axis=1, keepdims=True)
    return (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)


def _words(random: np.random.Generator, count: int, *, syllables: int) -> np.ndarray:
    """``count`` made-up words of ``syllables`` syllables (distinct while there are enough)."""
    if syllables == 2:
        return np.array([a + b for a in _SYLLABLES for b in _SYLLABLES][:count])
    parts = random.integers(len(_SYLLABLES), size=(count, syllables))
    return np.array(["".join(_SYLLABLES[p] for p in row) for row in parts])
