"""Per-server settings, the log of answers (for stats and "More passages") and votes, in SQLite.

One small database file in the data folder. Every call opens its own connection in a worker thread
(``asyncio.to_thread``), so the event loop never waits on the disk and no connection crosses threads.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from index.errors import MatchbotError

DEFAULT_COOLDOWN = 10  # seconds between two questions from one member
MAX_COOLDOWN = 3600
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id  INTEGER PRIMARY KEY,
    channels  TEXT NOT NULL DEFAULT '[]',  -- JSON list of channel IDs; empty = everywhere
    mentions  INTEGER,                     -- NULL = the default (on)
    threshold REAL,                        -- NULL = the retriever's calibrated default
    cooldown  INTEGER,                     -- NULL = DEFAULT_COOLDOWN
    k         INTEGER                      -- NULL = MATCHBOT_K
);
CREATE TABLE IF NOT EXISTS answers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id   INTEGER,                    -- NULL in direct messages
    channel_id INTEGER,
    user_id    INTEGER NOT NULL,
    question   TEXT NOT NULL,
    answered   INTEGER NOT NULL,
    k          INTEGER NOT NULL,
    threshold  REAL,                       -- what the question was asked with (NULL = default)
    asked_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_guild ON answers (guild_id, answered);
CREATE TABLE IF NOT EXISTS votes (
    answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL,
    vote      INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    voted_at  REAL NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);
"""


class SettingsError(MatchbotError):
    """The settings database cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """How matchbot answers in one server (or in DMs, where the defaults apply)."""

    k: int
    threshold: float | None
    cooldown: int = DEFAULT_COOLDOWN
    mentions: bool = True
    channels: frozenset[int] = field(default_factory=frozenset)

    def allows(self, channel_id: int | None, parent_id: int | None = None) -> bool:
        """Whether answers may be posted in this channel (a thread counts as its parent)."""
        if not self.channels:
            return True
        return channel_id in self.channels or (parent_id is not None and parent_id in self.channels)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """A question as it was asked, so its buttons still work after a restart."""

    id: int
    guild_id: int | None
    question: str
    answered: bool
    k: int
    threshold: float | None


@dataclass(frozen=True, slots=True)
class Stats:
    """What ``/matchbot stats`` shows."""

    asked: int
    answered: int
    top_declined: list[tuple[str, int]]
    up: int
    down: int


class SettingsStore:
    """The SQLite file behind settings, answers and votes; every public method is a coroutine."""

    def __init__(self, path: Path, defaults: GuildSettings) -> None:
        self.path = path
        self.defaults = defaults

    @classmethod
    async def open(cls, path: Path, defaults: GuildSettings) -> SettingsStore:
        """Create the database (and its folder) if needed."""
        store = cls(path, defaults)
        await asyncio.to_thread(store._create)
        return store

    async def close(self) -> None:
        """Fold the write-ahead log into the database file (shutdown); the store still works after."""
        await asyncio.to_thread(self._checkpoint)

    # -- settings ---------------------------------------------------------------------------

    async def get(self, guild_id: int | None) -> GuildSettings:
        """The settings of a server; the defaults for DMs and for servers never configured."""
        if guild_id is None:
            return self.defaults
        return await asyncio.to_thread(self._get, guild_id)

    async def update(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Change some settings (``k``, ``threshold``, ``cooldown``, ``mentions``, ``channels``)."""
        return await asyncio.to_thread(self._update, guild_id, changes)

    # -- answers and votes ------------------------------------------------------------------

    async def log_answer(
        self,
        *,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        question: str,
        answered: bool,
        k: int,
        threshold: float | None,
    ) -> int:
        """Record a question and whether it was answered; returns the answer's id."""
        row = (guild_id, channel_id, user_id, question, int(answered), k, threshold, time.time())
        return await asyncio.to_thread(self._insert_answer, row)

    async def answer(self, answer_id: int) -> AnswerRecord | None:
        """A logged answer, or None if it is unknown (e.g. the data folder was wiped)."""
        return await asyncio.to_thread(self._answer, answer_id)

    async def vote(self, answer_id: int, user_id: int, up: bool) -> bool:
        """Record a member's vote on an answer (a second vote replaces the first).

        Returns False if the answer is unknown.
        """
        return await asyncio.to_thread(self._vote, answer_id, user_id, 1 if up else -1)

    async def stats(self, guild_id: int, *, top: int = 5) -> Stats:
        """Counts for one server."""
        return await asyncio.to_thread(self._stats, guild_id, top)

    # -- blocking work, run in a worker thread -------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.path, timeout=10)
        except sqlite3.Error as exc:
            raise SettingsError(f"Cannot open the settings database {self.path}: {exc}") from exc
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            with connection:  # one transaction: committed on success, rolled back on error
                yield connection
        except sqlite3.Error as exc:
            raise SettingsError(f"The settings database {self.path} failed: {exc}") from exc
        finally:
            connection.close()

    def _create(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"Cannot create the data folder {self.path.parent}: {exc}") from exc
        with self._connect() as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _checkpoint(self) -> None:
        with self._connect() as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _get(self, guild_id: int) -> GuildSettings:
        with self._connect() as db:
            row = db.execute(
                "SELECT channels, mentions, threshold, cooldown, k FROM guild_settings WHERE guild_id = ?",
                (guild_id,),
            ).fetchone()
        if row is None:
            return self.defaults
        channels, mentions, threshold, cooldown, k = row
        d = self.defaults
        return GuildSettings(
            k=d.k if k is None else k,
            threshold=d.threshold if threshold is None else threshold,
            cooldown=d.cooldown if cooldown is None else cooldown,
            mentions=d.mentions if mentions is None else bool(mentions),
            channels=frozenset(json.loads(channels)),
        )

    def _update(self, guild_id: int, changes: dict[str, Any]) -> GuildSettings:
        unknown = set(changes) - {"k", "threshold", "cooldown", "mentions", "channels"}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        current = replace(self._get(guild_id), **changes)
        with self._connect() as db:
            db.execute(
                "INSERT INTO guild_settings (guild_id, channels, mentions, threshold, cooldown, k)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET"
                " channels = excluded.channels, mentions = excluded.mentions,"
                " threshold = excluded.threshold, cooldown = excluded.cooldown, k = excluded.k",
                (
                    guild_id,
                    json.dumps(sorted(current.channels)),
                    int(current.mentions),
                    current.threshold,
                    current.cooldown,
                    current.k,
                ),
            )
        return current

    def _insert_answer(self, row: tuple[Any, ...]) -> int:
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO answers (guild_id, channel_id, user_id, question, answered, k,"
                " threshold, asked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cursor.lastrowid or 0)

    def _answer(self, answer_id: int) -> AnswerRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT id, guild_id, question, answered, k, threshold FROM answers WHERE id = ?",
                (answer_id,),
            ).fetchone()
        if row is None:
            return None
        return AnswerRecord(row[0], row[1], row[2], bool(row[3]), row[4], row[5])

    def _vote(self, answer_id: int, user_id: int, vote: int) -> bool:
        with self._connect() as db:
            if db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                return False
            db.execute(
                "INSERT INTO votes (answer_id, user_id, vote, voted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user_id) DO UPDATE SET"
                " vote = excluded.vote, voted_at = excluded.voted_at",
                (answer_id, user_id, vote, time.time()),
            )
        return True

    def _stats(self, guild_id: int, top: int) -> Stats:
        with self._connect() as db:
            asked, answered = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM answers WHERE guild_id = ?",
                (guild_id,),
            ).fetchone()
            declined = db.execute(
                "SELECT MIN(question), COUNT(*) AS n FROM answers"
                " WHERE guild_id = ? AND answered = 0"
                " GROUP BY lower(trim(question)) ORDER BY n DESC, MAX(asked_at) DESC LIMIT ?",
                (guild_id, top),
            ).fetchall()
            up, down = db.execute(
                "SELECT COALESCE(SUM(v.vote = 1), 0), COALESCE(SUM(v.vote = -1), 0)"
                " FROM votes v JOIN answers a ON a.id = v.answer_id WHERE a.guild_id = ?",
                (guild_id,),
            ).fetchone()
        return Stats(
            asked=asked,
            answered=answered,
            top_declined=[(question, count) for question, count in declined],
            up=up,
            down=down,
        )
