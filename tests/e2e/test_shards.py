"""The stand-in speaks enough of the gateway for sharding: real ``AutoShardedBot``s, one per shard,
each get their own shard's guilds and events, as from Discord."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.client import serve
from bot.config import ConfigError
from index.pipeline import Pipeline

from .shards import ShardedStandIn
from .standin import restore_discord_endpoints
from .wiring import bot_config

pytestmark = pytest.mark.timeout(60)


class ShardProbe(commands.AutoShardedBot):
    """Answers ``/where`` with the shard and guild the interaction reached it on."""

    def __init__(self, shard_id: int, shard_count: int) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.default(),
            shard_ids=[shard_id],
            shard_count=shard_count,
            guild_ready_timeout=0.1,
        )

        @self.tree.command(description="Say which shard answers")
        async def where(interaction: discord.Interaction) -> None:
            where = f"guild on shard {interaction.guild.shard_id}" if interaction.guild else "a DM"
            await interaction.response.send_message(f"bot {shard_id} of {self.shard_count}: {where}")

        self.where: app_commands.Command = where


async def test_each_shard_gets_only_its_guilds_and_their_events(sharded: ShardedStandIn) -> None:
    zero, one = ShardProbe(0, 2), ShardProbe(1, 2)
    async with sharded.running(zero), sharded.running(one):
        await zero.tree.sync()
        await sharded.wait_for_shards([0, 1], timeout=10)
        assert sharded.connected_shards() == [(0, 2), (1, 2)]
        assert [guild.id for guild in zero.guilds] == [sharded.guild_by_shard[0]]
        assert [guild.id for guild in one.guilds] == [sharded.guild_by_shard[1]]
        assert sharded.guild_by_shard[1] == sharded.guild_id  # the stand-in's guild falls on shard 1

        for shard in (0, 1):
            interaction = await sharded.slash("where", channel_id=sharded.channel_by_shard[shard])
            reply = await sharded.wait_for_reply(interaction, timeout=10)
            assert reply.content == f"bot {shard} of 2: guild on shard {shard}"
        in_dm = await sharded.slash("where", guild=False)  # Discord sends direct messages to shard 0
        assert (await sharded.wait_for_reply(in_dm, timeout=10)).content == "bot 0 of 2: a DM"

        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bot {sharded.bot_token}"}
            async with session.get(f"{sharded.api_base}/gateway/bot", headers=headers) as response:
                assert (await response.json())["shards"] == 2


class ShardingRequired(ShardedStandIn):
    """Discord's answer to a bot in too many servers for its shards: close code 4011."""

    async def _identify(self, connection, data) -> None:
        await connection.ws.close(code=4011, message=b"Sharding required.")


async def test_discord_refusing_the_shards_is_one_line(
    tmp_path: Path, fake_embedder, seeds_dir: Path
) -> None:
    standin = ShardingRequired(shard_count=2)
    await standin.start()
    config = bot_config(standin, tmp_path, seeds_dir, shard_count=1)
    try:
        with pytest.raises(ConfigError) as refused:
            await asyncio.wait_for(serve(config, pipeline=Pipeline(fake_embedder)), 30)
    finally:
        await standin.stop()
        restore_discord_endpoints()
    message = str(refused.value)
    assert message.startswith("Discord refused the shards (the bot is in too many servers for one shard)")
    assert "SHARD_COUNT" in message and "\n" not in message
