"""RSS and Atom feeds: their entries, read with feedparser, and the keywords that pick the ones to add.

Pure: no network (the Fetcher reads the feed), no disk. A keyword matches an entry when its title or
summary holds it as a whole word or phrase, in any case and with or without accents ("Mbappe" matches
"Mbappé's goal", not "Mbappeland").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urljoin

import feedparser

from index.errors import WebError
from index.web import Page, check_link

MAX_KEYWORDS = 20
MAX_KEYWORD_CHARS = 60
MAX_KEY_CHARS = 500  # a longer entry id is kept as its hash: a database index entry has a size limit
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed."""

    key: str  # what identifies the entry for good: its id (guid), else its link; hashed when long
    link: str
    title: str
    summary: str  # plain text
    published: str | None = None  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class FeedReading:
    """A feed's title and its entries, in the feed's order (newest first, usually)."""

    title: str
    items: list[FeedItem]


def read_feed(page: Page) -> FeedReading:
    """The entries of an RSS or Atom feed; relative links are resolved against where it was read."""
    # A file object, never bytes or a string: feedparser would take those for a file name or a URL.
    headers = {"content-location": page.url, "content-type": page.content_type or "application/xml"}
    parsed = feedparser.parse(io.BytesIO(page.body), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        raise WebError(f"{page.url} is not an RSS or Atom feed: check the feed's address.")
    items = []
    for entry in parsed.entries:
        link = _link(entry.get("link"), page.url)
        if link is None:
            continue
        items.append(
            FeedItem(
                key=_key(str(entry.get("id") or link).strip()),
                link=link,
                title=_plain(entry.get("title", "")),
                summary=_plain(entry.get("summary", "")),
                published=_date(entry.get("published_parsed") or entry.get("updated_parsed")),
            )
        )
    return FeedReading(title=_plain(parsed.feed.get("title", "")) or page.url, items=items)


def parse_keywords(text: str) -> tuple[str, ...]:
    """``"Morocco, Mbappe"`` → ``("Morocco", "Mbappe")``; a WebError if there are none or too many."""
    keywords = tuple(dict.fromkeys(" ".join(word.split()) for word in text.split(",") if word.strip()))
    if not keywords:
        raise WebError("Give at least one keyword, e.g. `Morocco, Mbappe`: matching entries are added.")
    if len(keywords) > MAX_KEYWORDS or any(len(word) > MAX_KEYWORD_CHARS for word in keywords):
        raise WebError(
            f"Give at most {MAX_KEYWORDS} keywords of at most {MAX_KEYWORD_CHARS} characters, "
            "separated by commas."
        )
    return keywords


def matches(item: FeedItem, keywords: tuple[str, ...]) -> bool:
    """Whether the entry's title or summary holds one of the keywords (case and accents ignored)."""
    text = fold(f"{item.title}\n{item.summary}")
    return any(re.search(rf"(?<!\w){re.escape(fold(word))}(?!\w)", text) for word in keywords)


def fold(text: str) -> str:
    """``"Mbappé"`` → ``"mbappe"``: lower case, accents removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _key(text: str) -> str:
    if len(text) <= MAX_KEY_CHARS:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _link(value: object, base: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return str(check_link(urljoin(base, value.strip())))
    except WebError:
        return None


def _plain(value: object) -> str:
    """Feed text as plain text: markup dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(_TAG.sub(" ", str(value))).split())


def _date(value: object) -> str | None:
    try:
        return dt.date(*value[:3]).isoformat()  # type: ignore[index]
    except (TypeError, ValueError):
        return None
