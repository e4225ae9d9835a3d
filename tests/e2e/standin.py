"""A local stand-in for Discord's REST API and gateway, for end-to-end tests.

The real discord.py client (``discord.Client`` / ``commands.Bot``) connects to this server over
127.0.0.1 exactly as it would connect to Discord: it logs in over REST, opens the gateway
websocket, IDENTIFYs, receives READY and GUILD_CREATE, syncs its application commands and answers
interactions. Nothing inside discord.py is mocked; only two URLs are changed (see
:func:`point_discord_at`).

The server holds a small fixed world: one guild with two text channels, an ``@everyone`` role, a
"Moderator" role (MANAGE_GUILD), the bot's member, a moderator and a plain member. A test plays
the part of the users: it injects gateway events (:meth:`DiscordStandIn.slash`,
:meth:`DiscordStandIn.send_message`, :meth:`DiscordStandIn.click`, ...) and then inspects the REST
calls the bot made (:attr:`DiscordStandIn.calls`, :meth:`DiscordStandIn.wait_for_call`).

Typical use::

    standin = DiscordStandIn()
    await standin.start()
    async with standin.running(bot):              # logs in, waits for on_ready, closes afterwards
        await bot.tree.sync(guild=discord.Object(standin.guild_id))
        interaction = await standin.slash("ask", [{"name": "question", "value": "Who scored?"}])
        reply = await standin.wait_for_reply(interaction)
        assert "scored" in reply.message_data["content"]
    await standin.stop()

Behaviour worth knowing when reading a failing test:

* The gateway honours ``compress=zlib-stream`` (one zlib stream per connection, each message
  flushed with Z_SYNC_FLUSH). Any other requested compression gets plain text frames, which
  discord.py also accepts.
* Intents are enforced like Discord does: MESSAGE_CREATE is only delivered with GUILD_MESSAGES
  (guild) or DIRECT_MESSAGES (DM); without MESSAGE_CONTENT a guild message that does not mention
  the bot arrives with empty content; without GUILD_MEMBERS, GUILD_CREATE lists only the bot.
* Messages the bot creates are echoed back as MESSAGE_CREATE (edits as MESSAGE_UPDATE), unless
  ephemeral, as Discord does; pass ``echo_bot_messages=False`` to turn that off.
* Interaction responses follow Discord's rules: a second response to the same interaction is
  refused with error 40060, and the first followup after ``defer()`` replaces the "thinking..."
  message (keeping the ephemeral choice made when deferring) instead of adding a message.
* Discord's limits that matter for a bot that quotes text are checked (2000 characters of
  content, embed limits, 25 autocomplete choices, empty messages), so such bugs surface as
  ``discord.HTTPException`` in the bot. A request the stand-in itself cannot handle is answered
  with a 400 whose message says so (never a 5xx, which discord.py would retry slowly).
* :meth:`DiscordStandIn.click` only clicks an enabled component of the message's current version.
* Users' clients speak :attr:`DiscordStandIn.locale` (``en-US``), the guild
  :attr:`DiscordStandIn.guild_locale`; an interaction can say another (``locale="fr"``). As on
  Discord, it still names the command and its options by their default names.
* Synced commands are checked as Discord checks them: names (lowercase letters, digits, ``-`` and
  ``_``, 1 to 32), descriptions (1 to 100), their localisations (known locales only) and names
  unique among siblings in every locale; a refused sync is a 400 (50035) naming the field.
* Close the client before calling :meth:`DiscordStandIn.stop`: a client whose gateway is closed
  under it tries to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import re
import secrets
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import discord
import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket
from discord.http import Route

__all__ = [
    "ADMINISTRATOR",
    "EVERYONE_PERMISSIONS",
    "FLAG_EPHEMERAL",
    "FLAG_LOADING",
    "MANAGE_GUILD",
    "RESPONSE_AUTOCOMPLETE",
    "RESPONSE_DEFERRED_MESSAGE",
    "RESPONSE_DEFERRED_UPDATE",
    "RESPONSE_MESSAGE",
    "RESPONSE_MODAL",
    "RESPONSE_UPDATE_MESSAGE",
    "DiscordStandIn",
    "Interaction",
    "RecordedCall",
    "point_discord_at",
    "restore_discord_endpoints",
]

log = logging.getLogger(__name__)

JSON = dict[str, Any]

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"
ATTACHMENT_PATH = "/attachments"
HEARTBEAT_INTERVAL_MS = 45_000
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADD_REACTIONS = 1 << 6
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1

EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)
MODERATOR_PERMISSIONS = MANAGE_GUILD | MANAGE_MESSAGES

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Interaction types and interaction callback (response) types.
INTERACTION_APPLICATION_COMMAND = 2
INTERACTION_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
INTERACTION_MODAL_SUBMIT = 5
RESPONSE_MESSAGE = 4
RESPONSE_DEFERRED_MESSAGE = 5
RESPONSE_DEFERRED_UPDATE = 6
RESPONSE_UPDATE_MESSAGE = 7
RESPONSE_AUTOCOMPLETE = 8
RESPONSE_MODAL = 9
RESPONSE_TYPES = {1, 4, 5, 6, 7, 8, 9, 10, 12}

# Application command types and option types that carry an id resolved in ``data.resolved``.
COMMAND_CHAT_INPUT = 1
COMMAND_MESSAGE = 3
OPTION_SUB_COMMAND = 1
OPTION_SUB_COMMAND_GROUP = 2
OPTION_USER = 6
OPTION_CHANNEL = 7
OPTION_ROLE = 8
OPTION_MENTIONABLE = 9
OPTION_ATTACHMENT = 11
SNOWFLAKE_OPTIONS = {OPTION_USER, OPTION_CHANNEL, OPTION_ROLE, OPTION_MENTIONABLE, OPTION_ATTACHMENT}

# Discord's length limits for message parts.
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
MAX_EMBED_FIELDS = 25
MAX_AUTOCOMPLETE_CHOICES = 25
MAX_COMMAND_OPTIONS = 25

# Discord's locales (https://discord.com/developers/docs/reference#locales).
LOCALES = frozenset(
    {"id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no", "pl"}
    | {"pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN", "ja"}
    | {"zh-TW", "ko"}
)

_MENTION_USER = re.compile(r"<@!?(\d+)>")
_MENTION_ROLE = re.compile(r"<@&(\d+)>")

_DEFAULT_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY
_DEFAULT_API_BASE = Route.BASE


class Op(IntEnum):
    """Gateway opcodes used by the stand-in."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


def point_discord_at(api_base: str, gateway_url: str) -> None:
    """Make every discord.py client in this process use ``api_base`` for REST and ``gateway_url``.

    An unsharded client connects straight to ``DiscordWebSocket.DEFAULT_GATEWAY`` (only an
    ``AutoShardedClient`` asks ``/gateway/bot`` for a URL, which the stand-in answers with its own)
    and reconnects to the ``resume_gateway_url`` sent in READY. REST requests, webhooks and
    interaction responses all build their URL from ``Route.BASE``.
    """
    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


Server = TypeVar("Server", bound="DiscordStandIn")


def restore_discord_endpoints() -> None:
    """Point discord.py back at the URLs it had when this module was imported."""
    Route.BASE = _DEFAULT_API_BASE
    DiscordWebSocket.DEFAULT_GATEWAY = _DEFAULT_GATEWAY


@contextlib.asynccontextmanager
async def running(server: Server) -> AsyncIterator[Server]:
    """``server`` started, then stopped and discord.py's URLs restored, whatever happens inside."""
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        restore_discord_endpoints()


@dataclass
class RecordedCall:
    """One REST request the client made, and what the stand-in answered."""

    method: str
    path: str  # without the /api/v10 prefix and without the query string
    query: dict[str, str]
    json: Any  # the parsed JSON body, or the ``payload_json`` part of a multipart body, or None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    status: int = 200
    response: Any = None  # the JSON sent back (None for 204 responses)
    at: float = 0.0  # time.monotonic() when the request arrived

    @property
    def message_data(self) -> JSON:
        """The message part of the body: ``data`` for an interaction callback, else the body."""
        body = self.json if isinstance(self.json, dict) else {}
        if self.path.endswith("/callback"):
            return body.get("data") or {}
        return body

    @property
    def content(self) -> str:
        """The message content this call carried ("" when there is none)."""
        return self.message_data.get("content") or ""

    @property
    def callback_type(self) -> int | None:
        """The interaction response type, for calls to ``/interactions/{id}/{token}/callback``."""
        if self.path.endswith("/callback") and isinstance(self.json, dict):
            return self.json.get("type")
        return None

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass
class Interaction:
    """An interaction the stand-in dispatched, and how the client has answered it so far."""

    id: int
    token: str
    type: int
    data: JSON
    payload: JSON  # the complete INTERACTION_CREATE payload
    channel_id: int
    response_type: int | None = None  # the callback type the client answered with
    dispatched_at: float = 0.0  # time.monotonic() when INTERACTION_CREATE was sent
    original_message: JSON | None = None  # the message that holds the response, once there is one
    followups: list[JSON] = field(default_factory=list)

    @property
    def user(self) -> JSON:
        """The user who triggered the interaction."""
        return self.payload["member"]["user"] if "member" in self.payload else self.payload["user"]

    @property
    def callback_path(self) -> str:
        """The path (as in :attr:`RecordedCall.path`) the client answers this interaction on."""
        return f"/interactions/{self.id}/{self.token}/callback"


class _ApiError(Exception):
    """An error answered the way Discord answers it: a status and a JSON body with a code."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors


def _form_error(field_path: str, code: str, message: str) -> _ApiError:
    """Discord's "Invalid Form Body" error (50035) for one field, e.g. ``content`` or ``embeds.0``."""
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(field_path.split(".")):
        errors = {part: errors}
    return _ApiError(400, 50035, "Invalid Form Body", errors)


def _json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py only decodes a body whose Content-Type is exactly "application/json" (no charset).
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


def _loads(text: str) -> Any:
    """Parsed JSON, or the text itself when it is not JSON (so that the call is still recorded)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class _Snowflakes:
    """Increasing Discord-style ids for objects created during a test."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


@dataclass
class _Session:
    """A gateway session: survives a reconnect when the client RESUMEs it.

    It keeps the dispatches it was sent, so a RESUME replays those the client missed, as Discord does.
    """

    session_id: str
    intents: int
    seq: int = 0
    shard: tuple[int, int] | None = None  # [shard_id, num_shards] from IDENTIFY; None: not sharded
    sent: list[JSON] = field(default_factory=list)  # every DISPATCH payload, in order (seq = index + 1)
    # The socket it is live on; None while its client reconnects (events then wait here for a RESUME).
    connection: _GatewayConnection | None = field(default=None, repr=False)

    def holds(self, guild_id: int | None) -> bool:
        """Whether this session's shard gets the guild's events (direct messages go to shard 0)."""
        return self.shard is None or ((guild_id or 0) >> 22) % self.shard[1] == self.shard[0]

    def record(self, event: str, data: JSON) -> JSON:
        self.seq += 1
        payload = {"op": Op.DISPATCH, "t": event, "s": self.seq, "d": data}
        self.sent.append(payload)
        return payload


class _GatewayConnection:
    """One client websocket, with its optional zlib-stream compressor."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None, transport: Any = None) -> None:
        self.ws = ws
        self.transport = transport  # the TCP connection, to drop it without a close frame
        self.session: _Session | None = None
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self._send_lock = asyncio.Lock()

    async def send(self, payload: JSON) -> None:
        text = json.dumps(payload)
        # One lock for compressing and sending keeps the zlib stream in the order it was written.
        async with self._send_lock:
            if self.ws.closed:
                return
            if self._zlib is None:
                await self.ws.send_str(text)
            else:
                data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: JSON) -> None:
        assert self.session is not None, "dispatch before IDENTIFY"
        await self.send(self.session.record(event, data))


# ---------------------------------------------------------------------- fault injection
#
# Everything that makes the stand-in misbehave on purpose lives here: gateway drops, op 7 and op 9, and
# REST answers of 429 (per route or global, with Discord's headers) and 5xx. A REST fault is answered
# *instead of* handling the request (Discord refused it), so the client's retry is the only attempt that
# counts; a fault never makes an interaction acknowledged twice by itself.


@dataclass
class _RestFault:
    """The next ``times`` requests matching ``method`` and ``path`` (a regex) are refused with ``status``."""

    path: re.Pattern[str]
    method: str | None
    status: int
    times: int
    retry_after: float
    is_global: bool
    hits: int = 0

    def matches(self, call: RecordedCall) -> bool:
        wanted = self.method is None or self.method == call.method
        return self.hits < self.times and wanted and self.path.search(call.path) is not None

    def response(self) -> tuple[JSON, dict[str, str]]:
        if self.status != 429:
            return {"message": "Service Unavailable (stand-in fault)", "code": 0}, {}
        body = {
            "message": "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.is_global,
        }
        headers = {  # what Discord sends; "Via" marks it as Discord's, not a Cloudflare ban
            "Retry-After": str(max(1, round(self.retry_after))),
            "Via": "1.1 google",
            "X-RateLimit-Scope": "global" if self.is_global else "user",
        }
        if self.is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update({
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + self.retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
                "X-RateLimit-Bucket": "stand-in-" + self.path.pattern.strip("^$/").replace("/", "-")[:40],
            })  # fmt: skip
        return body, headers


class _Faults:
    """The fault-injection methods of :class:`DiscordStandIn` (mixed in)."""

    _current: list[_Session]
    _rest_faults: list[_RestFault]
    _sessions: dict[str, _Session]
    guild_id: int
    faults_served: int = 0

    def _session_for(self, guild_id: int | None) -> _Session | None:
        raise NotImplementedError

    def _live_session(self, what: str, guild_id: int | None) -> _Session:
        """The session whose socket gets the events of ``guild_id`` (the stand-in's guild when None)."""
        session = self._session_for(self.guild_id if guild_id is None else guild_id)
        if session is None or session.connection is None:
            raise RuntimeError(f"cannot {what}: no client is connected")
        return session

    def fail_rest(
        self,
        path: str,
        *,
        status: int = 429,
        times: int = 1,
        method: str | None = None,
        retry_after: float = 0.3,
        is_global: bool = False,
    ) -> None:
        r"""Refuse the next ``times`` REST calls whose path matches the regex ``path`` with ``status``.

        429s carry ``retry_after`` in the body and Discord's rate-limit headers (per route, or global
        with ``is_global``); 5xx carry a plain error. Paths are as in :attr:`RecordedCall.path`, e.g.
        ``r"/interactions/\d+/[^/]+/callback"`` or ``r"/webhooks/.*/messages/@original"``.
        """
        fault = _RestFault(re.compile(path), method, status, times, retry_after, is_global)
        self._rest_faults.append(fault)

    async def drop_connection(self, *, guild_id: int | None = None) -> None:
        """Cut a gateway TCP connection without a close frame (a network failure): the one that gets
        the events of ``guild_id``, by default of the stand-in's guild (with shards, its shard's)."""
        session = self._live_session("drop the connection", guild_id)
        connection, session.connection = session.connection, None  # events now wait for a RESUME
        assert connection is not None and connection.transport is not None
        connection.transport.abort()

    async def invalidate_session(self, *, resumable: bool, guild_id: int | None = None) -> None:
        """Send op 9 INVALID_SESSION: with ``resumable`` the client RESUMEs, else it IDENTIFYs anew.

        ``guild_id`` picks the session as for :meth:`drop_connection`."""
        session = self._live_session("invalidate the session", guild_id)
        connection = session.connection
        assert connection is not None
        if not resumable:
            self._sessions.pop(session.session_id, None)
            self._current.remove(session)
        else:
            session.connection = None  # the client closes this socket and resumes on a new one
        await connection.send({"op": Op.INVALID_SESSION, "d": resumable})

    def _rest_fault_for(self, call: RecordedCall) -> web.Response | None:
        for fault in self._rest_faults:
            if fault.matches(call):
                fault.hits += 1
                self.faults_served += 1
                body, headers = fault.response()
                call.status, call.response = fault.status, body
                return web.Response(
                    status=fault.status,
                    body=json.dumps(body).encode(),
                    headers={"Content-Type": "application/json", **headers},
                )
        return None


Handler = Callable[..., Awaitable[Any]]
_NO_CONTENT = object()  # a handler's return value for "204 No Content"


class DiscordStandIn(_Faults):
    """Discord's REST API and gateway for one bot, one guild and a few users, on 127.0.0.1."""

    def __init__(self, *, bot_token: str = "test-token", echo_bot_messages: bool = True) -> None:
        self.bot_token = bot_token
        self.echo_bot_messages = echo_bot_messages
        self.locale = "en-US"  # the language of the users' Discord clients, sent with each interaction
        self.guild_locale = "en-US"  # the guild's preferred locale
        self._ids = _Snowflakes()

        # The fixed world. Ids are ints here and strings in every JSON payload.
        self.application_id = 1_290_000_000_000_000_001
        self.guild_id = 1_290_000_000_000_000_100
        self.channel_general = 1_290_000_000_000_000_101
        self.channel_offtopic = 1_290_000_000_000_000_102
        self.role_moderator_id = 1_290_000_000_000_000_110
        self.bot_user: JSON = _user(self.application_id, "matchbot", bot=True)
        self.owner: JSON = _user(1_290_000_000_000_000_200, "owner")
        self.roles: list[JSON] = [
            _role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, position=0),
            _role(self.role_moderator_id, "Moderator", MODERATOR_PERMISSIONS, position=1),
        ]
        self.channels: list[JSON] = [
            _text_channel(self.channel_general, self.guild_id, "general", position=0),
            _text_channel(self.channel_offtopic, self.guild_id, "off-topic", position=1),
        ]
        self.members: dict[int, JSON] = {}
        self.bot_member = self.add_member(self.bot_user)
        self.moderator = self.add_member(
            _user(1_290_000_000_000_000_201, "moderator"), roles=[self.role_moderator_id]
        )
        self.member = self.add_member(_user(1_290_000_000_000_000_202, "fan"))

        # What happened during the test.
        self.calls: list[RecordedCall] = []
        self.commands: list[JSON] = []  # the commands of the last bulk overwrite (PUT)
        self.commands_scope: int | None = None  # the guild id of that overwrite, None for global
        self.synced: dict[int | None, list[JSON]] = {}  # every scope's current commands
        self.syncs = 0
        self.messages: dict[int, JSON] = {}  # every message (users' and the bot's), by id
        self.messages_sent: list[JSON] = []  # messages the bot created with POST /channels/{id}/messages
        self.interactions: dict[str, Interaction] = {}  # by token
        self.presence: JSON | None = None  # the last PRESENCE_UPDATE the client sent
        self.gateway_queries: list[dict[str, str]] = []  # each websocket's query (v, encoding, compress)
        self.identifies = 0  # sessions started (IDENTIFY)
        self.resumes = 0  # sessions resumed (RESUME)
        self.replayed = 0  # events replayed on a RESUME

        self._dm_channels: dict[int, JSON] = {}  # by recipient user id
        self._attachments: dict[int, tuple[JSON, bytes]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_GatewayConnection] = set()
        self._current: list[_Session] = []  # the sessions in use: one per shard, live or resumable
        self._rest_faults: list[_RestFault] = []
        self._ready = asyncio.Event()
        self._calls_changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._base_url = ""
        self._routes = self._route_table()

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_base(self) -> str:
        """The REST base URL, e.g. ``http://127.0.0.1:8123/api/v10`` (valid after :meth:`start`)."""
        self._require_started()
        return self._base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The gateway URL, e.g. ``ws://127.0.0.1:8123/gateway`` (valid after :meth:`start`)."""
        self._require_started()
        return "ws" + self._base_url.removeprefix("http") + GATEWAY_PATH

    async def start(self) -> None:
        """Start serving on a free port of 127.0.0.1."""
        if self._runner is not None:
            raise RuntimeError("the stand-in is already started")
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get(GATEWAY_PATH, self._gateway)
        app.router.add_get(GATEWAY_PATH + "/", self._gateway)
        app.router.add_get(ATTACHMENT_PATH + "/{attachment_id}/{filename}", self._serve_attachment)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self._base_url = f"http://{host}:{port}"
        self._runner = runner
        log.debug("Discord stand-in listening on %s", self._base_url)

    async def stop(self) -> None:
        """Close every gateway websocket and shut the server down."""
        for connection in list(self._connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.ws.close(code=1001, message=b"stand-in stopped"), 2.0)
        self._connections.clear()
        self._current.clear()
        self._ready.clear()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> DiscordStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_ready(self, timeout: float = 30) -> None:
        """Return once a client has IDENTIFYed and been sent READY and GUILD_CREATE."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    @contextlib.asynccontextmanager
    async def running(
        self,
        client: discord.Client,
        *,
        token: str | None = None,
        timeout: float = 30,
        reconnect: bool = True,
    ) -> AsyncIterator[discord.Client]:
        """Run ``client`` against the stand-in until the block ends.

        Points discord.py at this server, logs in (a wrong token raises ``discord.LoginFailure``
        here, after closing the client), connects, and waits until the client is ready (its
        ``on_ready`` has been dispatched). On exit the client is closed and its connection task
        awaited; an error that ended the connection early is raised then.
        """
        point_discord_at(self.api_base, self.gateway_url)
        try:
            await asyncio.wait_for(client.login(self.bot_token if token is None else token), timeout)
        except BaseException:
            await client.close()
            raise
        task = asyncio.create_task(client.connect(reconnect=reconnect), name="discord-client-connect")
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                if task in done:
                    task.result()  # raises the reason the connection ended
                    raise RuntimeError("the client disconnected before it was ready")
                raise TimeoutError(f"the client was not ready within {timeout}s")
            yield client
        finally:
            ready.cancel()
            await client.close()
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            elif not task.cancelled():
                error = task.exception()
                if error is not None and not isinstance(error, discord.ConnectionClosed):
                    raise error

    def _require_started(self) -> None:
        if not self._base_url:
            raise RuntimeError("start() the stand-in first")

    # ------------------------------------------------------------------ the world

    def add_member(self, user: JSON | str, *, roles: Iterable[int] = ()) -> JSON:
        """Add a guild member (a user dict, or just a username) and return the member dict.

        Members added before the client connects are part of its GUILD_CREATE.
        """
        if isinstance(user, str):
            user = _user(self._ids.next(), user)
        member: JSON = {
            "user": user,
            "roles": [str(role_id) for role_id in roles],
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": "2024-08-01T12:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        self.members[int(user["id"])] = member
        return member

    @property
    def guild(self) -> JSON:
        """The guild as sent in GUILD_CREATE to a client with the GUILD_MEMBERS intent."""
        return self._guild_payload(include_members=True)

    def permissions_of(self, member: JSON) -> int:
        """The guild-wide permissions of a member, computed from its roles."""
        if int(member["user"]["id"]) == int(self.owner["id"]):
            return ALL_PERMISSIONS
        by_id = {int(role["id"]): int(role["permissions"]) for role in self.roles}
        permissions = by_id[self.guild_id]
        for role_id in member["roles"]:
            permissions |= by_id.get(int(role_id), 0)
        return ALL_PERMISSIONS if permissions & ADMINISTRATOR else permissions

    def add_attachment(self, filename: str, data: bytes, content_type: str = "text/plain") -> JSON:
        """Store a file and return its attachment dict, whose ``url`` serves the bytes.

        Use it as the value of an attachment option (type 11) of :meth:`slash`, or in the
        ``attachments`` of :meth:`send_message`.
        """
        attachment_id = self._ids.next()
        url = f"{self._base_url}{ATTACHMENT_PATH}/{attachment_id}/{quote(filename, safe='')}"
        attachment: JSON = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }
        self._attachments[attachment_id] = (attachment, data)
        return attachment

    def dm_channel(self, user: JSON) -> JSON:
        """The DM channel between the bot and ``user`` (a user or member dict), created on demand."""
        user = _as_user(user)
        user_id = int(user["id"])
        if user_id not in self._dm_channels:
            self._dm_channels[user_id] = {
                "id": str(self._ids.next()),
                "type": 1,
                "recipients": [user],
                "last_message_id": None,
                "flags": 0,
            }
        return self._dm_channels[user_id]

    def can_use(self, name: str, user: JSON | None = None) -> bool:
        """Whether Discord would show the synced command ``name`` to ``user`` in the guild.

        Discord hides a command whose ``default_member_permissions`` the member lacks; the
        stand-in's :meth:`slash` does not, so that a bot's own permission checks can be tested.
        """
        command, _ = self._find_command(name, COMMAND_CHAT_INPUT, guild=True)
        required = command.get("default_member_permissions")
        if required is None:
            return True
        granted = self.permissions_of(self._as_member(user or self.member))
        return granted & int(required) == int(required)

    # ------------------------------------------------------------------ recorded calls

    async def wait_for_call(
        self, predicate: Callable[[RecordedCall], bool], timeout: float = 30, *, since: int = 0
    ) -> RecordedCall:
        """The first recorded call at index ``since`` or later that matches ``predicate``.

        Calls recorded before this method is called count too, so ``since=len(standin.calls)``
        taken before triggering something waits only for what follows.
        """

        async def scan() -> RecordedCall:
            checked = since
            async with self._calls_changed:
                while True:
                    for call in self.calls[checked:]:
                        if predicate(call):
                            return call
                    checked = max(checked, len(self.calls))
                    await self._calls_changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            recorded = ", ".join(str(call) for call in self.calls[since:]) or "none"
            raise TimeoutError(
                f"no matching REST call within {timeout}s; calls since {since}: {recorded}"
            ) from None

    def calls_for(self, interaction: Interaction) -> list[RecordedCall]:
        """The callback, followups and edits made with ``interaction``'s token, in order."""
        return [call for call in self.calls if interaction.token in call.path.split("/")]

    async def wait_for_response(self, interaction: Interaction, timeout: float = 30) -> RecordedCall:
        """The client's (first) callback for ``interaction``."""
        path = interaction.callback_path
        return await self.wait_for_call(lambda call: call.path == path, timeout)

    async def wait_for_reply(self, interaction: Interaction, timeout: float = 30) -> RecordedCall:
        """The first call that put a visible message in answer to ``interaction``.

        That is a callback of type 4 (message) or 7 (update), a followup, or an edit of the
        original response (what ``defer()`` + ``edit_original_response`` does). Read it with
        ``call.message_data`` / ``call.content``.
        """
        return await self.wait_for_call(lambda call: _is_reply(call, interaction), timeout)

    def replies(self, interaction: Interaction) -> list[RecordedCall]:
        """Every call so far that put a visible message in answer to ``interaction`` (as in
        :meth:`wait_for_reply`), in order."""
        return [call for call in self.calls if _is_reply(call, interaction)]

    async def _record(self, call: RecordedCall) -> None:
        async with self._calls_changed:
            self.calls.append(call)
            self._calls_changed.notify_all()

    # ------------------------------------------------------------------ injecting events

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send a gateway DISPATCH ``event`` to the client whose shard gets it (its ``guild_id``'s).

        While that client is reconnecting (after a drop or op 7), the event is kept in its session and
        replayed when it RESUMEs, as Discord does; a client that identifies anew never gets it.
        """
        guild_id = data.get("guild_id")
        await self._send_event(event, data, int(guild_id) if guild_id else None)

    async def _send_event(self, event: str, data: JSON, guild_id: int | None) -> None:
        session = self._session_for(guild_id)
        if session is None:
            raise RuntimeError(f"cannot send {event}: no client is connected (for guild {guild_id})")
        if session.connection is None:
            session.record(event, data)
            return
        await session.connection.dispatch(event, data)

    async def request_reconnect(self, *, guild_id: int | None = None) -> None:
        """Send op 7 RECONNECT: the client reconnects to ``resume_gateway_url`` and RESUMEs.

        Events dispatched until it has resumed wait in its session and are replayed then. ``guild_id``
        picks the connection as for :meth:`drop_connection`.
        """
        session = self._live_session("send RECONNECT", guild_id)
        connection, session.connection = session.connection, None
        assert connection is not None
        await connection.send({"op": Op.RECONNECT, "d": None})

    async def slash(
        self,
        name: str,
        options: list[JSON] | None = None,
        *,
        user: JSON | None = None,
        channel_id: int | None = None,
        guild: bool = True,
        locale: str | None = None,
    ) -> Interaction:
        """Invoke the synced slash command ``name`` as ``user`` (default: :attr:`member`).

        ``options`` are given as Discord sends them, ``{"name": ..., "value": ...}``; a missing
        ``type`` is filled in from the synced command, and a subcommand is an option of type 1
        (inside one of type 2 for a group) with its own ``options``. Users, channels, roles and
        attachments may be given as their dicts; they are turned into ids plus ``resolved`` data.
        ``guild=False`` sends it from a DM with the bot; ``locale`` is the user's client language.
        """
        command, scope = self._find_command(name, COMMAND_CHAT_INPUT, guild=guild)
        filled = self._fill_options(command.get("options", []), options or [])
        data: JSON = {"id": command["id"], "name": name, "type": COMMAND_CHAT_INPUT}
        if filled:
            data["options"] = filled
        invoker = self._as_member(user or self.member) if guild else None
        resolved = self._resolve_options(filled, invoker=invoker)
        if resolved:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._interact(
            INTERACTION_APPLICATION_COMMAND,
            data,
            user=user,
            channel_id=channel_id,
            guild=guild,
            locale=locale,
        )

    async def context_menu(
        self, name: str, message: JSON, *, user: JSON | None = None, locale: str | None = None
    ) -> Interaction:
        """Invoke the synced message context-menu command ``name`` on ``message``."""
        in_guild = "guild_id" in message
        command, scope = self._find_command(name, COMMAND_MESSAGE, guild=in_guild)
        message = self.messages.get(int(message["id"]), message)
        data: JSON = {
            "id": command["id"],
            "name": name,
            "type": COMMAND_MESSAGE,
            "target_id": message["id"],
            "resolved": {"messages": {message["id"]: message}},
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._interact(
            INTERACTION_APPLICATION_COMMAND,
            data,
            user=user,
            channel_id=int(message["channel_id"]),
            guild=in_guild,
            locale=locale,
        )

    async def autocomplete(
        self,
        name: str,
        options: list[JSON],
        *,
        user: JSON | None = None,
        channel_id: int | None = None,
        guild: bool = True,
    ) -> Interaction:
        """Ask for autocomplete choices of the slash command ``name``.

        Exactly one option (possibly inside a subcommand) must have ``"focused": True``; its
        ``value`` is the partial text the user typed.
        """
        command, scope = self._find_command(name, COMMAND_CHAT_INPUT, guild=guild)
        filled = self._fill_options(command.get("options", []), options)
        if sum(1 for option in _walk_options(filled) if option.get("focused")) != 1:
            raise ValueError("autocomplete needs exactly one option with 'focused': True")
        data: JSON = {"id": command["id"], "name": name, "type": COMMAND_CHAT_INPUT, "options": filled}
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._interact(
            INTERACTION_AUTOCOMPLETE, data, user=user, channel_id=channel_id, guild=guild
        )

    async def click(
        self,
        message: JSON,
        custom_id: str,
        *,
        user: JSON | None = None,
        values: list[str] | None = None,
        locale: str | None = None,
    ) -> Interaction:
        """Click the button ``custom_id`` on a message the bot sent.

        With ``values`` it picks those options of the string select ``custom_id`` instead. As in
        Discord's client, only an enabled component of the message's current version can be used.
        """
        message = self.messages.get(int(message["id"]), message)
        component = _find_component(message["components"], custom_id)
        if component is None or component.get("disabled"):
            available = [
                c["custom_id"] for c in _walk_components(message["components"]) if not c.get("disabled")
            ]
            raise LookupError(
                f"message {message['id']} has no enabled component {custom_id!r}; it has {available}"
            )
        data: JSON = {"custom_id": custom_id, "component_type": 2}
        if values is not None:
            data.update(component_type=3, values=values)
        return await self._interact(
            INTERACTION_COMPONENT,
            data,
            user=user,
            channel_id=int(message["channel_id"]),
            guild="guild_id" in message,
            message=message,
            locale=locale,
        )

    async def submit_modal(
        self,
        custom_id: str,
        values: dict[str, str],
        *,
        user: JSON | None = None,
        channel_id: int | None = None,
        guild: bool = True,
    ) -> Interaction:
        """Submit the modal ``custom_id`` with text input values (by the inputs' custom ids)."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": input_id, "value": value}]}
            for input_id, value in values.items()
        ]
        data: JSON = {"custom_id": custom_id, "components": rows}
        return await self._interact(
            INTERACTION_MODAL_SUBMIT, data, user=user, channel_id=channel_id, guild=guild
        )

    async def send_message(
        self,
        content: str,
        *,
        author: JSON | None = None,
        channel_id: int | None = None,
        mentions: list[JSON] | None = None,
        referenced_message: JSON | None = None,
        attachments: list[JSON] | None = None,
        guild: bool = True,
    ) -> JSON:
        """A user posts ``content``: dispatch MESSAGE_CREATE and return the message dict.

        ``author`` defaults to :attr:`member`. Mentions written as ``<@id>`` in ``content`` are
        found automatically; ``mentions`` adds more. ``referenced_message`` makes it a reply.
        ``guild=False`` posts it in the author's DM with the bot. The event is not delivered when
        the client lacks the intents Discord would require (see the module documentation).
        """
        member = self._as_member(author or self.member)
        user = member["user"]
        channel = self._channel(channel_id or self.channel_general) if guild else self.dm_channel(user)
        message = self._new_message(
            channel=channel,
            author=user,
            content=content,
            attachments=list(attachments or []),
            extra_mentions=[_as_user(mentioned) for mentioned in mentions or []],
            referenced=referenced_message,
        )
        await self._deliver_message_create(message, member=member if guild else None)
        return message

    # ------------------------------------------------------------------ interaction building

    async def _interact(
        self,
        interaction_type: int,
        data: JSON,
        *,
        user: JSON | None,
        channel_id: int | None,
        guild: bool,
        message: JSON | None = None,
        locale: str | None = None,
    ) -> Interaction:
        if locale is not None and locale not in LOCALES:
            raise ValueError(f"Discord has no locale {locale!r}; it has {sorted(LOCALES)}")
        member = self._as_member(user or self.member) if guild else None
        person = member["user"] if member is not None else _as_user(user or self.member)
        interaction_id = self._ids.next()
        token = secrets.token_urlsafe(48)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale or self.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "app_permissions": str(self.permissions_of(self.bot_member)),
        }
        if member is not None:
            channel = self._channel(channel_id or self.channel_general)
            permissions = self.permissions_of(member)
            payload.update(
                guild_id=channel["guild_id"],
                guild={"id": channel["guild_id"], "locale": self.guild_locale, "features": []},
                guild_locale=self.guild_locale,
                channel_id=channel["id"],
                channel={**channel, "permissions": str(permissions)},
                member={**member, "permissions": str(permissions)},
                authorizing_integration_owners={"0": channel["guild_id"]},
                context=0,
            )
        else:
            channel = self.dm_channel(person)
            payload.update(
                channel_id=channel["id"],
                channel=channel,
                user=person,
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message is not None:
            payload["message"] = message
        interaction = Interaction(
            id=interaction_id,
            token=token,
            type=interaction_type,
            data=data,
            payload=payload,
            channel_id=int(channel["id"]),
        )
        self.interactions[token] = interaction
        interaction.dispatched_at = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    def _find_command(self, name: str, command_type: int, *, guild: bool) -> tuple[JSON, int | None]:
        scopes: list[int | None] = [self.guild_id, None] if guild else [None]
        for scope in scopes:
            for command in self.synced.get(scope, []):
                if command["name"] == name and command.get("type", COMMAND_CHAT_INPUT) == command_type:
                    return command, scope
        known = sorted(
            f"{command['name']} ({'guild' if scope else 'global'})"
            for scope, commands in self.synced.items()
            for command in commands
        )
        raise LookupError(f"no synced command {name!r} of type {command_type}; synced: {known or 'none'}")

    def _fill_options(self, definitions: list[JSON], given: list[JSON]) -> list[JSON]:
        by_name = {definition["name"]: definition for definition in definitions}
        filled = []
        for option in given:
            definition = by_name.get(option["name"])
            if definition is None:
                raise LookupError(f"the command has no option {option['name']!r}; it has {sorted(by_name)}")
            option = {"type": definition["type"], **option}
            if option["type"] in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
                option["options"] = self._fill_options(
                    definition.get("options", []), option.get("options", [])
                )
            elif option["type"] in SNOWFLAKE_OPTIONS and "value" in option:
                option["value"] = _snowflake_of(option["value"])
            filled.append(option)
        return filled

    def _resolve_options(self, options: list[JSON], *, invoker: JSON | None) -> JSON:
        """``data.resolved`` for the id-valued options; ``invoker`` is None outside the guild."""
        resolved: dict[str, JSON] = {}
        for option in _walk_options(options):
            kind, value = option["type"], str(option.get("value"))
            if kind == OPTION_ATTACHMENT:
                attachment, _ = self._attachments[int(value)]
                resolved.setdefault("attachments", {})[value] = attachment
            elif kind in (OPTION_USER, OPTION_MENTIONABLE) and int(value) in self.members:
                member = self.members[int(value)]
                resolved.setdefault("users", {})[value] = member["user"]
                if invoker is not None:
                    partial = {key: val for key, val in member.items() if key != "user"}
                    partial["permissions"] = str(self.permissions_of(member))
                    resolved.setdefault("members", {})[value] = partial
            elif kind in (OPTION_ROLE, OPTION_MENTIONABLE):
                role = next((role for role in self.roles if role["id"] == value), None)
                if role is not None:
                    resolved.setdefault("roles", {})[value] = role
            elif kind == OPTION_CHANNEL:
                channel = self._channel(int(value))
                resolved.setdefault("channels", {})[value] = {
                    **channel,
                    "permissions": str(self.permissions_of(invoker or self.member)),
                }
        return resolved

    def _as_member(self, person: JSON) -> JSON:
        """A member dict for a member dict, or for a user dict of a guild member."""
        if "user" in person:
            return person
        return self.members[int(person["id"])]

    # ------------------------------------------------------------------ messages

    def _channel(self, channel_id: int) -> JSON:
        for channel in self.channels:
            if int(channel["id"]) == channel_id:
                return channel
        for channel in self._dm_channels.values():
            if int(channel["id"]) == channel_id:
                return channel
        raise _ApiError(404, 10003, "Unknown Channel")

    def _new_message(
        self,
        *,
        channel: JSON,
        author: JSON,
        content: str,
        embeds: list[JSON] | None = None,
        components: list[JSON] | None = None,
        attachments: list[JSON] | None = None,
        flags: int = 0,
        extra_mentions: list[JSON] | None = None,
        referenced: JSON | None = None,
        message_type: int = 0,
    ) -> JSON:
        message_id = self._ids.next()
        message: JSON = {
            "id": str(message_id),
            "channel_id": channel["id"],
            "author": author,
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": embeds or [],
            "components": components or [],
            "reactions": [],
            "pinned": False,
            "type": message_type,
            "flags": flags,
        }
        if "guild_id" in channel:
            message["guild_id"] = channel["guild_id"]
        self._set_mentions(message, extra_mentions or [])
        if referenced is not None:
            referenced = self.messages.get(int(referenced["id"]), referenced)
            message["type"] = 19 if message_type == 0 else message_type
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                **({"guild_id": referenced["guild_id"]} if "guild_id" in referenced else {}),
            }
            message["referenced_message"] = referenced
        self.messages[message_id] = message
        channel["last_message_id"] = message["id"]
        return message

    def _set_mentions(self, message: JSON, extra: list[JSON]) -> None:
        mentioned: dict[str, JSON] = {user["id"]: user for user in extra}
        for user_id in _MENTION_USER.findall(message["content"]):
            member = self.members.get(int(user_id))
            if member is not None:
                mentioned[user_id] = member["user"]
        message["mentions"] = list(mentioned.values())
        role_ids = {role["id"] for role in self.roles}
        message["mention_roles"] = [
            rid for rid in _MENTION_ROLE.findall(message["content"]) if rid in role_ids
        ]

    def _bot_message(
        self,
        channel: JSON,
        payload: JSON,
        files: list[tuple[str, bytes]],
        *,
        interaction: Interaction | None = None,
        require_content: bool = True,
        extra_flags: int = 0,
    ) -> JSON:
        """Create a message the bot sends, from a REST payload (and uploaded files)."""
        _validate_message(payload, files, require_content=require_content)
        attachments = self._attachments_from(payload, files)
        reference = payload.get("message_reference")
        referenced = None
        if reference and reference.get("message_id"):
            referenced = self.messages.get(int(reference["message_id"]))
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise _form_error("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
        message_type = 0
        if interaction is not None and interaction.type == INTERACTION_APPLICATION_COMMAND:
            message_type = (
                20 if interaction.data.get("type", COMMAND_CHAT_INPUT) == COMMAND_CHAT_INPUT else 23
            )
        message = self._new_message(
            channel=channel,
            author=self.bot_user,
            content=payload.get("content") or "",
            embeds=payload.get("embeds") or [],
            components=payload.get("components") or [],
            attachments=attachments,
            flags=(payload.get("flags") or 0) | extra_flags,
            referenced=referenced,
            message_type=message_type,
        )
        if interaction is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user,
                "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
            }
            if interaction.original_message is not None:
                message["interaction_metadata"]["original_response_message_id"] = (
                    interaction.original_message["id"]
                )
        return message

    def _attachments_from(self, payload: JSON, files: list[tuple[str, bytes]]) -> list[JSON]:
        """Stored attachments for the uploaded ``files``, keeping those of ``payload`` that exist."""
        kept: list[JSON] = []
        for entry in payload.get("attachments") or []:
            known = self._attachments.get(int(entry["id"]))
            if known is not None:
                kept.append(known[0])
        uploaded = []
        for filename, data in files:
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            uploaded.append(self.add_attachment(filename, data, content_type))
        return kept + uploaded

    def _edit_message(self, message: JSON, payload: JSON, files: list[tuple[str, bytes]]) -> JSON:
        _validate_message(payload, files, require_content=False)
        was_loading = bool(message["flags"] & FLAG_LOADING)
        if "content" in payload:
            message["content"] = payload["content"] or ""
            self._set_mentions(message, [])
        for key in ("embeds", "components"):
            if key in payload:
                message[key] = payload[key] or []
        if "attachments" in payload or files:
            message["attachments"] = self._attachments_from(payload, files)
        if "flags" in payload and payload["flags"] is not None:
            kept = message["flags"] & FLAG_EPHEMERAL
            message["flags"] = kept | (payload["flags"] & FLAG_SUPPRESS_EMBEDS)
        message["flags"] &= ~FLAG_LOADING
        if not was_loading:
            message["edited_timestamp"] = _now_iso()
        return message

    async def _deliver_message_create(self, message: JSON, *, member: JSON | None) -> None:
        """Dispatch MESSAGE_CREATE as Discord would, given the client's intents."""
        guild_id = int(message["guild_id"]) if "guild_id" in message else None
        session = self._session_for(guild_id)
        if session is None:
            return
        intents = session.intents
        in_guild = guild_id is not None
        if not intents & (INTENT_GUILD_MESSAGES if in_guild else INTENT_DIRECT_MESSAGES):
            return
        event = dict(message)
        if member is not None:
            event["member"] = {key: value for key, value in member.items() if key != "user"}
        mentions_bot = any(user["id"] == self.bot_user["id"] for user in message["mentions"])
        from_bot = message["author"]["id"] == self.bot_user["id"]
        if in_guild and not intents & INTENT_MESSAGE_CONTENT and not mentions_bot and not from_bot:
            event.update(content="", embeds=[], attachments=[], components=[])
        await self._send_event("MESSAGE_CREATE", event, guild_id)

    async def _echo(self, event: str, message: JSON) -> None:
        """Tell the client about a message it created or edited, unless that is turned off."""
        if not self.echo_bot_messages or message["flags"] & FLAG_EPHEMERAL:
            return
        if event == "MESSAGE_CREATE":
            await self._deliver_message_create(
                message, member=self.bot_member if "guild_id" in message else None
            )
        else:
            guild_id = int(message["guild_id"]) if "guild_id" in message else None
            if self._session_for(guild_id) is not None:
                await self._send_event(event, message, guild_id)

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, timeout=2.0)
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"Only the json encoding is supported.")
            return ws
        connection = _GatewayConnection(ws, request.query.get("compress"), request.transport)
        self._connections.add(connection)
        try:
            await connection.send({"op": Op.HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            async for frame in ws:
                if frame.type is aiohttp.WSMsgType.TEXT:
                    await self._on_gateway_payload(connection, json.loads(frame.data))
                elif frame.type is aiohttp.WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Binary frames are not supported.")
        finally:
            self._connections.discard(connection)
            if connection.session is not None and connection.session.connection is connection:
                connection.session.connection = None  # its events wait for a RESUME
                self._ready.clear()
        return ws

    async def _on_gateway_payload(self, connection: _GatewayConnection, payload: JSON) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == Op.HEARTBEAT:
            await connection.send({"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            await self._identify(connection, data or {})
        elif op == Op.RESUME:
            await self._resume(connection, data or {})
        elif op == Op.REQUEST_GUILD_MEMBERS:
            await self._send_member_chunk(connection, data or {})
        elif op == Op.PRESENCE_UPDATE:
            self.presence = data
        else:
            log.info("Discord stand-in ignores gateway op %s", op)

    def _token_ok(self, token: str | None) -> bool:
        return (token or "").removeprefix("Bot ").strip() == self.bot_token

    async def _identify(self, connection: _GatewayConnection, data: JSON) -> None:
        if connection.session is not None:
            await connection.ws.close(code=4005, message=b"Already authenticated.")
            return
        if not self._token_ok(data.get("token")):
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard")
        if shard is not None and not (len(shard) == 2 and 0 <= int(shard[0]) < int(shard[1])):
            await connection.ws.close(code=4010, message=b"Invalid shard.")
            return
        include_members = bool(int(data.get("intents") or 0) & INTENT_GUILD_MEMBERS)
        guilds = [
            guild
            for guild in self._guild_payloads(include_members=include_members)
            if shard is None or (int(guild["id"]) >> 22) % int(shard[1]) == int(shard[0])
        ]
        session = _Session(
            session_id=secrets.token_hex(16),
            intents=int(data.get("intents") or 0),
            shard=(int(shard[0]), int(shard[1])) if shard is not None else None,
        )
        self.identifies += 1
        self._sessions[session.session_id] = session
        self._take_up(session, connection)
        ready: JSON = {
            "v": 10,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": guild["id"], "unavailable": True} for guild in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["discord-stand-in"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await connection.dispatch("READY", ready)
        for guild in guilds:
            await connection.dispatch("GUILD_CREATE", guild)
        self._ready.set()

    async def _resume(self, connection: _GatewayConnection, data: JSON) -> None:
        session = self._sessions.get(data.get("session_id") or "")
        if session is None or not self._token_ok(data.get("token")):
            await connection.send({"op": Op.INVALID_SESSION, "d": False})
            return
        self._take_up(session, connection)
        self.resumes += 1
        missed = session.sent[int(data.get("seq") or 0) :]
        for payload in missed:  # what the client missed, then RESUMED (as Discord does)
            await connection.send(payload)
        self.replayed += len(missed)
        await connection.dispatch("RESUMED", {})
        self._ready.set()

    async def _send_member_chunk(self, connection: _GatewayConnection, data: JSON) -> None:
        if connection.session is None:
            return
        members = list(self.members.values())
        if data.get("user_ids"):
            wanted = {str(user_id) for user_id in _as_list(data["user_ids"])}
            members = [member for member in members if member["user"]["id"] in wanted]
        elif data.get("query"):
            prefix = str(data["query"]).lower()
            members = [member for member in members if member["user"]["username"].startswith(prefix)]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk: JSON = {
            "guild_id": str(self.guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        if data.get("presences"):
            chunk["presences"] = []
        await connection.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------------ shards

    shard_count = 1  # what GET /gateway/bot recommends (see tests/e2e/shards.py for more guilds)

    def _guild_payloads(self, *, include_members: bool) -> list[JSON]:
        """GUILD_CREATE of every guild the bot is in; IDENTIFY with a shard gets that shard's."""
        return [self._guild_payload(include_members=include_members)]

    def _take_up(self, session: _Session, connection: _GatewayConnection) -> None:
        """``session`` is now live on ``connection``, in place of any other session of its shard."""
        self._current = [s for s in self._current if s.shard != session.shard] + [session]
        session.connection = connection
        connection.session = session

    def _session_for(self, guild_id: int | None) -> _Session | None:
        """The session in use that gets ``guild_id``'s events (DMs': ``None``), live or resumable."""
        return next((session for session in self._current if session.holds(guild_id)), None)

    def _connection_for(self, guild_id: int | None) -> _GatewayConnection | None:
        """The live connection that gets ``guild_id``'s events (DMs': ``None``), if any."""
        session = self._session_for(guild_id)
        return session.connection if session is not None else None

    def _guild_payload(self, *, include_members: bool) -> JSON:
        members = list(self.members.values()) if include_members else [self.bot_member]
        return {
            **self._guild_object(),
            "joined_at": "2024-08-01T12:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "members": members,
            "channels": self.channels,
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _guild_object(self) -> JSON:
        return {
            "id": str(self.guild_id),
            "name": "Match Day",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": self.owner["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": self.roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.channel_general),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.guild_locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "max_video_channel_users": 25,
        }

    # ------------------------------------------------------------------ REST plumbing

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        stored = self._attachments.get(int(request.match_info["attachment_id"]))
        if stored is None:
            return web.Response(status=404, text="Not Found")
        attachment, data = stored
        return web.Response(body=data, headers={"Content-Type": attachment["content_type"]})

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        call = await self._parse_call(request)
        call.at = time.monotonic()
        faulty = self._rest_fault_for(call)
        if faulty is not None:
            await self._record(call)
            return faulty
        try:
            handler, params = self._match(call)
            if not call.path.startswith(("/interactions/", "/webhooks/")) and not self._token_ok(
                request.headers.get("Authorization")
            ):
                raise _ApiError(401, 0, "401: Unauthorized")
            result = await handler(call, **params)
        except _ApiError as error:
            call.status, call.response = error.status, error.body
            response: web.Response = _json_response(error.body, error.status)
        except Exception as error:
            # A 400 rather than a 500: discord.py retries 5xx answers with growing delays.
            log.exception("Discord stand-in failed on %s %s", call.method, call.path)
            body = {"message": f"Discord stand-in could not handle this request: {error!r}", "code": 0}
            call.status, call.response = 400, body
            response = _json_response(body, 400)
        else:
            if result is _NO_CONTENT:
                call.status, call.response = 204, None
                response = web.Response(status=204)
            else:
                call.status, call.response = 200, result
                response = _json_response(result)
        await self._record(call)
        return response

    async def _parse_call(self, request: web.Request) -> RecordedCall:
        path = request.path.removeprefix(API_PREFIX) or "/"
        body: Any = None
        files: list[tuple[str, bytes]] = []
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                raw = await part.read(decode=True)
                if part.name == "payload_json":
                    body = _loads(raw.decode())
                elif part.filename is not None:
                    files.append((part.filename, bytes(raw)))
        elif request.can_read_body:
            text = await request.text()
            if text and request.content_type == "application/json":
                body = _loads(text)
        return RecordedCall(
            method=request.method, path=path, query=dict(request.query), json=body, files=files
        )

    def _match(self, call: RecordedCall) -> tuple[Handler, dict[str, str]]:
        for method, pattern, handler in self._routes:
            if method == call.method:
                matched = pattern.fullmatch(call.path)
                if matched is not None:
                    return handler, matched.groupdict()
        return self._unknown_route, {}

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        app = r"/applications/(?P<app_id>\d+)"
        webhook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        webhook_message = webhook + r"/messages/(?P<message_id>@original|\d+)"
        channel = r"/channels/(?P<channel_id>\d+)"
        message = channel + r"/messages/(?P<message_id>\d+)"
        guild = r"/guilds/(?P<guild_id>\d+)"
        table: list[tuple[str, str, Handler]] = [
            ("GET", r"/users/@me", self._get_current_user),
            ("GET", r"/users/(?P<user_id>\d+)", self._get_user),
            ("POST", r"/users/@me/channels", self._create_dm),
            ("GET", r"/gateway", self._get_gateway),
            ("GET", r"/gateway/bot", self._get_gateway_bot),
            ("GET", r"/oauth2/applications/@me", self._get_application),
            ("GET", r"/applications/@me", self._get_application),
            ("GET", app + r"/commands", self._get_commands),
            ("PUT", app + r"/commands", self._put_commands),
            ("POST", app + r"/commands", self._post_command),
            ("GET", app + r"/guilds/(?P<guild_id>\d+)/commands", self._get_commands),
            ("PUT", app + r"/guilds/(?P<guild_id>\d+)/commands", self._put_commands),
            ("POST", app + r"/guilds/(?P<guild_id>\d+)/commands", self._post_command),
            ("POST", r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback", self._callback),
            ("POST", webhook, self._followup),
            ("GET", webhook_message, self._get_webhook_message),
            ("PATCH", webhook_message, self._edit_webhook_message),
            ("DELETE", webhook_message, self._delete_webhook_message),
            ("GET", channel, self._get_channel),
            ("POST", channel + r"/typing", self._no_content),
            ("GET", channel + r"/messages", self._get_messages),
            ("POST", channel + r"/messages", self._create_message),
            ("GET", message, self._get_message),
            ("PATCH", message, self._edit_channel_message),
            ("DELETE", message, self._delete_channel_message),
            ("PUT", message + r"/reactions/[^/]+/@me", self._no_content),
            ("DELETE", message + r"/reactions/[^/]+/@me", self._no_content),
            ("GET", guild, self._get_guild),
            ("GET", guild + r"/channels", self._get_guild_channels),
            ("GET", guild + r"/roles", self._get_roles),
            ("GET", guild + r"/members", self._get_members),
            ("GET", guild + r"/members/(?P<user_id>\d+)", self._get_member),
        ]
        return [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    async def _unknown_route(self, call: RecordedCall) -> Any:
        log.warning("Discord stand-in has no route for %s %s; answering {}", call.method, call.path)
        return {}

    async def _no_content(self, call: RecordedCall, **_: str) -> Any:
        return _NO_CONTENT

    def _check_guild(self, guild_id: str) -> None:
        if int(guild_id) != self.guild_id:
            raise _ApiError(404, 10004, "Unknown Guild")

    # ------------------------------------------------------------------ REST: users, gateway, app

    async def _get_current_user(self, call: RecordedCall) -> Any:
        return {
            **self.bot_user,
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": "en-US",
            "flags": 0,
            "premium_type": 0,
        }

    async def _get_user(self, call: RecordedCall, user_id: str) -> Any:
        if int(user_id) == int(self.owner["id"]):
            return self.owner
        member = self.members.get(int(user_id))
        if member is None:
            raise _ApiError(404, 10013, "Unknown User")
        return member["user"]

    async def _create_dm(self, call: RecordedCall) -> Any:
        recipient = int((call.json or {}).get("recipient_id", 0))
        if recipient not in self.members:
            raise _ApiError(400, 50007, "Cannot send messages to this user")
        return self.dm_channel(self.members[recipient]["user"])

    async def _get_gateway(self, call: RecordedCall) -> Any:
        return {"url": self.gateway_url}

    async def _get_gateway_bot(self, call: RecordedCall) -> Any:
        return {
            "url": self.gateway_url,
            "shards": self.shard_count,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    async def _get_application(self, call: RecordedCall) -> Any:
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": self.owner,
            "team": None,
            "bot": self.bot_user,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": 1,
            "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
            "integration_types_config": {"0": {}},
            "tags": [],
        }

    # ------------------------------------------------------------------ REST: application commands

    def _check_app(self, app_id: str) -> None:
        if int(app_id) != self.application_id:
            raise _ApiError(403, 50001, "Missing Access")

    def _scope(self, guild_id: str | None) -> int | None:
        if guild_id is None:
            return None
        self._check_guild(guild_id)
        return int(guild_id)

    def _stored_command(self, scope: int | None, payload: JSON) -> JSON:
        command_type = payload.get("type", COMMAND_CHAT_INPUT)
        key = (scope, payload["name"], command_type)
        if key not in self._command_ids:
            self._command_ids[key] = self._ids.next()
        command: JSON = {
            "type": command_type,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **payload,
            "id": str(self._command_ids[key]),
            "application_id": str(self.application_id),
            "version": str(self._ids.next()),
        }
        if scope is not None:
            command["guild_id"] = str(scope)
        return command

    async def _get_commands(self, call: RecordedCall, app_id: str, guild_id: str | None = None) -> Any:
        self._check_app(app_id)
        return self.synced.get(self._scope(guild_id), [])

    async def _put_commands(self, call: RecordedCall, app_id: str, guild_id: str | None = None) -> Any:
        self._check_app(app_id)
        scope = self._scope(guild_id)
        _validate_commands(call.json or [])
        commands = [self._stored_command(scope, payload) for payload in call.json or []]
        self.synced[scope] = commands
        self.commands, self.commands_scope = commands, scope
        self.syncs += 1
        return commands

    async def _post_command(self, call: RecordedCall, app_id: str, guild_id: str | None = None) -> Any:
        self._check_app(app_id)
        scope = self._scope(guild_id)
        _validate_commands([call.json or {}])
        command = self._stored_command(scope, call.json or {})
        others = [
            existing
            for existing in self.synced.get(scope, [])
            if (existing["name"], existing["type"]) != (command["name"], command["type"])
        ]
        self.synced[scope] = [*others, command]
        return command

    # ------------------------------------------------------------------ REST: interactions

    def _interaction_for(self, token: str, app_id: str | None = None) -> Interaction:
        interaction = self.interactions.get(token)
        if interaction is None or (app_id is not None and int(app_id) != self.application_id):
            raise _ApiError(404, 10015, "Unknown Webhook")
        return interaction

    async def _callback(self, call: RecordedCall, interaction_id: str, token: str) -> Any:
        interaction = self.interactions.get(token)
        if interaction is None or interaction.id != int(interaction_id):
            raise _ApiError(404, 10062, "Unknown interaction")
        if interaction.response_type is not None:
            raise _ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = call.json or {}
        response_type = body.get("type")
        data = body.get("data") or {}
        if response_type not in RESPONSE_TYPES:
            raise _form_error("type", "BASE_TYPE_CHOICES", f"Value must be one of {sorted(RESPONSE_TYPES)}.")
        flags = data.get("flags") or 0
        channel = self._channel(interaction.channel_id)
        callback: JSON = {"id": str(interaction.id), "type": interaction.type}
        resource: JSON | None = {"type": response_type}
        created: JSON | None = None

        if response_type == RESPONSE_MESSAGE:
            created = self._bot_message(channel, data, call.files, interaction=interaction)
            interaction.original_message = created
            resource = {"type": response_type, "message": created}
        elif response_type == RESPONSE_DEFERRED_MESSAGE:
            # The "<bot> is thinking..." message, edited later through .../messages/@original.
            created = self._bot_message(
                channel,
                {"flags": flags},
                [],
                interaction=interaction,
                require_content=False,
                extra_flags=FLAG_LOADING,
            )
            interaction.original_message = created
        elif response_type in (RESPONSE_DEFERRED_UPDATE, RESPONSE_UPDATE_MESSAGE):
            if "message" not in interaction.payload:
                raise _ApiError(400, 40018, "This interaction has no message to update")
            source = self.messages[int(interaction.payload["message"]["id"])]
            if response_type == RESPONSE_UPDATE_MESSAGE:
                self._edit_message(source, data, call.files)
                resource["message"] = source
                await self._echo("MESSAGE_UPDATE", source)
            interaction.original_message = source
        elif response_type == RESPONSE_AUTOCOMPLETE:
            _validate_choices(data.get("choices") or [])
            resource = None
        else:
            resource = None

        interaction.response_type = response_type
        if interaction.original_message is not None:
            original = interaction.original_message
            callback.update(
                response_message_id=original["id"],
                response_message_loading=bool(original["flags"] & FLAG_LOADING),
                response_message_ephemeral=bool(original["flags"] & FLAG_EPHEMERAL),
            )
        if created is not None:
            await self._echo("MESSAGE_CREATE", created)
        if call.query.get("with_response", "").lower() not in ("1", "true"):
            return _NO_CONTENT
        answer: JSON = {"interaction": callback}
        if resource is not None:
            answer["resource"] = resource
        return answer

    async def _followup(self, call: RecordedCall, app_id: str, token: str) -> Any:
        interaction = self._interaction_for(token, app_id)
        if interaction.response_type is None:
            raise _ApiError(404, 10015, "Unknown Webhook")
        payload = call.json or {}
        original = interaction.original_message
        if original is not None and original["flags"] & FLAG_LOADING:
            # The first followup after a deferral resolves the "thinking..." message: it becomes
            # that message, which keeps the ephemeral flag chosen when deferring.
            _validate_message(payload, call.files, require_content=True)
            message = self._edit_message(original, payload, call.files)
            await self._echo("MESSAGE_UPDATE", message)
        else:
            channel = self._channel(interaction.channel_id)
            message = self._bot_message(channel, payload, call.files, interaction=interaction)
            interaction.followups.append(message)
            await self._echo("MESSAGE_CREATE", message)
        if call.query.get("wait", "").lower() not in ("1", "true"):
            return _NO_CONTENT
        return message

    def _webhook_message(self, interaction: Interaction, message_id: str) -> JSON:
        if message_id == "@original":
            if interaction.original_message is None:
                raise _ApiError(404, 10008, "Unknown Message")
            return interaction.original_message
        for message in [interaction.original_message, *interaction.followups]:
            if message is not None and message["id"] == message_id:
                return message
        raise _ApiError(404, 10008, "Unknown Message")

    async def _get_webhook_message(self, call: RecordedCall, app_id: str, token: str, message_id: str) -> Any:
        return self._webhook_message(self._interaction_for(token, app_id), message_id)

    async def _edit_webhook_message(
        self, call: RecordedCall, app_id: str, token: str, message_id: str
    ) -> Any:
        message = self._webhook_message(self._interaction_for(token, app_id), message_id)
        self._edit_message(message, call.json or {}, call.files)
        await self._echo("MESSAGE_UPDATE", message)
        return message

    async def _delete_webhook_message(
        self, call: RecordedCall, app_id: str, token: str, message_id: str
    ) -> Any:
        interaction = self._interaction_for(token, app_id)
        message = self._webhook_message(interaction, message_id)
        self.messages.pop(int(message["id"]), None)
        if message is interaction.original_message:
            interaction.original_message = None
        else:
            interaction.followups.remove(message)
        return _NO_CONTENT

    # ------------------------------------------------------------------ REST: channels and messages

    async def _get_channel(self, call: RecordedCall, channel_id: str) -> Any:
        return self._channel(int(channel_id))

    def _message(self, channel_id: str, message_id: str) -> JSON:
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            raise _ApiError(404, 10008, "Unknown Message")
        return message

    async def _get_messages(self, call: RecordedCall, channel_id: str) -> Any:
        self._channel(int(channel_id))
        limit = int(call.query.get("limit", 50))
        in_channel = [message for message in self.messages.values() if message["channel_id"] == channel_id]
        in_channel.sort(key=lambda message: int(message["id"]), reverse=True)
        if "before" in call.query:
            in_channel = [message for message in in_channel if int(message["id"]) < int(call.query["before"])]
        if "after" in call.query:
            in_channel = [message for message in in_channel if int(message["id"]) > int(call.query["after"])]
        return in_channel[:limit]

    async def _create_message(self, call: RecordedCall, channel_id: str) -> Any:
        channel = self._channel(int(channel_id))
        message = self._bot_message(channel, call.json or {}, call.files)
        self.messages_sent.append(message)
        await self._echo("MESSAGE_CREATE", message)
        return message

    async def _get_message(self, call: RecordedCall, channel_id: str, message_id: str) -> Any:
        return self._message(channel_id, message_id)

    async def _edit_channel_message(self, call: RecordedCall, channel_id: str, message_id: str) -> Any:
        message = self._message(channel_id, message_id)
        if message["author"]["id"] != self.bot_user["id"]:
            raise _ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit_message(message, call.json or {}, call.files)
        await self._echo("MESSAGE_UPDATE", message)
        return message

    async def _delete_channel_message(self, call: RecordedCall, channel_id: str, message_id: str) -> Any:
        message = self._message(channel_id, message_id)
        del self.messages[int(message["id"])]
        return _NO_CONTENT

    # ------------------------------------------------------------------ REST: guild

    async def _get_guild(self, call: RecordedCall, guild_id: str) -> Any:
        self._check_guild(guild_id)
        guild = self._guild_object()
        if call.query.get("with_counts", "").lower() in ("1", "true"):
            guild.update(approximate_member_count=len(self.members), approximate_presence_count=0)
        return guild

    async def _get_guild_channels(self, call: RecordedCall, guild_id: str) -> Any:
        self._check_guild(guild_id)
        return self.channels

    async def _get_roles(self, call: RecordedCall, guild_id: str) -> Any:
        self._check_guild(guild_id)
        return self.roles

    async def _get_members(self, call: RecordedCall, guild_id: str) -> Any:
        self._check_guild(guild_id)
        after = int(call.query.get("after", 0))
        members = sorted(self.members.values(), key=lambda member: int(member["user"]["id"]))
        members = [member for member in members if int(member["user"]["id"]) > after]
        return members[: int(call.query.get("limit", 1))]

    async def _get_member(self, call: RecordedCall, guild_id: str, user_id: str) -> Any:
        self._check_guild(guild_id)
        member = self.members.get(int(user_id))
        if member is None:
            raise _ApiError(404, 10007, "Unknown Member")
        return member


# ---------------------------------------------------------------------- payload helpers


def _user(user_id: int, username: str, *, bot: bool = False) -> JSON:
    user: JSON = {
        "id": str(user_id),
        "username": username,
        "global_name": None if bot else username.title(),
        "discriminator": "0",
        "avatar": None,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "public_flags": 0,
    }
    if bot:
        user["bot"] = True
    return user


def _as_user(person: JSON) -> JSON:
    """The user dict of a user dict or of a member dict."""
    return person.get("user", person)


def _role(role_id: int, name: str, permissions: int, *, position: int) -> JSON:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def _text_channel(channel_id: int, guild_id: int, name: str, *, position: int) -> JSON:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def _snowflake_of(value: Any) -> str:
    """The id, as a string, of an id or of a user, member, channel, role or attachment dict."""
    if isinstance(value, dict):
        return str(value["user"]["id"] if "user" in value else value["id"])
    return str(value)


def _walk_components(components: Any) -> Iterable[JSON]:
    """Every component with a ``custom_id``, at any depth (action rows, sections, containers)."""
    if isinstance(components, list):
        for item in components:
            yield from _walk_components(item)
    elif isinstance(components, dict):
        if "custom_id" in components:
            yield components
        for value in components.values():
            if isinstance(value, dict | list):
                yield from _walk_components(value)


def _find_component(components: list[JSON], custom_id: str) -> JSON | None:
    return next((c for c in _walk_components(components) if c["custom_id"] == custom_id), None)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _walk_options(options: list[JSON]) -> Iterable[JSON]:
    """Every leaf option, looking inside subcommands and subcommand groups."""
    for option in options:
        if option.get("type") in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
            yield from _walk_options(option.get("options", []))
        else:
            yield option


def _validate_message(payload: JSON, files: list[tuple[str, bytes]], *, require_content: bool) -> None:
    """Refuse what Discord refuses: empty messages and parts over Discord's length limits."""
    content = payload.get("content") or ""
    embeds = payload.get("embeds") or []
    if require_content and not (
        content or embeds or files or payload.get("components") or payload.get("poll")
    ):
        raise _ApiError(400, 50006, "Cannot send an empty message")
    if len(content) > MAX_CONTENT:
        raise _form_error("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
    if len(embeds) > MAX_EMBEDS:
        raise _form_error("embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
    total = 0
    for index, embed in enumerate(embeds):
        for key, limit in EMBED_LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                raise _form_error(
                    f"embeds.{index}.{key}", "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                )
        fields = embed.get("fields") or []
        if len(fields) > MAX_EMBED_FIELDS:
            raise _form_error(
                f"embeds.{index}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        for position, embed_field in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                text = embed_field.get(key) or ""
                total += len(text)
                if not text or len(text) > limit:
                    raise _form_error(
                        f"embeds.{index}.fields.{position}.{key}",
                        "BASE_TYPE_BAD_LENGTH",
                        f"Must be between 1 and {limit} in length.",
                    )
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048 or len(author) > 256:
            raise _form_error(
                f"embeds.{index}", "BASE_TYPE_MAX_LENGTH", "Embed footer or author is too long."
            )
    if total > MAX_EMBED_TOTAL:
        raise _form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _is_reply(call: RecordedCall, interaction: Interaction) -> bool:
    """Whether ``call`` put a visible message in answer to ``interaction``."""
    if interaction.token not in call.path.split("/") or call.status >= 300:
        return False
    if call.path.endswith("/callback"):
        return call.callback_type in (RESPONSE_MESSAGE, RESPONSE_UPDATE_MESSAGE)
    return call.method in ("POST", "PATCH")


def _validate_choices(choices: list[JSON]) -> None:
    if len(choices) > MAX_AUTOCOMPLETE_CHOICES:
        raise _form_error("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for index, choice in enumerate(choices):
        name, value = choice.get("name") or "", choice.get("value")
        if not 1 <= len(name) <= 100:
            raise _form_error(
                f"data.choices.{index}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        if isinstance(value, str) and len(value) > 100:
            raise _form_error(
                f"data.choices.{index}.value", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
            )


def _command_name_problem(name: object, *, chat_input: bool) -> str | None:
    """What Discord says of a command or option name, or None when it takes it: slash commands and
    options ``^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``, lowercase; context menus 1 to 32."""
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return "Must be between 1 and 32 in length."
    if not chat_input:
        return None
    allowed = all(
        char in "-_"
        or char.isalpha()
        or char.isnumeric()
        or 0x0900 <= ord(char) <= 0x097F
        or 0x0E00 <= ord(char) <= 0x0E7F
        for char in name
    )
    if not allowed or name != name.lower():
        return "Command name is invalid"
    return None


def _validate_commands(commands: list[JSON]) -> None:
    """Refuse application commands Discord would refuse (see the module documentation)."""
    _validate_level(commands, prefix="", options=False)


def _validate_level(items: list[JSON], *, prefix: str, options: bool) -> None:
    """Commands (``options`` False: each says its type) or the options of a chat command, with their
    own options, as Discord checks them."""
    if options and len(items) > MAX_COMMAND_OPTIONS:
        raise _form_error(prefix.rstrip("."), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    taken: set[tuple[int, str, str]] = set()  # (command type, locale, name) among siblings
    for index, item in enumerate(items):
        here = f"{prefix}{index}"
        kind = 0 if options else item.get("type", COMMAND_CHAT_INPUT)
        chat = options or kind == COMMAND_CHAT_INPUT
        names = {"": item.get("name")} | dict(item.get("name_localizations") or {})
        descriptions = {"": item.get("description") or ""} | dict(item.get("description_localizations") or {})
        for locale, name in names.items():
            field = f"{here}.name" + (f"_localizations.{locale}" if locale else "")
            problem = "Invalid locale" if locale and locale not in LOCALES else None
            problem = problem or _command_name_problem(name, chat_input=chat)
            if problem:
                raise _form_error(field, "APPLICATION_COMMAND_INVALID_NAME", problem)
        for locale in ("", *sorted(LOCALES)):
            shown = (kind, locale, str(names.get(locale) or names[""]))
            if shown in taken:
                raise _form_error(f"{here}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Duplicate {shown}")
            taken.add(shown)
        for locale, description in descriptions.items():
            field = f"{here}.description" + (f"_localizations.{locale}" if locale else "")
            if (locale and locale not in LOCALES) or (
                not 1 <= len(description) <= 100 if chat else bool(description)
            ):
                raise _form_error(field, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        for number, choice in enumerate(item.get("choices") or []):
            choice_names = {"": choice.get("name")} | dict(choice.get("name_localizations") or {})
            for locale, name in choice_names.items():
                if (locale and locale not in LOCALES) or not 1 <= len(str(name or "")) <= 100:
                    raise _form_error(
                        f"{here}.choices.{number}.name" + (f"_localizations.{locale}" if locale else ""),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
        if chat and item.get("options"):
            _validate_level(item["options"], prefix=f"{here}.options.", options=True)
