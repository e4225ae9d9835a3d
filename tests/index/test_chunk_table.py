"""The chunk table of a saved index: checked against its checksum when opened, each chunk parsed when read."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import chunk_table
from index.chunk_table import ChunkTable
from index.chunking import Chunk

CHUNKS = [
    Chunk("semi", "Semi-final", "2022-12-14", 1, 1, 0, 32, "France beat Morocco 2-0 in Qatar."),
    Chunk("semi", "Semi-final", "2022-12-14", 2, 1, 33, 61, "Théo Hernández scored early."),
    Chunk("finale", "Finale", None, 1, 1, 0, 38, "L'Argentine bat la France aux tirs au but.", language="fr"),
]


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """How many chunks the table has made so far (one item a chunk)."""
    made: list[int] = []

    def chunk(**fields) -> Chunk:
        made.append(1)
        return Chunk(**fields)

    monkeypatch.setattr(chunk_table, "Chunk", chunk)
    return made


def saved(tmp_path: Path, chunks=CHUNKS) -> tuple[Path, str]:
    data = chunk_table.encode(chunks)
    path = tmp_path / "chunks.jsonl"
    path.write_bytes(data)
    return path, chunk_table.checksum(data)


def test_a_table_reads_back_the_chunks_it_was_written_from(tmp_path: Path) -> None:
    path, checksum = saved(tmp_path)

    table = ChunkTable.read(path, checksum)

    assert len(table) == 3
    assert table == CHUNKS and list(table) == CHUNKS
    assert table[-1] == CHUNKS[2] and table[1:] == CHUNKS[1:]
    assert chunk_table.encode(table) == path.read_bytes()  # written again unchanged, not re-encoded
    with pytest.raises(IndexError):
        table[3]


def test_opening_parses_no_chunk_and_reading_one_parses_it_alone(tmp_path: Path, counted) -> None:
    path, checksum = saved(tmp_path)

    table = ChunkTable.read(path, checksum)
    assert counted == []
    assert table[1].text == "Théo Hernández scored early."
    assert table[1] is table[1] and len(counted) == 1
    assert [chunk.article for chunk in table] == ["semi", "semi", "finale"]
    assert len(counted) == 3  # the rest in one pass, the parsed one kept


def test_a_table_whose_bytes_changed_does_not_open(tmp_path: Path) -> None:
    path, checksum = saved(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"Qatar", b"Doha!"))  # the same length, still JSON

    with pytest.raises(ValueError, match="does not match its checksum"):
        ChunkTable.read(path, checksum)


def test_a_table_without_a_checksum_is_parsed_whole_when_opened(tmp_path: Path, counted) -> None:
    path, _ = saved(tmp_path)

    assert ChunkTable.read(path, None) == CHUNKS
    assert len(counted) == 3
    path.write_bytes(path.read_bytes() + b'{"unexpected": 1}\n')
    with pytest.raises(TypeError):
        ChunkTable.read(path, None)


def test_an_empty_table_and_a_cut_off_one(tmp_path: Path) -> None:
    path, checksum = saved(tmp_path, [])
    assert len(ChunkTable.read(path, checksum)) == 0 and list(ChunkTable.read(path, checksum)) == []

    with pytest.raises(ValueError, match="line break"):
        ChunkTable(chunk_table.encode(CHUNKS)[:-1])
