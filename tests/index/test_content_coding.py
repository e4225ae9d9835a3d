"""Undoing a body's content coding in bounded pieces: what arrives in any split decodes whole, and a
bomb never comes out more than a piece at a time."""

from __future__ import annotations

import gzip
import random
import re
import zlib

import pytest

from index.content_coding import PIECE, BoundedDecoder, DamagedCoding, UnreadableCoding

TEXT = random.Random(7).randbytes(100_000) + b"<p>Dima Maghrib!</p>" * 50_000  # 1.1 MB


def deflated(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


def decode(header: str, body: bytes, step: int) -> tuple[bytes, int]:
    """The body fed ``step`` bytes at a time: what comes out, and its largest piece."""
    decoder = BoundedDecoder(header)
    pieces = [
        piece for start in range(0, len(body), step) for piece in decoder.decode(body[start : start + step])
    ]
    return b"".join(pieces), max(map(len, pieces), default=0)


@pytest.mark.parametrize("step", [1, 3, 1000, 65_536, 10_000_000])
@pytest.mark.parametrize(
    ("header", "body", "expected"),
    [
        ("", TEXT, TEXT),
        ("identity", TEXT, TEXT),
        ("gzip", gzip.compress(TEXT), TEXT),
        ("x-gzip", gzip.compress(TEXT), TEXT),
        ("GZIP", gzip.compress(TEXT) + gzip.compress(b"two members"), TEXT + b"two members"),
        ("gzip", gzip.compress(TEXT) + b"\r\n\r\n", TEXT),  # bytes after the end are ignored
        ("deflate", deflated(TEXT, 15), TEXT),  # zlib, as HTTP means
        ("deflate", deflated(TEXT, -15), TEXT),  # raw, as some servers send
    ],
)
def test_a_body_decodes_whole_in_pieces_of_bounded_size(
    header: str, body: bytes, expected: bytes, step: int
) -> None:
    decoded, largest = decode(header, body, step)
    assert decoded == expected
    assert largest <= max(PIECE, step if header in {"", "identity"} else 0)


def test_a_bomb_comes_out_one_piece_at_a_time() -> None:
    bomb = gzip.compress(bytes(100_000_000))  # 100 MB of zeros in about 100 KB
    pieces = BoundedDecoder("gzip").decode(bomb)  # fed at once: still decoded step by step
    first = [next(pieces) for _ in range(20)]
    assert all(len(piece) == PIECE for piece in first)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, gzip", "compressed more than once (gzip, gzip), which matchbot does not read"),
        ("deflate, gzip", "compressed more than once (deflate, gzip)"),
        ("br", "compressed with br, which matchbot does not read"),
        ("zstd", "compressed with zstd"),
        ("compress", "compressed with compress"),
    ],
)
def test_stacked_and_unknown_codings_are_refused(header: str, expected: str) -> None:
    with pytest.raises(UnreadableCoding, match=re.escape(expected)):
        BoundedDecoder(header)


def test_a_damaged_body_is_an_error() -> None:
    with pytest.raises(DamagedCoding):
        list(BoundedDecoder("gzip").decode(b"<html>not gzip at all</html>"))
