"""A web server on 127.0.0.1 that misbehaves on purpose, for the tests of the fetcher's limits.

It answers raw HTTP/1.1 over asyncio streams (a framework would tidy up what it sends). A path's
first part names the misbehaviour and its ending the content type, ``.rss`` a feed, anything else a
page (``/drip-headers/page.html``, ``/gzip-bomb/feed.rss``):

- ``drip-headers``: the status line and headers, one byte a second;
- ``drip-chunk-size``: a first chunk, then a chunk-size line that never ends, one byte a second;
- ``gzip-comment``, ``gzip-extra``: a gzip header whose comment (FCOMMENT) or extra field (FEXTRA)
  goes on and on, 100 bytes every tenth of a second; it decodes to nothing;
- ``gzip-bomb``: ``Content-Encoding: gzip``, 200 KB that inflate to ``BOMB_MB`` of zeros;
- ``double-gzip-bomb``: ``Content-Encoding: gzip, gzip``, the bomb compressed again (under 1 KB);
- ``gzip``, ``deflate``, ``raw-deflate``: an ordinary article page, compressed that way;
- ``empty``: a page of no bytes at all (lxml, under trafilatura, logs errors about it).

``/entries/<misbehaviour>.rss`` is an ordinary feed whose one entry (about Morocco) links to
``/<misbehaviour>/page.html``. robots.txt allows everything, unless the site is made with
``drip_robots=True``: then robots.txt drips its headers. Every reply stops by itself after ``limit``
seconds, and at ``stop()``, so no test can hang on it. Every request is recorded.

    python tests/hostile_site.py [SECONDS]    # two sites (robots.txt dripping on the second) until
                                              # Ctrl-C, each reply lasting SECONDS at most (75)
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ARTICLE = Path(__file__).resolve().parent / "data/web/2022/12/15/morocco-fans-casablanca.html"
BOMB_MB = 200
DRIP = 1.0  # seconds between the bytes of a dripping reply
LIMIT = 20.0  # seconds a reply lasts at most
MISBEHAVIOURS = (
    "drip-headers",
    "drip-chunk-size",
    "gzip-comment",
    "gzip-extra",
    "gzip-bomb",
    "double-gzip-bomb",
)


@dataclass(frozen=True)
class Request:
    path: str
    head: str  # the request line and headers, as received
    at: float  # time.monotonic() when it was read


class HostileSite:
    """``HostileSite().start()`` → misbehaving replies at ``site.url("/drip-headers/page.html")``."""

    def __init__(self, *, drip_robots: bool = False, limit: float = LIMIT) -> None:
        self.drip_robots = drip_robots
        self.limit = limit
        self.requests: list[Request] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-site", daemon=True)
        self._server: asyncio.Server | None = None
        self._replies: set[asyncio.Task] = set()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def start(self) -> HostileSite:
        gzip_bomb()  # made now (once a session), so that serving it takes no time of the fetch's
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for reply in list(self._replies):
            reply.cancel()
        await asyncio.gather(*self._replies, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._replies.add(task)
        try:
            async with asyncio.timeout(self.limit):
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                path = head.split(" ", 2)[1]
                self.requests.append(Request(path, head, time.monotonic()))
                await self._reply(path, writer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, IndexError):
            pass  # the time is up, or the reader gave up (as it should)
        except asyncio.CancelledError:
            pass  # the site stops: the reply ends here (asyncio's streams log a reply task cancelled)
        finally:
            writer.close()
            self._replies.discard(task)

    async def _reply(self, path: str, writer: asyncio.StreamWriter) -> None:
        if path == "/robots.txt":
            if self.drip_robots:
                return await _drip_headers(writer, "text/plain")
            return await _send(writer, "text/plain", b"User-agent: *\nAllow: /\n")
        kind, _, name = path.lstrip("/").partition("/")
        if kind == "entries":
            return await _send(writer, "application/rss+xml", _feed(self.base, name.removesuffix(".rss")))
        content_type = "application/rss+xml" if name.endswith(".rss") else "text/html; charset=utf-8"
        reply = REPLIES.get(kind)
        if reply is None:
            return await _send(writer, "text/plain", b"not found", status="404 Not Found")
        await reply(writer, content_type)


async def _send(
    writer: asyncio.StreamWriter,
    content_type: str,
    body: bytes,
    *,
    status: str = "200 OK",
    coding: str | None = None,
) -> None:
    headers = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    headers += [f"Content-Encoding: {coding}"] if coding else []
    writer.write(("\r\n".join([*headers, "Connection: close", "", ""])).encode() + body)
    await writer.drain()


async def _drip(writer: asyncio.StreamWriter, data: bytes, every: float = DRIP, size: int = 1) -> None:
    for start in range(0, len(data), size):
        writer.write(data[start : start + size])
        await writer.drain()
        await asyncio.sleep(every)


async def _drip_headers(writer: asyncio.StreamWriter, content_type: str) -> None:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nX-Dripping: {'a' * 4000}\r\n\r\n"
    await _drip(writer, head.encode())


async def _drip_chunk_size(writer: asyncio.StreamWriter, content_type: str) -> None:
    writer.write(
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + b"6\r\n<html>\r\n"
    )
    await _drip(writer, b"1;" + b"a" * 4000)  # a chunk extension that never ends


async def _endless_gzip_header(writer: asyncio.StreamWriter, content_type: str, flag: int) -> None:
    writer.write(
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Encoding: gzip\r\n"
        "Connection: close\r\n\r\n".encode()
        + bytes([0x1F, 0x8B, 8, flag, 0, 0, 0, 0, 0, 0xFF])  # magic, deflate, flags, time, xfl, os
        + (b"\xff\xff" if flag == 0x04 else b"")  # FEXTRA: its length, the most there is
    )
    await _drip(writer, b"a" * 100_000, every=0.1, size=100)


async def _gzip_comment(writer: asyncio.StreamWriter, content_type: str) -> None:
    await _endless_gzip_header(writer, content_type, 0x10)


async def _gzip_extra(writer: asyncio.StreamWriter, content_type: str) -> None:
    await _endless_gzip_header(writer, content_type, 0x04)


async def _gzip_bomb(writer: asyncio.StreamWriter, content_type: str) -> None:
    await _send(writer, content_type, gzip_bomb(), coding="gzip")


async def _double_gzip_bomb(writer: asyncio.StreamWriter, content_type: str) -> None:
    await _send(writer, content_type, _compress(gzip_bomb(), 31), coding="gzip, gzip")


def _compressed(wbits: int, coding: str) -> Callable[[asyncio.StreamWriter, str], Awaitable[None]]:
    async def reply(writer: asyncio.StreamWriter, content_type: str) -> None:
        await _send(writer, content_type, _compress(ARTICLE.read_bytes(), wbits), coding=coding)

    return reply


REPLIES: dict[str, Callable[[asyncio.StreamWriter, str], Awaitable[None]]] = {
    "drip-headers": _drip_headers,
    "drip-chunk-size": _drip_chunk_size,
    "gzip-comment": _gzip_comment,
    "gzip-extra": _gzip_extra,
    "gzip-bomb": _gzip_bomb,
    "double-gzip-bomb": _double_gzip_bomb,
    "gzip": _compressed(31, "gzip"),
    "deflate": _compressed(15, "deflate"),
    "raw-deflate": _compressed(-15, "deflate"),
    "empty": lambda writer, content_type: _send(writer, content_type, b""),
}


@functools.cache
def gzip_bomb(megabytes: int = BOMB_MB) -> bytes:
    """``megabytes`` of zeros, gzipped: about a thousandth of that."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1_000_000)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


def _compress(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


def _feed(base: str, kind: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile News</title><link>{base}/</link>
<description>Pages that misbehave</description>
<item><title>Morocco: the report ({kind})</title><link>{base}/{kind}/page.html</link>
<guid>{kind}</guid><description>Morocco's night</description></item>
</channel></rss>
""".encode()


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 75.0
    sites = [HostileSite(limit=seconds).start(), HostileSite(limit=seconds, drip_robots=True).start()]
    print(f"{sites[0].base}/<{'|'.join(MISBEHAVIOURS)}>/page.html", flush=True)
    print(f"{sites[1].base}/page.html (its robots.txt drips)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        for site in sites:
            site.stop()
