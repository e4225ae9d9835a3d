"""Laying out an answer's passages: quotes that never repeat a sentence, and pages that never repeat
one either (no Discord, no model)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from index.quotes import depth, merge, page, pages
from index.retriever import Passage

ARTICLE = [f"Sentence {number} of the report." for number in range(1, 21)]  # sentence n is ARTICLE[n - 1]
OTHER = [f"Line {number} of the reaction piece." for number in range(1, 21)]


def passage(
    number: int, *, article: str = "report", score: float = 0.5, author: str | None = None
) -> Passage:
    """Sentence ``number`` of an article with its neighbours, as the retriever builds it."""
    texts = ARTICLE if article == "report" else OTHER
    before = number - 1 if number > 1 else None
    after = number + 1 if number < len(texts) else None
    return Passage(
        text=texts[number - 1],
        before=texts[before - 1] if before else "",
        after=texts[after - 1] if after else "",
        article=article,
        title=article.title(),
        date="2022-12-15",
        url=None,
        sentence=number,
        score=score,
        author=author,
        posted="December 14, 2022" if author else None,
        before_sentence=before,
        after_sentence=after,
    )


def shown(quotes) -> list[tuple[str, int]]:
    return [(quote.article, sentence.number) for quote in quotes for sentence in quote.sentences]


def test_passages_next_to_each_other_are_one_quote_in_article_order_with_both_in_bold() -> None:
    # The tunnel: the best passage is the sentence, the second the tweet right after it.
    [quote] = merge([passage(14, score=0.6), passage(15, score=0.4, author="Ben Jacobs (@JacobsBen)")])

    assert [s.number for s in quote.sentences] == [13, 14, 15, 16]
    assert [s.text for s in quote.sentences] == ARTICLE[12:16]
    assert [s.number for s in quote.sentences if s.matched] == [14, 15]
    assert quote.score == 0.6 and quote.source.sentence == 14
    assert [tweet.author for tweet in quote.tweets] == ["Ben Jacobs (@JacobsBen)"]


def test_contexts_that_touch_are_one_quote_and_a_gap_keeps_them_apart() -> None:
    [touching] = merge([passage(5), passage(8)])  # 4-6 and 7-9 touch
    assert [s.number for s in touching.sentences] == [4, 5, 6, 7, 8, 9]

    apart = merge([passage(5), passage(9)])  # 4-6 and 8-10: sentence 7 between them
    assert [[s.number for s in quote.sentences] for quote in apart] == [[4, 5, 6], [8, 9, 10]]


def test_the_same_sentence_numbers_in_two_articles_are_two_quotes() -> None:
    quotes = merge([passage(5), passage(5, article="reaction")])
    assert [quote.article for quote in quotes] == ["report", "reaction"]


def test_quotes_are_ordered_by_their_best_passage_and_a_passage_between_two_joins_them() -> None:
    quotes = merge([passage(10, score=0.9), passage(2, score=0.8), passage(11, score=0.3)])
    assert [quote.source.sentence for quote in quotes] == [10, 2]
    assert [p.sentence for p in quotes[0].passages] == [10, 11]  # best first

    [joined] = merge([passage(3, score=0.9), passage(9, score=0.8), passage(6, score=0.7)])
    assert [s.number for s in joined.sentences] == list(range(2, 11))
    assert [p.sentence for p in joined.passages] == [3, 9, 6] and joined.score == 0.9


def test_a_passage_in_the_context_of_a_better_one_becomes_bold_there() -> None:
    [quote] = merge([passage(7), passage(6)])
    assert Counter(shown([quote])) == Counter({("report", n): 1 for n in range(5, 9)})
    assert [s.number for s in quote.sentences if s.matched] == [6, 7]


def test_without_context_only_passages_next_to_each_other_are_joined() -> None:
    quotes = merge([passage(5), passage(8), passage(6)], context=False)
    assert [[s.number for s in quote.sentences] for quote in quotes] == [[5, 6], [8]]
    assert all(sentence.matched for quote in quotes for sentence in quote.sentences)


def test_a_later_page_shows_no_sentence_an_earlier_page_showed() -> None:
    ranked = [passage(14), passage(15), passage(3), passage(16), passage(12), passage(18), passage(7)]
    first, second, *rest = pages(ranked, 2)

    assert shown(first) == [("report", n) for n in (13, 14, 15, 16)]
    # 16 was context on page 1, so page 2 is 3 and 12; 12's context keeps 11 only.
    assert [[s.number for s in quote.sentences] for quote in second] == [[2, 3, 4], [11, 12]]
    assert [[s.number for s in quote.sentences if s.matched] for quote in rest[0]] == [[18], [7]]
    everything = shown(first) + shown(second) + [n for page_ in rest for n in shown(page_)]
    assert len(everything) == len(set(everything))


def test_a_page_is_the_same_from_any_list_deep_enough_and_knows_whether_another_follows() -> None:
    ranked = [passage(n) for n in (14, 15, 3, 16, 12, 18, 7, 1, 20)]
    assert page(ranked, 2, 1).more and page(ranked, 2, 2).more
    last = len(list(pages(ranked, 2)))
    assert not page(ranked, 2, last).more
    assert page(ranked, 2, last + 1).quotes == []
    for number in range(1, last + 1):
        assert page(ranked[: depth(number, 2)], 2, number) == page(ranked, 2, number)


@settings(max_examples=200, deadline=None)
@given(
    order=st.permutations(range(1, 21)).map(lambda numbers: numbers[: len(numbers) // 2 + 3]),
    other=st.lists(st.integers(1, 20), unique=True, max_size=6),
    k=st.integers(1, 10),
)
def test_any_ranking_pages_without_repeating_a_sentence_and_loses_no_passage(
    order: list[int], other: list[int], k: int
) -> None:
    ranked = [passage(n) for n in order] + [passage(n, article="reaction") for n in other]
    laid_out = list(pages(ranked, k))
    everything = [sentence for quotes in laid_out for sentence in shown(quotes)]
    assert len(everything) == len(set(everything))  # no sentence twice, on one page or across pages
    for quotes in laid_out:
        assert 1 <= sum(len(quote.passages) for quote in quotes) <= k
        for quote in quotes:
            numbers = [s.number for s in quote.sentences]
            assert numbers == list(range(numbers[0], numbers[-1] + 1))  # first to last, no gap
    found = {(p.article, p.sentence) for p in ranked}
    assert found <= set(everything)  # each passage found is shown: bold, or as context of a better one
    for number in range(1, len(laid_out) + 2):
        assert page(ranked[: depth(number, k)], k, number) == page(ranked, k, number)
