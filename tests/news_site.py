"""A small news site on 127.0.0.1 for the tests that fetch links and feeds.

It serves the pages in ``tests/data/web`` (articles with navigation, ads, a cookie banner and comments
around them; a page with no article; a PDF; RSS and Atom feeds, whose ``$BASE`` becomes the site's
address) and a few made on the spot: a redirect loop, a redirect anywhere, a page of 8 MB, a page
that never finishes, a server error. Feeds carry an ETag. It runs in a thread of its own with its own
event loop, so blocking code (the fetcher) and asynchronous code (the bot) can both use it. Every
request is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import threading
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from index.web import FetchPolicy

PAGES = Path(__file__).resolve().parent / "data" / "web"
# What MATCHBOT_FETCH_ALLOW_PRIVATE=127.0.0.1 gives: this site may be read, no other private address.
LOCAL_ONLY = FetchPolicy(allow_private=(ipaddress.ip_network("127.0.0.1/32"),), timeout=15)
ROBOTS_TXT = """\
User-agent: *
Disallow: /private/

User-agent: matchbot
Disallow: /no-matchbot/
"""
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
}
HUGE_BYTES = 8_000_000
STOP_AFTER = 60.0  # seconds: the never-ending page gives up by itself


@dataclass(frozen=True)
class Request:
    path: str
    host: str
    user_agent: str
    headers: dict[str, str]


class NewsSite:
    """``NewsSite().start()`` → pages at ``site.url("/path")``; ``stop()`` when done."""

    def __init__(self, pages: Path = PAGES) -> None:
        self.pages = pages
        self.requests: list[Request] = []
        self.served: dict[str, str] = {}  # a path served from another file: {"/feeds/x.rss": "x-1.rss"}
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="news-site", daemon=True)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [request.path for request in self.requests]

    def start(self) -> NewsSite:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/robots.txt", self._robots)
        app.router.add_get("/loop/{name}", self._loop_page)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/huge.html", self._huge)
        app.router.add_get("/slow.html", self._slow)
        app.router.add_get("/unavailable.html", self._unavailable)
        app.router.add_get("/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def _record(self, request: web.Request) -> None:
        self.requests.append(
            Request(
                path=request.path_qs,
                host=request.host,
                user_agent=request.headers.get("User-Agent", ""),
                headers=dict(request.headers),
            )
        )

    async def _robots(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(text=ROBOTS_TXT, content_type="text/plain")

    async def _loop_page(self, request: web.Request) -> web.Response:
        self._record(request)
        other = "b" if request.match_info["name"] == "a" else "a"
        raise web.HTTPFound(f"/loop/{other}")

    async def _redirect(self, request: web.Request) -> web.Response:
        self._record(request)
        raise web.HTTPFound(request.query["to"])

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        """An article page followed by megabytes of comments, sent without a Content-Length."""
        self._record(request)
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        head = (self.pages / "2022/12/15/morocco-fans-casablanca.html").read_bytes()
        await response.write(head.replace(b"</body>", b""))
        comment = b'<div class="comment"><p>Dima Maghrib! What a night for Morocco.</p></div>\n' * 1000
        sent = len(head)
        try:
            while sent < HUGE_BYTES and not self._stopping.is_set():
                await response.write(comment)
                sent += len(comment)
            await response.write(b"</body></html>")
        except (ConnectionError, RuntimeError):
            pass  # the reader gave up, as it should
        return response

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        """A page that starts and then sends a byte every half second, for a minute at most."""
        self._record(request)
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        await response.prepare(request)
        await response.write(b"<!DOCTYPE html><html><body><p>Loading")
        try:
            for _ in range(int(STOP_AFTER * 2)):
                if self._stopping.is_set():
                    break
                await asyncio.sleep(0.5)
                await response.write(b".")
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def _unavailable(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(status=503, text="Service Unavailable", content_type="text/plain")

    async def _file(self, request: web.Request) -> web.Response:
        self._record(request)
        path = request.path
        name = self.served.get(path, path.lstrip("/"))
        file = (self.pages / name).resolve()
        if not file.is_relative_to(self.pages) or not file.is_file():
            raise web.HTTPNotFound()
        data = file.read_bytes()
        headers = {"Content-Type": CONTENT_TYPES.get(file.suffix, "application/octet-stream")}
        if file.suffix in {".rss", ".atom"}:  # feeds carry an ETag and answer 304 when unchanged
            data = data.replace(b"$BASE", self.base.encode())
            headers["ETag"] = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
            if request.headers.get("If-None-Match") == headers["ETag"]:
                return web.Response(status=304, headers={"ETag": headers["ETag"]})
        return web.Response(body=data, headers=headers)
