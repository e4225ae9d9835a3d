"""Everything the bot shows, in each of its languages: within Discord's limits, pinging nobody, its
own words translated and what it quotes untouched."""

from __future__ import annotations

import discord
import pytest

from bot import i18n, render
from bot.feeds import FeedPoll
from bot.settings import Feed, FeedEntry, GuildSettings, Stats
from index.feeds import FeedItem
from index.library import ArticleInfo
from index.retriever import Answer, Passage
from index.store import IndexReport
from index.web import PageAdded

HUGE = "Mbappe **consoled** <@123> @everyone " * 200
SENTENCE = "Mbappe consoled Hakimi after the final whistle."


def passage(number: int, text: str = SENTENCE) -> Passage:
    return Passage(
        text=text,
        before=HUGE,
        after=HUGE,
        article=f"a{number}",
        title=HUGE,
        date="2022-12-15",
        url="https://example.com/" + "x" * 400,
        sentence=number,
        score=0.71,
        author=HUGE,
        posted="2022-12-15",
    )


def info(number: int) -> ArticleInfo:
    return ArticleInfo(
        id=f"article_{number}" * 5, title=HUGE, date="2022-12-15", url=None, chunks=number, source="x.txt"
    )


def feed(number: int) -> Feed:
    return Feed(
        guild_id=1,
        url="https://news.example/" + "f" * 480,
        keywords=(HUGE[:60],) * 20,
        title=HUGE,
        polled_at=1_671_000_000.0,
        poll_error=HUGE,
    )


def entry(number: int, status: str) -> FeedEntry:
    return FeedEntry(
        guild_id=1,
        feed_url="https://news.example/f.rss",
        key=f"e{number}",
        link="https://news.example/e",
        title=HUGE,
        status=status,
        article_id=HUGE[:100],
        message=HUGE,
        attempts=9,
        claimed_at=1.0e9,
        settled_at=None,
    )


def embed_problems(embed: discord.Embed) -> list[str]:
    data = embed.to_dict()
    parts = [("title", data.get("title", ""), 256), ("description", data.get("description", ""), 4096)]
    parts.append(("footer", data.get("footer", {}).get("text", ""), 2048))
    parts += [(f"field {f['name'][:20]}", f["value"], 1024) for f in data.get("fields", [])]
    parts += [("field name", f["name"], 256) for f in data.get("fields", [])]
    problems = [f"{name}: {len(text)} > {limit}" for name, text, limit in parts if len(text) > limit]
    if sum(len(text) for _, text, _ in parts) > 6000 or len(data.get("fields", [])) > 25:
        problems.append("over the embed's total")
    if "@everyone" in str(data) or "<@123>" in str(data):
        problems.append("a ping")
    return problems


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_embed_and_line_fits_discords_limits_and_pings_nobody(language: str) -> None:
    page = PageAdded(info=info(3), report=IndexReport(added=["a"], chunks=4), excerpt=HUGE)
    poll = FeedPoll(
        feed(0),
        matching=40,
        added=[page] * 8,
        duplicates=[(FeedItem("k", "l", HUGE, "s"), "x")] * 3,
        failed=[(FeedItem("k", "l", HUGE, "s"), HUGE)] * 5,
        waiting=12,
    )
    with i18n.speaking(language):
        embeds = [
            render.answer_embed(Answer(HUGE, answered, 0.66, 0.35, [passage(n) for n in range(10)]), **where)
            for answered in (True, False)
            for where in ({}, {"answer_id": 10**12, "offset": 30})
        ]
        embeds += [
            render.articles_embed([info(n) for n in range(500)]),
            render.settings_embed(
                GuildSettings(
                    k=10, threshold=None, cooldown=3600, channels=frozenset(range(10**17, 10**17 + 200))
                ),
                default_threshold=0.35,
            ),
            render.stats_embed(Stats(asked=10**6, answered=7, top_declined=[(HUGE, 3)] * 5, up=2, down=1)),
            render.feeds_embed(
                [feed(n) for n in range(25)], [entry(n, "retry") for n in range(100)], interval=60
            ),
        ]
        lines = [
            render.page_added(page),
            render.feed_followed(poll, interval=86400),
            render.feed_removed(feed(0), [HUGE[:100]] * 40),
            render.report_line(i18n._("Reindexed"), IndexReport(added=["a"] * 9, skipped=[HUGE] * 9)),
            render.retry_line(1e9),
        ]
    assert [problem for embed in embeds for problem in embed_problems(embed)] == []
    assert [line[:80] for line in lines if len(line) > render.CONTENT_LIMIT or "@everyone" in line] == []


@pytest.mark.parametrize("language", [language for language in i18n.LANGUAGES if language != "en"])
def test_an_answer_speaks_the_language_and_quotes_as_written(language: str) -> None:
    declined = Answer("¿Quién marcó? @here", False, 0.41, 0.35, [passage(1)])
    with i18n.speaking(language):
        embed = render.answer_embed(declined, answer_id=12)
        header = i18n._("No confident answer: {reason} The nearest passages, in case they help:").format(
            reason=i18n._("the articles I have don't seem to cover this.")
        )
        footer = i18n._("Answer #{number} · {confidence} · quoted as written · rate it with 👍 / 👎")
        comma = i18n.decimal(0.41)
    description, footer_text = embed.description or "", embed.footer.text or ""
    assert description.startswith(header + "\n\n> ") and "No confident answer" not in description
    assert f"**{SENTENCE}**" in description  # the article's sentence, as it wrote it
    assert footer_text.startswith(footer.split("{number}")[0] + "12") and comma in footer_text
    assert "quoted as written" not in footer_text and "Answer #" not in footer_text
    assert embed.title == "❓ ¿Quién marcó? @\u200bhere"
