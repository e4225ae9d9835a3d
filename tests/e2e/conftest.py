"""Fixtures for end-to-end tests that run a real discord.py client against the Discord stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .standin import DiscordStandIn, restore_discord_endpoints


@pytest_asyncio.fixture
async def standin() -> AsyncIterator[DiscordStandIn]:
    """A started :class:`DiscordStandIn`, stopped (and discord.py's URLs restored) afterwards."""
    server = DiscordStandIn()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        restore_discord_endpoints()
