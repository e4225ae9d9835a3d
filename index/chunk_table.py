"""The chunk table of a saved index (``chunks.jsonl``, one Chunk a line), read without parsing it whole.

Opening an index reads the file in one go, checks it against the checksum its manifest holds and finds
where each line starts; a chunk is parsed from its line the first time it is asked for. A question reads
a few dozen chunks, so opening a million-passage index no longer makes a million objects (about 8 s).
Going through the whole table (an update) parses it in one pass.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from index.chunking import Chunk


def checksum(data: bytes) -> str:
    """The checksum the manifest keeps of the chunk table's bytes (CRC-32, hexadecimal)."""
    return f"{zlib.crc32(data):08x}"


def encode(chunks: Sequence[Chunk]) -> bytes:
    """``chunks`` as the file's bytes: a table read from a file gives its bytes back unchanged."""
    if isinstance(chunks, ChunkTable):
        return chunks.data
    return "".join(
        json.dumps(dataclasses.asdict(chunk), ensure_ascii=False) + "\n" for chunk in chunks
    ).encode()


class ChunkTable(Sequence[Chunk]):
    """The chunks of a ``chunks.jsonl`` file's bytes, each parsed when first read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
        if len(data) and (not len(ends) or ends[-1] != len(data) - 1):
            raise ValueError("the chunk table does not end with a line break")
        self._ends = ends
        self._starts = np.concatenate([[0], ends[:-1] + 1]) if len(ends) else ends
        self._parsed: list[Chunk | None] = [None] * len(ends)
        self._complete = not len(ends)

    @classmethod
    def read(cls, path: Path, expected: str | None) -> ChunkTable:
        """The table in ``path``; ``expected`` is its checksum (without one, every line is parsed now, as
        an index saved before checksums were kept is checked). A bad file raises ValueError."""
        data = path.read_bytes()
        if expected is not None and checksum(data) != expected:
            raise ValueError(f"{path.name} does not match its checksum")
        table = cls(data)
        if expected is None:
            table.parse_all()
        return table

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, row: int) -> Chunk: ...
    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...
    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return [self[number] for number in range(*row.indices(len(self)))]
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(f"chunk {row} of {len(self)}")
        chunk = self._parsed[row]
        if chunk is None:
            chunk = self._parsed[row] = Chunk(**json.loads(self.data[self._starts[row] : self._ends[row]]))
        return chunk

    def __eq__(self, other: object) -> bool:
        """Equal to any list or table of the same chunks in the same order."""
        if isinstance(other, ChunkTable):
            return self.data == other.data
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Iterator[Chunk]:
        self.parse_all()
        return iter(self._parsed)  # type: ignore[arg-type]

    def parse_all(self) -> None:
        """Parse every line not parsed yet, in one pass (one JSON document is quicker than many)."""
        if self._complete:
            return
        lines = [self.data[start:end] for start, end in zip(self._starts, self._ends, strict=True)]
        for row, fields in enumerate(json.loads(b"[" + b",".join(lines) + b"]")):
            if self._parsed[row] is None:
                self._parsed[row] = Chunk(**fields)
        self._complete = True
