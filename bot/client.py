"""The Discord client: ``MatchBot``, handed its library and settings, and ``run``, behind ``matchbot run``.

``run`` builds the model, the library and the settings store, logs in (so a bad token fails before any
slow indexing), opens the index in a worker thread, then connects to the gateway. On SIGTERM or SIGINT
it stops taking questions, lets the answers in flight finish (for SHUTDOWN_GRACE seconds at most), stops
an index update (the saved index stays as it was), closes the settings store and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import signal
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
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
from bot.lag import LagMonitor
from bot.logs import hide_from_logs
from bot.metrics import Metrics
from bot.settings import GuildSettings, SettingsStore
from index.embedding import Embedder
from index.errors import MatchbotError
from index.library import Library

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.ask", "bot.cogs.moderation")
SETTINGS_FILE = "matchbot.sqlite3"
COMMANDS_HASH_FILE = "commands.sha256"
SHUTDOWN_GRACE = 20.0  # seconds the answers in flight get to finish on SIGTERM (systemd waits 30)
# Searches get threads of their own: queued behind each other under load, they never hold up the quick
# settings lookups that come before an interaction's acknowledgement (Discord waits 3 s for it).
SEARCH_THREADS = 2


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
        self.lag = LagMonitor(self.metrics.observe_lag)
        self.search_pool = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="matchbot-search")
        self.draining = False  # shutting down: no new questions
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        self.tree.error(self.on_app_command_error)
        self.metrics.track(
            chunks=lambda: len(library.retriever.store.chunks) if library.loaded else 0,
            articles=lambda: len(library.retriever.store.articles) if library.loaded else 0,
            gateway=lambda: self.latency if math.isfinite(self.latency) else math.nan,
        )

    async def login(self, token: str) -> None:
        point_discord_at(self.config.api_base, self.config.gateway_url)
        await super().login(token)

    async def setup_hook(self) -> None:
        self.lag.start()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()

    async def close(self) -> None:
        self.lag.stop()
        await super().close()
        self.search_pool.shutdown(wait=False, cancel_futures=True)

    # -- health and shutdown --------------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Ready (logged in, connected, index loaded, not stopping), and the facts behind it."""
        logged_in = self.user is not None and self.is_ready() and not self.is_closed()
        loaded = self.library.loaded
        ready = logged_in and loaded and not self.draining
        status = "stopping" if self.draining else "ready" if ready else "starting"
        latency = self.latency if math.isfinite(self.latency) else None
        return ready, {
            "status": status,
            "logged_in": logged_in,
            "index_loaded": loaded,
            "chunks": len(self.library.retriever.store.chunks) if loaded else 0,
            "gateway_latency_seconds": None if latency is None else round(latency, 4),
            "event_loop_lag_p99_seconds": round(self.lag.percentile(0.99), 4),
        }

    @contextlib.asynccontextmanager
    async def answering(self) -> AsyncIterator[None]:
        """Count an answer in flight, so a shutdown waits for it; refused once shutting down."""
        if self.draining:
            raise MatchbotError("matchbot is restarting: ask again in a minute.")
        self._in_flight += 1
        if self._idle is None:
            self._idle = asyncio.Event()
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def shutdown(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop taking questions, let those in flight finish (``grace`` seconds at most), then close."""
        self.draining = True
        self.library.stop()
        if self._in_flight and self._idle is not None:
            log.info("Finishing %d answer(s) in flight before stopping.", self._in_flight)
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:
                log.warning(
                    "%d answer(s) still in flight after %.0f s; stopping anyway.", self._in_flight, grace
                )
        await self.close()

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


async def build(config: Config, embedder: Embedder, metrics: Metrics | None = None) -> MatchBot:
    """Wire a MatchBot from ``config``: its Library (not opened yet) and its settings store."""
    library = Library(config.seeds_dir, config.data_dir, embedder, threshold=config.threshold)
    settings = await SettingsStore.open(
        config.data_dir / SETTINGS_FILE, GuildSettings(k=config.k, threshold=None)
    )
    return MatchBot(config=config, library=library, settings=settings, metrics=metrics)


async def serve(config: Config, *, embedder: Embedder | None = None) -> None:
    """Build everything from ``config`` and run the bot until it is closed or told to stop.

    The token is checked (login) before the index is opened, so a wrong one fails in seconds. SIGTERM
    and SIGINT stop it gracefully (see ``MatchBot.shutdown``).
    """
    token = config.require_token()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    metrics = Metrics.collecting() if config.metrics_port else Metrics.disabled()
    try:
        if embedder is None:
            embedder = await asyncio.to_thread(Embedder.load, config.model)
        bot = await build(config, embedder, metrics)
    except BaseException:
        _restore_signals(loop)
        raise
    if config.metrics_port:
        metrics.serve(config.metrics_port, health=bot.health)
        log.info("Serving Prometheus metrics and /healthz on port %d.", config.metrics_port)
    try:
        if stop.is_set():  # told to stop while the model was loading
            return
        async with bot:
            await bot.login(token)
            running = asyncio.create_task(_open_and_connect(bot), name="matchbot-run")
            stopping = asyncio.create_task(stop.wait(), name="matchbot-stop")
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping.done():
                log.info("Stopping: no new questions; finishing the ones in flight.")
                await bot.shutdown(SHUTDOWN_GRACE)
                await _ended(running, SHUTDOWN_GRACE)
            else:
                stopping.cancel()
                running.result()
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
    finally:
        _restore_signals(loop)
        await bot.settings.close()
        metrics.stop_serving()
    log.info("Stopped.")


def _restore_signals(loop: asyncio.AbstractEventLoop) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)


async def _open_and_connect(bot: MatchBot) -> None:
    report = await asyncio.to_thread(bot.library.open)
    log.info("Index ready: %s", report.summary())
    await bot.connect()


async def _ended(task: asyncio.Task[None], grace: float) -> None:
    """Wait for the bot's main task after a shutdown; what it raises while stopping no longer matters."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def run(config: Config, *, embedder: Embedder | None = None) -> None:
    """The entry point of ``matchbot run``: errors a user can fix arrive as one MatchbotError line.

    The token never reaches the log: every line is filtered, whatever its level.
    """
    token = config.require_token()  # before anything slow
    logging.getLogger().handlers.clear()  # the bot's log replaces the command line's terse one
    discord.utils.setup_logging(level=logging.getLevelName(config.log_level))
    hide_from_logs(token)
    asyncio.run(serve(config, embedder=embedder))


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _write_text(path: Path, text: str) -> None:
    """Write aside and rename, so a kill never leaves half a hash; a failure only costs a sync next time."""
    staging = path.with_name(f".{path.name}.writing")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging.write_text(text + "\n", encoding="utf-8")
        os.replace(staging, path)
    except OSError as exc:
        log.warning("Could not save %s (%s); the commands will be synced again next start.", path, exc)
