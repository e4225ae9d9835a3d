"""Gateway and REST faults: the bot resumes or reconnects, still answers, and never answers twice; with
shards, a fault on one shard's connection leaves the other's alone.

The real MatchBot (the model-free embedder for the first stage, the real second stage) runs against the
stand-in, which drops the websocket, sends op 7 and op 9, and answers REST calls with 429 (per route and
global, with Discord's headers) and 5xx. After each fault a member asks, and must get exactly one
acknowledgement and one answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from bot.client import MatchBot, ShardedMatchBot

from .shards import ShardedStandIn
from .standin import DiscordStandIn, Interaction, RecordedCall, restore_discord_endpoints
from .test_bot import moderation, payload_problems, shown_text
from .wiring import SecondStages, bot_config, copy_seeds, open_bot

pytestmark = pytest.mark.timeout(90)

CALLBACK = r"^/interactions/\d+/[^/]+/callback$"
ORIGINAL = r"^/webhooks/\d+/[^/]+/messages/@original$"
CHANNEL_MESSAGES = r"^/channels/\d+/messages$"


@pytest_asyncio.fixture
async def bot(
    standin: DiscordStandIn, tmp_path: Path, fake_embedder, second_stages: SecondStages
) -> AsyncIterator[MatchBot]:
    matchbot = await open_bot(
        bot_config(standin, tmp_path, copy_seeds(tmp_path)), fake_embedder, second_stages
    )
    async with standin.running(matchbot, timeout=30):
        settings = await standin.slash(
            "matchbot", moderation(None, "settings", cooldown=0), user=standin.moderator
        )
        await standin.wait_for_reply(settings)
        yield matchbot
    assert payload_problems([c for c in standin.calls if c.status not in (429, 500, 502, 503)]) == []


def accepted(
    standin: DiscordStandIn, interaction: Interaction
) -> tuple[list[RecordedCall], list[RecordedCall]]:
    """The acknowledgements and the answer edits of ``interaction`` that Discord accepted."""
    calls = [c for c in standin.calls_for(interaction) if c.status < 300]
    acks = [c for c in calls if c.path.endswith("/callback")]
    edits = [c for c in calls if c.method == "PATCH" and c.message_data.get("embeds")]
    return acks, edits


async def ask(standin: DiscordStandIn, question: str = "how did the semi end") -> Interaction:
    return await standin.slash("ask", [{"name": "question", "value": question}])


async def answered_once(standin: DiscordStandIn, interaction: Interaction) -> str:
    """Wait for the answer, give duplicates a moment to show up, and return the answer's text."""
    reply = await standin.wait_for_call(
        lambda c: interaction.token in c.path and c.status < 300 and bool(c.message_data.get("embeds")),
        timeout=45,
    )
    await asyncio.sleep(0.3)
    acks, edits = accepted(standin, interaction)
    assert (len(acks), len(edits)) == (1, 1), [str(c) for c in standin.calls_for(interaction)]
    refused = [c for c in standin.calls_for(interaction) if c.status == 400]
    assert refused == []  # e.g. 40060 "already acknowledged"
    return shown_text(reply)


GATEWAY_FAULTS: dict[str, Callable[[DiscordStandIn], Awaitable[None]]] = {
    "the socket drops": lambda s: s.drop_connection(),
    "op 7 reconnect": lambda s: s.request_reconnect(),
    "op 9 invalid session, resumable": lambda s: s.invalidate_session(resumable=True),
}


@pytest.mark.parametrize("fault", GATEWAY_FAULTS)
async def test_a_question_asked_while_the_gateway_is_away_is_replayed_and_answered_once(
    standin: DiscordStandIn, bot: MatchBot, fault: str
) -> None:
    await answered_once(standin, await ask(standin))
    resumes = standin.resumes

    await GATEWAY_FAULTS[fault](standin)
    missed = await ask(standin)  # sent while the bot is reconnecting: Discord replays it on RESUME

    assert "2-0" in await answered_once(standin, missed)
    assert standin.resumes == resumes + 1 and standin.replayed >= 1
    assert "2-0" in await answered_once(standin, await ask(standin, "was hakimi upset"))


async def test_after_an_invalid_session_that_cannot_resume_the_bot_identifies_again_and_answers(
    standin: DiscordStandIn, bot: MatchBot
) -> None:
    identifies = standin.identifies
    await standin.invalidate_session(resumable=False)
    for _ in range(200):
        if standin.identifies > identifies and bot.is_ready():
            break
        await asyncio.sleep(0.05)
    await standin.wait_ready()
    assert standin.identifies == identifies + 1
    assert "2-0" in await answered_once(standin, await ask(standin))


REST_FAULTS = {
    "429 on the acknowledgement": dict(path=CALLBACK, status=429),
    "global 429 on the acknowledgement": dict(path=CALLBACK, status=429, is_global=True),
    "429 on the answer": dict(path=ORIGINAL, status=429, method="PATCH"),
    "global 429 on the answer": dict(path=ORIGINAL, status=429, method="PATCH", is_global=True),
    "503 on the acknowledgement": dict(path=CALLBACK, status=503),
    "500 on the answer, twice": dict(path=ORIGINAL, status=500, method="PATCH", times=2),
    "502 on the answer": dict(path=ORIGINAL, status=502, method="PATCH"),
}


@pytest.mark.parametrize("fault", REST_FAULTS)
async def test_rate_limits_and_server_errors_are_retried_and_the_answer_arrives_once(
    standin: DiscordStandIn, bot: MatchBot, fault: str
) -> None:
    standin.fail_rest(**REST_FAULTS[fault])  # type: ignore[arg-type]

    interaction = await ask(standin)

    assert "2-0" in await answered_once(standin, interaction)
    assert standin.faults_served == REST_FAULTS[fault].get("times", 1)


@pytest.mark.parametrize("is_global", [False, True])
async def test_a_rate_limited_mention_reply_is_posted_once(
    standin: DiscordStandIn, bot: MatchBot, is_global: bool
) -> None:
    standin.fail_rest(CHANNEL_MESSAGES, status=429, method="POST", is_global=is_global, retry_after=0.4)
    since = len(standin.calls)

    question = await standin.send_message(f"<@{standin.bot_user['id']}> how did the semi end")

    await standin.wait_for_call(
        lambda c: c.method == "POST" and c.status < 300 and "/messages" in c.path, since=since
    )
    await asyncio.sleep(0.5)
    replies = [
        c
        for c in standin.calls[since:]
        if c.status < 300
        and str((c.json or {}).get("message_reference", {}).get("message_id")) == question["id"]
    ]
    assert len(replies) == 1 and "2-0" in shown_text(replies[0])
    assert standin.faults_served == 1


# -- a sharded bot: a fault on one shard's connection leaves the other's alone ------------------------


@pytest_asyncio.fixture
async def sharded_bot(
    tmp_path: Path, fake_embedder, second_stages: SecondStages
) -> AsyncIterator[tuple[ShardedStandIn, MatchBot]]:
    standin = ShardedStandIn(shard_count=2)
    await standin.start()
    config = bot_config(standin, tmp_path, copy_seeds(tmp_path), shard_count=2)
    try:
        matchbot = await open_bot(config, fake_embedder, second_stages)
        assert isinstance(matchbot, ShardedMatchBot)
        async with standin.running(matchbot, timeout=30):
            await standin.wait_for_shards([0, 1])
            for shard in (0, 1):
                settings = await standin.slash(
                    "matchbot",
                    moderation(None, "settings", cooldown=0),
                    user=standin.moderator,
                    channel_id=standin.channel_by_shard[shard],
                )
                await standin.wait_for_reply(settings)
            yield standin, matchbot
    finally:
        await standin.stop()
        restore_discord_endpoints()
    assert payload_problems([c for c in standin.calls if c.status not in (429, 500, 502, 503)]) == []


async def until_healthy(bot: MatchBot) -> dict:
    for _ in range(200):
        ready, facts = bot.health()
        if ready:
            return facts
        await asyncio.sleep(0.05)
    raise AssertionError(f"not healthy: {bot.health()}")


@pytest.mark.parametrize("shard", [0, 1])
async def test_a_dropped_shard_resumes_and_answers_once_while_the_other_shard_is_untouched(
    sharded_bot: tuple[ShardedStandIn, MatchBot], shard: int
) -> None:
    standin, bot = sharded_bot
    facts = await until_healthy(bot)
    assert facts["status"] == "ready" and facts["shard_count"] == 2
    assert [(s["shard"], s["connected"]) for s in facts["shards"]] == [(0, True), (1, True)]
    other = 1 - shard
    untouched = standin._connection_for(standin.guild_by_shard[other])
    resumes = standin.resumes

    await standin.drop_connection(guild_id=standin.guild_by_shard[shard])
    missed = await standin.slash(
        "ask",
        [{"name": "question", "value": "how did the semi end"}],
        channel_id=standin.channel_by_shard[shard],
    )

    assert "2-0" in await answered_once(standin, missed)
    assert standin.resumes == resumes + 1 and standin.replayed >= 1
    assert standin._connection_for(standin.guild_by_shard[other]) is untouched  # never reconnected
    still = await standin.slash(
        "ask", [{"name": "question", "value": "was hakimi upset"}], channel_id=standin.channel_by_shard[other]
    )
    assert "Hakimi" in await answered_once(standin, still)
    facts = await until_healthy(bot)
    assert all(s["connected"] for s in facts["shards"])
