"""Two ``matchbot run`` processes, each running one shard of two, against one Discord stand-in and one
PostgreSQL database: both answer in the servers of their shard, and what a moderator changes through
one (an article pasted or added by its link, a feed followed, a setting) reaches the other. Each
serves /healthz for its own shards, stops cleanly on SIGTERM (its registry follower and feed poller
with it), and never writes the database password in its log, even at DEBUG.

The processes are real (``python -m bot run``, configured by environment variables) and load the real
model. To keep their start short they are handed a copy of an index already built from the seeds.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from news_site import NewsSite

from index.library import Library

from .shards import ShardedStandIn
from .standin import RecordedCall
from .test_bot import bold_sentences, moderation, payload_problems, shown_text
from .test_web import PROGRESS

pytestmark = [pytest.mark.model, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180  # seconds for a process to load the model and connect, on a busy machine
CHANGE_TIMEOUT = 60  # seconds for a change to reach the other process (it looks every 3 s)
FANS = "Thousands of Moroccan fans sang in the Doha metro for hours after the final whistle."
CASABLANCA = "/2022/12/15/morocco-fans-casablanca.html"
CASABLANCA_TITLE = "Morocco's fans turn Casablanca red after semi-final defeat"
RSS = "/feeds/football.rss"
PASSWORD = "Pg-s3cret-Pw"  # in DATABASE_URL; the test server trusts its local role, so any password does
REGRAGUI_TITLE = "Regragui: Morocco ran out of legs, but we will be back"


class BotProcess:
    """``matchbot run`` in a child process, with its own seeds and data folders."""

    def __init__(self, name: str, folder: Path, environment: dict[str, str]) -> None:
        self.name = name
        self.folder = folder
        self.environment = environment
        self.log = folder / f"{name}.log"
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, shard_ids: str) -> None:
        environment = self.environment | {
            "SHARD_IDS": shard_ids,
            "MATCHBOT_DATA": str(self.folder / "data"),
            "MATCHBOT_SEEDS": str(self.folder / "seeds"),
            "MATCHBOT_METRICS_PORT": str(self.port),
        }
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=self.folder, env=environment, stdout=log, stderr=log
            )

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.returncode is not None

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 30 s (as systemd does); the exit status."""
        if self.process is None or self.exited:
            return None if self.process is None else self.process.returncode
        self.process.terminate()
        try:
            return await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()

    async def health(self) -> tuple[int, dict]:
        """/healthz: its status and JSON body."""

        def get() -> tuple[int, dict]:
            url = f"http://127.0.0.1:{self.port}/healthz"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        return await asyncio.to_thread(get)

    async def healthy(self, timeout: float = 30) -> tuple[int, dict]:
        """/healthz once it says ready (the last answer when it never does within ``timeout``)."""
        for _ in range(int(timeout * 5)):
            status, body = await self.health()
            if status == 200:
                break
            await asyncio.sleep(0.2)
        return status, body

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ---\n{text[-3000:]}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest_asyncio.fixture
async def processes(
    sharded: ShardedStandIn, postgres_url: str, seed_library: Library, tmp_path: Path
) -> AsyncIterator[list[BotProcess]]:
    """Two processes (not started), each with a copy of the seeds and of the seeds' index."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DISCORD_", "MATCHBOT_", "SHARD_", "DATABASE_"))
    }
    environment |= {
        "DISCORD_TOKEN": sharded.bot_token,
        "DISCORD_API_BASE": sharded.api_base,
        "DISCORD_GATEWAY_URL": sharded.gateway_url,
        "DATABASE_URL": postgres_url.replace("://matchbot@", f"://matchbot:{PASSWORD}@"),
        "SHARD_COUNT": "2",
        "MATCHBOT_FETCH_ALLOW_PRIVATE": "127.0.0.1",  # the news site of the tests
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",  # two processes on a shared machine: no thread oversubscription
        "TOKENIZERS_PARALLELISM": "false",
    }
    started = []
    for name, level in (("first", "DEBUG"), ("second", "INFO")):
        folder = tmp_path / name
        shutil.copytree(REPO / "seeds", folder / "seeds")
        shutil.copytree(seed_library.index_dir, folder / "data" / "index")
        started.append(BotProcess(name, folder, environment | {"MATCHBOT_LOG_LEVEL": level}))
    try:
        yield started
    finally:
        for process in started:
            await process.stop()


async def until_connected(sharded: ShardedStandIn, shards: Iterable[int], running: list[BotProcess]) -> None:
    """Wait until each shard has a connection, failing at once if a process dies meanwhile."""
    wanted = list(shards)

    async def connected() -> None:
        while not all(sharded._connection_for(sharded.guild_by_shard[s]) for s in wanted):
            dead = [p for p in running if p.exited]
            if dead:
                pytest.fail("a bot process stopped:\n" + "\n".join(p.tail() for p in dead))
            await asyncio.sleep(0.2)

    try:
        await asyncio.wait_for(connected(), START_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"shards {wanted} did not connect:\n" + "\n".join(p.tail() for p in running))


async def command(
    sharded: ShardedStandIn, shard: int, name: str, options: list[dict], **how: Any
) -> RecordedCall:
    """Run a slash command in the server of ``shard`` and return the reply members see."""
    interaction = await sharded.slash(name, options, channel_id=sharded.channel_by_shard[shard], **how)
    return await sharded.wait_for_reply(interaction, timeout=60)


async def ask(sharded: ShardedStandIn, shard: int, question: str) -> RecordedCall:
    return await command(sharded, shard, "ask", [{"name": "question", "value": question}])


async def moderate(sharded: ShardedStandIn, shard: int, *path: str, **options: Any) -> str:
    group, leaf = (None, *path) if len(path) == 1 else path
    reply = await command(
        sharded, shard, "matchbot", moderation(group, leaf, **options), user=sharded.moderator
    )
    return shown_text(reply)


async def moderate_slowly(sharded: ShardedStandIn, shard: int, group: str, leaf: str, **options: Any) -> str:
    """``moderate`` for a command that may show its progress first: the text of its final reply."""
    interaction = await sharded.slash(
        "matchbot",
        moderation(group, leaf, **options),
        channel_id=sharded.channel_by_shard[shard],
        user=sharded.moderator,
    )

    def final(call: RecordedCall) -> bool:
        shown = bool(call.content) and not call.content.startswith(PROGRESS)
        return shown and call.status < 300 and call in sharded.calls_for(interaction)

    return (await sharded.wait_for_call(final, timeout=120)).content or ""


async def until_listed(sharded: ShardedStandIn, shard: int, title: str, *, listed: bool) -> None:
    """Look at ``/matchbot articles list`` in the server of ``shard`` until ``title`` is (not) in it."""

    async def look() -> None:
        while (title in await moderate(sharded, shard, "articles", "list")) != listed:
            await asyncio.sleep(0.5)

    await asyncio.wait_for(look(), CHANGE_TIMEOUT)


async def test_two_processes_split_the_shards_and_share_articles_and_settings(
    sharded: ShardedStandIn, processes: list[BotProcess], news_site: NewsSite
) -> None:
    first, second = processes
    await asyncio.gather(first.start("0"), second.start("1"))
    await until_connected(sharded, [0, 1], processes)
    assert sharded.connected_shards() == [(0, 2), (1, 2)]
    assert sharded.syncs == 1  # only the process that runs shard 0 syncs the slash commands
    for shard, process in enumerate(processes):  # each says how its own shard is
        status, health = await process.healthy()
        assert status == 200 and health["status"] == "ready" and health["shard_count"] == 2, health
        assert [(s["shard"], s["connected"]) for s in health["shards"]] == [(shard, True)]

    for shard in (0, 1):  # each process answers in the server of its shard
        await moderate(sharded, shard, "settings", cooldown=0)
        reply = await ask(sharded, shard, "what was the final score")
        assert any("2-0 loss" in sentence for sentence in bold_sentences(reply)), shown_text(reply)

    added = await moderate(sharded, 0, "articles", "add", title="Fans in Doha", text=FANS, date="2022-12-15")
    assert added.startswith("Added **Fans in Doha**")
    await until_listed(sharded, 1, "Fans in Doha", listed=True)
    reply = await ask(sharded, 1, "where did the Moroccan fans sing after the match")
    assert "Fans in Doha" in shown_text(reply)

    removed = await moderate(sharded, 1, "articles", "remove", article="fans_in_doha")
    assert removed.startswith("Removed. Index: 0 added, 0 changed, 1 removed")
    await until_listed(sharded, 0, "Fans in Doha", listed=False)
    assert "Fans in Doha" not in shown_text(await ask(sharded, 0, "where did the Moroccan fans sing"))

    # A page added by its link through one process, and a feed followed through the other, reach both;
    # the page is not added twice, whichever process is asked.
    linked = await moderate_slowly(sharded, 0, "articles", "add", url=news_site.url(CASABLANCA))
    assert linked.startswith(f"Added **{CASABLANCA_TITLE}**"), linked
    await until_listed(sharded, 1, CASABLANCA_TITLE, listed=True)
    again = await moderate_slowly(sharded, 1, "articles", "add", url=news_site.url(CASABLANCA))
    assert again.startswith(f"That page was added before, as {CASABLANCA_TITLE!r}"), again
    followed = await moderate_slowly(sharded, 1, "feeds", "add", url=news_site.url(RSS), keywords="Regragui")
    assert f"1 added now:\n• **{REGRAGUI_TITLE}**" in followed, followed
    await until_listed(sharded, 0, REGRAGUI_TITLE, listed=True)
    assert REGRAGUI_TITLE in shown_text(await ask(sharded, 0, "who was ruled out during the warm-up"))

    # The first process's server changes a setting; then the second takes over both shards.
    shown = await moderate(sharded, 0, "settings", passages=2)
    assert "Passages per answer\n2" in shown
    assert await asyncio.gather(first.stop(), second.stop()) == [0, 0]  # SIGTERM: a clean stop
    for process in processes:
        log = process.log.read_text(errors="replace")
        assert "Stopped." in log, process.tail()
        assert PASSWORD not in log and "matchbot:***@" in log
    assert "DEBUG" in first.log.read_text()
    await asyncio.wait_for(until_gone(sharded), 30)
    await second.start("0,1")
    await until_connected(sharded, [0, 1], [second])
    assert "Passages per answer\n2" in await moderate(sharded, 0, "settings")
    assert len(bold_sentences(await ask(sharded, 0, "how did the semi end"))) == 2
    assert len(bold_sentences(await ask(sharded, 1, "how did the semi end"))) == 3

    assert payload_problems(sharded.calls) == []


async def until_gone(sharded: ShardedStandIn) -> None:
    while sharded.connected_shards():
        await asyncio.sleep(0.1)
