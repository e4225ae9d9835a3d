"""The renderer against hostile text (hypothesis): Discord's limits hold, nothing can ping, and quoted
text never breaks out of its quote, its bold or its link.

The inputs come from tests/hostile.py: any Unicode, zero-width and right-to-left marks, 100 kB lines,
markdown, code fences and mention syntax. Each test counts what it tried (printed after the run).
"""

from __future__ import annotations

import re

import hostile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_render import embed_problems

from bot import render
from bot.settings import Stats
from index.errors import MatchbotError
from index.library import ArticleInfo
from index.quotes import merge
from index.retriever import Answer, Passage
from index.store import IndexReport

EXAMPLES = settings(
    max_examples=100, deadline=None, phases=hostile.NO_SHRINKING, suppress_health_check=[HealthCheck.too_slow]
)
PING = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>|<@[!&]?\d")
BREAKING = re.compile(r"[*_~`|\[>]")  # markdown that an unescaped character could open or close
text = hostile.hostile_text()
rare_long = hostile.hostile_text(long_lines=60)  # for the many texts of one answer: a few long ones
short = hostile.hostile_text(max_pieces=8, long_lines=0)


def unescaped(shown: str) -> str:
    """``shown`` without its escape pairs (``\\*``, ``\\\\``, …): what Discord would parse as markup."""
    return re.sub(r"\\.", "", shown)


def safe(shown: str) -> bool:
    """One line, no ping, no markup character left unescaped."""
    return (
        "\n" not in shown
        and "\r" not in shown
        and not PING.search(shown)
        and not BREAKING.search(unescaped(shown))
    )


@EXAMPLES
@given(raw=text, limit=st.integers(0, 5000), keep_end=st.booleans())
def test_escaped_and_fitted_text_is_one_safe_line_within_its_limit(
    raw: str, limit: int, keep_end: bool
) -> None:
    hostile.tried()
    assert safe(render.escape(raw))
    fitted = render.fit(raw, limit, keep_end=keep_end)
    assert len(fitted) <= limit and safe(fitted)
    assert not fitted.startswith(("#", "-", ">", "+")) and not re.match(r"\d+\.", fitted)


passages = st.builds(
    Passage,
    text=rare_long,
    before=rare_long,
    after=rare_long,
    article=short | st.just("semi"),  # some of one article, near each other: merged into one quote
    title=rare_long,
    date=st.none() | short,
    url=st.none()
    | short
    | st.sampled_from(["https://example.com/a)b>c", "https://e.x/(x)<y> z", "javascript:x"]),
    sentence=st.integers(1, 10_000) | st.integers(1, 8),
    score=st.floats(-1, 2, allow_nan=False),
    author=st.none() | short,
    posted=st.none() | short,
)


@EXAMPLES
@given(
    question=text,
    found=st.lists(passages, max_size=6) | st.lists(passages, min_size=10, max_size=10),
    answered=st.booleans(),
    offset=st.sampled_from([0, 3]),
    answer_id=st.none() | st.integers(1, 10**12),
)
def test_an_answer_to_anything_fits_pings_nobody_and_keeps_every_quote_in_its_place(
    question: str, found: list[Passage], answered: bool, offset: int, answer_id: int | None
) -> None:
    hostile.tried()
    embed = render.answer_embed(
        Answer(question, answered, 0.5, 0.56, found), answer_id=answer_id, offset=offset
    )
    assert embed_problems(embed) == []
    description, title = embed.description or "", embed.title or ""
    assert not PING.search(description + title + (embed.footer.text or ""))
    assert "\n" not in title and not BREAKING.search(unescaped(title.removeprefix("❓ ")))
    quotes = merge(found)  # passages of one article next to each other are one quote
    parts = description.split("\n\n")
    blocks = [part for part in parts if part.startswith("> ")]
    assert len(blocks) == len(quotes) and len(parts) - len(blocks) <= 1  # a header, then the quotes
    for block, quote in zip(blocks, quotes, strict=True):
        quote_line, source_line = block.split("\n")  # a quote is exactly two lines: no text added one
        assert quote_line.startswith("> ")
        bold = unescaped(quote_line).count("**")  # our bold, each opened and closed once
        assert bold % 2 == 0 and bold <= 2 * sum(sentence.matched for sentence in quote.sentences)
        assert not re.search(r"[_~`|\[>]", unescaped(quote_line[2:]))
        assert source_line.startswith("— *")
        for link in re.findall(r"\[link\]\(<([^>]*)>\)", source_line):
            assert re.fullmatch(r"https?://[^\s()<>]+", link)
        without_link = re.sub(r"\[link\]\(<[^>]*>\)", "", source_line.removeprefix("— "))
        assert not re.search(r"[_~`|\[>]", unescaped(without_link))


infos = st.builds(
    ArticleInfo,
    id=short,
    title=hostile.hostile_text(long_lines=200),
    date=st.none() | short,
    url=st.none() | short,
    chunks=st.integers(0, 10**6),
    source=short,
)


@EXAMPLES
@given(articles=st.lists(infos, max_size=30), typed=short)
def test_article_lists_and_choices_fit_and_ping_nobody(articles: list[ArticleInfo], typed: str) -> None:
    hostile.tried()
    embed = render.articles_embed(articles)
    assert embed_problems(embed) == [] and not PING.search(embed.description or "")
    choices = render.article_choices(articles, typed)
    assert len(choices) <= 25
    for choice in choices:  # every one: Discord refuses the whole response for one bad name
        assert 1 <= len(choice.name) <= 100 and len(choice.value) <= 100
        assert choice.name == " ".join(choice.name.split()) and not PING.search(choice.name)


@EXAMPLES
@given(
    message=text,
    skipped=st.lists(short, max_size=6),
    declined=st.lists(st.tuples(rare_long, st.integers(1, 10**6)), max_size=5),
)
def test_one_line_replies_reports_and_stats_fit_and_ping_nobody(
    message: str, skipped: list[str], declined: list[tuple[str, int]]
) -> None:
    hostile.tried()
    line = render.error_line(MatchbotError(message), now=0.0)
    assert line is not None and len(line) <= render.CONTENT_LIMIT and not PING.search(line)
    report = render.report_line(message[:200], IndexReport(added=["a"], skipped=skipped))
    assert len(report) <= render.CONTENT_LIMIT and not PING.search(report)
    stats = render.stats_embed(Stats(asked=10, answered=3, top_declined=declined, up=1, down=2))
    assert embed_problems(stats) == []
    assert not PING.search(" ".join(field.value or "" for field in stats.fields))
