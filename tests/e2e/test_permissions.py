"""Moderator commands and uploads: every ``/matchbot`` command is declared for Manage Server and refused at
run time to anyone else, with nothing changed; uploaded file names never reach the file system.

The real MatchBot (model-free embedder, real second stage) against the stand-in, which, unlike Discord,
lets a member invoke a command hidden from them, as a server that overrides ``default_permissions``
would.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot import render
from bot.client import MatchBot

from .standin import FLAG_EPHEMERAL, MANAGE_GUILD, DiscordStandIn
from .test_bot import moderation, payload_problems
from .wiring import SecondStages, bot_config, copy_seeds, open_bot

pytestmark = pytest.mark.timeout(120)

ARTICLE = b"title Fans in Doha\n\nThousands of Moroccan fans sang in the Doha metro after the whistle."


@pytest_asyncio.fixture
async def bot(
    standin: DiscordStandIn, tmp_path: Path, fake_embedder: Any, second_stages: SecondStages
) -> AsyncIterator[MatchBot]:
    seeds = copy_seeds(tmp_path)
    (seeds / "extra.txt").write_text("Hakimi swapped shirts with Mbappe after the whistle.")
    matchbot = await open_bot(bot_config(standin, tmp_path, seeds), fake_embedder, second_stages)
    async with standin.running(matchbot, timeout=30):
        yield matchbot
    assert payload_problems(standin.calls) == []


def everything(tmp_path: Path) -> dict[str, str]:
    """A fingerprint of every file matchbot keeps (articles, index, settings), WAL folded in."""
    import sqlite3

    database = tmp_path / "data" / "matchbot.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = db.execute("SELECT * FROM guild_settings ORDER BY guild_id").fetchall()
    files = {
        str(path.relative_to(tmp_path)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(tmp_path.rglob("*"))
        if path.is_file() and not path.name.startswith("matchbot.sqlite3")
    }
    return {**files, "settings": repr(rows)}


def every_moderator_command(standin: DiscordStandIn) -> dict[str, list[dict]]:
    upload = standin.add_attachment("fans.txt", ARTICLE)
    return {
        "articles list": moderation("articles", "list"),
        "articles add (text)": moderation("articles", "add", title="Nope", text="Members cannot add."),
        "articles add (file)": moderation("articles", "add", file=upload),
        "articles remove": moderation("articles", "remove", article="extra"),
        "reindex": moderation(None, "reindex", rebuild=True),
        "settings (show)": moderation(None, "settings"),
        "settings (change)": moderation(None, "settings", cooldown=0, passages=10, mentions=False),
        "stats": moderation(None, "stats"),
    }


async def test_every_moderator_command_is_declared_for_manage_server_only(
    standin: DiscordStandIn, bot: MatchBot
) -> None:
    (command,) = [
        c for c in standin.synced[None] + standin.synced.get(standin.guild_id, []) if c["name"] == "matchbot"
    ]
    assert int(command["default_member_permissions"]) == MANAGE_GUILD
    assert command.get("contexts") == [0]  # servers only
    assert not standin.can_use("matchbot", standin.member) and standin.can_use("matchbot", standin.moderator)


async def test_every_moderator_command_is_refused_to_a_member_and_changes_nothing(
    standin: DiscordStandIn, bot: MatchBot, tmp_path: Path
) -> None:
    before = everything(tmp_path)
    for name, options in every_moderator_command(standin).items():
        interaction = await standin.slash("matchbot", options, user=standin.member)
        refused = await standin.wait_for_response(interaction)
        assert refused.content == render.NOT_MODERATOR, name
        assert refused.message_data["flags"] & FLAG_EPHEMERAL, name
    completion = await standin.autocomplete(
        "matchbot",
        [{"name": "articles", "type": 2, "options": [{"name": "remove", "type": 1,
          "options": [{"name": "article", "value": "", "focused": True}]}]}],
        user=standin.member,
    )  # fmt: skip
    assert (await standin.wait_for_response(completion)).json["data"]["choices"] == []
    await asyncio.sleep(0.3)  # anything the refused commands might have started
    assert everything(tmp_path) == before


@pytest.mark.parametrize(
    "filename",
    [
        "../../../etc/cron.d/evil.txt",
        "..\\..\\evil.txt",
        "CON.txt",
        "nul.md",
        "x" * 300 + ".txt",
        ".hidden.txt",
    ],
)
async def test_an_uploaded_file_name_never_reaches_the_file_system(
    standin: DiscordStandIn, bot: MatchBot, tmp_path: Path, filename: str
) -> None:
    seeds = tmp_path / "seeds"
    outside = sorted(p.name for p in tmp_path.iterdir())
    before = {p.name for p in seeds.iterdir()}
    upload = standin.add_attachment(filename, b"Thousands of Moroccan fans sang in the Doha metro.")

    interaction = await standin.slash(
        "matchbot", moderation("articles", "add", file=upload), user=standin.moderator
    )
    reply = await standin.wait_for_reply(interaction)

    assert reply.content.startswith("Added **"), reply.content
    added = {p.name for p in seeds.iterdir()} - before
    assert len(added) == 1
    (name,) = added
    assert not name.startswith(".") and name.split(".")[0].lower() not in {"con", "nul"}
    assert len(name.encode()) <= 120 and "/" not in name and "\\" not in name
    assert sorted(p.name for p in tmp_path.iterdir()) == outside
    assert not list(Path("/etc/cron.d").glob("evil*"))
