"""The feed poller: a background task that polls the followed feeds when their interval has passed.

It wakes up every minute (or every interval, when shorter) and polls the feeds that are due and that
no other bot process is polling; ``bot.feeds.FeedPoller`` does the work, blocking parts in threads.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from discord.ext import commands, tasks

from index.errors import MatchbotError

if TYPE_CHECKING:
    from bot.client import MatchBot

log = logging.getLogger(__name__)

WAKE_EVERY = 60.0  # seconds, at most, between two looks at which feeds are due


class FeedPolling(commands.Cog):
    """Adds new matching feed entries as articles, in the background."""

    def __init__(self, bot: MatchBot) -> None:
        self.bot = bot
        self.poll.change_interval(seconds=min(WAKE_EVERY, bot.config.feed_interval))

    async def cog_load(self) -> None:
        self.poll.start()

    async def cog_unload(self) -> None:
        self.poll.cancel()

    @tasks.loop(seconds=WAKE_EVERY)
    async def poll(self) -> None:
        if self.bot.draining:
            return
        try:
            async with self.bot.answering():  # a shutdown waits for the round (it ends after one entry)
                polls = await self.bot.feeds.poll_due()
        except MatchbotError as exc:  # the database is down: one line, and the next round tries again
            log.warning("Could not poll the feeds: %s", exc)
            return
        except Exception:  # a failed round must not stop the next ones
            log.exception("Polling the feeds failed")
            return
        for done in polls:
            if done.added or done.error:
                log.info(
                    "Feed %s: %d added, %d already there, %d not added%s",
                    done.feed.url,
                    len(done.added),
                    len(done.duplicates),
                    len(done.failed),
                    f" ({done.error})" if done.error else "",
                )

    @poll.before_loop
    async def wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()


async def setup(bot: MatchBot) -> None:
    await bot.add_cog(FeedPolling(bot))
