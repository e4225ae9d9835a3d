"""Articles from links: the safe fetcher and the extraction, against the news site on 127.0.0.1 and
a site there that misbehaves on purpose (tests/hostile_site.py).

Every refusal is one line that says what to do, and leaves the seeds folder and the index as they were.
No test here connects anywhere but to a loopback address: the address table needs no network at all.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_site import ARTICLE as ARTICLE_FILE
from news_site import LOCAL_ONLY, NewsSite

from index.articles import link_key
from index.errors import DuplicateArticleError, WebError
from index.library import Library
from index.pipeline import Pipeline
from index.web import FEED, USER_AGENT, Fetcher, FetchPolicy, add_page, check_link

ARTICLE = "/2022/12/15/morocco-fans-casablanca.html"
CANONICAL = "https://www.matchday-news.example/world-cup/2022/12/15/morocco-fans-casablanca"
TITLE = "Morocco's fans turn Casablanca red after semi-final defeat"
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection to anything but a loopback address fails the test instead of being made."""
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0])  # type: ignore[index]
            assert ipaddress.ip_address(host.split("%")[0]).is_loopback, f"a test connected to {host}"
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def library(tmp_path: Path, seed_file: Path, fake_embedder) -> Library:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(seed_file, seeds)
    opened = Library(seeds, tmp_path / "data", Pipeline(fake_embedder))
    opened.open()
    return opened


def state(library: Library) -> tuple[list[str], list[str]]:
    """What a failed add must leave alone: every file in the seeds folder, and the indexed articles."""
    return sorted(p.name for p in library.seeds_dir.iterdir()), [a.id for a in library.articles()]


def refusal(library: Library, fetcher: Fetcher, url: str) -> str:
    """The one line a failed ``add_page`` gives; the seeds folder and the index are checked unchanged."""
    before = state(library)
    with pytest.raises((WebError, DuplicateArticleError)) as caught:
        add_page(library, fetcher, url)
    assert state(library) == before
    message = str(caught.value)
    assert message and "\n" not in message and len(message) < 400
    return message


# -- a page with an article ----------------------------------------------------------------------


def test_a_news_page_is_added_with_its_text_title_date_and_canonical_link(
    library: Library, fetcher: Fetcher, news_site: NewsSite
) -> None:
    stages: list[str] = []
    added = add_page(library, fetcher, news_site.url(ARTICLE), progress=stages.append)
    assert stages == ["fetching", "reading", "indexing"]
    info = added.info
    assert (info.title, info.date, info.url) == (TITLE, "2022-12-15", CANONICAL)
    assert added.excerpt.startswith("The final whistle in Al Khor had barely sounded")
    assert added.report.added == [info.id]

    saved = (library.seeds_dir / info.source).read_text(encoding="utf-8")
    assert saved.startswith(f"title {TITLE}\ndate 2022-12-15\nurl {CANONICAL}\n\n")
    for kept in ("open-top bus", "Yassine Bounou", '"We did not lose tonight', "third place on Saturday"):
        assert kept in saved
    for around in (
        "cookies",  # the cookie banner
        "Subscribe for £1",  # the navigation
        "Bet now",  # the ads
        "Striker Pro",
        "FootyFan99",  # the comments
        "overrated",
        "Read more",  # boxes inside the article
        "Sign up to Football Daily",
        "Murray plans comeback",  # most read
        "All rights reserved",  # the footer
    ):
        assert around not in saved

    # The page's sentences are searchable, with its link (the ranking itself is the real models' to make;
    # this library reads with a toy encoder)
    answer = library.retriever.search("which city will the squad ride through on an open-top bus", k=3)
    [found] = [passage for passage in answer.passages if "open-top bus" in passage.text]
    assert found.article == info.id and found.url == CANONICAL


def test_redirects_are_followed_and_every_request_names_matchbot_after_robots_txt(
    library: Library, fetcher: Fetcher, news_site: NewsSite
) -> None:
    added = add_page(library, fetcher, news_site.url(f"/redirect?to={ARTICLE}"))
    assert added.info.url == CANONICAL
    assert news_site.paths() == ["/robots.txt", f"/redirect?to={ARTICLE}", ARTICLE]
    assert {request.user_agent for request in news_site.requests} == {USER_AGENT}
    assert USER_AGENT.startswith("matchbot/")
    # only what matchbot can decompress in bounded pieces: no brotli
    assert {request.headers["Accept-Encoding"] for request in news_site.requests} == {"gzip, deflate"}


def test_a_page_added_before_is_one_line_whatever_link_leads_to_it(
    library: Library, fetcher: Fetcher, news_site: NewsSite
) -> None:
    added = add_page(library, fetcher, news_site.url(ARTICLE))
    # the canonical link is known without fetching (its host does not even resolve here); the others
    # are known once the page they lead to names its canonical link
    for link in (CANONICAL, news_site.url(ARTICLE), news_site.url(f"/redirect?to={ARTICLE}")):
        message = refusal(library, fetcher, link)
        assert message == (
            f"That page was added before, as {TITLE!r} ({added.info.id}): remove that article first to "
            "add it again."
        )


def test_a_name_is_resolved_once_per_request_and_connected_to_as_checked(
    library: Library, news_site: NewsSite
) -> None:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"] if host == "news.example" else []

    fetcher = Fetcher(FetchPolicy(allow_private=(ipaddress.ip_network("127.0.0.1/32"),)), resolve=resolve)
    page = fetcher.fetch(f"http://news.example:{news_site.port}{ARTICLE}")
    assert page.url == f"http://news.example:{news_site.port}{ARTICLE}"
    assert asked == ["news.example", "news.example"]  # robots.txt, then the page: never by the client
    assert {request.host for request in news_site.requests} == {f"news.example:{news_site.port}"}


# -- refusals: one line each, nothing saved ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/app-shell.html", "No article text found at"),  # a JavaScript app: no text without a browser
        ("/section-front.html", "No article text found at"),  # headlines and links only
        ("/match-stats.pdf", "is not a web page (it is application/pdf)"),
        ("/loop/a", "redirects in a loop"),
        ("/huge.html", "is over 5 MB, the most matchbot reads (MATCHBOT_FETCH_MAX_MB)"),
        ("/missing.html", "answered 404 Not Found: check the link."),
        ("/unavailable.html", "answered 503 Service Unavailable: try again later."),
        (
            "/no-matchbot/report.html",
            "robots.txt asks bots like matchbot not to read /no-matchbot/report.html",
        ),
    ],
)
def test_a_page_that_gives_no_article_is_one_line_and_nothing_is_saved(
    library: Library, fetcher: Fetcher, news_site: NewsSite, path: str, expected: str
) -> None:
    assert expected in refusal(library, fetcher, news_site.url(path))


def test_robots_txt_is_honoured_and_no_disallowed_page_is_requested(
    library: Library, fetcher: Fetcher, news_site: NewsSite
) -> None:
    refusal(library, fetcher, news_site.url("/no-matchbot/report.html"))
    assert news_site.paths() == ["/robots.txt"]


def test_a_page_that_never_finishes_is_cut_off_at_the_time_limit(
    library: Library, news_site: NewsSite
) -> None:
    impatient = Fetcher(FetchPolicy(allow_private=(ipaddress.ip_network("127.0.0.1/32"),), timeout=1))
    message = refusal(library, impatient, news_site.url("/slow.html"))
    assert message.endswith("did not load within 1 s: try again later.")


def test_a_smaller_size_limit_is_kept(library: Library, news_site: NewsSite) -> None:
    small = Fetcher(FetchPolicy(allow_private=(ipaddress.ip_network("127.0.0.1/32"),), max_bytes=2_000))
    assert "is over 0.002 MB" in refusal(library, small, news_site.url(ARTICLE))


# -- hostile servers: one deadline, bytes counted as they are decompressed ------------------------

DRIPPING = ["drip-headers", "drip-robots", "drip-chunk-size", "gzip-comment", "gzip-extra"]


@pytest.mark.parametrize("misbehaviour", DRIPPING)
def test_a_fetch_stops_at_its_time_limit_however_slowly_the_server_sends(
    library: Library, hostile_url: Callable[..., str], misbehaviour: str
) -> None:
    """Reply headers, robots.txt's headers, a chunk-size line or a gzip header that never ends, each
    byte in time for a per-read timeout: the fetch still ends at its one deadline."""
    impatient = Fetcher(FetchPolicy(allow_private=LOOPBACK, timeout=2))
    url = hostile_url(misbehaviour)
    started = time.monotonic()
    message = refusal(library, impatient, url)
    assert time.monotonic() - started < 2 + 1
    assert message == f"{url} did not load within 2 s: try again later."


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
def test_a_compressed_page_is_read(hostile_url: Callable[..., str], coding: str) -> None:
    page = Fetcher(LOCAL_ONLY).fetch(hostile_url(coding))
    assert page.body == ARTICLE_FILE.read_bytes()


@pytest.mark.parametrize(
    ("misbehaviour", "expected"),
    [
        ("gzip-bomb", "is over 1 MB, the most matchbot reads (MATCHBOT_FETCH_MAX_MB)"),
        ("double-gzip-bomb", "is compressed more than once (gzip, gzip), which matchbot does not read"),
    ],
)
def test_a_compression_bomb_is_one_line(
    library: Library, hostile_url: Callable[..., str], misbehaviour: str, expected: str
) -> None:
    small = Fetcher(FetchPolicy(allow_private=LOOPBACK, max_bytes=1_000_000))
    assert expected in refusal(library, small, hostile_url(misbehaviour))


# Fetches an ordinary page, then a bomb, in a fresh process; prints the peak memory after each.
PEAK_MEMORY = """
import ipaddress, json, re, sys
from index.errors import WebError
from index.web import FEED, HTML, Fetcher, FetchPolicy

def peak_kb():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read())[1])

policy = FetchPolicy(allow_private=(ipaddress.ip_network("127.0.0.1/32"),), max_bytes=1_000_000, timeout=10)
fetcher = Fetcher(policy)
ordinary = len(fetcher.fetch(sys.argv[1]).body)
after_ordinary = peak_kb()
try:
    fetcher.fetch(sys.argv[2], accept=FEED if sys.argv[2].endswith(".rss") else HTML)
    refused = None
except WebError as exc:
    refused = str(exc)
measured = {"ordinary": ordinary, "ordinary_kb": after_ordinary, "bomb_kb": peak_kb(), "refused": refused}
print(json.dumps(measured))
"""
MEMORY_MARGIN_KB = 4_000  # the limit is 1 MB; a bomb inflates to 200 MB


@pytest.mark.parametrize("misbehaviour", ["gzip-bomb", "double-gzip-bomb"])
@pytest.mark.parametrize("name", ["page.html", "feed.rss"])
def test_a_compression_bomb_costs_no_more_memory_than_an_ordinary_page(
    hostile_url: Callable[..., str], misbehaviour: str, name: str
) -> None:
    ordinary, bomb = hostile_url("gzip"), hostile_url(misbehaviour, name)
    result = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, ordinary, bomb],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["ordinary"] == len(ARTICLE_FILE.read_bytes())  # the ordinary page was read
    assert measured["refused"] and measured["refused"].startswith(bomb)
    assert measured["bomb_kb"] - measured["ordinary_kb"] <= MEMORY_MARGIN_KB, measured


def test_private_addresses_are_refused_by_default_and_nothing_is_requested(
    library: Library, news_site: NewsSite
) -> None:
    default = Fetcher()
    for link, address in (
        (news_site.url(ARTICLE), "127.0.0.1"),
        (f"http://localhost:{news_site.port}{ARTICLE}", "127.0.0.1"),  # a name for a loopback address
        (f"http://[::ffff:127.0.0.1]:{news_site.port}{ARTICLE}", "::ffff:7f00:1"),
        (f"http://[::127.0.0.1]:{news_site.port}{ARTICLE}", "::7f00:1"),  # IPv4-compatible
        (f"http://[64:ff9b::7f00:1]:{news_site.port}{ARTICLE}", "64:ff9b::7f00:1"),  # NAT64
        (f"http://[::ffff:0:7f00:1]:{news_site.port}{ARTICLE}", "::ffff:0:7f00:1"),  # IPv4-translated
        (f"http://[fec0::1]:{news_site.port}{ARTICLE}", "fec0::1"),  # site-local
    ):
        message = refusal(library, default, link)
        assert "is a private or local address" in message and address in message
        assert "MATCHBOT_FETCH_ALLOW_PRIVATE" in message
    assert news_site.requests == []


def test_every_address_a_name_has_is_checked_at_every_hop_robots_txt_first(
    library: Library, news_site: NewsSite
) -> None:
    """127.0.0.1 is allowed; IPv6 forms that carry 127.0.0.2, and a site-local one, are not."""
    rebound = ["::7f00:2", "64:ff9b::7f00:2", "::ffff:0:7f00:2", "fec0::1"]

    def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "news.example" else rebound

    fetcher = Fetcher(LOCAL_ONLY, resolve=resolve)
    elsewhere = f"http://rebound.example:{news_site.port}{ARTICLE}"
    message = refusal(library, fetcher, f"http://news.example:{news_site.port}/redirect?to={elsewhere}")
    assert message.startswith("rebound.example is a private or local address (::7f00:2, 64:ff9b::7f00:2")
    assert news_site.paths() == ["/robots.txt", f"/redirect?to={elsewhere}"]  # not rebound's robots.txt
    assert "rebound.example is a private or local address" in refusal(library, fetcher, elsewhere)
    assert len(news_site.requests) == 2


def test_every_redirect_hop_is_checked(library: Library, fetcher: Fetcher, news_site: NewsSite) -> None:
    elsewhere = f"http://127.0.0.2:{news_site.port}{ARTICLE}"  # loopback, but not the address allowed
    message = refusal(library, fetcher, news_site.url(f"/redirect?to={elsewhere}"))
    assert "redirects to a link matchbot cannot read" not in message
    assert "127.0.0.2 is a private or local address" in message
    ftp = refusal(library, fetcher, news_site.url("/redirect?to=ftp://127.0.0.1/report.html"))
    assert "redirects to a link matchbot cannot read: matchbot reads http and https links only" in ftp


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("file:///etc/passwd", "matchbot reads http and https links only, not file: links."),
        ("ftp://example.com/report.html", "not ftp: links"),
        ("javascript:alert(1)", "not javascript: links"),
        ("www.example.com/report", "is not a web address: give a link that starts with https://."),
        ("https://user:secret@example.com/", "with a user name or password"),
        ("  ", "is not a web address"),
    ],
)
def test_only_plain_http_and_https_links_are_tried(
    library: Library, fetcher: Fetcher, link: str, expected: str
) -> None:
    assert expected in refusal(library, fetcher, link)


def test_feeds_and_pages_are_told_apart_by_their_content_type(fetcher: Fetcher, news_site: NewsSite) -> None:
    assert fetcher.fetch(news_site.url("/feeds/world-cup.atom"), accept=FEED).content_type == (
        "application/atom+xml"
    )
    with pytest.raises(WebError, match=r"is not an RSS or Atom feed \(it is text/html\): link to the feed"):
        fetcher.fetch(news_site.url(ARTICLE), accept=FEED)


# -- the address policy and links ----------------------------------------------------------------


PRIVATE_10 = ("10.0.0.0/8",)
ONLY_127_0_0_1 = ("127.0.0.1/32",)


@pytest.mark.parametrize(
    ("address", "allowed_networks", "verdict"),
    [
        # public
        ("93.184.216.34", (), True),
        ("8.8.8.8", (), True),
        ("2606:4700::6810:84e5", (), True),
        ("::ffff:93.184.216.34", (), True),  # IPv4-mapped: the IPv4 address itself
        ("64:ff9b::808:808", (), True),  # NAT64 of 8.8.8.8
        ("2002:808:808::1", (), True),  # 6to4 of 8.8.8.8
        # IPv4 special-purpose ranges
        ("127.0.0.1", (), False),
        ("127.0.0.2", (), False),
        ("10.1.2.3", (), False),
        ("172.16.0.1", (), False),
        ("192.168.1.1", (), False),
        ("169.254.169.254", (), False),  # cloud metadata
        ("100.64.0.1", (), False),  # carrier-grade NAT
        ("0.0.0.0", (), False),
        ("192.0.0.8", (), False),  # dummy address: global to Python 3.11, not to IANA
        ("192.0.2.1", (), False),  # documentation
        ("198.18.0.1", (), False),  # benchmarking
        ("240.0.0.1", (), False),  # reserved
        ("255.255.255.255", (), False),
        ("224.0.0.1", (), False),  # multicast
        ("224.0.1.1", (), False),  # multicast, global scope
        # IPv6 special-purpose ranges
        ("::1", (), False),
        ("::", (), False),
        ("fe80::1", (), False),  # link-local
        ("fc00::1", (), False),  # unique local
        ("fec0::1", (), False),  # site-local, deprecated but routed on some networks
        ("ff0e::1", (), False),  # multicast, global scope
        ("2001:db8::1", (), False),  # documentation
        ("3fff::1", (), False),  # documentation (2024): global to Python 3.11
        ("5f00::1", (), False),  # segment routing: global to Python 3.11
        ("100::1", (), False),  # discard
        # IPv6 forms that carry a private IPv4 address
        ("::ffff:127.0.0.1", (), False),  # IPv4-mapped
        ("::ffff:10.0.0.1", (), False),
        ("::127.0.0.1", (), False),  # IPv4-compatible
        ("::ffff:0:127.0.0.1", (), False),  # IPv4-translated
        ("64:ff9b::7f00:1", (), False),  # NAT64, well-known prefix
        ("64:ff9b::a00:1", (), False),
        ("64:ff9b:1::808:808", (), False),  # NAT64, local-use prefix: never public
        ("2002:7f00:1::", (), False),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", (), False),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", (), False),  # Teredo
        # what a self-hoster allowed, and nothing more
        ("10.1.2.3", PRIVATE_10, True),
        ("192.168.1.1", PRIVATE_10, False),
        ("2002:a01:203::1", PRIVATE_10, True),  # 6to4 of 10.1.2.3
        ("127.0.0.1", ONLY_127_0_0_1, True),
        ("::ffff:127.0.0.1", ONLY_127_0_0_1, True),
        ("64:ff9b::7f00:1", ONLY_127_0_0_1, True),
        ("127.0.0.2", ONLY_127_0_0_1, False),
        ("::127.0.0.2", ONLY_127_0_0_1, False),
        ("64:ff9b::7f00:2", ONLY_127_0_0_1, False),
        ("::ffff:0:127.0.0.2", ONLY_127_0_0_1, False),
        ("::1", ONLY_127_0_0_1, False),
        ("fd00::1", ("fd00::/8",), True),
        ("fec0::1", ("fd00::/8",), False),
        ("64:ff9b:1::a00:1", ("64:ff9b:1::/48",), False),  # carries 10.0.0.1, not allowed
        ("64:ff9b:1::a00:1", ("64:ff9b:1::/48", *PRIVATE_10), True),
    ],
)
def test_addresses_are_judged_by_what_they_are(
    address: str, allowed_networks: tuple[str, ...], verdict: bool
) -> None:
    policy = FetchPolicy(allow_private=tuple(map(ipaddress.ip_network, allowed_networks)))
    assert policy.allows(ipaddress.ip_address(address)) is verdict


def test_links_to_one_page_share_a_key() -> None:
    same = [
        "https://News.example/report/?utm_source=rss&utm_medium=feed",
        "http://news.example:80/report",
        "https://news.example:443/report#comments",
    ]
    assert len({link_key(link) for link in same}) == 1
    assert link_key("https://news.example/report?id=2") != link_key("https://news.example/report?id=3")
    assert str(check_link(" https://news.example/report#top ")) == "https://news.example/report"
