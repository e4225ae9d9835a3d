"""``kill -9`` at many moments of every change to the articles and the index, then check what must hold.

    python scripts/kill_loop.py [--moments 20] [--ops index,reindex,add,remove,cli] [--schedule writes,time]

Each operation runs in a child process, killed with SIGKILL at a moment chosen deterministically:

* ``writes``: just before the Nth file-system write of the operation (an open for writing, a rename, a
  delete, a new folder: counted by a ``sys.audit`` hook in the child), N spread over all its writes;
* ``time``: after a delay, the delays spread over the operation's measured duration.

The operations are those of the bot and of the command line, driven the way they drive them:

* ``index``   ``Library.reindex(rebuild=True)``, as ``matchbot index --rebuild`` does;
* ``reindex`` ``/matchbot reindex rebuild:True``: the library is open and questions are logged to the
  settings database while the index is rebuilt;
* ``add``     ``/matchbot articles add``: ``Library.add_article`` with questions being logged;
* ``remove``  ``/matchbot articles remove``: ``Library.remove_article`` with questions being logged;
* ``cli``     the real ``matchbot index --rebuild`` command with the real model (``time`` schedule only).

The first four use the model-free embedder of the test suite, so that a kill costs a second, not ten.
After every kill: the index loads, and it is the previous one or the new one (never a mix); the seeds
folder holds whole files only, each the old or the new version; the settings database opens and passes
SQLite's integrity check; the next run completes and leaves the index in line with the folder and no
temporary file behind. Prints one line per operation and exits 1 if any check failed.

The children: ``python scripts/kill_loop.py child OP --seeds DIR --data DIR [--kill-at N] [--fsize B]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "tests"))  # tests/conftest.py imports its neighbours by name

from index.errors import MatchbotError  # noqa: E402

ARTICLES = 12
SENTENCES = 40
CHANGED = "report_03"  # edited before an index/reindex run, so that old and new indexes differ
REMOVED = "report_05"
ADDED_TITLE = "Late drama in Doha"
SETTINGS = "matchbot.sqlite3"
FAKE_OPS = ("index", "reindex", "add", "remove")


# -- the child: one operation, killed at a moment -------------------------------------------------


def child(args: argparse.Namespace) -> int:
    from index.library import Library
    from index.pipeline import Pipeline
    from tests.conftest import FakeEmbedder

    seeds, data = Path(args.seeds), Path(args.data)
    library = Library(seeds, data, Pipeline(FakeEmbedder()))
    try:
        bot_op = args.op in ("reindex", "add", "remove")
        if bot_op:
            library.open()
        if args.op == "reindex":  # a moderator edits an article, then asks for a reindex
            (seeds / f"{CHANGED}.txt").write_text(_article_text(77), encoding="utf-8")
        logging = _log_questions(data / SETTINGS) if bot_op and not args.fsize else None
        if args.fsize:  # from now on, writes past this size fail with EFBIG, as on a full disk
            resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, resource.RLIM_INFINITY))
        watched = (str(seeds), str(data))
        writes = _arm(watched, kill_at=args.kill_at)
        print("armed", flush=True)
        started = time.perf_counter()
        if args.op == "open":
            library.open()
        elif args.op in ("index", "reindex"):
            library.reindex(rebuild=True)
        elif args.op == "add":
            library.add_article(title=ADDED_TITLE, text=_article_text(99), date="2022-12-18")
        elif args.op == "remove":
            library.remove_article(REMOVED)
        seconds = time.perf_counter() - started
        if logging is not None:
            logging.set()
        print(json.dumps({"writes": writes[0], "seconds": seconds}), flush=True)
    except MatchbotError as exc:
        print(f"matchbot: {exc}", file=sys.stderr)
        return 1
    return 0


def _arm(folders: tuple[str, ...], *, kill_at: int) -> list[int]:
    """Count the writes under ``folders`` from now on; SIGKILL this process just before number ``kill_at``."""
    count = [0]
    writing_events = {"os.rename", "os.replace", "os.remove", "os.rmdir", "os.mkdir", "shutil.rmtree"}

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode = args[0], args[1]
            if not isinstance(mode, str) or not any(flag in mode for flag in "wax+"):
                return
        elif event in writing_events:
            path = args[0]
        else:
            return
        if not str(path).startswith(folders):
            return
        count[0] += 1
        if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)
    return count


def _log_questions(database: Path) -> threading.Event:
    """Log a question to the settings database every few milliseconds, as members asking would."""
    from bot.database import SQLiteDatabase
    from bot.settings import GuildSettings, SettingsStore

    done, ready = threading.Event(), threading.Event()

    async def log_until_done() -> None:
        store = await SettingsStore.open(SQLiteDatabase(database), GuildSettings(k=3, threshold=None))
        ready.set()  # the bot's database exists before any moderator command
        while not done.is_set():
            await store.log_answer(
                guild_id=1, channel_id=2, user_id=3, question="who won?", answered=True, k=3, threshold=None
            )
            await asyncio.sleep(0.002)

    threading.Thread(target=asyncio.run, args=(log_until_done(),), daemon=True).start()
    ready.wait(30)
    return done


# -- the parent: prepare, kill, check --------------------------------------------------------------


def _article_text(number: int) -> str:
    lines = [
        f"In report {number}, observer {line} noted that the midfield pressed high in minute {line * 2}, "
        f"and the fans of Morocco sang for the {line}th time."
        for line in range(SENTENCES)
    ]
    return f"title Match report {number}\ndate 2022-12-{10 + number % 9:02d}\n\n" + " ".join(lines) + "\n"


@dataclass
class Outcome:
    """What one operation's kills came to."""

    op: str
    schedule: str
    kills: int = 0
    finished_first: int = 0  # the operation ended before the moment came (nothing to kill)
    old: int = 0  # the index found after the kill was the previous one
    new: int = 0
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = "all checks held" if not self.failures else f"{len(self.failures)} FAILED"
        extra = f", {self.finished_first} finished before the kill" if self.finished_first else ""
        return (
            f"{self.op:<8} {self.schedule:<6} {self.kills:>3} kills{extra}: index old {self.old}, "
            f"new {self.new}; {verdict}"
        )


class Bench:
    """A template world (seeds and a built index) copied afresh for every kill."""

    def __init__(self, root: Path, *, real: bool = False) -> None:
        self.root = root
        self.real = real
        self.template = root / "template"
        seeds = self.template / "seeds"
        seeds.mkdir(parents=True)
        if real:
            shutil.copytree(REPO / "seeds", seeds, dirs_exist_ok=True)
        else:
            for number in range(ARTICLES):
                (seeds / f"report_{number:02d}.txt").write_text(_article_text(number), encoding="utf-8")
        self._build(self.template)

    def _build(self, world: Path) -> None:
        if self.real:
            command = [_matchbot(), "index", "--seeds", str(world / "seeds"), "--data", str(world / "data")]
        else:
            command = self.child_command("index", world)
        subprocess.run(command, check=True, capture_output=True, timeout=300)

    def next_run(self, world: Path) -> list[str]:
        """The run after a kill: ``matchbot index`` (without --rebuild), or its model-free twin."""
        if self.real:
            return [_matchbot(), "index", "--seeds", str(world / "seeds"), "--data", str(world / "data")]
        return self.child_command("open", world)

    def child_command(self, op: str, world: Path, *, kill_at: int = 0) -> list[str]:
        if op == "cli":
            return [
                _matchbot(),
                "index",
                "--rebuild",
                "--seeds",
                str(world / "seeds"),
                "--data",
                str(world / "data"),
            ]
        return [
            sys.executable, str(Path(__file__).resolve()), "child", op,
            "--seeds", str(world / "seeds"), "--data", str(world / "data"), "--kill-at", str(kill_at),
        ]  # fmt: skip

    def fresh(self, op: str, name: str) -> Path:
        """A copy of the template, changed as ``op`` expects (an index update has something to do)."""
        world = self.root / name
        shutil.rmtree(world, ignore_errors=True)
        shutil.copytree(self.template, world)
        if op in ("index", "cli"):  # the reindex child makes its change itself, once the bot is up
            name = "extra_report.txt" if self.real else f"{CHANGED}.txt"
            (world / "seeds" / name).write_text(_article_text(77), encoding="utf-8")
        return world


@dataclass(frozen=True)
class State:
    """The seeds folder's visible files and the index's articles (id → content hash)."""

    files: dict[str, str]
    index: dict[str, str]

    @classmethod
    def of(cls, world: Path) -> State:
        return cls(_visible_files(world / "seeds"), _index_hashes(world / "data"))


def _matchbot() -> str:
    return str(Path(sys.executable).with_name("matchbot"))


def _visible_files(seeds: Path) -> dict[str, str]:
    """The files ``read_seeds`` reads (not dotfiles), with their text."""
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(seeds.iterdir())
        if path.is_file() and not path.name.startswith(".")
    }


def _index_hashes(data: Path) -> dict[str, str]:
    from index.store import Store

    return {article: entry["hash"] for article, entry in Store.load(data / "index").articles.items()}


def _seed_hashes(seeds: Path) -> dict[str, str]:
    from index.articles import read_seeds

    return {article.id: article.content_hash for article in read_seeds(seeds).articles}


def check(world: Path, before: State, after: State, outcome: Outcome, bench: Bench, label: str) -> None:
    """The four things that must hold after a kill; failures are added to ``outcome``."""
    seeds, data = world / "seeds", world / "data"
    files = _visible_files(seeds)
    if files not in (before.files, after.files):
        outcome.failures.append(f"{label}: the seeds folder holds neither the old nor the new files")
    try:
        found = _index_hashes(data)
    except MatchbotError as exc:
        outcome.failures.append(f"{label}: the index does not load: {exc}")
    else:
        if found == before.index:
            outcome.old += 1
        elif found == after.index:
            outcome.new += 1
        else:
            outcome.failures.append(f"{label}: the index is neither the previous one nor the new one")
    database = data / SETTINGS
    if database.exists():
        try:
            with sqlite3.connect(database) as db:
                verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
                db.execute("SELECT COUNT(*) FROM answers").fetchone()  # and its questions are there
            if verdict != "ok":
                outcome.failures.append(f"{label}: the settings database fails its check: {verdict}")
        except sqlite3.Error as exc:
            outcome.failures.append(f"{label}: the settings database does not open: {exc}")
    # The next run: an update with nothing killed, as the next `matchbot index` or bot start does.
    done = subprocess.run(bench.next_run(world), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        outcome.failures.append(f"{label}: the next run failed: {done.stderr.strip()[-300:]}")
        return
    if _index_hashes(data) != _seed_hashes(seeds):
        outcome.failures.append(f"{label}: after the next run the index does not match the seeds folder")
    leftovers = [p.name for p in seeds.iterdir() if p.name.startswith(".")]
    leftovers += [p.name for p in data.iterdir() if p.name.startswith(".index.") and p.name != ".index.lock"]
    if leftovers:
        outcome.failures.append(f"{label}: temporary files left after the next run: {leftovers}")


def run_op(bench: Bench, op: str, schedule: str, moments: int) -> Outcome:
    outcome = Outcome(op, schedule)
    world = bench.fresh(op, "measure")
    began = time.perf_counter()
    measured = subprocess.run(bench.child_command(op, world), capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - began  # for the real command: from process start, model load included
    if measured.returncode != 0:
        outcome.failures.append(f"{op}: the operation fails even without a kill: {measured.stderr[-300:]}")
        return outcome
    after = State.of(world)
    writes = 0
    if op != "cli":
        facts = json.loads(measured.stdout.strip().splitlines()[-1])
        writes, seconds = int(facts["writes"]), float(facts["seconds"])
    for moment in range(moments):
        world = bench.fresh(op, f"{op}-{schedule}-{moment}")
        before = State.of(world)
        if op == "reindex":
            before = State(after.files, before.index)
        label = f"{op} {schedule} #{moment + 1}"
        if schedule == "writes":
            kill_at = 1 + round(moment * (writes - 1) / max(moments - 1, 1))
            command = bench.child_command(op, world, kill_at=kill_at)
            code = subprocess.run(command, capture_output=True, text=True, timeout=600).returncode
        else:
            delay = seconds * (moment + 0.5) / moments
            code = _kill_after(bench.child_command(op, world), delay, armed=op != "cli")
        if code == -signal.SIGKILL:
            outcome.kills += 1
        elif code == 0:
            outcome.finished_first += 1
        else:
            outcome.failures.append(f"{label}: the operation failed with status {code}")
        check(world, before, after, outcome, bench, label)
        shutil.rmtree(world, ignore_errors=True)
    return outcome


def _kill_after(command: list[str], delay: float, *, armed: bool) -> int:
    """Start ``command``, SIGKILL it ``delay`` seconds after it starts its operation, return its status."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if armed:
        assert process.stdout is not None
        process.stdout.readline()  # "armed": the operation starts now
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    return process.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    kid = sub.add_parser("child")
    kid.add_argument("op", choices=(*FAKE_OPS, "open"))
    kid.add_argument("--seeds", required=True)
    kid.add_argument("--data", required=True)
    kid.add_argument("--kill-at", type=int, default=0)
    kid.add_argument("--fsize", type=int, default=0, help="RLIMIT_FSIZE in bytes (a full disk)")
    parser.add_argument("--moments", type=int, default=20)
    parser.add_argument("--ops", default="index,reindex,add,remove,cli")
    parser.add_argument("--schedule", default="writes,time")
    args = parser.parse_args(argv)
    if args.command == "child":
        return child(args)

    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    schedules = [s.strip() for s in args.schedule.split(",") if s.strip()]
    outcomes: list[Outcome] = []
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="matchbot-kill-") as root:
        fake = Bench(Path(root) / "fake") if set(ops) & set(FAKE_OPS) else None
        real = Bench(Path(root) / "real", real=True) if "cli" in ops else None
        for op in ops:
            bench = real if op == "cli" else fake
            assert bench is not None
            for schedule in schedules if op != "cli" else ["time"]:
                outcome = run_op(bench, op, schedule, args.moments)
                print(outcome.line(), flush=True)
                for failure in outcome.failures[:10]:
                    print(f"  {failure}", flush=True)
                outcomes.append(outcome)
    kills = sum(o.kills for o in outcomes)
    failures = sum(len(o.failures) for o in outcomes)
    print(
        f"{kills} kills survived with nothing lost, {failures} failed checks "
        f"({time.perf_counter() - began:.0f} s)"
        if not failures
        else f"{kills} kills, {failures} FAILED checks"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
