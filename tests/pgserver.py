"""A throwaway PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder,
listening only on a unix socket in that folder, stopped and deleted afterwards.

PostgreSQL refuses to run as root; as root (CI), the server runs as the ``postgres`` user through
``runuser``. A server that cannot be started is an error, never a skip: CI installs it
(``apt-get install postgresql``, see ``.ci/run``).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

SERVER_USER = "postgres"  # who runs the server when the tests run as root
ROLE = "matchbot"  # the database role the tests connect as (trusted: no password)
PORT = 5432  # names the socket file only: the server listens on no TCP port
START_TIMEOUT = 60


class PostgresServer:
    """One server in its own temporary folder; ``url(name)`` reaches one of its databases."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="matchbot-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self._names = itertools.count(1)
        self._bin = _bindir()
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            self._run_as = ["runuser", "-u", SERVER_USER, "--"]
            account = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, account.pw_uid, account.pw_gid)

    def start(self) -> None:
        """Create the cluster (the first time) and start the server."""
        if not self.data.exists():
            cluster = ["-U", ROLE, "-A", "trust", "-E", "UTF8", "--no-sync", "--no-locale"]
            self._run("initdb", "-D", str(self.data), *cluster)
        options = (
            f"-k {self.folder} -c listen_addresses='' -p {PORT} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        wait = ["-w", "-t", str(START_TIMEOUT)]
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, *wait, "start")

    def halt(self, mode: str = "fast") -> None:
        """Stop the server, closing every connection; ``start`` brings it back with its data."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        self.halt("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@/{database}?host={self.folder}&port={PORT}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        name = f"matchbot_test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [*self._run_as, str(self._bin / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT + 30, cwd="/")
        if check and done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}"
            )


def _bindir() -> Path:
    """Where initdb and pg_ctl are: on PATH, else Debian's /usr/lib/postgresql/VERSION/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if not versions:
        raise RuntimeError(
            "PostgreSQL's initdb was not found (on PATH or in /usr/lib/postgresql/*/bin): "
            "install the server, e.g. `apt-get install postgresql`."
        )
    return Path(versions[-1]).parent


def _version(path: str) -> tuple[int, ...]:
    version = Path(path).parents[1].name
    return tuple(int(part) for part in version.split(".") if part.isdigit())
