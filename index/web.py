"""Articles from the web: a fetcher that reads only what it may, and the article a page holds.

``Fetcher.fetch`` (blocking) reads one http or https link within a ``FetchPolicy``. Each hop of a
redirect is resolved once, its address checked (only globally reachable addresses, judged by
``index.addresses``, unless the policy allows a private network) and connected to as checked, so a
DNS answer that changes in between (rebinding) cannot lead it elsewhere. robots.txt is honoured on
every host, with a User-Agent naming matchbot. One deadline covers the whole fetch, whatever the
server does; the body is counted as it arrives and as it is decompressed (``index.content_coding``);
redirects are bounded, and the content type must be one asked for.

``extract_article`` finds the main text, title, date and canonical link of an HTML page with
trafilatura; ``read_page`` fetches a page and extracts its article, and ``add_page`` adds it to a
Library as well. Every failure is a ``WebError`` (or an ``ArticleError``) with one line that says what
to do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import ipaddress
import socket
import threading
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

import httpx

from index.addresses import FetchPolicy, IPAddress
from index.articles import title_from_name
from index.content_coding import ACCEPT_ENCODING, BoundedDecoder, DamagedCoding, UnreadableCoding
from index.errors import DuplicateArticleError, WebError

if TYPE_CHECKING:
    from index.library import ArticleInfo, Library
    from index.store import IndexReport

Resolver = Callable[[str, int], list[str]]

ROBOTS_AGENT = "matchbot"  # the name robots.txt rules address
ROBOTS_MAX_BYTES = 500_000
ROBOTS_KEPT = 3600.0  # seconds a host's robots.txt is trusted before it is read again
MIN_ARTICLE_WORDS = 50  # words of running text below which a page holds no article
RUNNING_TEXT_WORDS = 8  # a shorter line is a heading, a caption or a link, not running text
EXCERPT_CHARS = 300
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_DNS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="matchbot-dns")


def _user_agent() -> str:
    try:
        version = metadata.version("matchbot")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"matchbot/{version} (self-hosted Discord bot that quotes match reports; honours robots.txt)"


USER_AGENT = _user_agent()


@dataclass(frozen=True, slots=True)
class Accept:
    """The content types a fetch accepts, and how to name them to a user."""

    name: str
    types: frozenset[str]
    hint: str

    def allows(self, content_type: str) -> bool:
        return not self.types or content_type in self.types


HTML = Accept(
    "a web page", frozenset({"text/html", "application/xhtml+xml"}), "link to the article's page itself"
)
FEED = Accept(
    "an RSS or Atom feed",
    frozenset(
        {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml"}
    ),
    "link to the feed itself (its address often ends in .rss, .xml or /feed)",
)
ANYTHING = Accept("a file", frozenset(), "")


@dataclass(frozen=True, slots=True)
class Page:
    """What a fetch read: the final link (after redirects), its content type and its body."""

    url: str
    content_type: str
    body: bytes
    encoding: str | None = None  # the charset the server declared, if any
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # a conditional request was answered 304: ``body`` is empty


@dataclass(frozen=True, slots=True)
class WebArticle:
    """The article a page holds."""

    title: str
    text: str  # paragraphs separated by blank lines
    date: str | None
    url: str  # the page's canonical link, else where it was read


@dataclass(frozen=True, slots=True)
class PageAdded:
    """An article added from a link: what the library holds, and its first lines."""

    info: ArticleInfo
    report: IndexReport
    excerpt: str


class _StatusError(WebError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, transient=status >= 500 or status == 429)
        self.status = status


# -- fetching ------------------------------------------------------------------------------------


class Fetcher:
    """Reads web pages and feeds within a FetchPolicy. Blocking: call it through ``asyncio.to_thread``.

    ``resolve(host, port)`` returns a host's addresses (``socket.getaddrinfo`` unless given).
    """

    def __init__(self, policy: FetchPolicy | None = None, *, resolve: Resolver | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self._resolve = resolve or _getaddrinfo
        self._ssl = httpx.create_ssl_context()  # certifi's CAs (or SSL_CERT_FILE), made once
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser]] = {}
        self._robots_lock = threading.Lock()

    def fetch(
        self,
        url: str,
        *,
        accept: Accept = HTML,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Page:
        """Read ``url`` after its host's robots.txt; ``etag``/``last_modified`` make it conditional.

        The whole fetch (name resolution, robots.txt, every redirect, headers and body) runs in an
        event loop of its own under one ``asyncio.timeout``: at the policy's time limit the transfer
        is cancelled wherever it is, however slowly the server sends.
        """
        link = check_link(url)
        headers = {"If-None-Match": etag} if etag else {}
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return asyncio.run(self._fetch(link, accept, headers))

    async def _fetch(self, link: httpx.URL, accept: Accept, headers: dict[str, str]) -> Page:
        try:
            async with asyncio.timeout(self.policy.timeout), self._client() as client:
                return await self._follow(client, link, accept, self.policy.max_bytes, headers)
        except TimeoutError:
            raise _too_slow(link, self.policy.timeout) from None

    # -- one fetch: hops, robots.txt, the body ---------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        # No environment proxies (they would connect for us, unchecked) and no kept-alive connections
        # (two host names on one address must not share a TLS connection made for the first).
        return httpx.AsyncClient(
            verify=self._ssl,
            trust_env=False,
            follow_redirects=False,
            timeout=self.policy.timeout,
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
        )

    async def _follow(
        self,
        client: httpx.AsyncClient,
        url: httpx.URL,
        accept: Accept,
        max_bytes: int,
        headers: dict[str, str],
        *,
        robots: bool = True,
    ) -> Page:
        seen = {str(url)}
        for _ in range(self.policy.max_redirects + 1):
            if robots:
                await self._obey_robots(client, url)
            response = await self._send(client, url, headers)
            try:
                location = response.headers.get("location")
                if response.status_code not in _REDIRECT_STATUSES or not location:
                    return await self._read(url, response, accept, max_bytes)
            finally:
                await response.aclose()
            try:
                url = check_link(str(url.join(location)))
            except WebError as exc:
                raise WebError(f"{_short(url)} redirects to a link matchbot cannot read: {exc}") from None
            if str(url) in seen:
                raise WebError(f"{_short(url)} redirects in a loop: open it in a browser and check it.")
            seen.add(str(url))
        raise WebError(
            f"{_short(url)} redirects more than {self.policy.max_redirects} times: open it in a browser "
            "and give the address it ends at."
        )

    async def _send(
        self, client: httpx.AsyncClient, url: httpx.URL, headers: dict[str, str]
    ) -> httpx.Response:
        """Send the request to an address of the URL's host that was checked, trying each in turn."""
        host = url.raw_host.decode("ascii")
        is_name = _as_address(host) is None
        failure: httpx.TransportError | None = None
        for address in await self._addresses(url):
            request = client.build_request(
                "GET",
                url.copy_with(host=address),  # connect to the address checked, not to the name again
                headers={"Host": url.netloc.decode("ascii"), **headers},
                extensions={"sni_hostname": host} if is_name else {},
            )
            try:
                return await client.send(request, stream=True)
            except httpx.TimeoutException:
                raise _too_slow(url, self.policy.timeout) from None
            except httpx.ConnectError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                    raise WebError(
                        f"{host}'s certificate is not valid ({_reason(exc)}): matchbot reads only sites "
                        "with a valid certificate."
                    ) from None
                failure = exc
            except httpx.TransportError as exc:
                raise WebError(
                    f"Could not read {_short(url)} ({_reason(exc)}): try again later.", transient=True
                ) from None
        raise WebError(
            f"Cannot connect to {host} ({_reason(failure)}): check the link, or try again later.",
            transient=True,
        )

    async def _addresses(self, url: httpx.URL) -> list[str]:
        """The host's addresses that the policy allows, resolved once; a WebError if there are none."""
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        literal = _as_address(host)
        if literal is not None:
            found = [literal]
        else:
            # a thread pool of its own: asyncio.run waits for the default one, and a resolver may hang
            resolving = asyncio.get_running_loop().run_in_executor(_DNS, self._resolve, host, port)
            try:
                names = await resolving
            except (OSError, UnicodeError):
                raise WebError(f"Cannot find the site {host}: check the link.") from None
            found = [a for a in map(_as_address, names) if a is not None]
        allowed = [str(a) for a in found if self.policy.allows(a)]
        if not allowed:
            shown = ", ".join(map(str, found[:3])) or "no address"
            raise WebError(
                f"{host} is a private or local address ({shown}): matchbot reads only public sites "
                "(a self-hoster can allow private networks with MATCHBOT_FETCH_ALLOW_PRIVATE)."
            )
        return allowed

    async def _read(self, url: httpx.URL, response: httpx.Response, accept: Accept, max_bytes: int) -> Page:
        status = response.status_code
        if status == 304:
            return Page(str(url), "", b"", not_modified=True)
        if not 200 <= status < 300:
            reason = f"{status} {response.reason_phrase}".strip()
            advice = "try again later" if status >= 500 or status == 429 else "check the link"
            raise _StatusError(f"{_short(url)} answered {reason}: {advice}.", status)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not accept.allows(content_type):
            kind = content_type or "of no stated type"
            raise WebError(f"{_short(url)} is not {accept.name} (it is {kind}): {accept.hint}.")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_big(url, max_bytes)
        try:
            decoder = BoundedDecoder(response.headers.get("content-encoding", ""))
        except UnreadableCoding as exc:
            raise WebError(f"{_short(url)} is {exc}: paste the article's text instead.") from None
        body = bytearray()
        received = 0
        try:
            async for raw in response.aiter_raw():  # as sent: the coding is undone below, bounded
                received += len(raw)
                if received > max_bytes:
                    raise _too_big(url, max_bytes)
                for piece in decoder.decode(raw):
                    body += piece
                    if len(body) > max_bytes:
                        raise _too_big(url, max_bytes)
        except httpx.TimeoutException:
            raise _too_slow(url, self.policy.timeout) from None
        except httpx.HTTPError as exc:  # the connection broke, or the body is not what it claims
            raise WebError(
                f"Could not read {_short(url)} ({_reason(exc)}): try again later.", transient=True
            ) from None
        except DamagedCoding:
            raise WebError(
                f"{_short(url)} sent a damaged {decoder.coding} body: try again later.", transient=True
            ) from None
        return Page(
            url=str(url),
            content_type=content_type,
            body=bytes(body),
            encoding=response.charset_encoding,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    # -- robots.txt --------------------------------------------------------------------------------

    async def _obey_robots(self, client: httpx.AsyncClient, url: httpx.URL) -> None:
        rules = await self._robots_for(client, url)
        if not rules.can_fetch(ROBOTS_AGENT, str(url)):
            raise WebError(
                f"{url.host}'s robots.txt asks bots like matchbot not to read {_short(url.path, 60)}: "
                "paste the article's text instead."
            )

    async def _robots_for(
        self, client: httpx.AsyncClient, url: httpx.URL
    ) -> urllib.robotparser.RobotFileParser:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        with self._robots_lock:
            kept = self._robots.get(origin)
        if kept is not None and time.monotonic() - kept[0] < ROBOTS_KEPT:
            return kept[1]
        rules = urllib.robotparser.RobotFileParser(f"{origin}/robots.txt")
        try:
            robots_txt = httpx.URL(f"{origin}/robots.txt")
            page = await self._follow(client, robots_txt, ANYTHING, ROBOTS_MAX_BYTES, {}, robots=False)
            rules.parse(page.body.decode("utf-8", errors="replace").splitlines())
        except _StatusError as exc:
            if exc.transient:  # RFC 9309: an unreachable robots.txt means "do not crawl" for now
                raise WebError(
                    f"{url.host}'s robots.txt answered {exc.status}, so matchbot may not read the site now: "
                    "try again later.",
                    transient=True,
                ) from None
            rules.allow_all = True  # no robots.txt (4xx): everything may be read
        except WebError as exc:
            if not exc.transient:
                raise
            raise WebError(
                f"{url.host}'s robots.txt could not be read, so matchbot may not read the site now: "
                "try again later.",
                transient=True,
            ) from None
        rules.modified()  # RobotFileParser refuses everything until it is marked as read
        with self._robots_lock:
            self._robots[origin] = (time.monotonic(), rules)
        return rules


def check_link(url: str) -> httpx.URL:
    """``url`` parsed, if matchbot may try to read it: http or https, a host, no user name or password."""
    text = url.strip()
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, TypeError, ValueError):
        parsed = None
    if parsed is not None and parsed.scheme and parsed.scheme not in {"http", "https"}:
        raise WebError(f"matchbot reads http and https links only, not {parsed.scheme}: links.")
    if parsed is None or not parsed.scheme or not parsed.host:
        raise WebError(f"{_short(text)!r} is not a web address: give a link that starts with https://.")
    if parsed.userinfo:
        raise WebError("matchbot does not read links with a user name or password in them: remove it.")
    return parsed.copy_with(fragment=None)


def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _as_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None


def _too_slow(url: httpx.URL, limit: float) -> WebError:
    return WebError(f"{_short(url)} did not load within {limit:g} s: try again later.", transient=True)


def _too_big(url: httpx.URL, limit: int) -> WebError:
    return WebError(
        f"{_short(url)} is over {_megabytes(limit)}, the most matchbot reads (MATCHBOT_FETCH_MAX_MB): "
        "link to the article's page itself."
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def _short(url: object, limit: int = 100) -> str:
    text = " ".join(str(url).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(error: BaseException | None) -> str:
    text = " ".join(str(error or "no answer").split())
    return _short(text, 120) or type(error).__name__


# -- extraction ----------------------------------------------------------------------------------


def extract_article(page: Page) -> WebArticle:
    """The main text, title, date and canonical link of an HTML page, or a WebError if it has none."""
    import trafilatura  # imported when first needed: it takes a moment

    html: str | bytes = page.body
    if page.encoding:
        with contextlib.suppress(LookupError):  # a charset Python does not know: trafilatura guesses
            html = page.body.decode(page.encoding, errors="replace")
    document = trafilatura.bare_extraction(
        html,
        url=page.url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
    )
    lines = [" ".join(line.split()) for line in (document.text or "").splitlines()] if document else []
    lines = [line for line in lines if line]
    running = sum(len(line.split()) for line in lines if len(line.split()) >= RUNNING_TEXT_WORDS)
    if document is None or running < MIN_ARTICLE_WORDS:
        raise WebError(
            f"No article text found at {_short(page.url)} (it may be a list of links, or need JavaScript "
            "or a log-in): paste the article's text instead."
        )
    title = " ".join((document.title or "").split()) or _title_from_link(page.url)
    if lines[0].casefold() == title.casefold():  # the headline, repeated as the first line
        lines = lines[1:]
    return WebArticle(
        title=title,
        text="\n\n".join(lines),
        date=_iso_date(document.date),
        url=_canonical(document.url, page.url),
    )


def _canonical(found: str | None, read_at: str) -> str:
    if found:
        try:
            return str(check_link(found))
        except WebError:
            pass
    return read_at


def _iso_date(value: str | None) -> str | None:
    try:
        return dt.date.fromisoformat((value or "")[:10]).isoformat()
    except ValueError:
        return None


def _title_from_link(url: str) -> str:
    parsed = httpx.URL(url)
    stem = parsed.path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return title_from_name(stem) if stem else parsed.host


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first lines of an article, cut at a word near ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


# -- adding --------------------------------------------------------------------------------------


def read_page(
    library: Library,
    fetcher: Fetcher,
    url: str,
    *,
    progress: Callable[[str], None] | None = None,
) -> WebArticle:
    """Fetch ``url`` and take its article out, unless ``library`` holds it already.

    ``progress`` is told each stage as it starts: ``"fetching"``, ``"reading"``. A page already in the
    library (by its link, where it led, or its canonical link) is a DuplicateArticleError.
    """
    say = progress or (lambda stage: None)
    link = str(check_link(url))
    refuse_known(library, link)
    say("fetching")
    page = fetcher.fetch(link, accept=HTML)
    say("reading")
    article = extract_article(page)
    for known in (page.url, article.url):
        refuse_known(library, known)
    return article


def add_page(
    library: Library,
    fetcher: Fetcher,
    url: str,
    *,
    title: str | None = None,
    date: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> PageAdded:
    """Fetch ``url``, extract its article and add it to ``library`` (saved in the seeds folder).

    ``progress`` is told each stage as it starts: ``"fetching"``, ``"reading"``, ``"indexing"``.
    A page already in the library (by its link, where it led, or its canonical link) is refused. The
    bot adds pages through its article registry instead (``bot.registry``), which runs ``read_page``
    and then records the article for the other processes.
    """
    article = read_page(library, fetcher, url, progress=progress)
    if progress is not None:
        progress("indexing")
    info, report = library.add_article(
        title=title or article.title,
        text=article.text,
        date=date or article.date,
        url=article.url,
        unique_url=True,
    )
    return PageAdded(info=info, report=report, excerpt=excerpt(article.text))


def refuse_known(library: Library, url: str) -> None:
    """A DuplicateArticleError if the library already holds the article published at ``url``."""
    known = library.article_with_url(url)
    if known is not None:
        raise DuplicateArticleError(
            f"That page was added before, as {known.title!r} ({known.id}): remove that article first "
            "to add it again.",
            known.id,
        )
