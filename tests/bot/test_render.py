"""Rendering answers and lists for Discord: escaping, the bold sentence, and Discord's limits."""

from __future__ import annotations

import re
from dataclasses import replace

import discord
import pytest
from discord import app_commands

from bot import i18n, render
from bot.feeds import FeedPoll
from bot.settings import Feed, FeedEntry, GuildSettings, Stats
from index.errors import NoArticles, QuestionError
from index.feeds import FeedItem
from index.library import ArticleInfo
from index.retriever import Answer, Passage
from index.store import IndexReport
from index.vocabulary import SPECIFIC_FIRST
from index.web import PageAdded


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


def test_a_declined_answer_says_which_kind_of_answer_none_of_the_passages_gives() -> None:
    declined = Answer("how old is regragui", False, 0.05, 0.14, [passage()], missing="age")
    description = render.answer_embed(declined).description or ""
    assert description.startswith(
        "No confident answer: none of the passages I found gives an age. The nearest passages, in case"
    )
    assert "**France beat Morocco" in description
    with i18n.speaking("fr"):
        french = render.answer_embed(declined).description or ""
    assert french.startswith("Pas de réponse sûre : aucun des passages trouvés ne donne d'âge.")
    generic = render.answer_embed(answer(passage(), answered=False)).description or ""
    assert "don't seem to cover this" in generic and "gives" not in generic


@pytest.mark.parametrize("kind", SPECIFIC_FIRST)
def test_every_kind_of_answer_a_declined_question_can_miss_has_its_own_reason(kind: str) -> None:
    declined = Answer("a question", False, 0.05, 0.14, [passage()], missing=kind)
    assert render.declined_reason(declined) != render.declined_reason(replace(declined, missing=None))


def test_more_passages_say_so_even_for_a_declined_question() -> None:
    assert (render.answer_embed(answer(passage()), offset=3).description or "").startswith("More passages:")
    declined = render.answer_embed(answer(passage(), answered=False), offset=3)
    assert (declined.description or "").startswith("More passages (none of them a confident answer):")


def test_more_passages_past_the_end_says_there_are_none() -> None:
    embed = render.answer_embed(answer(), offset=6)
    assert embed.description == "No more passages for this question."


@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("apart", [10, 1], ids=["each its own quote", "all one quote"])
def test_huge_sentences_questions_and_titles_stay_within_discords_limits(k: int, apart: int) -> None:
    huge = [
        passage(
            "word " * 800,  # 4,000 characters
            before="*" * 3000,
            after="_" * 3000,
            title="T" * 1000,
            author="A" * 500,
            url="https://example.com/" + "x" * 3000,
            sentence=4 + apart * number,
        )
        for number in range(k)
    ]
    embed = render.answer_embed(answer(*huge, question="q" * 1000), answer_id=123456)
    assert embed_problems(embed) == []
    assert embed.description and embed.description.count("**") >= 2 * k  # every sentence still bold
    assert embed.description.count("\n\n") == (k - 1 if apart > 1 else 0)  # blocks between blocks
    assert "…" in embed.description


TUNNEL = [
    "The pair were inseparable on the night.",
    "He was seen sitting on the floor of the tunnel greeting other players from the Moroccan team.",
    "Love that after reaching the World Cup Final, Kylian Mbappe chose to just chill on the floor in the "
    "tunnel next to his friend Achraf Hakimi.❤️",
    "Meanwhile, Morocco's head coach Regragui was full of praise for his team.",
]


def tunnel(number: int, score: float, **changes: object) -> Passage:
    """Sentence ``number`` (13 to 16) of the tunnel paragraph, with its neighbours, as the retriever
    gives it."""
    index = number - 13
    return passage(
        TUNNEL[index],
        before=TUNNEL[index - 1] if index > 0 else "",
        after=TUNNEL[index + 1] if index + 1 < len(TUNNEL) else "",
        sentence=number,
        score=score,
        before_sentence=number - 1,
        after_sentence=number + 1,
        **changes,
    )


def test_passages_next_to_each_other_are_one_quote_with_each_sentence_once_and_both_bold() -> None:
    found = [
        tunnel(14, 0.62),
        tunnel(15, 0.48, author="Ben Jacobs (@JacobsBen)", posted="December 14, 2022"),
        passage("Regragui praised his players.", article="other", title="Reaction", sentence=3, score=0.4),
    ]
    description = render.answer_embed(answer(*found)).description or ""

    first, second = description.split("\n\n")
    quote, source = first.split("\n")
    assert quote == "> " + " ".join(
        [TUNNEL[0], f"**{TUNNEL[1]}**", f"**{render.escape(TUNNEL[2])}**", TUNNEL[3]]
    )
    for sentence in TUNNEL:
        assert description.count(render.escape(sentence)) == 1
    assert source.count("World Cup 2022 Semi-final France 2-0 Morocco") == 1
    assert "tweet by Ben Jacobs (@JacobsBen), December 14, 2022" in source
    assert source.endswith(render.meter(0.62))  # the best of the two scores
    assert second.startswith("> Walid") and "*Reaction*" in second  # the next best, another article


def test_quotes_are_ordered_by_their_best_passage() -> None:
    found = [
        tunnel(16, 0.7),
        passage("France beat Morocco 2-0.", article="other", title="Reaction", sentence=3, score=0.6),
        tunnel(14, 0.5),  # touches the best one's context: joins its quote
    ]
    blocks = (render.answer_embed(answer(*found)).description or "").split("\n\n")
    assert [block.count("**") for block in blocks] == [4, 2]
    assert "*Reaction*" in blocks[1] and render.meter(0.7) in blocks[0]
    assert blocks[0].index(TUNNEL[1]) < blocks[0].index(TUNNEL[3])  # article order within a quote


def test_a_page_given_is_shown_as_it_is_laid_out() -> None:
    from index.quotes import pages

    found = [tunnel(14, 0.6), tunnel(15, 0.5), tunnel(13, 0.4), passage(sentence=40, score=0.3)]
    first, second = pages(found, 2)
    shown = [
        render.answer_embed(answer(*found), quotes, offset=offset)
        for quotes, offset in ((first, 0), (second, 2))
    ]
    assert (shown[1].description or "").startswith("More passages:\n\n> Walid")
    assert "**France beat Morocco" in (shown[1].description or "")
    assert TUNNEL[0] not in (shown[1].description or "")  # context on the first page
    assert (
        render.answer_embed(answer(*found), [], offset=4).description == "No more passages for this question."
    )


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


def test_no_articles_names_the_moderators_command_not_the_command_lines() -> None:
    from index.retriever import NO_ARTICLES

    assert render.error_line(NoArticles(NO_ARTICLES), now=0) == render.NO_ARTICLES
    assert "`/matchbot articles add`" in render.NO_ARTICLES and "matchbot add URL" not in render.NO_ARTICLES


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


def test_an_article_without_a_title_is_offered_by_its_id_and_no_choice_can_ping() -> None:
    untitled = ArticleInfo("fans_in_doha", "", "2022-12-15", None, 3, "fans_in_doha.txt")
    blank = ArticleInfo("", " \n ", None, None, 1, "blank.txt")
    pinging = ArticleInfo("ping", "@everyone look <@&123> at\nthis", None, None, 1, "ping.txt")
    names = [c.name for c in render.article_choices([untitled, blank, pinging], "")]
    assert names == [
        "fans_in_doha (2022-12-15)",
        "(untitled)",
        "@\u200beveryone look <\u200b@&123> at this",
    ]


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


# -- articles from links and feeds -----------------------------------------------------------------

HUGE = "Mbappe **consoled** <@123> @everyone " * 200


def added_page(
    title: str = "Morocco's fans turn Casablanca red", excerpt: str = "The final whistle…"
) -> PageAdded:
    info = ArticleInfo(
        id="casablanca",
        title=title,
        date="2022-12-15",
        url="https://news.example/casablanca",
        chunks=12,
        source="casablanca.txt",
    )
    return PageAdded(info=info, report=IndexReport(added=["casablanca"], chunks=40), excerpt=excerpt)


def test_a_page_added_says_what_was_added_and_shows_its_first_lines() -> None:
    reply = render.page_added(added_page())
    assert reply == (
        "Added **Morocco's fans turn Casablanca red** (2022-12-15, 12 passages, `casablanca`) from "
        "<https://news.example/casablanca>. It begins:\n> The final whistle…"
    )
    huge = render.page_added(added_page(title=HUGE, excerpt=HUGE))
    assert len(huge) <= render.CONTENT_LIMIT and huge.count("\n") == 1
    assert "@everyone" not in huge and "<@123>" not in huge and "**consoled**" not in huge


def feed(number: int = 0, **changes: object) -> Feed:
    fields: dict[str, object] = {
        "guild_id": 1,
        "url": f"https://news.example/feeds/{number}.rss",
        "keywords": ("Morocco", "Mbappe"),
        "title": f"Feed {number}",
        "polled_at": 1_671_000_000.0,
    }
    fields.update(changes)
    return Feed(**fields)  # type: ignore[arg-type]


def entry(number: int, status: str = "added", **changes: object) -> FeedEntry:
    fields: dict[str, object] = {
        "guild_id": 1,
        "feed_url": "https://news.example/feeds/0.rss",
        "key": f"entry-{number}",
        "link": f"https://news.example/{number}",
        "title": f"Entry {number}",
        "status": status,
        "article_id": f"entry_{number}" if status in {"added", "duplicate"} else None,
        "message": None,
        "attempts": 1,
        "claimed_at": 1_671_000_000.0 + number,
        "settled_at": 1_671_000_001.0 + number,
    }
    fields.update(changes)
    return FeedEntry(**fields)  # type: ignore[arg-type]


def test_the_feeds_list_shows_each_feed_and_what_was_taken_and_when() -> None:
    entries = [
        entry(1),
        entry(2, "duplicate"),
        entry(3, "failed", message="No article text found at https://news.example/3: paste it instead."),
        entry(4, "retry", attempts=3, message="https://news.example/4 answered 503: try again later."),
    ]
    embed = render.feeds_embed(
        [feed(0), feed(1, polled_at=None, poll_error="Feed down.")], entries, interval=1800
    )
    assert embed.title == "2 feeds followed; each checked every 30 minutes"
    assert "**Feed 0** <https://news.example/feeds/0.rss>" in (embed.description or "")
    assert "keywords *Morocco, Mbappe* · checked <t:1671000000:R>" in (embed.description or "")
    assert "not checked yet\n  ⚠ Feed down." in (embed.description or "")
    [taken] = embed.fields
    assert taken.value is not None
    assert taken.value.splitlines() == [
        "<t:1671000002:R> added `entry_1`: Entry 1",
        "<t:1671000003:R> already an article `entry_2`: Entry 2",
        "<t:1671000004:R> not added: Entry 3 — No article text found at https://news.example/3: paste it "
        "instead.",
        "<t:1671000005:R> not added: Entry 4 — https://news.example/4 answered 503: try again later.",
    ]
    assert embed_problems(embed) == []


def test_a_long_feeds_list_fits_one_embed() -> None:
    feeds = [
        feed(n, url="https://news.example/" + "f" * 480, title=HUGE, keywords=(HUGE[:60],) * 20)
        for n in range(25)
    ]
    entries = [entry(n, title=HUGE, message=HUGE) for n in range(100)]
    embed = render.feeds_embed(feeds, entries, interval=60)
    assert embed_problems(embed) == []
    assert "@everyone" not in str(embed.to_dict()) and "<@123>" not in str(embed.to_dict())
    assert (embed.fields[0].value or "").endswith("more.")
    assert render.feeds_embed([], [], interval=3600).description == (
        "No feeds yet: follow one with `/matchbot feeds add`."
    )


def test_following_a_feed_says_what_it_matches_and_what_it_added() -> None:
    poll = FeedPoll(
        feed(0), matching=3, added=[added_page()], duplicates=[(FeedItem("k", "l", "t", "s"), "x")]
    )
    poll.failed = [(FeedItem(f"k{n}", "l", HUGE, "s"), HUGE) for n in range(5)]
    poll.waiting = 4
    reply = render.feed_followed(poll, interval=1800)
    assert reply.startswith(
        "Following **Feed 0** (<https://news.example/feeds/0.rss>) for *Morocco, Mbappe*; it is checked "
        "every 30 minutes.\n1 added now:\n• **Morocco's fans turn Casablanca red** (`casablanca`)\n"
        "1 already among"
    )
    assert "…and 3 more not added." in reply and "4 more matching entries will be added" in reply
    assert len(reply) <= render.CONTENT_LIMIT and "@everyone" not in reply and "<@123>" not in reply
    nothing = render.feed_followed(FeedPoll(feed(0)), interval=60)
    assert nothing.endswith("No entry matches the keywords yet; new ones are added as they appear.")
    assert "checked every 1 minute." in nothing


def test_feed_choices_respect_autocomplete_limits() -> None:
    feeds = [feed(n, url="https://news.example/" + "f" * 200 + str(n)) for n in range(30)]
    choices = render.feed_choices(feeds, "")
    assert len(choices) == 25
    assert all(len(c.name) <= 100 and len(c.value) <= 100 for c in choices)
    [seven] = render.feed_choices(feeds, "Feed 7")
    assert seven.name.startswith("Feed 7 — https://news.example/fff") and seven.name.endswith("…")
    assert seven.value == feeds[7].url[:100]
