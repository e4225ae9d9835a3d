"""The Discord client: ``MatchBot``, handed its library, settings store, article registry and fetcher,
and ``run``, behind ``matchbot run``.

``run`` opens the settings database, builds the model and the library, logs in (so a bad token fails
before any slow indexing), opens the index in a worker thread (after the registry's changes, with a
shared database), then connects to the gateway; the feeds cog polls feeds once the bot is ready. With
``SHARD_COUNT`` the bot is a ``ShardedMatchBot`` over the shards of ``SHARD_IDS``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.config import Config, ConfigError
from bot.cooldown import Cooldowns
from bot.feeds import FeedPoller
from bot.metrics import Metrics
from bot.registry import ArticleRegistry
from bot.settings import SettingsStore, open_settings
from index.embedding import Embedder
from index.errors import MatchbotError
from index.library import Library
from index.web import Fetcher

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.ask", "bot.cogs.moderation", "bot.cogs.feeds")
COMMANDS_HASH_FILE = "commands.sha256"
SHARD_REFUSALS = {4010: "invalid shard", 4011: "the bot is in too many servers for one shard"}


def point_discord_at(api_base: str, gateway_url: str) -> None:
    """The one place that aims discord.py at Discord's REST API and gateway (or a proxy, or a stand-in).

    ``Route.BASE`` prefixes every REST call, interaction and webhook calls included;
    ``DEFAULT_GATEWAY`` is the first websocket URL (resumes then use the one READY gives).
    """
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class MatchBot(commands.Bot):
    """matchbot on Discord: slash commands, mention answers, moderation and feeds, over one Library."""

    def __init__(
        self,
        *,
        config: Config,
        library: Library,
        settings: SettingsStore,
        registry: ArticleRegistry,
        metrics: Metrics | None = None,
        fetcher: Fetcher | None = None,
        **options: object,
    ) -> None:
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice, no warning
        intents = discord.Intents.default()
        intents.message_content = True  # to read the question in "@matchbot …" messages
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.config = config
        self.library = library
        self.settings = settings
        self.registry = registry
        self.metrics = metrics or Metrics.disabled()
        self.cooldowns = Cooldowns()
        self.fetcher = fetcher or Fetcher(config.fetch)
        self.feeds = FeedPoller(settings, registry, self.fetcher, interval=config.feed_interval)
        self.tree.error(self.on_app_command_error)

    async def login(self, token: str) -> None:
        point_discord_at(self.config.api_base, self.config.gateway_url)
        await super().login(token)

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.config.syncs_commands:
            await self.sync_commands()
        else:
            log.info("Slash commands are synced by the process that runs shard 0, not this one.")

    async def on_message(self, message: discord.Message) -> None:
        """No text commands: mention questions are handled by the ask cog's listener."""

    async def on_ready(self) -> None:
        log.info("Connected as %s to %d server(s).", self.user, len(self.guilds))

    async def sync_commands(self) -> bool:
        """Sync the slash commands (to DEV_GUILD_ID when set) only if they changed since last time."""
        guild = discord.Object(self.config.dev_guild_id) if self.config.dev_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        digest = hashlib.sha256(
            json.dumps({"guild": self.config.dev_guild_id, "commands": payload}, sort_keys=True).encode()
        ).hexdigest()
        path = self.config.data_dir / COMMANDS_HASH_FILE
        if await asyncio.to_thread(_read_text, path) == digest:
            log.info("Slash commands unchanged; not syncing.")
            return False
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException as exc:  # the bot still works with the commands Discord has
            log.warning("Could not sync the slash commands (%s); they may be out of date.", exc)
            return False
        await asyncio.to_thread(_write_text, path, digest)
        where = f"server {self.config.dev_guild_id}" if guild else "all servers (may take a while)"
        log.info("Synced %d slash commands to %s.", len(synced), where)
        return True

    def error_text(self, error: BaseException) -> str:
        """The one line a user sees for an error; unexpected errors are logged with their traceback."""
        error = getattr(error, "original", error)  # CommandInvokeError wraps what the handler raised
        text = render.error_line(error, now=time.time())
        if text is None:
            log.error("Unexpected error", exc_info=error)
            return render.UNEXPECTED_ERROR
        return text

    async def report_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Tell the user, privately, whether or not the interaction was already answered or deferred."""
        text = self.error_text(error)
        none = discord.AllowedMentions.none()
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)
            elif interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
                # replace the "thinking…" message (private already when the defer was private)
                await interaction.edit_original_response(
                    content=text, embed=None, view=None, allowed_mentions=none
                )
            else:
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=none)
        except discord.HTTPException:
            log.warning("Could not tell %s about an error: %s", interaction.user, text)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await self.report_error(interaction, error)


class ShardedMatchBot(MatchBot, commands.AutoShardedBot):
    """MatchBot over the shards ``SHARD_IDS`` of ``SHARD_COUNT``: one gateway connection per shard.

    Discord sends each shard the events of its servers only (``(guild_id >> 22) % SHARD_COUNT``),
    and direct messages to shard 0; the processes share their state through the database.
    """

    def __init__(self, *, config: Config, **dependencies: Any) -> None:
        shard_ids = list(config.shard_ids) if config.shard_ids is not None else None
        super().__init__(config=config, shard_count=config.shard_count, shard_ids=shard_ids, **dependencies)

    async def on_ready(self) -> None:
        log.info(
            "Connected as %s to %d server(s) on shard(s) %s of %d.",
            self.user,
            len(self.guilds),
            ", ".join(str(shard) for shard in sorted(self.shards)),
            self.shard_count,
        )


async def build(
    config: Config,
    embedder: Embedder,
    metrics: Metrics | None = None,
    *,
    settings: SettingsStore | None = None,
) -> MatchBot:
    """Wire a MatchBot from ``config``: its Library (not opened yet), settings store and registry."""
    library = Library(config.seeds_dir, config.data_dir, embedder, threshold=config.threshold)
    if settings is None:
        settings = await open_settings(config)
    registry = ArticleRegistry(library, settings)
    kind = ShardedMatchBot if config.shard_count else MatchBot
    return kind(
        config=config,
        library=library,
        settings=settings,
        registry=registry,
        metrics=metrics,
        fetcher=Fetcher(config.fetch),
    )


async def serve(config: Config, *, embedder: Embedder | None = None) -> None:
    """Build everything from ``config`` and run the bot until it is closed.

    The token is checked (login) before the index is opened, so a wrong one fails in seconds.
    """
    token = config.require_token()
    metrics = Metrics.collecting() if config.metrics_port else Metrics.disabled()
    settings = await open_settings(config)  # before the model: a wrong DATABASE_URL fails in seconds
    try:
        if embedder is None:
            embedder = await asyncio.to_thread(Embedder.load, config.model)
        bot = await build(config, embedder, metrics, settings=settings)
        if config.metrics_port:
            metrics.serve(config.metrics_port)
            log.info("Serving Prometheus metrics on port %d.", config.metrics_port)
        async with bot:
            await bot.login(token)
            report = await bot.registry.open()
            log.info("Index ready: %s", report.summary())
            following = asyncio.create_task(bot.registry.follow()) if bot.registry.follows else None
            try:
                await bot.connect()
            finally:
                if following is not None:
                    following.cancel()
    except discord.LoginFailure as exc:
        raise ConfigError(
            "Discord rejected DISCORD_TOKEN: copy the token again (Developer Portal → your "
            "application → Bot → Reset Token) into .env."
        ) from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise ConfigError(
            "Discord refused the Message Content intent: enable it in the Developer Portal "
            "(your application → Bot → Privileged Gateway Intents → Message Content Intent)."
        ) from exc
    except discord.ConnectionClosed as exc:
        if exc.code not in SHARD_REFUSALS:
            raise
        raise ConfigError(
            f"Discord refused the shards ({SHARD_REFUSALS[exc.code]}): set SHARD_COUNT to at least the "
            "number of shards Discord recommends for the bot, the same in every process, and SHARD_IDS "
            "within it."
        ) from exc
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound) as exc:
        raise MatchbotError(
            f"Cannot reach Discord at {config.api_base} ({exc}): check the network, "
            "or DISCORD_API_BASE / DISCORD_GATEWAY_URL."
        ) from exc
    finally:
        await settings.close()


def run(config: Config) -> None:
    """The entry point of ``matchbot run``: errors a user can fix arrive as one MatchbotError line."""
    config.require_token()  # before anything slow
    logging.getLogger().handlers.clear()  # the bot's log replaces the command line's terse one
    discord.utils.setup_logging(level=logging.getLevelName(config.log_level))
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        log.info("Stopped.")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
