"""Articles from links: the safe fetcher and the extraction, against the news site on 127.0.0.1.

Every refusal is one line that says what to do, and leaves the seeds folder and the index as they were.
"""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

import pytest
from news_site import NewsSite

from index.articles import link_key
from index.errors import DuplicateArticleError, WebError
from index.library import Library
from index.pipeline import Pipeline
from index.web import FEED, USER_AGENT, Fetcher, FetchPolicy, add_page, check_link

ARTICLE = "/2022/12/15/morocco-fans-casablanca.html"
CANONICAL = "https://www.matchday-news.example/world-cup/2022/12/15/morocco-fans-casablanca"
TITLE = "Morocco's fans turn Casablanca red after semi-final defeat"


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

    answer = library.retriever.search("which city will the squad ride through on an open-top bus", k=1)
    best = answer.passages[0]
    assert best.article == info.id and "open-top bus" in best.text and best.url == CANONICAL


def test_redirects_are_followed_and_every_request_names_matchbot_after_robots_txt(
    library: Library, fetcher: Fetcher, news_site: NewsSite
) -> None:
    added = add_page(library, fetcher, news_site.url(f"/redirect?to={ARTICLE}"))
    assert added.info.url == CANONICAL
    assert news_site.paths() == ["/robots.txt", f"/redirect?to={ARTICLE}", ARTICLE]
    assert {request.user_agent for request in news_site.requests} == {USER_AGENT}
    assert USER_AGENT.startswith("matchbot/")


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


def test_private_addresses_are_refused_by_default_and_nothing_is_requested(
    library: Library, news_site: NewsSite
) -> None:
    default = Fetcher()
    for link, address in (
        (news_site.url(ARTICLE), "127.0.0.1"),
        (f"http://localhost:{news_site.port}{ARTICLE}", "127.0.0.1"),  # a name for a loopback address
        (f"http://[::ffff:127.0.0.1]:{news_site.port}{ARTICLE}", "::ffff:7f00:1"),
    ):
        message = refusal(library, default, link)
        assert "is a private or local address" in message and address in message
        assert "MATCHBOT_FETCH_ALLOW_PRIVATE" in message
    assert news_site.requests == []


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


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",  # IPv4 inside IPv6
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(address: str) -> None:
    assert not FetchPolicy().allows(ipaddress.ip_address(address))


def test_public_addresses_are_allowed_and_private_ones_only_when_listed() -> None:
    assert FetchPolicy().allows(ipaddress.ip_address("93.184.216.34"))
    assert FetchPolicy().allows(ipaddress.ip_address("2606:4700::6810:84e5"))
    intranet = FetchPolicy(allow_private=(ipaddress.ip_network("10.0.0.0/8"),))
    assert intranet.allows(ipaddress.ip_address("10.1.2.3"))
    assert not intranet.allows(ipaddress.ip_address("192.168.1.1"))


def test_links_to_one_page_share_a_key() -> None:
    same = [
        "https://News.example/report/?utm_source=rss&utm_medium=feed",
        "http://news.example:80/report",
        "https://news.example:443/report#comments",
    ]
    assert len({link_key(link) for link in same}) == 1
    assert link_key("https://news.example/report?id=2") != link_key("https://news.example/report?id=3")
    assert str(check_link(" https://news.example/report#top ")) == "https://news.example/report"
