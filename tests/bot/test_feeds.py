"""Following feeds: each matching entry is added once, across polls, restarts and racing pollers.

The feeds and pages come from the news site on 127.0.0.1 (and, for the limits, from the misbehaving
site there, tests/hostile_site.py); the state is a real settings store, and every test runs twice:
on SQLite, then on a throwaway PostgreSQL server (the ``connect`` fixture). The articles are a real
Library (with the model-free embedder).
"""

from __future__ import annotations

import asyncio
import base64
import random
import shutil
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from news_site import LOCAL_ONLY, NewsSite

from bot.database import Database, PostgresDatabase
from bot.feeds import MAX_ADDS_PER_POLL, MAX_FEEDS, FeedPoller
from bot.registry import ArticleRegistry
from bot.settings import ENTRY_ATTEMPTS, STALE_CLAIM, Feed, GuildSettings, SettingsStore
from index.errors import WebError
from index.library import Library
from index.pipeline import Pipeline
from index.web import Fetcher, FetchPolicy

GUILD = 111
OTHER_GUILD = 222
KEYWORDS = ("Morocco", "Mbappe")
RSS = "/feeds/football.rss"
ATOM = "/feeds/world-cup.atom"
REGRAGUI = "/2022/12/15/regragui-press-conference.html"
MBAPPE = "/2022/12/15/mbappe-proud-of-france.html"
CASABLANCA = "/2022/12/15/morocco-fans-casablanca.html"
NOT_MATCHING = ("arsenal", "cricket", "murray", "six-nations")
REGRAGUI_ID = "regragui_morocco_ran_out_of_legs_but_we_will_be_back"
MBAPPE_ID = "mbappé_we_are_proud_now_we_want_to_win_the_final"

StartBot = Callable[..., Awaitable[FeedPoller]]


@pytest.fixture
async def start_bot(
    tmp_path: Path, seeds: Path, connect: Callable[[], Database], fake_embedder
) -> AsyncIterator[StartBot]:
    """``start(fetcher, name=…)``: one bot process's poller, with its own store object and index, over
    the one database (SQLite, then PostgreSQL) and the one seeds folder."""
    stores: list[SettingsStore] = []

    async def start(fetcher: Fetcher, *, name: str = "one") -> FeedPoller:
        store = await SettingsStore.open(connect(), GuildSettings(k=3, threshold=None))
        stores.append(store)
        registry = ArticleRegistry(Library(seeds, tmp_path / f"data-{name}", Pipeline(fake_embedder)), store)
        await registry.open()
        return FeedPoller(store, registry, fetcher, interval=1800)

    yield start
    for store in stores:
        await store.close()


@pytest.fixture
async def poller(start_bot: StartBot, fetcher: Fetcher) -> FeedPoller:
    return await start_bot(fetcher)


def articles(seeds: Path) -> list[str]:
    return sorted(path.stem for path in seeds.iterdir())


def fetched_pages(site: NewsSite, since: int = 0) -> list[str]:
    """The article pages requested (not robots.txt, not feeds), query strings left out."""
    return [
        path.split("?")[0] for path in site.paths()[since:] if not path.startswith(("/robots.txt", "/feeds/"))
    ]


async def test_polled_twice_a_feed_adds_each_matching_entry_once(
    poller: FeedPoller, news_site: NewsSite, seeds: Path
) -> None:
    news_site.served[RSS] = "feeds/football-early.rss"  # the feed as it was at first
    first = await poller.follow(GUILD, news_site.url(RSS), KEYWORDS, added_by=7)
    assert [added.info.id for added in first.added] == [REGRAGUI_ID]
    assert first.matching == 1 and not first.failed and not first.duplicates
    assert first.feed.title == "Matchday News – Football" and first.feed.added_by == 7

    del news_site.served[RSS]  # two new entries: one matches, one does not
    [second] = await poller.poll_now(GUILD)
    assert [added.info.id for added in second.added] == [MBAPPE_ID]
    assert second.matching == 2

    [third] = await poller.poll_now(GUILD)
    assert third.not_modified and not third.added  # the feed had not changed: 304
    assert fetched_pages(news_site) == [REGRAGUI, MBAPPE]  # no entry fetched twice, no other entry at all
    assert not any(word in path for path in news_site.paths() for word in NOT_MATCHING)
    assert articles(seeds) == sorted([MBAPPE_ID, REGRAGUI_ID, "world_cup_2022_semi-final_france_2-0_morocco"])

    library = poller.registry.library
    answer = library.retriever.search("which defenders were injured before the semi-final", k=1)
    assert answer.passages[0].article == REGRAGUI_ID


async def test_after_a_restart_nothing_is_added_again(
    start_bot: StartBot, poller: FeedPoller, news_site: NewsSite, seeds: Path, fetcher: Fetcher
) -> None:
    await poller.follow(GUILD, news_site.url(RSS), KEYWORDS)
    added = articles(seeds)
    since = len(news_site.requests)
    news_site.served[RSS] = "feeds/football-early.rss"  # changed since: read in full, not a 304

    restarted = await start_bot(Fetcher(fetcher.policy), name="restarted")
    [poll] = await restarted.poll_now()
    assert not poll.not_modified and poll.matching == 1
    assert not poll.added and not poll.failed and not poll.duplicates
    assert fetched_pages(news_site, since) == []
    assert articles(seeds) == added


async def test_two_pollers_racing_add_each_entry_once(
    start_bot: StartBot, poller: FeedPoller, news_site: NewsSite, seeds: Path, fetcher: Fetcher
) -> None:
    await poller.settings.follow_feed(GUILD, news_site.url(RSS), KEYWORDS, title=None, added_by=None)
    other = await start_bot(Fetcher(fetcher.policy), name="two")
    polls = await asyncio.gather(poller.poll_now(), other.poll_now())
    added = sorted(added.info.id for done in polls for poll in done for added in poll.added)
    assert added == sorted([REGRAGUI_ID, MBAPPE_ID])
    assert sorted(fetched_pages(news_site)) == sorted([REGRAGUI, MBAPPE])
    assert articles(seeds) == sorted([MBAPPE_ID, REGRAGUI_ID, "world_cup_2022_semi-final_france_2-0_morocco"])
    entries = await poller.settings.feed_entries(GUILD)
    assert sorted((entry.status, entry.article_id) for entry in entries) == [
        ("added", MBAPPE_ID),
        ("added", REGRAGUI_ID),
    ]


async def test_only_one_of_two_pollers_polls_a_feed_that_is_due(
    poller: FeedPoller, news_site: NewsSite
) -> None:
    await poller.settings.follow_feed(GUILD, news_site.url(RSS), KEYWORDS, title=None, added_by=None)
    assert await poller.poll_due() == []  # following it counts as polling it
    later = time.time() + poller.interval
    poller.clock = lambda: later
    first, second = await asyncio.gather(poller.poll_due(), poller.poll_due())
    assert len(first) + len(second) == 1
    assert await poller.poll_due() == []  # polled just now: not due for another 30 minutes
    poller.clock = lambda: later + poller.interval
    assert len(await poller.poll_due()) == 1


async def test_a_page_linked_by_two_feeds_is_added_once(
    poller: FeedPoller, news_site: NewsSite, seeds: Path
) -> None:
    rss = await poller.follow(GUILD, news_site.url(RSS), KEYWORDS)
    atom = await poller.follow(GUILD, news_site.url(ATOM), KEYWORDS)
    assert [a.info.id for a in rss.added] == [MBAPPE_ID, REGRAGUI_ID]
    assert [a.info.title for a in atom.added] == [
        "Morocco's fans turn Casablanca red after semi-final defeat"
    ]
    assert [(item.link, article_id) for item, article_id in atom.duplicates] == [
        (news_site.url(REGRAGUI), REGRAGUI_ID)
    ]
    assert len(articles(seeds)) == 4
    listed = await poller.settings.feed_entries(GUILD, news_site.url(ATOM))
    assert sorted(entry.status for entry in listed) == ["added", "duplicate"]


async def test_each_server_follows_its_own_feeds_and_they_share_the_articles(
    poller: FeedPoller, news_site: NewsSite, seeds: Path
) -> None:
    await poller.follow(GUILD, news_site.url(RSS), KEYWORDS)
    other = await poller.follow(OTHER_GUILD, news_site.url(RSS), ("Regragui",))
    assert not other.added and [article_id for _, article_id in other.duplicates] == [REGRAGUI_ID]
    assert [feed.keywords for feed in await poller.settings.feeds(GUILD)] == [KEYWORDS]
    assert [feed.keywords for feed in await poller.settings.feeds(OTHER_GUILD)] == [("Regragui",)]
    assert len(articles(seeds)) == 3


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (CASABLANCA, "is not an RSS or Atom feed (it is text/html)"),
        ("/match-stats.pdf", "is not an RSS or Atom feed (it is application/pdf)"),
        ("/missing.rss", "answered 404 Not Found"),
        ("/loop/a", "redirects in a loop"),
    ],
)
async def test_a_link_that_is_not_a_feed_is_one_line_and_nothing_is_followed(
    poller: FeedPoller, news_site: NewsSite, seeds: Path, path: str, expected: str
) -> None:
    before = articles(seeds)
    with pytest.raises(WebError) as caught:
        await poller.follow(GUILD, news_site.url(path), KEYWORDS)
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert await poller.settings.feeds(GUILD) == []
    assert articles(seeds) == before


async def test_a_private_feed_is_refused_by_default(start_bot: StartBot, news_site: NewsSite) -> None:
    poller = await start_bot(Fetcher())
    with pytest.raises(WebError, match=r"127\.0\.0\.1 is a private or local address"):
        await poller.follow(GUILD, news_site.url(RSS), KEYWORDS)
    assert news_site.requests == [] and await poller.settings.feeds(GUILD) == []


async def test_an_entry_without_an_article_is_recorded_once_and_not_fetched_again(
    poller: FeedPoller, news_site: NewsSite, tmp_path: Path, seeds: Path
) -> None:
    gallery = tmp_path / "site"
    shutil.copytree(news_site.pages, gallery)
    rss = (gallery / "feeds/football.rss").read_text()
    rss = rss.replace("/2022/12/15/mbappe-proud-of-france.html", "/app-shell.html")
    (gallery / "feeds/football.rss").write_text(rss)
    news_site.pages = gallery
    first = await poller.follow(GUILD, news_site.url(RSS), KEYWORDS)
    [(item, message)] = first.failed
    assert item.title.startswith("Mbappé") and message.startswith("No article text found at")
    [second] = await poller.poll_now()
    assert not second.failed and not second.added
    assert fetched_pages(news_site).count("/app-shell.html") == 1
    entries = {entry.title[:7]: entry for entry in await poller.settings.feed_entries(GUILD)}
    assert entries["Mbappé:"].status == "failed" and entries["Mbappé:"].message == message


async def test_an_entry_that_fails_for_a_passing_reason_is_tried_again_a_few_times(
    poller: FeedPoller, news_site: NewsSite, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(news_site.pages, site)
    early = (site / "feeds/football-early.rss").read_text()
    (site / "feeds/football-early.rss").write_text(early.replace(REGRAGUI, "/unavailable.html"))
    news_site.pages = site
    news_site.served[RSS] = "feeds/football-early.rss"
    polls = [await poller.follow(GUILD, news_site.url(RSS), KEYWORDS)]
    polls += [(await poller.poll_now())[0] for _ in range(ENTRY_ATTEMPTS)]
    tries = [len(poll.failed) for poll in polls]
    assert tries == [1] * ENTRY_ATTEMPTS + [0]
    assert "answered 503 Service Unavailable: try again later." in polls[0].failed[0][1]
    assert fetched_pages(news_site).count("/unavailable.html") == ENTRY_ATTEMPTS
    [entry] = await poller.settings.feed_entries(GUILD)
    assert (entry.status, entry.attempts) == ("retry", ENTRY_ATTEMPTS)


# -- hostile feeds and entries: the same deadline and size limit as a page ---------------------------

LIMIT = 2  # seconds for a whole fetch: more than a read takes when the server drips a byte a second
TOO_SLOW = "did not load within 2 s: try again later."
TOO_BIG = "is over 1 MB, the most matchbot reads (MATCHBOT_FETCH_MAX_MB)"
TWICE = "is compressed more than once (gzip, gzip), which matchbot does not read"


@pytest.fixture
async def impatient(start_bot: StartBot) -> FeedPoller:
    """A poller whose fetches may read 127.0.0.1, take two seconds and weigh 1 MB at most."""
    allowed = LOCAL_ONLY.allow_private
    return await start_bot(Fetcher(FetchPolicy(allow_private=allowed, timeout=LIMIT, max_bytes=1_000_000)))


@pytest.mark.parametrize(
    ("misbehaviour", "expected"),
    [
        ("drip-headers", TOO_SLOW),
        ("gzip-comment", TOO_SLOW),
        ("gzip-bomb", TOO_BIG),
        ("double-gzip-bomb", TWICE),
    ],
)
async def test_a_hostile_feed_is_one_line_within_the_time_limit_and_nothing_is_followed(
    impatient: FeedPoller, hostile_url, seeds: Path, misbehaviour: str, expected: str
) -> None:
    feed = hostile_url(misbehaviour, "feed.rss")
    before = articles(seeds)
    started = time.monotonic()
    with pytest.raises(WebError) as caught:
        await impatient.follow(GUILD, feed, KEYWORDS)
    assert time.monotonic() - started <= LIMIT + 1
    assert str(caught.value).startswith(f"{feed} {expected}") and "\n" not in str(caught.value)
    assert await impatient.settings.feeds(GUILD) == [] and articles(seeds) == before


@pytest.mark.parametrize(
    ("misbehaviour", "expected", "status"),
    [
        ("drip-headers", TOO_SLOW, "retry"),
        ("drip-chunk-size", TOO_SLOW, "retry"),
        ("gzip-extra", TOO_SLOW, "retry"),
        ("gzip-bomb", TOO_BIG, "failed"),
        ("double-gzip-bomb", TWICE, "failed"),
    ],
)
async def test_a_hostile_entry_fails_in_one_line_within_the_time_limit(
    impatient: FeedPoller, hostile_url, seeds: Path, misbehaviour: str, expected: str, status: str
) -> None:
    page = hostile_url(misbehaviour)
    before = articles(seeds)
    started = time.monotonic()
    poll = await impatient.follow(GUILD, hostile_url("entries", f"{misbehaviour}.rss"), KEYWORDS)
    assert time.monotonic() - started <= LIMIT + 1  # the feed comes at once; its entry's page does not
    [(item, message)] = poll.failed
    assert item.link == page and message.startswith(f"{page} {expected}") and "\n" not in message
    [entry] = await impatient.settings.feed_entries(GUILD)
    assert (entry.status, entry.message) == (status, message)  # a slow site is tried again later
    assert not poll.added and articles(seeds) == before


async def test_a_followed_feed_that_turns_hostile_is_recorded_as_not_read_within_the_time_limit(
    impatient: FeedPoller, hostile_url
) -> None:
    feed = hostile_url("drip-chunk-size", "feed.rss")
    await impatient.settings.follow_feed(GUILD, feed, KEYWORDS, title=None, added_by=None)
    started = time.monotonic()
    [poll] = await impatient.poll_now()
    assert time.monotonic() - started <= LIMIT + 1
    assert poll.error == f"{feed} {TOO_SLOW}"
    [followed] = await impatient.settings.feeds(GUILD)
    assert followed.poll_error == poll.error


def rename_table(store: SettingsStore, name: str, to: str) -> None:
    with store.database.transaction() as db:
        db.execute(f"ALTER TABLE {name} RENAME TO {to}")


async def test_an_entry_the_database_could_not_record_is_added_at_the_next_poll(
    poller: FeedPoller, news_site: NewsSite, seeds: Path
) -> None:
    news_site.served[RSS] = "feeds/football-early.rss"
    await poller.settings.follow_feed(GUILD, news_site.url(RSS), KEYWORDS, title=None, added_by=None)
    before = articles(seeds)
    await asyncio.to_thread(rename_table, poller.settings, "articles", "away")  # the registry fails
    try:
        [first] = await poller.poll_now()
    finally:
        await asyncio.to_thread(rename_table, poller.settings, "away", "articles")
    [(item, message)] = first.failed
    assert item.link.startswith(news_site.url(REGRAGUI)) and "articles" in message and "\n" not in message
    assert first.retrying == 1 and not first.added and articles(seeds) == before  # undone, not lost
    [entry] = await poller.settings.feed_entries(GUILD)
    assert (entry.status, entry.message) == ("retry", message)

    [second] = await poller.poll_now()
    assert [added.info.id for added in second.added] == [REGRAGUI_ID] and not second.failed
    assert REGRAGUI_ID in articles(seeds)


async def test_a_round_the_database_fails_is_one_line_per_feed_and_the_next_round_polls_them(
    poller: FeedPoller, news_site: NewsSite, seeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for path in (RSS, ATOM):
        await poller.settings.follow_feed(GUILD, news_site.url(path), KEYWORDS, title=None, added_by=None)
    later = time.time() + poller.interval
    poller.clock = lambda: later
    await asyncio.to_thread(rename_table, poller.settings, "feed_entries", "away")
    try:
        assert await poller.poll_due() == []
    finally:
        await asyncio.to_thread(rename_table, poller.settings, "away", "feed_entries")
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert [record.getMessage().split(": ")[0] for record in warnings] == [
        f"Feed {news_site.url(RSS)} could not be polled",
        f"Feed {news_site.url(ATOM)} could not be polled",
    ]
    assert all(record.exc_info is None and "\n" not in record.getMessage() for record in warnings)

    poller.clock = lambda: later + poller.interval
    polls = await poller.poll_due()
    assert sorted(len(poll.added) for poll in polls) == [1, 2] and len(articles(seeds)) == 4


async def claim(store: SettingsStore, feed: Feed, now: float) -> bool:
    return await store.claim_feed_entry(feed, "entry-1", link="https://news.example/1", title="One", now=now)


async def test_a_claim_left_by_a_stopped_process_is_taken_over_later(poller: FeedPoller) -> None:
    store = poller.settings
    feed = await store.follow_feed(GUILD, "https://news.example/feed", KEYWORDS, title=None, added_by=None)
    assert await claim(store, feed, now=1000.0)
    assert not await claim(store, feed, now=1000.0 + STALE_CLAIM / 2)  # still being added
    assert await claim(store, feed, now=1000.0 + STALE_CLAIM + 1)  # its poller must have stopped
    await store.settle_feed_entry(feed, "entry-1", status="added", article_id="one")
    assert not await claim(store, feed, now=10.0**10)


async def test_an_entry_of_a_feed_no_longer_followed_cannot_be_claimed(poller: FeedPoller) -> None:
    assert not await claim(poller.settings, Feed(GUILD, "https://news.example/feed", KEYWORDS), now=1.0)


async def test_no_more_than_a_few_entries_are_added_per_poll(
    poller: FeedPoller, news_site: NewsSite, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(news_site.pages, site)
    items = "".join(
        f"<item><title>Mbappe, part {n}</title><guid>part-{n}</guid>"
        f"<link>$BASE{MBAPPE}?part={n}</link></item>"
        for n in range(MAX_ADDS_PER_POLL + 2)
    )
    (site / "feeds/parts.rss").write_text(
        f'<rss version="2.0"><channel><title>Parts</title>{items}</channel></rss>'
    )
    news_site.pages = site
    first = await poller.follow(GUILD, news_site.url("/feeds/parts.rss"), ("Mbappe",))
    assert len(first.added) == 1  # every part is the same page: one article, the others known
    assert len(first.added) + len(first.duplicates) == MAX_ADDS_PER_POLL and first.waiting == 2
    [second] = await poller.poll_now()
    assert len(second.duplicates) == 2 and second.waiting == 0


async def test_an_entry_with_a_very_long_id_is_added_once(
    poller: FeedPoller, news_site: NewsSite, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(news_site.pages, site)
    # over 5,000 characters that do not compress: past what a database index entry may hold
    guid = "urn:matchday-news:" + base64.urlsafe_b64encode(random.Random(7).randbytes(4000)).decode()
    item = f"<item><title>Mbappe speaks</title><guid>{guid}</guid><link>$BASE{MBAPPE}</link></item>"
    (site / "feeds/long.rss").write_text(
        f'<rss version="2.0"><channel><title>Long</title>{item}</channel></rss>'
    )
    news_site.pages = site
    first = await poller.follow(GUILD, news_site.url("/feeds/long.rss"), ("Mbappe",))
    assert [added.info.id for added in first.added] == [MBAPPE_ID] and not first.failed
    [again] = await poller.poll_now()
    assert not again.added and not again.failed and not again.duplicates
    assert fetched_pages(news_site).count(MBAPPE) == 1


async def test_a_feed_link_too_long_to_keep_is_refused_in_one_line(
    poller: FeedPoller, news_site: NewsSite
) -> None:
    with pytest.raises(
        WebError, match="That feed link is over 1,000 characters: give the feed's own address"
    ):
        await poller.follow(GUILD, news_site.url(RSS) + "?page=" + "9" * 1000, KEYWORDS)
    assert news_site.requests == [] and await poller.settings.feeds(GUILD) == []


async def test_unfollowing_keeps_the_articles_unless_asked(
    poller: FeedPoller, news_site: NewsSite, seeds: Path
) -> None:
    await poller.follow(GUILD, news_site.url(RSS), KEYWORDS)
    await poller.follow(GUILD, news_site.url(ATOM), KEYWORDS)
    feed, removed = await poller.unfollow(GUILD, news_site.url(ATOM))
    assert feed.title == "Matchday News – World Cup 2022" and removed == []
    assert len(articles(seeds)) == 4
    feed, removed = await poller.unfollow(
        GUILD, news_site.url(RSS)[:40], remove_articles=True
    )  # cut, as typed
    assert sorted(removed) == sorted([REGRAGUI_ID, MBAPPE_ID])
    assert len(articles(seeds)) == 2
    assert {info.id for info in poller.registry.library.articles()} == set(articles(seeds))
    assert await poller.settings.feeds(GUILD) == [] and await poller.settings.feed_entries(GUILD) == []
    with pytest.raises(WebError, match="is followed here"):
        await poller.unfollow(GUILD, news_site.url(RSS))


async def test_an_article_removed_by_a_moderator_is_not_brought_back(
    poller: FeedPoller, news_site: NewsSite, seeds: Path
) -> None:
    await poller.follow(GUILD, news_site.url(RSS), KEYWORDS)
    await poller.registry.remove(MBAPPE_ID, by=7)
    news_site.served[RSS] = "feeds/football-early.rss"  # the feed changed: read in full
    [poll] = await poller.poll_now()
    assert not poll.added and f"{MBAPPE_ID}.txt" not in {path.name for path in seeds.iterdir()}


async def test_following_again_changes_the_keywords_and_a_server_follows_25_feeds_at_most(
    poller: FeedPoller, news_site: NewsSite
) -> None:
    await poller.follow(GUILD, news_site.url(RSS), ("Murray",))
    again = await poller.follow(GUILD, news_site.url(RSS), KEYWORDS)
    assert [feed.keywords for feed in await poller.settings.feeds(GUILD)] == [KEYWORDS]
    assert len(again.added) == 2
    for number in range(MAX_FEEDS - 1):
        await poller.settings.follow_feed(
            GUILD, f"https://news.example/{number}.rss", KEYWORDS, title=None, added_by=None
        )
    since = len(news_site.requests)
    with pytest.raises(WebError, match=f"A server can follow {MAX_FEEDS} feeds at most: remove one first"):
        await poller.follow(GUILD, news_site.url(ATOM), KEYWORDS)
    assert news_site.requests[since:] == []
    assert len(await poller.settings.feeds(GUILD)) == MAX_FEEDS
    assert not (await poller.follow(GUILD, news_site.url(RSS), ("Mbappe",))).added  # one followed already


# -- two bot processes over one PostgreSQL database ------------------------------------------------


class Process:
    """A bot process of its own: its seeds folder, index, store, registry and poller, on its own event
    loop in its own thread; the processes meet only in the PostgreSQL database (and the news site)."""

    def __init__(
        self, name: str, tmp_path: Path, seed_file: Path, url: str, fetcher: Fetcher, embedder
    ) -> None:
        self.seeds = tmp_path / name / "seeds"
        self.seeds.mkdir(parents=True)
        shutil.copy(seed_file, self.seeds)
        self.data, self.url, self.fetcher, self.embedder = tmp_path / name / "data", url, fetcher, embedder

    def run(self, guild_id: int, together: threading.Barrier) -> tuple[list[str], set[str], str]:
        """Poll ``guild_id``'s feeds when the other process does, then catch up with the registry.

        Returns the articles this process added, the articles its index holds, and the best article
        for a question about the Regragui press conference."""

        async def run() -> tuple[list[str], set[str], str]:
            store = await SettingsStore.open(PostgresDatabase(self.url), GuildSettings(k=3, threshold=None))
            try:
                registry = ArticleRegistry(Library(self.seeds, self.data, Pipeline(self.embedder)), store)
                await registry.open()
                poller = FeedPoller(store, registry, Fetcher(self.fetcher.policy), interval=1800)
                await asyncio.to_thread(together.wait)
                polls = await poller.poll_now(guild_id)
                await asyncio.to_thread(together.wait)  # both are done: what the other added is recorded
                await registry.catch_up()
                library = registry.library
                best = library.retriever.search("which defenders were injured before the semi-final", 1)
                added = [added.info.id for poll in polls for added in poll.added]
                return added, {info.id for info in library.articles()}, best.passages[0].article
            finally:
                await store.close()

        return asyncio.run(run())


async def race(processes: list[Process], guilds: list[int]) -> list[tuple[list[str], set[str], str]]:
    together = threading.Barrier(len(processes), timeout=60)
    runs = zip(processes, guilds, strict=True)
    return await asyncio.gather(*(asyncio.to_thread(process.run, guild, together) for process, guild in runs))


@pytest.fixture
def two_processes(
    tmp_path: Path, seed_file: Path, postgres_url: str, fetcher: Fetcher, fake_embedder
) -> list[Process]:
    return [Process(name, tmp_path, seed_file, postgres_url, fetcher, fake_embedder) for name in ("a", "b")]


async def follow_in(url: str, guild_id: int, feed_url: str) -> None:
    store = await SettingsStore.open(PostgresDatabase(url), GuildSettings(k=3, threshold=None))
    await store.follow_feed(guild_id, feed_url, KEYWORDS, title=None, added_by=None)
    await store.close()


async def test_two_processes_polling_one_feed_at_once_add_each_entry_once_and_both_answer_from_it(
    two_processes: list[Process], postgres_url: str, news_site: NewsSite
) -> None:
    await follow_in(postgres_url, GUILD, news_site.url(RSS))
    results = await race(two_processes, [GUILD, GUILD])
    added = sorted(article_id for mine, _, _ in results for article_id in mine)
    assert added == sorted([MBAPPE_ID, REGRAGUI_ID])  # each entry once, by one process or the other
    assert sorted(fetched_pages(news_site)) == sorted([REGRAGUI, MBAPPE])
    for _, indexed, best in results:  # and both processes answer from both articles
        assert {MBAPPE_ID, REGRAGUI_ID} <= indexed
        assert best == REGRAGUI_ID
    for process in two_processes:
        assert articles(process.seeds) == sorted(
            [MBAPPE_ID, REGRAGUI_ID, "world_cup_2022_semi-final_france_2-0_morocco"]
        )


async def test_one_page_brought_by_two_servers_feeds_in_two_processes_at_once_is_one_article(
    two_processes: list[Process], postgres_url: str, news_site: NewsSite
) -> None:
    await follow_in(postgres_url, GUILD, news_site.url(RSS))
    await follow_in(postgres_url, OTHER_GUILD, news_site.url(RSS))  # its entries are claimed apart
    results = await race(two_processes, [GUILD, OTHER_GUILD])
    added = sorted(article_id for mine, _, _ in results for article_id in mine)
    assert added == sorted([MBAPPE_ID, REGRAGUI_ID])  # not MBAPPE_ID-2, REGRAGUI_ID-2
    store = await SettingsStore.open(PostgresDatabase(postgres_url), GuildSettings(k=3, threshold=None))
    entries = await store.feed_entries(None)
    await store.close()
    assert sorted((entry.status, entry.article_id) for entry in entries) == [
        ("added", MBAPPE_ID),
        ("added", REGRAGUI_ID),
        ("duplicate", MBAPPE_ID),
        ("duplicate", REGRAGUI_ID),
    ]
    for _, indexed, _ in results:
        assert {MBAPPE_ID, REGRAGUI_ID} <= indexed and not any(name.endswith("-2") for name in indexed)
