"""Hostile questions through the real bot: whatever a member writes (hypothesis, from tests/hostile.py),
every message the bot sends respects Discord's limits, disables mentions in its payload
(``allowed_mentions`` ``{"parse": []}``) and shows no mention syntax that could ping.

The bot (model-free embedder, real second stage) and the stand-in run in an event loop of their own
thread, so that hypothesis can drive them from an ordinary test function. The index holds a hostile
article too.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import hostile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.client import MatchBot

from .standin import DiscordStandIn, RecordedCall, restore_discord_endpoints
from .test_bot import moderation, payload_problems, shown_text
from .wiring import SecondStages, bot_config, copy_seeds, open_bot

pytestmark = pytest.mark.timeout(240)

T = TypeVar("T")
PING = re.compile(r"@(everyone|here)|<@[!&]?\d|<#\d")
# The tasks discord.py runs an application command and a message listener in (their names).
HANDLERS = ("CommandTree-invoker", "discord.py: on_message")
HOSTILE_ARTICLE = (
    "title @everyone **READ THIS** <@&987654321098765432>\n\n"
    "Fans shouted @everyone and @here at <@123456789012345678> and <@&987654321098765432> in "
    "<#111111111111111111> after the semi-final. ```py\nprint('pinged')\n``` ||spoiler|| "
    "[click](https://evil.example) \u202eReversed\u202c and \u200bhidden\u200d text. "
    "The 2-0 result sent France to the final \\** and **bold** _under_ ~~struck~~ `code`."
)


class LiveBot:
    """The stand-in and a MatchBot running in an event loop on another thread."""

    def __init__(self, folder: Path, embedder: Any, second_stages: SecondStages) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-bot", daemon=True)
        self.thread.start()
        self.folder = folder
        self.embedder = embedder
        self.second_stages = second_stages
        self.standin = DiscordStandIn()
        self._running: Any = None

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    async def start(self) -> None:
        seeds = copy_seeds(self.folder)
        (seeds / "hostile.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
        await self.standin.start()
        config = bot_config(self.standin, self.folder, seeds, k=5)
        self.bot: MatchBot = await open_bot(config, self.embedder, self.second_stages)
        self._running = self.standin.running(self.bot, timeout=30)
        await self._running.__aenter__()
        settings = await self.standin.slash(
            "matchbot", moderation(None, "settings", cooldown=0), user=self.standin.moderator
        )
        await self.standin.wait_for_reply(settings)

    async def settled(self, timeout: float = 30) -> None:
        """Wait until no slash command or message listener is running in the bot: whatever it was going
        to send for the questions so far has been sent."""

        async def idle() -> None:
            while any(
                task.get_name().startswith(HANDLERS) for task in asyncio.all_tasks() if not task.done()
            ):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(idle(), timeout)

    async def stop(self) -> None:
        if self._running is not None:
            await self._running.__aexit__(None, None, None)
        await self.standin.stop()


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, make_embedder: Any, second_stages: SecondStages
) -> Iterator[LiveBot]:
    bot = LiveBot(tmp_path_factory.mktemp("hostile-bot"), make_embedder(), second_stages)
    bot.run(bot.start())
    try:
        yield bot
    finally:
        bot.run(bot.stop())
        bot.loop.call_soon_threadsafe(bot.loop.stop)
        bot.thread.join(10)
        restore_discord_endpoints()


def assert_harmless(calls: list[RecordedCall]) -> None:
    assert payload_problems(calls) == []
    for call in calls:
        if call.message_data.get("content") or call.message_data.get("embeds"):
            assert not PING.search(shown_text(call)), shown_text(call)[:500]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(question=hostile.hostile_text(), private=st.booleans())
def test_any_slash_question_gets_one_harmless_reply(live: LiveBot, question: str, private: bool) -> None:
    hostile.tried()
    standin = live.standin
    since = len(standin.calls)
    options = [{"name": "question", "value": question}, {"name": "private", "value": private}]
    interaction = live.run(standin.slash("ask", options))
    live.run(standin.wait_for_reply(interaction, timeout=30))
    live.run(live.settled())
    assert len(standin.replies(interaction)) == 1, [str(call) for call in standin.calls_for(interaction)]
    assert_harmless(standin.calls[since:])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(question=hostile.hostile_text(long_lines=0))
def test_any_mention_question_gets_one_harmless_reply(live: LiveBot, question: str) -> None:
    hostile.tried()
    standin = live.standin
    since = len(standin.calls)
    message = live.run(standin.send_message(f"<@{standin.bot_user['id']}> {question}"))

    def is_reply(call: RecordedCall) -> bool:
        return str(((call.json or {}).get("message_reference") or {}).get("message_id")) == message["id"]

    reply = live.run(standin.wait_for_call(is_reply, timeout=30, since=since))
    live.run(live.settled())
    assert [call for call in standin.calls[since:] if is_reply(call)] == [reply]
    assert reply.json["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert_harmless(standin.calls[since:])
