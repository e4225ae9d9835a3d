"""An answer's passages laid out as a member reads them: quotes and pages, never a sentence twice.

Passages of one article whose contexts overlap or touch become one ``Quote``: the sentences from the
first to the last, in article order, each passage's own sentence marked as matched. An answer is read
in pages of ``k`` passages ("More passages" turns them): each page takes the next passages of one
ranked list whose sentence no earlier page showed, and leaves out of their contexts what an earlier
page showed, so no sentence, matched or context, is shown twice in one answer. The pages depend only
on the ranked list, so page n is the same whenever it is laid out (after a restart too). Pure: the
Discord embeds (``bot.render``) and the command line (``bot.cli``) both lay out answers here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.retriever import Passage


@dataclass(frozen=True, slots=True)
class QuotedSentence:
    """One sentence of a quote: its number in the article, and whether it is one of the passages found
    (shown in bold) rather than their context."""

    number: int
    text: str
    matched: bool


@dataclass(frozen=True, slots=True)
class Quote:
    """Sentences of one article, in article order, around one or more of an answer's passages."""

    passages: tuple[Passage, ...]  # the passages found among the sentences, best ranked first
    sentences: tuple[QuotedSentence, ...]

    @property
    def article(self) -> str:
        return self.passages[0].article

    @property
    def source(self) -> Passage:
        """The best passage, whose title, date and link are the article's."""
        return self.passages[0]

    @property
    def score(self) -> float:
        return max(passage.score for passage in self.passages)

    @property
    def tweets(self) -> list[Passage]:
        """The passages that are tweets, in article order (each is named with its author and date)."""
        return sorted((passage for passage in self.passages if passage.author), key=lambda p: p.sentence)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of an answer: its quotes, best first, and whether another page follows."""

    quotes: list[Quote]
    more: bool


def merge(
    passages: Iterable[Passage],
    shown: frozenset[tuple[str, int]] = frozenset(),
    *,
    context: bool = True,
) -> list[Quote]:
    """``passages`` (best first) as quotes, best first: those of one article whose sentences overlap or
    touch are one quote. A sentence in ``shown`` (article, number) is left out of a context; a passage
    whose own sentence is in it is left out altogether. Without ``context`` (for a reader that shows
    none) a passage is its own sentence alone, so only passages next to each other are joined."""
    groups: list[_Group] = []
    for rank, passage in enumerate(passages):
        if (passage.article, passage.sentence) in shown:
            continue
        numbered = passage.numbered if context else [(passage.sentence, passage.text)]
        sentences = {n: t for n, t in numbered if (passage.article, n) not in shown}
        joining = [group for group in groups if group.touches(passage.article, sentences)]
        if not joining:
            groups.append(_Group(passage.article))
            joining = groups[-1:]
        first, *others = joining  # groups stay in the order of their best passage
        for other in others:
            first.absorb(other)
            groups.remove(other)
        first.add(rank, passage, sentences)
    return [group.quote() for group in groups]


def pages(passages: Sequence[Passage], k: int) -> Iterator[list[Quote]]:
    """The pages of an answer whose passages, best first, are ``passages``: each holds the next ``k``
    passages whose sentence no earlier page showed, as quotes, without any sentence shown before."""
    shown: set[tuple[str, int]] = set()
    waiting = list(passages)
    while True:
        waiting = [passage for passage in waiting if (passage.article, passage.sentence) not in shown]
        if not waiting:
            return
        quotes = merge(waiting[:k], frozenset(shown))
        yield quotes
        shown |= {(quote.article, sentence.number) for quote in quotes for sentence in quote.sentences}
        waiting = waiting[k:]


def page(passages: Sequence[Passage], k: int, number: int) -> Page:
    """Page ``number`` (from 1) of an answer whose passages, best first, are ``passages``: empty past
    the last page. ``passages`` must be at least ``depth(number, k)`` long, or all there are."""
    laid_out = list(islice(pages(passages, k), number + 1))
    quotes = laid_out[number - 1] if len(laid_out) >= number else []
    return Page(quotes, more=len(laid_out) > number)


def depth(number: int, k: int) -> int:
    """How many ranked passages lay out pages 1 to ``number`` as the whole list would, and tell
    whether another page follows: each page takes ``k`` passages, and at most the two context
    sentences of each can hide a later passage (one passage a sentence), so ``3·k·number + 1``."""
    return 3 * k * number + 1


class _Group:
    """A quote being gathered: its article, passages and numbered sentences."""

    def __init__(self, article: str) -> None:
        self.article = article
        self.passages: list[tuple[int, Passage]] = []  # with their ranks
        self.sentences: dict[int, str] = {}
        self.matched: set[int] = set()

    def touches(self, article: str, sentences: dict[int, str]) -> bool:
        """Whether sentences of ``article`` overlap this quote's or are next to them."""
        if article != self.article or not sentences or not self.sentences:
            return False
        return min(sentences) <= max(self.sentences) + 1 and min(self.sentences) <= max(sentences) + 1

    def add(self, rank: int, passage: Passage, sentences: dict[int, str]) -> None:
        self.passages.append((rank, passage))
        self.matched.add(passage.sentence)
        self.sentences[passage.sentence] = passage.text  # its own sentence as the passage has it
        for number, text in sentences.items():
            self.sentences.setdefault(number, text)

    def absorb(self, other: _Group) -> None:
        self.passages += other.passages
        self.matched |= other.matched
        for number, text in other.sentences.items():
            self.sentences.setdefault(number, text)

    def quote(self) -> Quote:
        return Quote(
            passages=tuple(passage for _, passage in sorted(self.passages, key=lambda ranked: ranked[0])),
            sentences=tuple(
                QuotedSentence(number, self.sentences[number], number in self.matched)
                for number in sorted(self.sentences)
            ),
        )
