"""The database behind matchbot's state: SQLite in the data folder (the default), or PostgreSQL at
``DATABASE_URL``, which several bot processes share.

Both backends run the same portable SQL: ``?`` placeholders, ``ON CONFLICT … DO UPDATE``, ``RETURNING``,
and table definitions whose few differing types are written ``{id}``, ``{bigint}`` and ``{float}``
(each backend's ``types`` fills them in). To add a table, add its ``CREATE TABLE IF NOT EXISTS`` to the
schema the store passes to :meth:`Database.create`; to add a query, write it once with ``?``.

Every method blocks; the store calls them through ``asyncio.to_thread``. Every failure is a
``SettingsError`` whose one line never shows the password of ``DATABASE_URL``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol

from index.errors import MatchbotError

CONNECT_TIMEOUT = 10  # seconds to reach the server when opening a connection
# Seconds a call waits for a connection. A server that is down fails the call after this wait, and a
# slash command that reads the database before it answers has 3 seconds in all to tell the member so.
POOL_WAIT = 1.5
POOL_SIZE = 4  # connections per process: the bot's questions are short
SCHEMA_LOCK = 7_302_912_001  # the advisory lock that serialises schema creation across processes

log = logging.getLogger(__name__)


class SettingsError(MatchbotError):
    """The settings database cannot be reached, opened or written."""


class Rows(Protocol):
    """What a statement returns (a DB-API cursor)."""

    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Transaction(Protocol):
    """Statements run in one transaction: committed when the block ends, rolled back on an error."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows: ...


class Database(ABC):
    """One backend: where the state lives, and how to run portable SQL there."""

    shared: ClassVar[bool]  # whether several bot processes may use it at once
    types: ClassVar[dict[str, str]]  # the column types written {id}, {bigint}, {float} in the schema

    def __init__(self, where: str) -> None:
        self.where = where  # for messages: a file, or the URL without its password

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager yielding a :class:`Transaction`."""

    def create(self, schema: Sequence[str], version: int) -> None:
        """Create what is missing of ``schema`` (idempotent) and record ``version``.

        A database written by a newer matchbot (a higher version) is refused, never changed.
        """
        with self.transaction() as db:
            self._lock_schema(db)
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            found = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
            if found is not None and found > version:
                raise SettingsError(
                    f"The database at {self.where} has schema version {found}, newer than this "
                    f"matchbot's ({version}): upgrade matchbot."
                )
            for statement in schema:
                db.execute(statement.format(**self.types))
            if found != version:
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    @abstractmethod
    def close(self) -> None:
        """Release the connections."""

    def _lock_schema(self, db: Transaction) -> None:
        """Keep two processes from creating the schema at once (SQLite's write lock does already)."""
        if self.shared:
            db.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))


class SQLiteDatabase(Database):
    """A file in the data folder; one connection per call, so no connection crosses threads."""

    shared = False
    types: ClassVar[dict[str, str]] = {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "bigint": "INTEGER",
        "float": "REAL",
    }

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path

    def create(self, schema: Sequence[str], version: int) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"Cannot create the data folder {self.path.parent}: {exc}") from exc
        with self.transaction() as db:
            db.execute("PRAGMA journal_mode = WAL")
        super().create(schema, version)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
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

    def close(self) -> None:
        """Fold the write-ahead log into the database file, so that the file alone holds everything
        (a backup of it, or a copy, misses nothing). Every transaction has its own connection, so the
        database still works after; a checkpoint that fails is logged, never raised, at shutdown."""
        try:
            with self.transaction() as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except SettingsError as exc:
            log.warning("Could not checkpoint the settings database: %s", exc)


class PostgresDatabase(Database):
    """A PostgreSQL server shared by every bot process, through a small pool of connections."""

    shared = True
    types: ClassVar[dict[str, str]] = {
        "id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "bigint": "BIGINT",
        "float": "DOUBLE PRECISION",
    }

    def __init__(self, url: str) -> None:
        super().__init__(redact(url))
        self._url = url
        self._pool: Any = None  # a psycopg_pool.ConnectionPool, once create() reached the server

    def create(self, schema: Sequence[str], version: int) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        try:  # one plain connection first: its error says why the server cannot be reached
            psycopg.connect(self._url, connect_timeout=CONNECT_TIMEOUT).close()
        except psycopg.Error as exc:
            raise SettingsError(self._unreachable(exc)) from None
        self._pool = ConnectionPool(
            self._url,
            min_size=1,
            max_size=POOL_SIZE,
            timeout=POOL_WAIT,
            kwargs={"connect_timeout": CONNECT_TIMEOUT},
            check=ConnectionPool.check_connection,  # a server restart costs one failed question, no more
            name="matchbot",
            open=True,
        )
        try:
            super().create(schema, version)
        except BaseException:
            self.close()  # a refused schema leaves no connection behind
            raise

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        import psycopg
        from psycopg_pool import PoolTimeout

        if self._pool is None:
            raise SettingsError(f"The database at {self.where} is not open yet.")
        try:
            with self._pool.connection() as connection:  # commits on success, rolls back on error
                yield _Placeholders(connection)
        except PoolTimeout:
            raise SettingsError(self._unreachable(None)) from None
        except psycopg.Error as exc:
            if _lost(exc):
                raise SettingsError(self._unreachable(exc)) from None
            raise SettingsError(f"The database at {self.where} failed: {self._reason(exc)}") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def _unreachable(self, error: Exception | None) -> str:
        reason = f" ({self._reason(error)})" if error is not None else ""
        return (
            f"Cannot reach the database at {self.where}{reason}: check DATABASE_URL "
            "and that the server is up."
        )

    def _reason(self, error: Exception) -> str:
        """The first line of a driver error, without the password libpq may echo."""
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return scrub(text.removeprefix("connection failed: "), self._url)


def _lost(error: Exception) -> bool:
    """Whether ``error`` says the server is away (no connection, or shutting down), not that it
    refused a statement: psycopg's OperationalError covers both."""
    import psycopg

    if not isinstance(error, psycopg.OperationalError):
        return False
    state = getattr(error, "sqlstate", None)
    return state is None or state.startswith("08") or state in {"57P01", "57P02", "57P03"}


class _Placeholders:
    """A psycopg connection that takes the portable ``?`` placeholders (psycopg's are ``%s``)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        return self._connection.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(params))


def redact(url: str) -> str:
    """``url`` with its password, as ``user:password@`` or ``?password=``, replaced by ``***``."""
    url = re.sub(r"(://[^/?#:@]*:)[^/?#]*@", r"\1***@", url)
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` and its password (a message may quote them) redacted."""
    text = text.replace(url, redact(url))
    for password in passwords(url):
        text = text.replace(password, "***")
    return text


def passwords(url: str) -> list[str]:
    """The password of ``url``, as written and percent-decoded; one under 3 characters is left out (it
    would be found in too many words to replace)."""
    from urllib.parse import unquote

    found = re.findall(r"://[^/?#:@]*:([^/?#]*)@", url) + re.findall(r"(?i)[?&]password=([^&#]*)", url)
    variants = {variant for password in found for variant in (password, unquote(password))}
    return sorted((variant for variant in variants if len(variant) >= 3), key=len, reverse=True)
