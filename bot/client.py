"""The Discord client: ``MatchBot``, handed its library, settings store, article registry and fetcher,
and ``run``, behind ``matchbot run``.

``run`` opens the settings database, builds the model and the library, logs in (so a bad token fails
before any slow indexing), opens the index in a worker thread (after the registry's changes, with a
shared database), then connects to the gateway; the feeds cog polls feeds once the bot is ready. With
``SHARD_COUNT`` the bot is a ``ShardedMatchBot`` over the shards of ``SHARD_IDS``.

On SIGTERM or SIGINT it stops taking questions and changes, lets those in flight finish (a feed poll
after its current entry; SHUTDOWN_GRACE seconds at most in all), stops an index update (the saved index
stays as it was) and the registry's follower, closes the database and returns.
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

from bot import i18n, render
from bot.config import Config, ConfigError
from bot.cooldown import Cooldowns
from bot.feeds import FeedPoller
from bot.lag import LagMonitor
from bot.logs import hide_database_password, hide_token, libraries_at_debug
from bot.metrics import Metrics
from bot.registry import ArticleRegistry
from bot.settings import SettingsStore, open_settings
from index.errors import MatchbotError
from index.language import ENGLISH, LanguageDetector
from index.lexical import common_words
from index.library import Library
from index.pipeline import Pipeline, load_pipeline
from index.web import Fetcher

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.ask", "bot.cogs.moderation", "bot.cogs.feeds")
COMMANDS_HASH_FILE = "commands.sha256"
SHARD_REFUSALS = {4010: "invalid shard", 4011: "the bot is in too many servers for one shard"}
SHUTDOWN_GRACE = 20.0  # seconds the work in flight gets to finish on SIGTERM (systemd waits 30)
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


class MatchTree(app_commands.CommandTree):
    """The command tree: every command speaks its member's locale (``bot.i18n``) from the start, its
    errors included; ``/ask`` then weighs the question's language too."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        i18n.speak(i18n.reply_language(interaction.locale, None))
        return True


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
        languages: LanguageDetector | None = None,
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
            tree_cls=MatchTree,
            **options,
        )
        self.config = config
        self.library = library
        self.settings = settings
        self.registry = registry
        self.metrics = metrics or Metrics.disabled()
        self.cooldowns = Cooldowns()
        self.fetcher = fetcher or Fetcher(config.fetch)
        self.languages = languages or i18n.shared_detector()  # the language of a question
        self._warming: asyncio.Future[None] | None = None
        self.feeds = FeedPoller(settings, registry, self.fetcher, interval=config.feed_interval)
        self.lag = LagMonitor(self.metrics.observe_lag)
        self.search_pool = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="matchbot-search")
        self.draining = False  # shutting down: no new questions or changes
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        self._following: asyncio.Task[None] | None = None  # the registry's follower, with a shared store
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
        # Every model's first call is made in a thread while the index opens (before members can ask).
        self._warming = asyncio.ensure_future(
            asyncio.to_thread(warm_up, self.languages, self.library.pipeline)
        )
        await self.add_commands()
        if self.config.syncs_commands:
            await self.sync_commands()
        else:
            log.info("Slash commands are synced by the process that runs shard 0, not this one.")

    async def add_commands(self) -> None:
        """The cogs, and the translator that gives Discord their commands' names in each language."""
        await self.tree.set_translator(i18n.CommandTranslator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)

    async def command_payload(self, guild: discord.abc.Snowflake | None = None) -> list[dict[str, Any]]:
        """The commands as they are synced (to ``guild``, else globally), with their translations."""
        translator = self.tree.translator
        return [
            await command.get_translated_payload(self.tree, translator)
            if translator is not None
            else command.to_dict(self.tree)
            for command in self.tree.get_commands(guild=guild)
        ]

    async def warmed(self) -> None:
        """Return once the start-up warm-up (begun by ``setup_hook``, in a thread) is over."""
        if self._warming is not None:
            await asyncio.shield(self._warming)

    async def close(self) -> None:
        self.lag.stop()
        if self._warming is not None:  # the thread ends by itself; nothing waits for it any more
            self._warming.cancel()
        self.feeds.stop()
        if self._following is not None:
            following, self._following = self._following, None
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        await super().close()  # unloads the cogs: the feed poller's loop ends there
        self.search_pool.shutdown(wait=False, cancel_futures=True)

    def follow_registry(self) -> None:
        """With a shared store, start bringing the articles in step with the registry every few seconds."""
        if self.registry.follows and self._following is None:
            self._following = asyncio.create_task(self.registry.follow(), name="matchbot-registry")

    # -- health and shutdown --------------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Ready (logged in, every gateway connection open, index loaded, not stopping), and the facts
        behind it."""
        logged_in = self.user is not None and self.is_ready() and not self.is_closed()
        connections = self.gateway_connections()
        connected = logged_in and bool(connections) and all(shown["connected"] for shown in connections)
        loaded = self.library.loaded
        ready = connected and loaded and not self.draining
        status = "stopping" if self.draining else "ready" if ready else "starting"
        return ready, {
            "status": status,
            "logged_in": logged_in,
            "connected": connected,
            "index_loaded": loaded,
            "chunks": len(self.library.retriever.store.chunks) if loaded else 0,
            "gateway_latency_seconds": _seconds(self.latency),
            "event_loop_lag_p99_seconds": round(self.lag.percentile(0.99), 4),
        }

    def gateway_connections(self) -> list[dict[str, Any]]:
        """Each gateway connection: whether it is open, and its heartbeat latency."""
        ws = self.ws
        return [{"connected": ws is not None and ws.open, "latency_seconds": _seconds(self.latency)}]

    async def speak_to(
        self, locale: discord.Locale | None, question: str | None, *, fallback: discord.Locale | None = None
    ) -> str:
        """Reply in the member's language for the rest of this command (``bot.i18n.reply_language``):
        ``locale`` is the interaction's (None for a message), the question's language is detected off
        the event loop; ``fallback`` (a server's locale) serves when neither tells."""
        if question:
            asked = await asyncio.to_thread(self._question_language, question)
            language = i18n.reply_language(locale, asked)
        else:
            language = i18n.reply_language(locale or fallback, None)
        i18n.speak(language)
        return language

    def _question_language(self, question: str) -> str:
        """The question's language, the articles' names in it left out (blocking: the misspelt ones are
        looked up among the names)."""
        names = self.library.retriever.first_stage.names_in(question) if self.library.loaded else ()
        return self.languages.question_language(question, names)

    @contextlib.asynccontextmanager
    async def answering(self) -> AsyncIterator[None]:
        """Count work in flight (an answer, a moderator's change, a round of feed polls), so that a
        shutdown waits for it; refused once shutting down."""
        if self.draining:
            raise MatchbotError(i18n._("matchbot is restarting: ask again in a minute."))
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
        """Stop taking questions and changes, let those in flight finish (``grace`` seconds at most in
        all), stop the registry's follower and the feed poller, then close.

        An index update gives up at its next step (the saved index stays as it was, and the change is
        undone); a feed poll stops after the entry it is adding (the others wait for the next start).
        """
        deadline = asyncio.get_running_loop().time() + grace
        self.draining = True
        self.library.stop()
        self.feeds.stop()
        self.registry.stop()
        if self._in_flight and self._idle is not None:
            log.info("Finishing %d answer(s) or change(s) in flight before stopping.", self._in_flight)
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:
                log.warning(
                    "%d answer(s) or change(s) still in flight after %.0f s; stopping anyway.",
                    self._in_flight,
                    grace,
                )
        if self._following is not None:  # it ends after its current look at the registry
            left = max(deadline - asyncio.get_running_loop().time(), 0.1)
            await asyncio.wait({self._following}, timeout=left)
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
        payload = await self.command_payload(guild)  # with their translations: a new one is synced too
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
            return i18n._(render.UNEXPECTED_ERROR)
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

    def gateway_connections(self) -> list[dict[str, Any]]:
        """Each shard's connection: its id, whether it is open, and its heartbeat latency."""
        return [
            {
                "shard": shard_id,
                "connected": not shard.is_closed(),
                "latency_seconds": _seconds(shard.latency),
            }
            for shard_id, shard in sorted(self.shards.items())
        ]

    def health(self) -> tuple[bool, dict[str, Any]]:
        """As for one connection, and each shard's connection (``shards``)."""
        ready, facts = super().health()
        facts["shard_count"] = self.shard_count
        facts["shards"] = self.gateway_connections()
        return ready, facts

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
    pipeline: Pipeline,
    metrics: Metrics | None = None,
    *,
    settings: SettingsStore | None = None,
    languages: LanguageDetector | None = None,
) -> MatchBot:
    """Wire a MatchBot from ``config``: its Library (not opened yet, answering with ``pipeline``),
    settings store and registry; ``languages`` tells the replies' language (default: the pipeline's
    detector)."""
    library = config.library(pipeline, warm_words=True)
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
        languages=languages or pipeline.languages,  # one detector for the answers and the replies' language
    )


async def serve(config: Config, *, pipeline: Pipeline | None = None) -> None:
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
        settings = await open_settings(config)  # before the model: a wrong DATABASE_URL fails in seconds
    except BaseException:
        _restore_signals(loop)
        raise
    # lingua's models take about 2 s to load, holding the GIL: begun now, beside the models' loading
    languages = pipeline.languages if pipeline is not None and pipeline.languages else LanguageDetector()
    detecting = asyncio.ensure_future(asyncio.to_thread(i18n.warm, languages))
    try:
        if pipeline is None:
            pipeline = await asyncio.to_thread(load_pipeline, config.models, languages=languages)
        bot = await build(config, pipeline, metrics, settings=settings, languages=languages)
        if config.metrics_port:
            metrics.serve(config.metrics_port, health=bot.health)
            log.info("Serving Prometheus metrics and /healthz on port %d.", config.metrics_port)
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
        detecting.cancel()  # nothing waits for it any more; the thread ends by itself
        _restore_signals(loop)
        metrics.stop_serving()
        await settings.close()  # after the bot: its follower and feed poller have stopped
    log.info("Stopped.")


def _restore_signals(loop: asyncio.AbstractEventLoop) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)


async def _open_and_connect(bot: MatchBot) -> None:
    report = await bot.registry.open()
    log.info("Index ready: %s", report.summary())
    await bot.warmed()  # connected only once the first question is answered as quickly as the next
    await asyncio.to_thread(bot.library.warm_word_lookup)  # begun in the background as the index opened
    bot.follow_registry()
    await bot.connect()


async def _ended(task: asyncio.Task[None], grace: float) -> None:
    """Wait for the bot's main task after a shutdown; what it raises while stopping no longer matters."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def run(config: Config, *, pipeline: Pipeline | None = None) -> None:
    """The entry point of ``matchbot run``: errors a user can fix arrive as one MatchbotError line.

    Neither the token nor the password of ``DATABASE_URL`` reaches the log: every line is filtered,
    whatever its level.
    """
    token = config.require_token()  # before anything slow
    logging.getLogger().handlers.clear()  # the bot's log replaces the command line's terse one
    discord.utils.setup_logging(level=logging.getLevelName(config.log_level))
    libraries_at_debug()
    hide_token(token)
    if config.database_url:
        hide_database_password(config.database_url)
    asyncio.run(serve(config, pipeline=pipeline))


def warm_up(languages: LanguageDetector, pipeline: Pipeline) -> None:
    """Make the first call of every model now (the language detector's about 2 s, the encoders' and
    the later stages'), and read English's common words (``index.lexical.common_words``), so that the
    first member's question does not wait for them. Blocking: the bot runs it in a thread as it
    starts. A model that fails here is logged and left to fail (or not) at the first question, which
    reports it as any question's failure."""
    started = time.perf_counter()
    try:
        took = pipeline.warm()
        began = time.perf_counter()
        i18n.warm(languages)
        took["language detector"] = time.perf_counter() - began
        began = time.perf_counter()
        common_words(ENGLISH)
        took["common words"] = time.perf_counter() - began
    except Exception:
        log.warning(
            "Warming the models up failed; the first question will load what is missing.", exc_info=True
        )
        return
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in took.items())
    log.info("Models warmed up in %.1f s (%s).", time.perf_counter() - started, parts)


def _seconds(latency: float) -> float | None:
    """A latency for /healthz: None before the first heartbeat (discord.py says NaN or infinity)."""
    return round(latency, 4) if math.isfinite(latency) else None


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
