"""Following feeds: a poll reads a feed and adds the entries that match its keywords, each once.

Discord-free: the bot's background task (``bot/cogs/feeds.py``), ``/matchbot feeds`` and
``matchbot feeds`` all go through ``FeedPoller``. Its state lives in the settings store, so "once"
holds across restarts and across bot processes: an entry is claimed in the database before it is
fetched, and a feed is leased before it is polled. Entries are added through the article registry
(``bot.registry``), so an article a feed adds in one process reaches the others, and a page two
processes add at once is one article. Fetching, reading and indexing run in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.i18n import _, number
from bot.registry import ArticleIdTaken, ArticleRegistry
from bot.settings import ENTRY_ATTEMPTS, Feed, SettingsError, SettingsStore
from index.articles import link_key
from index.errors import DuplicateArticleError, IndexBusy, MatchbotError, ShuttingDown, WebError
from index.feeds import FeedItem, FeedReading, matches, read_feed
from index.web import FEED, Fetcher, Page, PageAdded, check_link

log = logging.getLogger(__name__)

MAX_FEEDS = 25  # per server
MAX_FEED_LINK = 1000  # characters: the link is part of a database key, whose size is limited
MAX_ADDS_PER_POLL = 10  # per feed: more matching entries wait for the next poll
SETTLED = {"added", "duplicate", "failed"}
UNEXPECTED = "an unexpected error (it is logged); it will be tried again"

# (entries done, entries to do, the title of the one being added)
PollProgress = Callable[[int, int, str], None]


@dataclass(slots=True)
class FeedPoll:
    """What one poll of one feed did."""

    feed: Feed
    matching: int = 0  # entries that match the keywords, new or not
    added: list[PageAdded] = field(default_factory=list)
    duplicates: list[tuple[FeedItem, str]] = field(default_factory=list)  # and the article already there
    failed: list[tuple[FeedItem, str]] = field(default_factory=list)  # and why
    waiting: int = 0  # new matching entries left for the next poll
    retrying: int = 0  # entries that failed for a passing reason: tried again at the next poll
    error: str | None = None  # the feed itself could not be read
    not_modified: bool = False


class FeedPoller:
    """Polls the feeds in ``settings`` and adds what they bring through ``registry``."""

    def __init__(
        self,
        settings: SettingsStore,
        registry: ArticleRegistry,
        fetcher: Fetcher,
        *,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.fetcher = fetcher
        self.interval = interval
        self.clock = clock
        self.stopping = False  # shutting down: no new feed or entry is started

    def stop(self) -> None:
        """Stop polling after the entry being added; the entries not started wait for the next poll."""
        self.stopping = True

    async def follow(
        self,
        guild_id: int,
        url: str,
        keywords: tuple[str, ...],
        *,
        added_by: int | None = None,
        progress: PollProgress | None = None,
    ) -> FeedPoll:
        """Follow a feed (or change its keywords) and poll it now.

        The feed is read first: a link that is not a readable feed is refused and nothing is saved.
        """
        link = str(check_link(url))
        if len(link) > MAX_FEED_LINK:
            raise WebError(
                _("That feed link is over {limit} characters: give the feed's own address.").format(
                    limit=number(MAX_FEED_LINK)
                )
            )
        followed = await self.settings.feeds(guild_id)
        if len(followed) >= MAX_FEEDS and all(feed.url != link for feed in followed):
            raise WebError(
                _("A server can follow {limit} feeds at most: remove one first.").format(limit=MAX_FEEDS)
            )
        page = await asyncio.to_thread(self.fetcher.fetch, link, accept=FEED)
        reading = await asyncio.to_thread(read_feed, page)
        feed = await self.settings.follow_feed(
            guild_id, link, keywords, title=reading.title, added_by=added_by
        )
        return await self._take_entries(feed, reading, page, progress)

    async def unfollow(
        self, guild_id: int, typed: str, *, remove_articles: bool = False, by: int | None = None
    ) -> tuple[Feed, list[str]]:
        """Stop following the feed ``typed`` names (its link, or the start of it); with
        ``remove_articles``, also remove the articles it added that are still in the library.

        Returns the feed and the ids of the articles removed.
        """
        feed = pick_feed(await self.settings.feeds(guild_id), typed)
        removed: list[str] = []
        if remove_articles:
            entries = await self.settings.feed_entries(guild_id, feed.url, limit=100_000)
            if self.registry.follows:
                await self.registry.catch_up()  # what the feed added through other processes too
            library = self.registry.library
            indexed = {info.id for info in await asyncio.to_thread(library.articles)}
            for article_id in dict.fromkeys(e.article_id for e in entries if e.status == "added"):
                if article_id in indexed:
                    await self.registry.remove(article_id, by=by)
                    removed.append(article_id)
        await self.settings.unfollow_feed(guild_id, feed.url)
        return feed, removed

    async def poll_due(self) -> list[FeedPoll]:
        """Poll every feed whose interval has passed and that no other process is polling.

        A feed the database fails for is logged in one line and left for the next round; the others
        are polled.
        """
        now = self.clock()
        polls = []
        for feed in await self.settings.feeds():
            if self.stopping:
                break
            try:
                if await self.settings.lease_feed(feed, now=now, due_before=now - self.interval):
                    polls.append(await self.poll(feed))
            except SettingsError as exc:
                log.warning("Feed %s could not be polled: %s", feed.url, exc)
        return polls

    async def poll_now(self, guild_id: int | None = None) -> list[FeedPoll]:
        """Poll a server's feeds (every server's, with None) now, whenever they were last polled."""
        polls = []
        for feed in await self.settings.feeds(guild_id):
            now = self.clock()
            await self.settings.lease_feed(feed, now=now, due_before=now)
            polls.append(await self.poll(feed))
        return polls

    async def poll(self, feed: Feed, *, progress: PollProgress | None = None) -> FeedPoll:
        """Read a feed (conditionally: an unchanged feed costs one small request) and add its new
        matching entries. A feed that cannot be read is recorded with its error; nothing else changes."""
        try:
            page = await asyncio.to_thread(
                self.fetcher.fetch,
                feed.url,
                accept=FEED,
                etag=feed.etag,
                last_modified=feed.last_modified,
            )
            if page.not_modified:
                await self.settings.feed_polled(
                    feed, error=None, etag=feed.etag, last_modified=feed.last_modified
                )
                return FeedPoll(feed, not_modified=True)
            reading = await asyncio.to_thread(read_feed, page)
        except WebError as exc:
            log.info("Feed %s: %s", feed.url, exc)
            await self.settings.feed_polled(feed, error=str(exc))
            return FeedPoll(feed, error=str(exc))
        return await self._take_entries(feed, reading, page, progress)

    async def _take_entries(
        self, feed: Feed, reading: FeedReading, page: Page, progress: PollProgress | None
    ) -> FeedPoll:
        poll = FeedPoll(feed)
        matching = [item for item in reading.items if matches(item, feed.keywords)]
        poll.matching = len(matching)
        known = await self.settings.feed_entries(feed.guild_id, feed.url, limit=100_000)
        settled = {
            entry.key
            for entry in known
            if entry.status in SETTLED or (entry.status == "retry" and entry.attempts >= ENTRY_ATTEMPTS)
        }
        new = [item for item in matching if item.key not in settled]
        todo, poll.waiting = new[:MAX_ADDS_PER_POLL], max(len(new) - MAX_ADDS_PER_POLL, 0)
        for done, item in enumerate(todo):
            if self.stopping:  # left for the next poll, which this feed's validators must not skip
                poll.waiting += len(todo) - done
                break
            claimed = await self.settings.claim_feed_entry(
                feed, item.key, link=item.link, title=item.title, now=self.clock()
            )
            if not claimed:  # another poller has it, or it failed too often
                continue
            if progress is not None:
                progress(done, len(todo), item.title)
            await self._take_entry(feed, item, poll)
        keep = not poll.waiting and not poll.retrying  # else the next request must not be conditional
        await self.settings.feed_polled(
            feed,
            error=None,
            title=reading.title,
            etag=page.etag if keep else None,
            last_modified=page.last_modified if keep else None,
        )
        return poll

    async def _take_entry(self, feed: Feed, item: FeedItem, poll: FeedPoll) -> None:
        """Fetch and add one claimed entry, and record what became of it."""
        settle = self.settings.settle_feed_entry
        try:
            added = await self.registry.add_page(self.fetcher, item.link)
        except DuplicateArticleError as exc:
            poll.duplicates.append((item, exc.article_id))
            await settle(feed, item.key, status="duplicate", article_id=exc.article_id)
        except MatchbotError as exc:
            transient = passing(exc)
            poll.failed.append((item, str(exc)))
            poll.retrying += transient
            await settle(feed, item.key, status="retry" if transient else "failed", message=str(exc))
        except Exception:
            log.exception("Adding %s from the feed %s failed", item.link, feed.url)
            poll.failed.append((item, UNEXPECTED))
            poll.retrying += 1
            await settle(feed, item.key, status="retry", message=UNEXPECTED)
        else:
            poll.added.append(added)
            await settle(feed, item.key, status="added", article_id=added.info.id)


def passing(error: MatchbotError) -> bool:
    """Whether trying again later may work: a slow or failing site, the database, an article id
    another process took a moment before or is changing the articles, or matchbot stopping while it
    added the entry."""
    if isinstance(error, WebError):
        return error.transient
    return isinstance(error, SettingsError | ArticleIdTaken | ShuttingDown | IndexBusy)


def pick_feed(feeds: list[Feed], typed: str) -> Feed:
    """The feed ``typed`` names: its link as followed or written otherwise, or the start of it."""
    typed = typed.strip()
    for match in (
        lambda f: f.url == typed,
        lambda f: link_key(f.url) == link_key(typed),
        lambda f: f.url.startswith(typed),  # autocomplete values are cut at 100 characters
    ):
        found = [feed for feed in feeds if match(feed)]
        if len(found) == 1:
            return found[0]
    raise WebError(_("No feed {feed} is followed here: see the list of feeds.").format(feed=repr(typed)))
