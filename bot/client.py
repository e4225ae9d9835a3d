"""The Discord client: ``MatchBot``, handed its library and settings, and ``run``, behind ``matchbot run``.

``run`` builds the model, the library and the settings store, logs in (so a bad token fails before any
slow indexing), opens the index in a worker thread, then connects to the gateway.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from pathlib import Path

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.config import Config, ConfigError
from bot.cooldown import Cooldowns
from bot.metrics import Metrics
from bot.settings import GuildSettings, SettingsStore
from index.embedding import Embedder
from index.errors import MatchbotError
from index.library import Library
from index.rerank import SecondStage, load_second_stage

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.ask", "bot.cogs.moderation")
SETTINGS_FILE = "matchbot.sqlite3"
COMMANDS_HASH_FILE = "commands.sha256"


def point_discord_at(api_base: str, gateway_url: str) -> None:
    """The one place that aims discord.py at Discord's REST API and gateway (or a proxy, or a stand-in).

    ``Route.BASE`` prefixes every REST call, interaction and webhook calls included;
    ``DEFAULT_GATEWAY`` is the first websocket URL (resumes then use the one READY gives).
    """
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class MatchBot(commands.Bot):
    """matchbot on Discord: slash commands, mention answers and moderation, over one Library."""

    def __init__(
        self,
        *,
        config: Config,
        library: Library,
        settings: SettingsStore,
        metrics: Metrics | None = None,
    ) -> None:
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice, no warning
        intents = discord.Intents.default()
        intents.message_content = True  # to read the question in "@matchbot …" messages
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.config = config
        self.library = library
        self.settings = settings
        self.metrics = metrics or Metrics.disabled()
        self.cooldowns = Cooldowns()
        self.tree.error(self.on_app_command_error)

    async def login(self, token: str) -> None:
        point_discord_at(self.config.api_base, self.config.gateway_url)
        await super().login(token)

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()

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


async def build(
    config: Config,
    embedder: Embedder,
    metrics: Metrics | None = None,
    second_stage: SecondStage | None = None,
) -> MatchBot:
    """Wire a MatchBot from ``config``: its Library (not opened yet) and its settings store."""
    library = Library(
        config.seeds_dir,
        config.data_dir,
        embedder,
        threshold=config.threshold,
        second_stage=second_stage,
        search=config.ann,
    )
    settings = await SettingsStore.open(
        config.data_dir / SETTINGS_FILE, GuildSettings(k=config.k, threshold=None)
    )
    return MatchBot(config=config, library=library, settings=settings, metrics=metrics)


async def serve(config: Config, *, embedder: Embedder | None = None) -> None:
    """Build everything from ``config`` and run the bot until it is closed.

    The token is checked (login) before the index is opened, so a wrong one fails in seconds.
    """
    token = config.require_token()
    metrics = Metrics.collecting() if config.metrics_port else Metrics.disabled()
    if embedder is None:
        embedder = await asyncio.to_thread(Embedder.load, config.model)
    second_stage = await asyncio.to_thread(
        load_second_stage, config.rerank, config.late_interaction, config.rerank_passages
    )
    bot = await build(config, embedder, metrics, second_stage)
    if config.metrics_port:
        metrics.serve(config.metrics_port)
        log.info("Serving Prometheus metrics on port %d.", config.metrics_port)
    try:
        async with bot:
            await bot.login(token)
            report = await asyncio.to_thread(bot.library.open)
            log.info("Index ready: %s", report.summary())
            await bot.connect()
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
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound) as exc:
        raise MatchbotError(
            f"Cannot reach Discord at {config.api_base} ({exc}): check the network, "
            "or DISCORD_API_BASE / DISCORD_GATEWAY_URL."
        ) from exc


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
