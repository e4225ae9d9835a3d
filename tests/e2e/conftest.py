"""Fixtures for end-to-end tests that run a real discord.py client against the Discord stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from .shards import ShardedStandIn
from .standin import DiscordStandIn, running


@pytest_asyncio.fixture
async def standin() -> AsyncIterator[DiscordStandIn]:
    """A started :class:`DiscordStandIn`, stopped (and discord.py's URLs restored) afterwards."""
    async with running(DiscordStandIn()) as server:
        yield server


@pytest_asyncio.fixture
async def sharded() -> AsyncIterator[ShardedStandIn]:
    """A stand-in of a bot with two shards, stopped afterwards."""
    async with running(ShardedStandIn(shard_count=2)) as server:
        yield server


@pytest.fixture
def within_discords_limits(standin: DiscordStandIn) -> Iterator[None]:
    """After the test: no payload the bot sent breaks a Discord limit or could ping anyone (a module
    of bot tests lists it in its ``pytestmark``)."""
    from .test_bot import payload_problems

    yield
    assert payload_problems(standin.calls) == []
