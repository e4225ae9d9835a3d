"""The database seam's failures, as a self-hoster meets them: one line saying what to do, and never the
password of DATABASE_URL."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pgserver import PostgresServer

from bot.database import PostgresDatabase, redact, scrub
from bot.settings import GuildSettings, SettingsError, SettingsStore

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-Pw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://bot:{PASSWORD}@db:5432/matchbot", "postgresql://bot:***@db:5432/matchbot"),
        (f"postgres://bot:{PASSWORD}@db/m?sslmode=require", "postgres://bot:***@db/m?sslmode=require"),
        (f"postgresql://bot@db/m?password={PASSWORD}&x=1", "postgresql://bot@db/m?password=***&x=1"),
        (f"postgresql://bot:p@ss{PASSWORD}@db/m", "postgresql://bot:***@db/m"),
        ("postgresql:///m?host=/run/postgresql", "postgresql:///m?host=/run/postgresql"),
    ],
)
def test_the_password_is_redacted_wherever_the_url_holds_it(url: str, shown: str) -> None:
    assert redact(url) == shown
    if PASSWORD in url:  # a driver's message may quote the URL, or the password alone
        password = "p@ss" + PASSWORD if "p@ss" in url else PASSWORD
        assert PASSWORD not in scrub(f"invalid URI: {url!r} (password {password})", url)


def matchbot_run(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """``matchbot run`` in a child process, with only these settings (and a token)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DISCORD_", "MATCHBOT_", "SHARD_", "DATABASE_"))
    }
    environment |= {"DISCORD_TOKEN": "test-token", "PYTHONPATH": str(REPO), **settings}
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )


def test_an_unreachable_database_stops_the_bot_with_one_line(tmp_path: Path) -> None:
    url = f"postgresql://matchbot:{PASSWORD}@/matchbot?host={tmp_path}&port=5999"  # no server there
    result = matchbot_run(tmp_path, DATABASE_URL=url, MATCHBOT_LOG_LEVEL="WARNING")
    assert result.returncode == 1
    assert result.stderr.startswith("matchbot: Cannot reach the database at postgresql://matchbot:***@/")
    assert "check DATABASE_URL" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"DATABASE_URL": f"postgresql://bot:{PASSWORD}@db:port/m"}, "DATABASE_URL 'postgresql://bot:***@"),
        ({"SHARD_IDS": "0,1"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "1,2"}, "names a shard past SHARD_COUNT 2"),
    ],
)
def test_bad_settings_stop_the_bot_with_one_line(tmp_path: Path, settings: dict[str, str], says: str) -> None:
    result = matchbot_run(tmp_path, **settings)
    assert result.returncode == 1
    assert result.stderr.startswith("matchbot: ") and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and PASSWORD not in result.stderr


async def test_a_server_that_goes_away_fails_calls_in_one_line_until_it_is_back() -> None:
    server = PostgresServer()
    try:
        server.start()
        store = await SettingsStore.open(PostgresDatabase(server.new_database()), GuildSettings(3, None))
        await store.update(1, k=4)
        server.halt()
        began = time.monotonic()
        with pytest.raises(SettingsError) as failed:
            await store.get(1)
        # soon enough for a slash command that reads its settings first to say so within Discord's 3 s
        assert time.monotonic() - began < 2.5
        assert str(failed.value).startswith("Cannot reach the database at postgresql://matchbot@/")
        assert "\n" not in str(failed.value)
        server.start()
        assert (await store.get(1)).k == 4  # the pool reconnects: no restart of the bot needed
        await store.close()
    finally:
        server.stop()


async def test_a_statement_the_server_refuses_is_not_taken_for_an_unreachable_server(
    postgres_url: str,
) -> None:
    database = PostgresDatabase(postgres_url)
    await asyncio.to_thread(database.create, ["CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY)"], 1)

    def insert(key: str) -> None:
        with database.transaction() as db:
            db.execute("INSERT INTO keys (key) VALUES (?)", (key,))

    too_big = base64.b64encode(random.Random(1).randbytes(6000)).decode()  # past an index entry's size
    with pytest.raises(SettingsError) as refused:
        await asyncio.to_thread(insert, too_big)
    assert str(refused.value).startswith("The database at postgresql://matchbot@/")
    assert "failed: index row size" in str(refused.value) and "Cannot reach" not in str(refused.value)
    database.close()
