"""A response body's content coding, undone as it arrives, in pieces of bounded size.

A few kilobytes of gzip can inflate to gigabytes, so nothing is inflated in one go: each piece of raw
body is fed to ``zlib.decompressobj`` with ``max_length``, and the reader counts every piece that comes
out before the next is made, so a bomb is refused after the first bytes over the limit, not after it
has filled memory. Only what matchbot's ``Accept-Encoding`` asks for is read: identity, gzip and
deflate, one coding at most (``gzip, gzip`` is refused, as is brotli, which Python's zlib cannot bound
the same way).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

ACCEPT_ENCODING = "gzip, deflate"
PIECE = 64 * 1024  # the most one step of decoding produces
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class UnreadableCoding(ValueError):
    """The body is coded in a way matchbot does not read; the message completes "<link> is …"."""


class DamagedCoding(ValueError):
    """The compressed body is not valid gzip or deflate."""


class BoundedDecoder:
    """Undoes the content coding named by a Content-Encoding header, ``PIECE`` bytes at most a step."""

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1:
            shown = ", ".join(codings)
            shown = shown if len(shown) <= 40 else shown[:39] + "…"
            raise UnreadableCoding(f"compressed more than once ({shown}), which matchbot does not read")
        if codings and codings[0] not in _WBITS:
            raise UnreadableCoding(f"compressed with {codings[0][:40]}, which matchbot does not read")
        self.coding = codings[0] if codings else "identity"
        self._inflater = self._new() if codings else None
        self._members = 1
        self._head: bytes | None = b""  # deflate: its first two bytes tell a zlib stream from a raw one
        self._finished = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next raw bytes, each at most ``PIECE`` bytes, made one at a time."""
        if self._inflater is None:
            if data:
                yield data
            return
        while not self._finished:
            if self._inflater.eof:
                data = self._inflater.unused_data + data
                if not data:
                    return
                if self.coding == "deflate":  # nothing follows a deflate stream: the rest is ignored
                    self._finished = True
                    return
                self._inflater = self._new()  # gzip: another member follows (RFC 1952 §2.2)
                self._members += 1
            piece = self._inflate(data)
            # at the end of a stream what is left is in unused_data (and may be in the tail as well)
            data = b"" if self._inflater.eof else self._inflater.unconsumed_tail
            if piece:
                yield piece
            if not data and len(piece) < PIECE and not (self._inflater.eof and self._inflater.unused_data):
                return

    def _inflate(self, data: bytes) -> bytes:
        deciding = self.coding == "deflate" and self._head is not None
        if deciding:
            self._head += data
        try:
            piece = self._inflater.decompress(data, PIECE)
        except zlib.error as exc:
            if deciding:  # not a zlib header: some servers send raw deflate, as browsers know
                head, self._head = self._head, None
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflate(head)
            if self._members > 1:  # bytes after the last gzip member are not gzip: they are ignored
                self._finished = True
                return b""
            raise DamagedCoding(str(exc)) from None
        if deciding and len(self._head) >= 2:  # a valid zlib header
            self._head = None
        return piece

    def _new(self) -> zlib._Decompress:
        return zlib.decompressobj(_WBITS[self.coding])
