"""Per-server settings, the log of answers (for stats and "More passages"), votes, the registry of the
articles added or removed, and followed feeds with their entries, in the database (``bot/database.py``).

SQLite in the data folder is the default; with ``DATABASE_URL`` it is PostgreSQL, shared by every bot
process. Nothing is cached: every question reads its server's settings, so a change made through one
process is the next question's setting in all of them. Every public method is a coroutine that runs
the database work in a worker thread (``asyncio.to_thread``), so the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot.database import Database, PostgresDatabase, SettingsError, SQLiteDatabase, Transaction
from bot.i18n import _
from index.articles import link_key
from index.errors import DuplicateArticleError

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger(__name__)

__all__ = [
    "AnswerRecord",
    "Feed",
    "FeedEntry",
    "GuildSettings",
    "RegistryEntry",
    "SettingsError",
    "SettingsStore",
    "Stats",
    "open_settings",
]

SETTINGS_FILE = "matchbot.sqlite3"  # in the data folder, when DATABASE_URL is not set
DEFAULT_COOLDOWN = 10  # seconds between two questions from one member
MAX_COOLDOWN = 3600
SCHEMA_VERSION = 3  # 2: the article registry; 3: followed feeds and their entries
ENTRY_ATTEMPTS = 3  # an entry whose fetch failed for a passing reason is tried this many times in all
STALE_CLAIM = 600.0  # seconds after which an unsettled claim is taken as left by a stopped process

# Portable SQL (see bot/database.py): {id}, {bigint} and {float} are each backend's types.
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS guild_settings (
        guild_id  {bigint} PRIMARY KEY,
        channels  TEXT NOT NULL DEFAULT '[]',  -- JSON list of channel IDs; empty = everywhere
        mentions  INTEGER,                     -- NULL = the default (on)
        threshold {float},                     -- NULL = the retriever's calibrated default
        cooldown  INTEGER,                     -- NULL = DEFAULT_COOLDOWN
        k         INTEGER                      -- NULL = MATCHBOT_K
    )""",
    """CREATE TABLE IF NOT EXISTS answers (
        id         {id},
        guild_id   {bigint},                   -- NULL in direct messages
        channel_id {bigint},
        user_id    {bigint} NOT NULL,
        question   TEXT NOT NULL,
        answered   INTEGER NOT NULL,
        k          INTEGER NOT NULL,
        threshold  {float},                    -- what the question was asked with (NULL = default)
        asked_at   {float} NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS answers_by_guild ON answers (guild_id, answered)",
    """CREATE TABLE IF NOT EXISTS votes (
        answer_id {bigint} NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
        user_id   {bigint} NOT NULL,
        vote      INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        voted_at  {float} NOT NULL,
        PRIMARY KEY (answer_id, user_id)
    )""",
    # The articles moderators added (text kept) or removed, so that every process sharing the
    # database holds the same ones; ``revision`` orders the changes (see registry_revision).
    """CREATE TABLE IF NOT EXISTS articles (
        id         TEXT PRIMARY KEY,
        title      TEXT NOT NULL,
        date       TEXT,
        url        TEXT,
        text       TEXT NOT NULL,              -- '' for a removed article the registry never held
        added_by   {bigint},
        added_at   {float},
        removed    INTEGER NOT NULL DEFAULT 0,
        removed_by {bigint},
        removed_at {float},
        revision   {bigint} NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS registry_revision (revision {bigint} NOT NULL)",
    "INSERT INTO registry_revision (revision) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM registry_revision)",
    # Feeds a server follows, and every entry taken from them: its key is unique per feed, so an entry
    # is claimed (INSERT … ON CONFLICT DO NOTHING) by one poller only, whatever the number of processes.
    """CREATE TABLE IF NOT EXISTS feeds (
        guild_id      {bigint} NOT NULL,       -- 0: followed from the command line
        url           TEXT NOT NULL,
        keywords      TEXT NOT NULL,           -- JSON list; an entry is added when one matches
        title         TEXT,                    -- the feed's own title, as last read
        added_by      {bigint},
        added_at      {float} NOT NULL,
        polled_at     {float},                 -- when the last poll began; taken as a lease
        poll_error    TEXT,                    -- the last poll's one-line error; NULL when it went well
        etag          TEXT,
        last_modified TEXT,
        PRIMARY KEY (guild_id, url)
    )""",
    """CREATE TABLE IF NOT EXISTS feed_entries (
        guild_id   {bigint} NOT NULL,
        feed_url   TEXT NOT NULL,
        entry_key  TEXT NOT NULL,              -- the entry's id (guid), else its link
        link       TEXT NOT NULL,
        title      TEXT NOT NULL,
        status     TEXT NOT NULL,              -- claimed, added, duplicate, failed, retry
        article_id TEXT,                       -- the article added (or already there, for duplicate)
        message    TEXT,                       -- why it failed
        attempts   INTEGER NOT NULL,
        claimed_at {float} NOT NULL,
        settled_at {float},
        UNIQUE (guild_id, feed_url, entry_key),
        FOREIGN KEY (guild_id, feed_url) REFERENCES feeds (guild_id, url) ON DELETE CASCADE
    )""",
    "CREATE INDEX IF NOT EXISTS feed_entries_by_time ON feed_entries (guild_id, claimed_at)",
)


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


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """An article a moderator added (``removed`` False) or removed, as the registry holds it."""

    id: str
    title: str
    text: str
    date: str | None
    url: str | None
    removed: bool
    revision: int


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed a server follows."""

    guild_id: int
    url: str
    keywords: tuple[str, ...]
    title: str | None = None
    added_by: int | None = None
    added_at: float = 0.0
    polled_at: float | None = None
    poll_error: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """An entry taken from a feed, and what became of it."""

    guild_id: int
    feed_url: str
    key: str
    link: str
    title: str
    status: str  # claimed, added, duplicate, failed, retry
    article_id: str | None
    message: str | None
    attempts: int
    claimed_at: float
    settled_at: float | None


class SettingsStore:
    """Settings, answers, votes, the article registry and feeds in one database; every public method
    is a coroutine."""

    def __init__(self, database: Database, defaults: GuildSettings) -> None:
        self.database = database
        self.defaults = defaults

    @classmethod
    async def open(cls, database: Database, defaults: GuildSettings) -> SettingsStore:
        """Reach the database and create what is missing of the schema."""
        store = cls(database, defaults)
        await asyncio.to_thread(database.create, SCHEMA, SCHEMA_VERSION)
        return store

    @property
    def shared(self) -> bool:
        """Whether other bot processes may share this database (PostgreSQL)."""
        return self.database.shared

    async def close(self) -> None:
        """Release the database at shutdown: SQLite folds its write-ahead log into the database file
        (and still works after), PostgreSQL closes its connections."""
        await asyncio.to_thread(self.database.close)

    # -- settings ---------------------------------------------------------------------------

    async def get(self, guild_id: int | None) -> GuildSettings:
        """The settings of a server; the defaults for DMs and for servers never configured."""
        if guild_id is None:
            return self.defaults
        return await asyncio.to_thread(self._get, guild_id)

    async def update(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Change some settings (``k``, ``threshold``, ``cooldown``, ``mentions``, ``channels``)."""
        unknown = set(changes) - {"k", "threshold", "cooldown", "mentions", "channels"}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
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

    # -- the article registry ---------------------------------------------------------------

    async def record_added(
        self,
        *,
        id: str,
        title: str,
        text: str,
        date: str | None,
        url: str | None,
        by: int | None,
        replace: bool = False,
        unique_url: bool = False,
    ) -> bool:
        """Record an added article; False if the registry already holds a live article with its id
        (unless ``replace``). With ``unique_url``, a live article published at ``url`` (compared by
        ``link_key``) is a DuplicateArticleError naming it, and nothing is recorded."""
        row = (id, title, date, url, text, by, time.time())
        return await asyncio.to_thread(self._record_added, row, replace, unique_url)

    async def record_removed(self, *, id: str, title: str, by: int | None) -> None:
        """Record that an article was removed (one the registry holds, or one from a seeds folder)."""
        await asyncio.to_thread(self._record_removed, id, title, by, time.time())

    async def registry_revision(self) -> int:
        """The revision of the registry's latest change: cheap enough to poll."""
        return await asyncio.to_thread(self._registry_revision)

    async def registry_changes(self, since: int = 0) -> list[RegistryEntry]:
        """The entries changed after revision ``since``, oldest change first."""
        return await asyncio.to_thread(self._registry_changes, since)

    # -- feeds (the poller's state; the blocking halves are below, under "feeds, blocking") ----

    async def follow_feed(
        self, guild_id: int, url: str, keywords: tuple[str, ...], *, title: str | None, added_by: int | None
    ) -> Feed:
        """Follow a feed, or change the keywords of one already followed; it counts as polled now."""
        row = (guild_id, url, json.dumps(list(keywords)), title, added_by, time.time())
        return await asyncio.to_thread(self._follow_feed, row)

    async def unfollow_feed(self, guild_id: int, url: str) -> bool:
        """Stop following a feed and forget its entries; False if it was not followed."""
        return await asyncio.to_thread(self._unfollow_feed, guild_id, url)

    async def feeds(self, guild_id: int | None = None) -> list[Feed]:
        """The feeds a server follows (every server's, with None), oldest first."""
        return await asyncio.to_thread(self._feeds, guild_id)

    async def feed_entries(
        self, guild_id: int | None, feed_url: str | None = None, *, limit: int = 100
    ) -> list[FeedEntry]:
        """Entries taken from a server's feeds (or one feed's), newest first."""
        return await asyncio.to_thread(self._feed_entries, guild_id, feed_url, limit)

    async def lease_feed(self, feed: Feed, *, now: float, due_before: float) -> bool:
        """Take the right to poll a feed last polled before ``due_before``; False if another took it."""
        return await asyncio.to_thread(self._lease_feed, feed.guild_id, feed.url, now, due_before)

    async def feed_polled(
        self,
        feed: Feed,
        *,
        error: str | None,
        title: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Record how a poll went, and the validators to send with the next request (None: none)."""
        row = (error, title, etag, last_modified, feed.guild_id, feed.url)
        await asyncio.to_thread(self._feed_polled, row)

    async def claim_feed_entry(self, feed: Feed, key: str, *, link: str, title: str, now: float) -> bool:
        """Take an entry to add it: True for one caller only, unless its last try failed for a passing
        reason (then up to ENTRY_ATTEMPTS tries) or its claim went stale (its process stopped)."""
        return await asyncio.to_thread(self._claim_feed_entry, feed, key, link, title, now)

    async def settle_feed_entry(
        self,
        feed: Feed,
        key: str,
        *,
        status: str,
        article_id: str | None = None,
        message: str | None = None,
    ) -> None:
        """Record what became of a claimed entry: added, duplicate, failed, or retry (a passing failure)."""
        row = (status, article_id, message, time.time(), feed.guild_id, feed.url, key)
        await asyncio.to_thread(self._settle_feed_entry, row)

    # -- blocking work, run in a worker thread -------------------------------------------------

    def _get(self, guild_id: int) -> GuildSettings:
        with self.database.transaction() as db:
            return self._read_settings(db, guild_id)

    def _read_settings(self, db: Transaction, guild_id: int) -> GuildSettings:
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
        # Read and write in one transaction; the row lock (PostgreSQL) or the write lock (SQLite)
        # keeps two processes' changes to one server from overwriting each other.
        with self.database.transaction() as db:
            db.execute("INSERT INTO guild_settings (guild_id) VALUES (?) ON CONFLICT DO NOTHING", (guild_id,))
            db.execute("UPDATE guild_settings SET k = k WHERE guild_id = ?", (guild_id,))  # locks the row
            current = replace(self._read_settings(db, guild_id), **changes)
            db.execute(
                "UPDATE guild_settings SET channels = ?, mentions = ?, threshold = ?, cooldown = ?, k = ?"
                " WHERE guild_id = ?",
                (
                    json.dumps(sorted(current.channels)),
                    int(current.mentions),
                    current.threshold,
                    current.cooldown,
                    current.k,
                    guild_id,
                ),
            )
        return current

    def _insert_answer(self, row: tuple[Any, ...]) -> int:
        with self.database.transaction() as db:
            return int(
                db.execute(
                    "INSERT INTO answers (guild_id, channel_id, user_id, question, answered, k,"
                    " threshold, asked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    row,
                ).fetchone()[0]
            )

    def _answer(self, answer_id: int) -> AnswerRecord | None:
        with self.database.transaction() as db:
            row = db.execute(
                "SELECT id, guild_id, question, answered, k, threshold FROM answers WHERE id = ?",
                (answer_id,),
            ).fetchone()
        if row is None:
            return None
        return AnswerRecord(row[0], row[1], row[2], bool(row[3]), row[4], row[5])

    def _vote(self, answer_id: int, user_id: int, vote: int) -> bool:
        with self.database.transaction() as db:
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
        with self.database.transaction() as db:
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
                "SELECT COALESCE(SUM(CASE WHEN v.vote = 1 THEN 1 ELSE 0 END), 0),"
                " COALESCE(SUM(CASE WHEN v.vote = -1 THEN 1 ELSE 0 END), 0)"
                " FROM votes v JOIN answers a ON a.id = v.answer_id WHERE a.guild_id = ?",
                (guild_id,),
            ).fetchone()
        return Stats(
            asked=int(asked),
            answered=int(answered),
            top_declined=[(question, int(count)) for question, count in declined],
            up=int(up),
            down=int(down),
        )

    @staticmethod
    def _next_revision(db: Transaction) -> int:
        # One row, updated in the change's transaction: concurrent changes wait for each other, so
        # they commit in revision order and a reader that saw revision N has seen every change <= N.
        bumped = db.execute("UPDATE registry_revision SET revision = revision + 1 RETURNING revision")
        return int(bumped.fetchone()[0])

    def _record_added(self, row: tuple[Any, ...], replace: bool, unique_url: bool) -> bool:
        article_id, url = row[0], row[3]
        try:
            with self.database.transaction() as db:
                # The revision first: its row lock makes concurrent changes wait for each other, so the
                # checks below see every change committed before this one (and a refusal, rolled back,
                # leaves the revision as it was).
                revision = self._next_revision(db)
                if unique_url and url:  # first: the same page under the same title is a duplicate
                    self._refuse_published(db, url)
                live = db.execute(
                    "SELECT 1 FROM articles WHERE id = ? AND removed = 0", (article_id,)
                ).fetchone()
                if live is not None and not replace:
                    raise _Refused
                db.execute(
                    "INSERT INTO articles (id, title, date, url, text, added_by, added_at, revision)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                    " title = excluded.title, date = excluded.date, url = excluded.url,"
                    " text = excluded.text, added_by = excluded.added_by, added_at = excluded.added_at,"
                    " removed = 0, removed_by = NULL, removed_at = NULL, revision = excluded.revision",
                    (*row, revision),
                )
        except _Refused:
            return False
        return True

    @staticmethod
    def _refuse_published(db: Transaction, url: str) -> None:
        key = link_key(url)
        published = db.execute(
            "SELECT id, title, url FROM articles WHERE removed = 0 AND url IS NOT NULL"
        ).fetchall()
        for known_id, title, known_url in published:
            if link_key(known_url) == key:
                message = _(
                    "That page was added before, as {title} ({id}): "
                    "remove that article first to add it again."
                )
                raise DuplicateArticleError(message.format(title=repr(title), id=known_id), known_id)

    def _record_removed(self, article_id: str, title: str, by: int | None, now: float) -> None:
        with self.database.transaction() as db:
            revision = self._next_revision(db)
            db.execute(
                "INSERT INTO articles (id, title, text, removed, removed_by, removed_at, revision)"
                " VALUES (?, ?, '', 1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET removed = 1,"
                " removed_by = excluded.removed_by, removed_at = excluded.removed_at,"
                " revision = excluded.revision",
                (article_id, title, by, now, revision),
            )

    def _registry_revision(self) -> int:
        with self.database.transaction() as db:
            return int(db.execute("SELECT revision FROM registry_revision").fetchone()[0])

    def _registry_changes(self, since: int) -> list[RegistryEntry]:
        with self.database.transaction() as db:
            rows = db.execute(
                "SELECT id, title, text, date, url, removed, revision FROM articles"
                " WHERE revision > ? ORDER BY revision",
                (since,),
            ).fetchall()
        return [
            RegistryEntry(id, title, text, date, url, bool(removed), int(revision))
            for id, title, text, date, url, removed, revision in rows
        ]

    # -- feeds, blocking ---------------------------------------------------------------------------

    _FEED_COLUMNS = (
        "guild_id, url, keywords, title, added_by, added_at, polled_at, poll_error, etag, last_modified"
    )
    _ENTRY_COLUMNS = (
        "guild_id, feed_url, entry_key, link, title, status, article_id, message, attempts, claimed_at,"
        " settled_at"
    )

    def _follow_feed(self, row: tuple[Any, ...]) -> Feed:
        guild_id, url = row[0], row[1]
        with self.database.transaction() as db:
            db.execute(  # polled_at is set too: the caller polls it now, not the background poller
                "INSERT INTO feeds (guild_id, url, keywords, title, added_by, added_at, polled_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, url) DO UPDATE SET"
                " keywords = excluded.keywords, title = COALESCE(excluded.title, feeds.title),"
                " polled_at = excluded.polled_at",
                (*row, row[-1]),
            )
            found = db.execute(
                f"SELECT {self._FEED_COLUMNS} FROM feeds WHERE guild_id = ? AND url = ?", (guild_id, url)
            ).fetchone()
        return _feed(found)

    def _unfollow_feed(self, guild_id: int, url: str) -> bool:
        with self.database.transaction() as db:
            db.execute("DELETE FROM feed_entries WHERE guild_id = ? AND feed_url = ?", (guild_id, url))
            cursor = db.execute("DELETE FROM feeds WHERE guild_id = ? AND url = ?", (guild_id, url))
            return cursor.rowcount == 1

    def _feeds(self, guild_id: int | None) -> list[Feed]:
        where, params = ("WHERE guild_id = ?", (guild_id,)) if guild_id is not None else ("", ())
        with self.database.transaction() as db:
            rows = db.execute(
                f"SELECT {self._FEED_COLUMNS} FROM feeds {where} ORDER BY added_at, url", params
            ).fetchall()
        return [_feed(row) for row in rows]

    def _feed_entries(self, guild_id: int | None, feed_url: str | None, limit: int) -> list[FeedEntry]:
        clauses, params = [], []
        for column, value in (("guild_id", guild_id), ("feed_url", feed_url)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.database.transaction() as db:
            rows = db.execute(
                f"SELECT {self._ENTRY_COLUMNS} FROM feed_entries {where}"
                " ORDER BY COALESCE(settled_at, claimed_at) DESC, entry_key LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [FeedEntry(*row[:8], attempts=row[8], claimed_at=row[9], settled_at=row[10]) for row in rows]

    def _lease_feed(self, guild_id: int, url: str, now: float, due_before: float) -> bool:
        with self.database.transaction() as db:
            cursor = db.execute(
                "UPDATE feeds SET polled_at = ? WHERE guild_id = ? AND url = ?"
                " AND (polled_at IS NULL OR polled_at <= ?)",
                (now, guild_id, url, due_before),
            )
            return cursor.rowcount == 1

    def _feed_polled(self, row: tuple[Any, ...]) -> None:
        with self.database.transaction() as db:
            db.execute(
                "UPDATE feeds SET poll_error = ?, title = COALESCE(?, title), etag = ?, last_modified = ?"
                " WHERE guild_id = ? AND url = ?",
                row,
            )

    def _claim_feed_entry(self, feed: Feed, key: str, link: str, title: str, now: float) -> bool:
        with self.database.transaction() as db:
            inserted = db.execute(
                "INSERT INTO feed_entries (guild_id, feed_url, entry_key, link, title, status, attempts,"
                " claimed_at) SELECT ?, ?, ?, ?, ?, 'claimed', 1, ?"
                " WHERE EXISTS (SELECT 1 FROM feeds WHERE guild_id = ? AND url = ?)"
                " ON CONFLICT (guild_id, feed_url, entry_key) DO NOTHING",
                (feed.guild_id, feed.url, key, link, title, now, feed.guild_id, feed.url),
            )
            if inserted.rowcount == 1:
                return True
            retaken = db.execute(
                "UPDATE feed_entries SET status = 'claimed', attempts = attempts + 1, claimed_at = ?,"
                " link = ?, title = ? WHERE guild_id = ? AND feed_url = ? AND entry_key = ?"
                " AND attempts < ? AND (status = 'retry' OR (status = 'claimed' AND claimed_at < ?))",
                (now, link, title, feed.guild_id, feed.url, key, ENTRY_ATTEMPTS, now - STALE_CLAIM),
            )
            return retaken.rowcount == 1

    def _settle_feed_entry(self, row: tuple[Any, ...]) -> None:
        with self.database.transaction() as db:
            db.execute(
                "UPDATE feed_entries SET status = ?, article_id = ?, message = ?, settled_at = ?"
                " WHERE guild_id = ? AND feed_url = ? AND entry_key = ?",
                row,
            )


class _Refused(Exception):
    """Raised inside a transaction to roll it back: the change was refused."""


def _feed(row: tuple[Any, ...]) -> Feed:
    guild_id, url, keywords, *rest = row
    return Feed(guild_id, url, tuple(json.loads(keywords)), *rest)


async def open_settings(config: Config) -> SettingsStore:
    """The store of ``config``: PostgreSQL at DATABASE_URL when it is set, else SQLite in the data folder."""
    if config.database_url:
        database: Database = PostgresDatabase(config.database_url)
    else:
        database = SQLiteDatabase(config.data_dir / SETTINGS_FILE)
    settings = await SettingsStore.open(database, GuildSettings(k=config.k, threshold=None))
    log.info("Settings database: %s", database.where)
    return settings
