"""Nothing is lost: kills at any moment, a full disk, a read-only data folder, hostile file names.

The kill loop and the write failures run in child processes (``scripts/kill_loop.py child``), with real
mechanisms: SIGKILL, ``RLIMIT_FSIZE`` (writes past it fail with EFBIG, as on a full disk), and an
read-only bind mount in a private mount namespace (root ignores file permissions, not a read-only mount).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import hostile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.articles import read_seeds
from index.library import MAX_NAME_BYTES, RESERVED_NAMES, Library, _slug
from index.pipeline import Pipeline
from index.store import Store

REPO = Path(__file__).resolve().parents[2]
KILL_LOOP = REPO / "scripts" / "kill_loop.py"
ARTICLES = {
    "croatia.txt": "Croatia took the bronze medal. Modric waved goodbye to the crowd.",
    "semi.txt": "France beat Morocco two nil. Mbappe consoled Hakimi.\n\nRegragui was proud of his players.",
}


def child(
    op: str, seeds: Path, data: Path, *extra: str, prefix: list[str] | None = None
) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        str(KILL_LOOP),
        "child",
        op,
        "--seeds",
        str(seeds),
        "--data",
        str(data),
        *extra,
    ]
    return subprocess.run([*(prefix or []), *command], capture_output=True, text=True, timeout=120, cwd=REPO)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def world(write_seeds, tmp_path: Path, fake_embedder) -> tuple[Path, Path]:
    seeds = write_seeds(ARTICLES)
    Library(seeds, tmp_path / "data", Pipeline(fake_embedder)).open()
    return seeds, tmp_path / "data"


def test_kills_at_every_kind_of_moment_lose_nothing() -> None:
    """A short run of the kill loop (``make bench-kill`` runs 20 moments per operation and schedule)."""
    done = subprocess.run(
        [
            sys.executable,
            str(KILL_LOOP),
            "--moments",
            "2",
            "--ops",
            "index,reindex,add,remove",
            "--schedule",
            "writes",
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^8 kills survived with nothing lost, 0 failed checks", done.stdout, re.M), done.stdout


@pytest.mark.model
def test_kills_of_the_real_matchbot_index_command_lose_nothing() -> None:
    done = subprocess.run(
        [sys.executable, str(KILL_LOOP), "--moments", "1", "--ops", "cli"],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed checks" in done.stdout


def test_a_full_disk_while_indexing_is_one_line_and_the_previous_index_stays(world) -> None:
    seeds, data = world
    before = snapshot(data / "index")
    (seeds / "long.txt").write_text("The crowd sang all night long. " * 600)

    done = child("index", seeds, data, "--fsize", "20000")

    assert done.returncode == 1
    assert re.fullmatch(
        r"matchbot: Cannot write the index in \S+ \(File too large\): raise the file size limit .*; "
        r"the previous index is unchanged\.\n",
        done.stderr,
    ), done.stderr
    assert snapshot(data / "index") == before
    assert sorted(p.name for p in data.iterdir() if p.name.startswith(".index.")) == [".index.lock"]


def test_a_full_disk_while_adding_an_article_adds_nothing(world) -> None:
    seeds, data = world
    before = snapshot(seeds), snapshot(data / "index")

    done = child("add", seeds, data, "--fsize", "2000")  # the article alone is larger than that

    assert done.returncode == 1
    assert re.fullmatch(
        r"matchbot: Cannot save the article in \S+ \(File too large\): .*; nothing was added\.\n", done.stderr
    ), done.stderr
    assert (snapshot(seeds), snapshot(data / "index")) == before


def read_only(folder: Path) -> list[str]:
    """A command prefix that runs its command with ``folder`` mounted read-only (EROFS, root or not).

    It uses a private mount namespace, so the mount ends with the command and nothing else sees it: as
    root ``unshare -m``; as another user ``unshare -r -m``, which makes the mount namespace inside a user
    namespace of its own. A machine that allows neither fails the test, saying so: it is never a skip.
    """
    mount = f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} {folder}"
    tried = []
    for unshare in (["unshare", "-m"], ["unshare", "-r", "-m"]):
        try:
            probe = subprocess.run([*unshare, "sh", "-c", mount], capture_output=True, text=True)
        except OSError as exc:  # no unshare at all
            tried.append(f"{' '.join(unshare)}: {exc}")
            continue
        if probe.returncode == 0:
            return [*unshare, "sh", "-c", f'{mount} && exec "$0" "$@"']
        tried.append(f"{' '.join(unshare)}: {probe.stderr.strip() or f'exit status {probe.returncode}'}")
    pytest.fail(
        f"Cannot mount {folder} read-only in a private mount namespace ({'; '.join(tried)}): run the tests "
        "as root, or allow unprivileged user namespaces (sysctl user.max_user_namespaces, "
        "kernel.apparmor_restrict_unprivileged_userns=0).",
        pytrace=False,
    )


def test_a_read_only_data_folder_is_one_line_and_nothing_is_lost(world) -> None:
    seeds, data = world
    (seeds / "extra.txt").write_text("Hakimi swapped shirts with Mbappe after the whistle.")
    before = snapshot(seeds), snapshot(data)

    reindex = child("reindex", seeds, data, prefix=read_only(data))
    add = child("add", seeds, data, prefix=read_only(data))

    for done in (reindex, add):
        assert done.returncode == 1
        assert re.fullmatch(
            r"matchbot: Cannot write the index in \S+ \(Read-only file system\): mount the folder "
            r"read-write, then try again; the previous index is unchanged\.\n",
            done.stderr,
        ), done.stderr
    assert (snapshot(seeds), snapshot(data)) == before  # the failed add took its file back out


def test_the_next_update_tidies_what_a_kill_left_and_finishes_a_removal(
    write_seeds, tmp_path: Path, fake_embedder
) -> None:
    seeds = write_seeds(ARTICLES)
    data = tmp_path / "data"
    Library(seeds, data, Pipeline(fake_embedder)).open()
    (seeds / ".late_goal.txt.writing").write_text("title Late go")  # killed while writing an added article
    (seeds / "semi.txt").rename(seeds / ".semi.txt.removed")  # killed while removing an article
    shutil.copytree(data / "index", data / ".index.previous")  # killed just before the old index went
    (data / ".index.writing").mkdir()

    library = Library(seeds, data, Pipeline(fake_embedder))
    report = library.open()

    assert report.removed == ["semi"]
    assert sorted(p.name for p in seeds.iterdir()) == ["croatia.txt"]
    assert sorted(p.name for p in data.iterdir()) == [".index.lock", "index"]
    assert list(Store.load(data / "index").articles) == ["croatia"]


def test_two_processes_never_update_one_index_at_once(world, fake_embedder) -> None:
    seeds, data = world
    import fcntl

    with (data / ".index.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = child("index", seeds, data)
    assert done.returncode == 1
    assert (
        done.stderr
        == f"matchbot: Another matchbot is updating the index in {data / 'index'}: wait until it is done.\n"
    )


# -- file names from members ----------------------------------------------------------------------

titles = st.text(st.characters(codec="utf-8"), max_size=400) | st.sampled_from(
    ["../../etc/passwd", "..", ".", "CON", "nul", "com1", "LPT9", "a/b\\c", ".hidden", "~root", "\x00x", ""]
)


@settings(max_examples=300, deadline=None)
@given(title=titles)
def test_a_file_name_made_from_any_title_stays_a_plain_name_inside_the_seeds_folder(title: str) -> None:
    hostile.tried(1)
    name = _slug(title) + ".txt"
    assert re.fullmatch(r"[^\W][\w-]*\.txt|\w+\.txt", name) and "/" not in name and "\\" not in name
    assert not name.startswith(".") and name.split(".")[0] not in RESERVED_NAMES
    assert len(name.encode()) <= MAX_NAME_BYTES + 4 < 255 - len("..writing-99")


@pytest.mark.parametrize(
    "title",
    ["../../../etc/cron.d/evil", "CON", "x" * 5000, "𠀀" * 200, "<@&123> @everyone", "a\u202eb\u200bc"],
)
def test_an_added_article_is_saved_inside_the_seeds_folder_whatever_its_title(
    title: str, write_seeds, tmp_path: Path, fake_embedder
) -> None:
    seeds = write_seeds(ARTICLES)
    library = Library(seeds, tmp_path / "data", Pipeline(fake_embedder))
    library.open()
    outside = sorted(p.name for p in tmp_path.iterdir())

    info, _ = library.add_article(title=title[:200], text="Hakimi swapped shirts with Mbappe.")

    added = set(seeds.iterdir()) - {seeds / name for name in ARTICLES}
    assert len(added) == 1 and next(iter(added)).parent == seeds
    assert sorted(p.name for p in tmp_path.iterdir()) == outside
    assert info.id in {article.id for article in read_seeds(seeds).articles}


# -- answers during a reindex -----------------------------------------------------------------------


def test_questions_are_answered_from_the_old_index_until_the_new_one_is_whole(
    write_seeds, tmp_path: Path, make_embedder
) -> None:
    """A member asking all through a rebuild gets answers from one whole index: the old, then the new."""
    import threading

    class Gated(make_embedder):  # type: ignore[misc, valid-type]
        """Article batches wait at a gate, so the rebuild stays half done while questions come in."""

        def __init__(self) -> None:
            super().__init__()
            self.gate, self.waiting = threading.Event(), threading.Event()
            self.gate.set()

        def encode(self, texts, **options):  # type: ignore[no-untyped-def]
            if len(texts) > 1:
                self.waiting.set()
                self.gate.wait(30)
            return super().encode(texts, **options)

    seeds = write_seeds(ARTICLES)
    embedder = Gated()
    library = Library(seeds, tmp_path / "data", Pipeline(embedder))
    library.open()
    old = library.retriever.store
    (seeds / "awards.txt").write_text("Messi won the Golden Ball. Mbappe won the Golden Boot.")
    embedder.gate.clear()
    rebuild = threading.Thread(target=library.reindex, kwargs={"rebuild": True})
    rebuild.start()
    assert embedder.waiting.wait(30)

    seen: list[tuple[int, set[str]]] = []
    while rebuild.is_alive() or not seen or seen[-1][0] == id(old):
        retriever = library.retriever
        answer = retriever.search("who won the golden ball", 3)
        seen.append((id(retriever.store), {p.article for p in answer.passages}))
        store = retriever.store
        assert (
            len(store.chunks) == store.sentences.ntotal == store.contexts.ntotal == store.manifest["chunks"]
        )
        assert seen[-1][1] <= set(store.articles)
        if len(seen) == 20:
            embedder.gate.set()  # let the rebuild finish while questions keep coming
    rebuild.join()

    stores = [store for store, _ in seen]
    assert stores[0] == id(old) and stores[-1] != id(old)
    assert stores == sorted(stores, key=lambda s: s != id(old))  # old, old, …, new, new: never back
    assert all("awards" not in articles for store, articles in seen if store == id(old))
    assert "awards" in seen[-1][1]
