"""The Discord stand-in with one guild per shard, for bots that run over several shards.

``ShardedStandIn(shard_count=2)`` holds the stand-in's guild ("Match Day", on the shard its id falls
in) and a twin guild on every other shard: same members, roles and channel names, other ids. A client
that IDENTIFYs with ``shard: [id, count]`` gets READY and GUILD_CREATE for the guilds of that shard
only (``(guild_id >> 22) % count``), and the events of those guilds; direct messages go to shard 0, as
Discord sends them. ``GET /gateway/bot`` recommends ``shard_count`` shards.

A simplification: the twins share the Moderator role (its id) with the first guild; each has its own
``@everyone`` role, whose id is the guild's, as Discord has it.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable
from typing import Any

from .standin import JSON, DiscordStandIn

__all__ = ["ShardedStandIn"]


class ShardedStandIn(DiscordStandIn):
    """One guild on each of ``shard_count`` shards."""

    def __init__(self, *, shard_count: int = 2, **options: Any) -> None:
        super().__init__(**options)
        self.shard_count = shard_count
        home = self.shard_of(self.guild_id)
        self.guild_by_shard: dict[int, int] = {home: self.guild_id}
        self.channel_by_shard: dict[int, int] = {home: self.channel_general}
        self._twins: dict[int, JSON] = {}  # twin guild id -> {"channels": [...], "everyone": role}
        for shard in range(shard_count):
            if shard == home:
                continue
            guild_id = self.guild_id + (((shard - home) % shard_count) << 22)
            channels = []
            for channel in self.channels:
                twin = copy.deepcopy(channel)
                twin.update(id=str(self._ids.next()), guild_id=str(guild_id))
                channels.append(twin)
            everyone = copy.deepcopy(self.roles[0])
            everyone["id"] = str(guild_id)
            self._twins[guild_id] = {"channels": channels, "everyone": everyone}
            self.guild_by_shard[shard] = guild_id
            self.channel_by_shard[shard] = int(channels[0]["id"])

    def shard_of(self, guild_id: int) -> int:
        return (guild_id >> 22) % self.shard_count

    async def wait_for_shards(self, shards: Iterable[int], timeout: float = 60) -> None:
        """Return once a client has IDENTIFYed (or resumed) on each of ``shards``."""

        async def identified() -> None:
            while not all(self._connection_for(self.guild_by_shard[shard]) for shard in shards):
                await asyncio.sleep(0.05)

        await asyncio.wait_for(identified(), timeout)

    def connected_shards(self) -> list[tuple[int, int]]:
        """The ``[shard_id, num_shards]`` of every identified gateway connection."""
        return sorted(c.session.shard for c in self._connections if c.session and c.session.shard)

    # -- the stand-in's hooks ---------------------------------------------------------------

    def _guild_payloads(self, *, include_members: bool) -> list[JSON]:
        first = self._guild_payload(include_members=include_members)
        payloads = [first]
        for guild_id, twin in self._twins.items():
            payload = copy.deepcopy(first)
            payload.update(
                id=str(guild_id),
                name=f"{first['name']} {self.shard_of(guild_id)}",
                roles=[twin["everyone"], *first["roles"][1:]],
                channels=twin["channels"],
                system_channel_id=twin["channels"][0]["id"],
            )
            payloads.append(payload)
        return payloads

    def _channel(self, channel_id: int) -> JSON:
        for twin in self._twins.values():
            for channel in twin["channels"]:
                if int(channel["id"]) == channel_id:
                    return channel
        return super()._channel(channel_id)
