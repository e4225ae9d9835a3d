"""Articles from links and feeds end to end: the real MatchBot and model against the Discord stand-in,
fetching from the news site on 127.0.0.1.

A moderator adds a page by its link and members are answered from it at once; a bad link is one line
and nothing is saved; a followed feed adds what matches, now and then in the background, each entry
once; the feeds list says what was added and when; removing a feed can remove what it added.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from news_site import LOCAL_ONLY, NewsSite

from bot import render
from bot.config import Config
from index.embedding import Embedder
from index.web import FetchPolicy

from .standin import DiscordStandIn, RecordedCall
from .test_bot import (
    Runner,
    answer_to,
    ask,
    configure,
    ephemeral,
    moderate,
    moderation,
    shown_text,
)
from .wiring import SEEDS, SecondStages, bot_config, copy_seeds

pytestmark = [pytest.mark.model, pytest.mark.timeout(120), pytest.mark.usefixtures("within_discords_limits")]

ARTICLE = "/2022/12/15/morocco-fans-casablanca.html"
CANONICAL = "https://www.matchday-news.example/world-cup/2022/12/15/morocco-fans-casablanca"
TITLE = "Morocco's fans turn Casablanca red after semi-final defeat"
RSS = "/feeds/football.rss"
REGRAGUI_ID = "regragui_morocco_ran_out_of_legs_but_we_will_be_back"
MBAPPE_ID = "mbappé_we_are_proud_now_we_want_to_win_the_final"


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    return copy_seeds(tmp_path)


@pytest.fixture
def config(standin: DiscordStandIn, tmp_path: Path, seeds: Path) -> Config:
    """The bot may read 127.0.0.1 (MATCHBOT_FETCH_ALLOW_PRIVATE=127.0.0.1) and polls feeds each second."""
    return bot_config(standin, tmp_path, seeds, feed_interval=1.0, fetch=LOCAL_ONLY)


@pytest_asyncio.fixture
async def matchbot(
    standin: DiscordStandIn, config: Config, embedder: Embedder, second_stages: SecondStages
) -> AsyncIterator[Runner]:
    async with Runner(standin, config, embedder, second_stages) as runner:
        yield runner


def files(seeds: Path) -> list[str]:
    return sorted(path.name for path in seeds.iterdir())


PROGRESS = (*render.WEB_STAGES.values(), render.FEED_READING, "Adding ")


async def command(
    standin: DiscordStandIn, group: str, name: str, *, user: dict | None = None, **options: Any
) -> tuple[RecordedCall, list[str]]:
    """``/matchbot group name …`` as the moderator: its final reply, and the progress lines shown first."""
    interaction = await standin.slash(
        "matchbot", moderation(group, name, **options), user=user or standin.moderator
    )

    def final(call: RecordedCall) -> bool:
        return (
            call in standin.calls_for(interaction)
            and call.status < 300
            and bool(
                (call.content and not call.content.startswith(PROGRESS)) or call.message_data.get("embeds")
            )
        )

    reply = await standin.wait_for_call(final, timeout=60)
    shown = [
        call.content
        for call in standin.calls_for(interaction)
        if call.method == "PATCH" and call is not reply
    ]
    return reply, shown


async def test_a_page_added_by_its_link_is_answerable_at_once_with_its_link(
    standin: DiscordStandIn, matchbot: Runner, news_site: NewsSite, seeds: Path
) -> None:
    reply, progress = await command(standin, "articles", "add", url=news_site.url(ARTICLE))
    assert reply.path.endswith("/messages/@original") and ephemeral(reply)
    assert set(progress) <= set(render.WEB_STAGES.values())  # a slow add shows how far it got
    article_id = "morocco_s_fans_turn_casablanca_red_after_semi_final_defeat"
    assert reply.content.startswith(f"Added **{TITLE}** (2022-12-15, ")
    assert f" passages, `{article_id}`) from <{CANONICAL}>. It begins:\n> The final whistle in Al Khor" in (
        reply.content
    )
    assert f"{article_id}.txt" in files(seeds)

    await configure(standin, cooldown=0)
    answer = await answer_to(
        standin, await ask(standin, "where will the Moroccan squad ride on an open-top bus")
    )
    text = shown_text(answer)
    assert "open-top bus" in text and TITLE in text and f"[link](<{CANONICAL}>)" in text

    again, _ = await command(standin, "articles", "add", url=news_site.url(ARTICLE))
    assert again.content == (
        f"That page was added before, as {TITLE!r} ({article_id}): remove that article first to add it again."
    )


BAD_LINKS = {
    "/app-shell.html": "No article text found at",
    "/huge.html": "is over 5 MB, the most matchbot reads",
    "/match-stats.pdf": "is not a web page (it is application/pdf)",
    "/loop/a": "redirects in a loop",
}


async def test_links_that_give_no_article_or_no_feed_are_one_line_and_nothing_is_saved(
    standin: DiscordStandIn, matchbot: Runner, news_site: NewsSite, seeds: Path
) -> None:
    before = files(seeds)
    for path, expected in BAD_LINKS.items():
        reply, _ = await command(standin, "articles", "add", url=news_site.url(path))
        assert expected in reply.content and "\n" not in reply.content and ephemeral(reply)
    assert files(seeds) == before
    assert "1 article indexed" in shown_text(await moderate(standin, "articles", "list"))

    not_a_feed, _ = await command(standin, "feeds", "add", url=news_site.url(ARTICLE), keywords="Morocco")
    assert not_a_feed.content.startswith(
        f"{news_site.url(ARTICLE)} is not an RSS or Atom feed (it is text/html)"
    )
    blank = await moderate(standin, "feeds", "add", url=news_site.url(RSS), keywords=" , ")
    assert blank.content.startswith("Give at least one keyword") and ephemeral(blank)
    refused = await moderate(
        standin, "feeds", "add", user=standin.member, url=news_site.url(RSS), keywords="Morocco"
    )
    assert refused.content == render.NOT_MODERATOR
    assert "No feeds yet" in shown_text(await moderate(standin, "feeds", "list"))
    assert files(seeds) == before


async def test_a_private_address_is_refused_by_default(
    standin: DiscordStandIn,
    config: Config,
    embedder: Embedder,
    second_stages: SecondStages,
    news_site: NewsSite,
    seeds: Path,
) -> None:
    runner = Runner(standin, replace(config, fetch=FetchPolicy()), embedder, second_stages)
    await runner.start()
    try:
        reply = await moderate(standin, "articles", "add", url=news_site.url(ARTICLE))
        assert reply.content.startswith("127.0.0.1 is a private or local address (127.0.0.1)")
        feed = await moderate(standin, "feeds", "add", url=news_site.url(RSS), keywords="Morocco")
        assert feed.content.startswith("127.0.0.1 is a private or local address")
    finally:
        await runner.stop()
    assert news_site.requests == [] and files(seeds) == [path.name for path in SEEDS.iterdir()]


async def test_a_followed_feed_adds_its_matching_entries_once_now_and_in_the_background(
    standin: DiscordStandIn, matchbot: Runner, news_site: NewsSite, seeds: Path
) -> None:
    news_site.served[RSS] = "feeds/football-early.rss"
    followed, _ = await command(standin, "feeds", "add", url=news_site.url(RSS), keywords="Morocco, Mbappe")
    assert followed.content.startswith(
        f"Following **Matchday News – Football** (<{news_site.url(RSS)}>) for *Morocco, Mbappe*; it is "
        "checked every 1 second.\n1 added now:\n• **Regragui: Morocco ran out of legs, but we will be back**"
    )
    assert f"{REGRAGUI_ID}.txt" in files(seeds)

    del news_site.served[RSS]  # a new entry about Mbappé appears: the background poller adds it
    for _ in range(300):
        if f"{MBAPPE_ID}.txt" in files(seeds):
            break
        await asyncio.sleep(0.1)
    assert f"{MBAPPE_ID}.txt" in files(seeds)
    for _ in range(30):  # a few more polls: nothing is added twice
        await asyncio.sleep(0.1)
    pages = [p.split("?")[0] for p in news_site.paths() if p.startswith("/2022/")]
    assert sorted(pages) == [
        "/2022/12/15/mbappe-proud-of-france.html",
        "/2022/12/15/regragui-press-conference.html",
    ]

    listing = shown_text(await moderate(standin, "feeds", "list"))
    assert "1 feed followed; each checked every 1 second" in listing
    assert f"added `{MBAPPE_ID}`: Mbappé: we are proud, now we want to win the final" in listing
    assert f"added `{REGRAGUI_ID}`: Regragui: Morocco ran out of legs, but we will be back" in listing

    await configure(standin, cooldown=0)
    answer = shown_text(
        await answer_to(standin, await ask(standin, "how fast did Kolo Muani score after coming on"))
    )
    assert "44 seconds" in answer

    removed, _ = await command(standin, "feeds", "remove", feed=news_site.url(RSS), articles=True)
    assert removed.content.startswith(
        "No longer following **Matchday News – Football**; removed the 2 articles"
    )
    assert files(seeds) == [path.name for path in SEEDS.iterdir()]
    assert "No feeds yet" in shown_text(await moderate(standin, "feeds", "list"))
