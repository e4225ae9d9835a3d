"""The bot as a process, as systemd runs it: /healthz, a graceful stop on SIGTERM and SIGINT, and the
token never in its log (even at DEBUG), its error lines, or anything it sends.

The process is ``tests/e2e/run_bot.py``: ``matchbot run`` itself (its models included), whose answers a
test can slow down.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from index.embedding import bundled_model_path
from index.onnx_embedder import export_folder

from .standin import FLAG_EPHEMERAL, DiscordStandIn, Interaction, running
from .test_bot import mention_reply, moderation, payload_problems, shown_text

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
RUN_BOT = Path(__file__).with_name("run_bot.py")
TOKEN = "MTI5MDAwMDAwMDAwMDAwMDAwMQ.Gse_cret." + secrets.token_urlsafe(27)  # shaped like a real one; "_" is
# escaped when the bot quotes it back, and the log must hide that form too
DEFERRED, MESSAGE = 5, 4
LONG_QUESTION = f"what is {TOKEN}? " + "and why does it matter " * 45  # over the 1,000 characters allowed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class BotProcess:
    """``run_bot.py`` against a stand-in, its output in a log file."""

    def __init__(self, standin: DiscordStandIn, folder: Path, *, token: str, **env: str) -> None:
        self.standin = standin
        self.folder = folder
        self.log = folder / "bot.log"
        self.port = free_port()
        seeds = folder / "seeds"
        if not seeds.exists():
            shutil.copytree(REPO / "seeds", seeds)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MATCHBOT_", "DISCORD_"))},
            "DISCORD_TOKEN": token,
            "MATCHBOT_DATA": str(folder / "data"),
            "MATCHBOT_SEEDS": str(seeds),
            "DISCORD_API_BASE": standin.api_base,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
            "DEV_GUILD_ID": str(standin.guild_id),
            "MATCHBOT_METRICS_PORT": str(self.port),
            **env,
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, str(RUN_BOT), cwd=self.folder, env=self.env, stdout=out, stderr=out
            )

    async def ready(self) -> dict:
        """Wait until /healthz says ready (and the commands are synced); its JSON body."""
        for _ in range(600):
            assert self.process is not None and self.process.returncode is None, self.output()
            status, body = await asyncio.to_thread(self.health)
            if status == 200 and self.standin.synced.get(self.standin.guild_id):
                return json.loads(body)
            await asyncio.sleep(0.1)
        raise TimeoutError(f"the bot was not ready in 60 s: {self.output()[-2000:]}")

    def health(self) -> tuple[int, str]:
        try:
            return get(f"http://127.0.0.1:{self.port}/healthz")
        except OSError:
            return 0, ""

    async def exit_code(self, timeout: float = 40) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@pytest_asyncio.fixture
async def own_standin() -> AsyncIterator[DiscordStandIn]:
    """A stand-in whose bot token is TOKEN."""
    async with running(DiscordStandIn(bot_token=TOKEN)) as server:
        yield server


async def ask(standin: DiscordStandIn, question: str, user: dict | None = None) -> Interaction:
    return await standin.slash("ask", [{"name": "question", "value": question}], user=user)


@pytest.fixture(scope="module")
def reference_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled MiniLM under another folder name, which has no ONNX export: ``load_embedder`` gives
    the sentence-transformers model for it."""
    folder = tmp_path_factory.mktemp("models") / "minilm-reference"
    folder.mkdir()
    for item in bundled_model_path().iterdir():
        (folder / item.name).symlink_to(item)
    return folder


@pytest.mark.parametrize(
    ("signum", "encoder"),
    [(signal.SIGTERM, "export"), (signal.SIGINT, "export"), (signal.SIGTERM, "sentence-transformers")],
    ids=["SIGTERM", "SIGINT", "SIGTERM-sentence-transformers"],
)
async def test_a_stop_signal_lets_the_answer_in_flight_finish_then_exits_0(
    own_standin: DiscordStandIn, tmp_path: Path, signum: int, encoder: str, request: pytest.FixtureRequest
) -> None:
    standin = own_standin
    questions = tmp_path / "questions.log"  # what run_bot.py's slow encoder is doing
    model = {"MATCHBOT_MODEL": str(request.getfixturevalue("reference_model"))} if encoder != "export" else {}
    bot = BotProcess(
        standin,
        tmp_path,
        token=TOKEN,
        MATCHBOT_TEST_QUESTION_DELAY="3",
        MATCHBOT_TEST_QUESTION_LOG=str(questions),
        **model,
    )
    await bot.start()
    try:
        health = await bot.ready()
        assert health["status"] == "ready" and health["logged_in"] and health["index_loaded"]
        assert health["chunks"] > 0
        status, metrics = await asyncio.to_thread(get, f"http://127.0.0.1:{bot.port}/metrics")
        assert status == 200 and "matchbot_event_loop_lag_seconds_count" in metrics
        assert re.search(r"^matchbot_index_chunks \d+\.0$", metrics, re.M)

        in_flight = await ask(standin, "how did the semi end")
        assert (await standin.wait_for_response(in_flight)).callback_type == DEFERRED
        for _ in range(200):  # the answer's work has started: its question is being encoded
            if "sleeping" in read(questions):
                break
            await asyncio.sleep(0.05)
        assert read(questions).splitlines() == ['sleeping ["how did the semi end"]'], bot.output()[-2000:]
        assert standin.replies(in_flight) == []
        signalled_at = time.monotonic()
        bot.process.send_signal(signum)  # type: ignore[union-attr]
        for _ in range(50):  # stopping: /healthz says so at once
            status, body = await asyncio.to_thread(bot.health)
            if status == 503:
                break
            await asyncio.sleep(0.05)
        assert status == 503 and json.loads(body)["status"] == "stopping"
        assert "woke" not in read(questions)  # still in flight after the signal
        late = await ask(standin, "was hakimi upset", user=standin.moderator)

        refused = await standin.wait_for_response(late)
        answer = await standin.wait_for_reply(in_flight, timeout=30)
        assert await bot.exit_code() == 0, bot.output()[-2000:]
    finally:
        await bot.kill()
    assert answer.at > signalled_at and "woke" in read(questions)
    assert "2-0" in shown_text(answer) and answer.path.endswith("/messages/@original")
    assert refused.callback_type == MESSAGE and refused.message_data["flags"] & FLAG_EPHEMERAL
    assert refused.content == "matchbot is restarting: ask again in a minute."
    log = bot.output()
    loaded = (
        "Loaded ONNX model " + str(export_folder(None)) if encoder == "export" else "Loaded embedding model"
    )
    assert loaded in log  # the encoder this case is about answered
    assert "Finishing 1 answer(s) or change(s) in flight before stopping." in log
    assert log.index("Finishing 1 answer") < log.index("Stopped.")
    assert payload_problems(standin.calls) == []


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


async def test_the_token_never_shows_in_the_log_or_in_what_the_bot_sends(
    own_standin: DiscordStandIn, tmp_path: Path
) -> None:
    standin = own_standin
    bot = BotProcess(standin, tmp_path, token=TOKEN, MATCHBOT_LOG_LEVEL="DEBUG")
    await bot.start()
    try:
        await bot.ready()
        settings = await standin.slash(
            "matchbot", moderation(None, "settings", cooldown=0), user=standin.moderator
        )
        await standin.wait_for_reply(settings)
        await standin.wait_for_reply(await ask(standin, "how did the semi end"))
        standin.fail_rest(r"/callback$", status=429, retry_after=0.2)  # a rate limit, logged as a warning
        await standin.wait_for_reply(await ask(standin, f"what is {TOKEN}?"))  # quoted back in the answer
        since = len(standin.calls)  # an error path: a question too long, asked by mention
        message = await standin.send_message(f"<@{standin.bot_user['id']}> {LONG_QUESTION}")
        too_long = await mention_reply(standin, message, since)
        assert re.fullmatch(
            r"The question is 1,\d{3} characters long; keep it under 1,000\.", too_long.content
        )
        await standin.drop_connection()  # a reconnect and RESUME (which carries the token)
        await standin.wait_for_reply(await ask(standin, "was hakimi upset"), timeout=30)
        reindex = await standin.slash("matchbot", moderation(None, "reindex"), user=standin.moderator)
        await standin.wait_for_call(lambda c: reindex.token in c.path and "Reindexed" in c.content)
        bot.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        assert await bot.exit_code() == 0
    finally:
        await bot.kill()
    log = bot.output()
    assert "DEBUG" in log and "RESUME" in log and "rate limited" in log  # the log did cover all that
    assert TOKEN not in log and TOKEN.split(".")[-1] not in log
    sent = json.dumps([[c.path, c.query, c.json, c.response] for c in standin.calls], ensure_ascii=False)
    quoted = sent.replace(f"what is {TOKEN}?", "").replace(LONG_QUESTION, "")
    assert TOKEN not in quoted  # only the members' own questions held it (and the bot quoted one back)

    wrong = BotProcess(standin, tmp_path / "wrong", token="not-" + TOKEN, MATCHBOT_LOG_LEVEL="DEBUG")
    await wrong.start()
    assert await wrong.exit_code(60) == 1
    output = wrong.output()
    assert output.strip().splitlines()[-1].startswith("matchbot: Discord rejected DISCORD_TOKEN")
    assert TOKEN not in output
