"""A bot that starts with no article, end to end: the real MatchBot against the Discord stand-in, from a
seeds folder that does not exist yet.

Members who ask (``/ask``, the message menu, a mention) are told in one line, privately where the answer
would be, that no articles have been added yet and which command a moderator uses; the articles list
says the library is empty; the first article, pasted, uploaded, fetched from a link or taken from a
feed, is answerable at once, and removing the last one empties the library again. The last test is the
fresh path a self-hoster takes, with the real model: an empty folder, a link, a question.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from news_site import LOCAL_ONLY, NewsSite

from bot import render
from bot.config import Config
from index.embedding import Embedder
from index.rerank import WARM_QUESTION

from .standin import DiscordStandIn
from .test_bot import (
    DEFERRED,
    MESSAGE,
    NO_PINGS,
    Runner,
    answer_to,
    ask,
    bold_sentences,
    configure,
    ephemeral,
    mention_reply,
    moderate,
    shown_text,
)
from .test_web import ARTICLE, CANONICAL, RSS, TITLE, command
from .wiring import SecondStages, bot_config

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("within_discords_limits")]

FANS = "Thousands of Moroccan fans sang in the Doha metro for hours after the final whistle."


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """The articles folder: not there yet."""
    return tmp_path / "seeds"


@pytest.fixture
def config(standin: DiscordStandIn, tmp_path: Path, seeds: Path) -> Config:
    """The bot may read the news site on 127.0.0.1."""
    return bot_config(standin, tmp_path, seeds, fetch=LOCAL_ONLY)


@pytest_asyncio.fixture
async def empty_bot(
    standin: DiscordStandIn, config: Config, fake_embedder, second_stages: SecondStages
) -> AsyncIterator[Runner]:
    """The bot over no article, with the model-free embedder (it is never asked to embed a question)."""
    async with Runner(standin, config, fake_embedder, second_stages) as runner:
        yield runner


async def test_with_no_articles_every_way_of_asking_says_so_naming_the_moderators_command(
    standin: DiscordStandIn, empty_bot: Runner, seeds: Path, fake_embedder
) -> None:
    assert seeds.is_dir() and list(seeds.iterdir()) == []
    assert "/matchbot articles add" in render.NO_ARTICLES

    for _ in range(2):  # no cooldown is spent on a question that could not be answered
        interaction = await ask(standin, "how did the semi end")
        reply = await standin.wait_for_response(interaction)
        assert (reply.callback_type, reply.content) == (MESSAGE, render.NO_ARTICLES)
        assert ephemeral(reply) and reply.message_data["allowed_mentions"] == NO_PINGS

    message = await standin.send_message("how did the semi end", author=standin.moderator)
    menu = await standin.wait_for_response(await standin.context_menu("Ask matchbot", message))
    assert (menu.callback_type, menu.content, ephemeral(menu)) == (MESSAGE, render.NO_ARTICLES, True)

    for _ in range(2):
        since = len(standin.calls)
        question = await standin.send_message(f"<@{standin.bot_user['id']}> how did the semi end?")
        mentioned = await mention_reply(standin, question, since)
        assert mentioned.json["content"] == render.NO_ARTICLES
        assert mentioned.json["allowed_mentions"] == {"parse": [], "replied_user": False}

    listing = shown_text(await moderate(standin, "articles", "list"))
    assert "\n0 articles indexed\nNo articles have been added yet: add one with" in listing
    stats = shown_text(await moderate(standin, None, "stats"))
    assert "Questions asked\n0" in stats  # nothing was asked of an index: nothing to count as declined
    assert [call for call in fake_embedder.calls if call != [WARM_QUESTION]] == []  # only the start's warm-up


async def test_the_first_article_pasted_or_uploaded_is_answerable_and_removing_the_last_empties_it(
    standin: DiscordStandIn, empty_bot: Runner, seeds: Path
) -> None:
    pasted = await moderate(standin, "articles", "add", title="Fans in Doha", text=FANS, date="2022-12-15")
    assert pasted.content.startswith("Added **Fans in Doha** (`fans_in_doha`, 1 passage). Index: 1 added")
    upload = standin.add_attachment(
        "var_review.txt",
        b"title VAR review of the offside goal\n\nThe referee used a VAR review to disallow a late offside "
        b"goal by Youssef En-Nesyri.",
    )
    uploaded = await moderate(standin, "articles", "add", file=upload)
    assert uploaded.content.startswith("Added **VAR review of the offside goal**")
    assert sorted(path.name for path in seeds.iterdir()) == [
        "fans_in_doha.txt",
        "var_review_of_the_offside_goal.txt",
    ]

    await configure(standin, cooldown=0)
    interaction = await ask(standin, "where did the moroccan fans sing")
    assert (await standin.wait_for_response(interaction)).callback_type == DEFERRED
    assert FANS in bold_sentences(await answer_to(standin, interaction))

    for article in ("fans_in_doha", "var_review_of_the_offside_goal"):
        removed = await moderate(standin, "articles", "remove", article=article)
        assert removed.content.startswith("Removed. Index: 0 added, 0 changed, 1 removed")
    again = await standin.wait_for_response(await ask(standin, "where did the moroccan fans sing"))
    assert (again.content, ephemeral(again)) == (render.NO_ARTICLES, True)
    assert list(seeds.iterdir()) == []


async def test_links_and_feeds_fill_an_empty_library(
    standin: DiscordStandIn, empty_bot: Runner, news_site: NewsSite, seeds: Path
) -> None:
    reply, _ = await command(standin, "articles", "add", url=news_site.url(ARTICLE))
    assert (
        reply.content.startswith(f"Added **{TITLE}** (2022-12-15, ")
        and f"from <{CANONICAL}>" in reply.content
    )

    news_site.served[RSS] = "feeds/football-early.rss"
    followed, _ = await command(standin, "feeds", "add", url=news_site.url(RSS), keywords="Regragui")
    assert "1 added now:\n• **Regragui: Morocco ran out of legs, but we will be back**" in followed.content
    listing = shown_text(await moderate(standin, "articles", "list"))
    assert "\n2 articles indexed\n" in listing and TITLE in listing
    assert len(list(seeds.iterdir())) == 2


@pytest.mark.model
async def test_a_fresh_bot_answers_from_its_first_link(
    standin: DiscordStandIn,
    config: Config,
    embedder: Embedder,
    news_site: NewsSite,
    seeds: Path,
    second_stages: SecondStages,
) -> None:
    """The self-hoster's first hour, on Discord: no article, then a link, then a member's question."""
    seeds.mkdir()
    runner = Runner(standin, config, embedder, second_stages)
    await runner.start()
    try:
        refused = await standin.wait_for_response(await ask(standin, "how many people were on the streets"))
        assert refused.content == render.NO_ARTICLES

        added, _ = await command(standin, "articles", "add", url=news_site.url(ARTICLE))
        assert added.content.startswith(f"Added **{TITLE}**")
        await configure(standin, cooldown=0)
        answer = await answer_to(
            standin, await ask(standin, "how many people were on the streets of Casablanca")
        )
        text = shown_text(answer)
        assert any("300,000 people" in sentence for sentence in bold_sentences(answer)), text
        assert "(answered;" in text and f"[link](<{CANONICAL}>)" in text
    finally:
        await runner.stop()
