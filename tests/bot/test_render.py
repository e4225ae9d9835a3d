"""Rendering answers and lists for Discord: escaping, the bold sentence, and Discord's limits."""

from __future__ import annotations

import re

import discord
import pytest
from discord import app_commands

from bot import render
from bot.settings import GuildSettings, Stats
from index.errors import QuestionError
from index.library import ArticleInfo
from index.retriever import Answer, Passage
from index.store import IndexReport


def passage(text: str = "France beat Morocco 2-0 in the semi-final.", **changes: object) -> Passage:
    fields: dict[str, object] = {
        "text": text,
        "before": "Walid Regragui's side fought hard.",
        "after": "Mbappe consoled Hakimi.",
        "article": "semi",
        "title": "World Cup 2022 Semi-final France 2-0 Morocco",
        "date": "2022-12-15",
        "url": "https://example.com/semi",
        "sentence": 4,
        "score": 0.71,
        "author": None,
    }
    fields.update(changes)
    return Passage(**fields)  # type: ignore[arg-type]


def answer(*passages: Passage, answered: bool = True, question: str = "how did the semi end") -> Answer:
    return Answer(question, answered, 0.66, 0.35, list(passages))


def embed_problems(embed: discord.Embed) -> list[str]:
    """Every Discord embed limit ``embed`` breaks (an independent restatement of the limits)."""
    data = embed.to_dict()
    problems = []
    sizes = {
        "title": (len(data.get("title", "")), 256),
        "description": (len(data.get("description", "")), 4096),
        "footer": (len(data.get("footer", {}).get("text", "")), 2048),
        "fields": (len(data.get("fields", [])), 25),
    }
    total = sizes["title"][0] + sizes["description"][0] + sizes["footer"][0]
    for field in data.get("fields", []):
        sizes[f"field {field['name'][:20]}"] = (len(field["value"]), 1024)
        sizes[f"field name {field['name'][:20]}"] = (len(field["name"]), 256)
        total += len(field["name"]) + len(field["value"])
    sizes["total"] = (total, 6000)
    for name, (size, limit) in sizes.items():
        if size > limit:
            problems.append(f"{name}: {size} > {limit}")
    return problems


def test_the_matched_sentence_is_bold_inside_its_context_with_its_source() -> None:
    embed = render.answer_embed(answer(passage()), answer_id=7)
    description = embed.description or ""
    assert (
        "> Walid Regragui's side fought hard. **France beat Morocco 2-0 in the semi-final.**" in description
    )
    assert "Mbappe consoled Hakimi." in description
    assert "*World Cup 2022 Semi-final France 2-0 Morocco*" in description
    assert "2022-12-15" in description
    assert "[link](<https://example.com/semi>)" in description
    assert "how did the semi end" in (embed.title or "")
    assert "Answer #7" in embed.footer.text  # type: ignore[operator]
    assert "0.66" in embed.footer.text  # type: ignore[operator]
    assert embed_problems(embed) == []


def test_a_tweet_names_its_author_and_a_passage_without_url_has_no_link() -> None:
    tweet = passage(
        "Mbappe went straight over to console Hakimi.", url=None, author="Ben Jacobs (@JacobsBen)"
    )
    description = render.answer_embed(answer(tweet)).description or ""
    assert "tweet by Ben Jacobs (@JacobsBen)" in description
    assert "[link]" not in description


def test_a_declined_answer_says_so_and_offers_the_nearest_passages() -> None:
    embed = render.answer_embed(answer(passage(), answered=False, question="who won the NBA finals"))
    assert (embed.description or "").startswith("No confident answer")
    assert "nearest passages" in (embed.description or "")
    assert "**France beat Morocco" in (embed.description or "")
    assert embed.colour == render.DECLINED_COLOUR


def test_more_passages_say_so_even_for_a_declined_question() -> None:
    assert (render.answer_embed(answer(passage()), offset=3).description or "").startswith("More passages:")
    declined = render.answer_embed(answer(passage(), answered=False), offset=3)
    assert (declined.description or "").startswith("More passages (none of them a confident answer):")


def test_more_passages_past_the_end_says_there_are_none() -> None:
    embed = render.answer_embed(answer(), offset=6)
    assert embed.description == "No more passages for this question."


@pytest.mark.parametrize("k", [1, 3, 10])
def test_huge_sentences_questions_and_titles_stay_within_discords_limits(k: int) -> None:
    huge = passage(
        "word " * 800,  # 4,000 characters
        before="*" * 3000,
        after="_" * 3000,
        title="T" * 1000,
        author="A" * 500,
        url="https://example.com/" + "x" * 3000,
    )
    embed = render.answer_embed(answer(*[huge] * k, question="q" * 1000), answer_id=123456)
    assert embed_problems(embed) == []
    assert embed.description and embed.description.count("**") >= 2 * k  # every sentence still bold
    assert "…" in embed.description


def test_markdown_and_mentions_in_articles_and_questions_are_neutralised() -> None:
    nasty = passage(
        "@everyone look: <@123456789012345678> and <@&987654321098765432> **shout** `code` [x](https://evil)",
        before="@here # heading",
        after="<#123456789012345678> ||spoiler||",
    )
    embed = render.answer_embed(answer(nasty, question="@everyone <@&1> **hi**"))
    text = (embed.title or "") + (embed.description or "")
    assert "@everyone" not in text and "@here" not in text
    assert not re.search(r"<[@#]", text)
    assert "**shout**" not in text and "\\*\\*shout\\*\\*" in text
    assert "||spoiler||" not in text
    assert "\\[x](https://evil)" in text  # a masked link in an article stays plain text


def test_fit_never_cuts_an_escape_in_half() -> None:
    for limit in range(1, 60):
        clipped = render.fit("*_`|~" * 40, limit)
        assert len(clipped) <= limit
        assert not re.search(r"(?<!\\)(\\\\)*\\…$", clipped)  # no lone backslash escaping the ellipsis


def test_fit_keep_end_keeps_the_end() -> None:
    assert render.fit("a" * 100 + " the end", 20, keep_end=True).endswith("the end")
    assert render.fit("a" * 100 + " the end", 20, keep_end=True).startswith("…")


def test_clip() -> None:
    assert render.clip("abcdef", 6) == "abcdef"
    assert render.clip("abcdefg", 6) == "abcde…"
    assert len(render.clip("x" * 5000, render.CONTENT_LIMIT)) == render.CONTENT_LIMIT


def test_retry_line_is_a_discord_relative_timestamp() -> None:
    assert "<t:1700000011:R>" in render.retry_line(1700000010.2)


def test_error_lines() -> None:
    assert render.error_line(QuestionError("The question is empty."), now=0) == "The question is empty."
    cooldown = app_commands.CommandOnCooldown(app_commands.Cooldown(1, 10), 4.5)
    assert render.error_line(cooldown, now=100) == render.retry_line(104.5)
    assert render.error_line(app_commands.MissingPermissions(["manage_guild"]), now=0) == render.NOT_MODERATOR
    assert render.error_line(RuntimeError("boom"), now=0) is None


def info(number: int, title: str | None = None) -> ArticleInfo:
    return ArticleInfo(
        id=f"article_{number:04d}_" + "x" * 120,
        title=title or f"Article {number} " + "y" * 200,
        date="2022-12-15",
        url=None,
        chunks=12,
        source=f"article_{number}.txt",
    )


def test_article_choices_respect_autocomplete_limits_and_filter() -> None:
    choices = render.article_choices([info(n) for n in range(60)], "")
    assert len(choices) == 25
    assert all(len(c.name) <= 100 and len(c.value) <= 100 for c in choices)
    semi = ArticleInfo("semi", "Semi-final report", None, None, 3, "semi.txt")
    assert [c.value for c in render.article_choices([info(1), semi], "SEMI")] == ["semi"]


def test_a_long_article_list_fits_one_embed() -> None:
    embed = render.articles_embed([info(n) for n in range(500)])
    assert embed_problems(embed) == []
    assert "more." in (embed.description or "")
    assert render.articles_embed([]).title == "0 articles indexed"


def test_settings_and_stats_embeds() -> None:
    settings = GuildSettings(
        k=3, threshold=None, cooldown=10, channels=frozenset(range(10**17, 10**17 + 200))
    )
    embed = render.settings_embed(settings, default_threshold=0.35)
    assert embed_problems(embed) == []
    assert "default (0.35)" in str(embed.to_dict())
    stats = Stats(asked=10, answered=7, top_declined=[("who won the NBA finals " * 40, 3)] * 5, up=2, down=1)
    embed = render.stats_embed(stats)
    assert embed_problems(embed) == []
    text = str(embed.to_dict())
    assert "70%" in text and "👍 2" in text and "👎 1" in text


def test_report_and_progress_lines() -> None:
    report = IndexReport(added=["a"], unchanged=3, chunks=57, skipped=[f"skipped {n}.txt" for n in range(5)])
    text = render.report_line("Reindexed", report)
    assert text.startswith("Reindexed: 1 added, 0 changed, 0 removed, 3 unchanged; 57 chunks")
    assert "(and 2 more)" in text
    assert render.progress_line(30, 120) == "Reindexing… 30/120 passages embedded (25%)."
