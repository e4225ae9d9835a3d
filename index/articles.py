"""Reading articles from the seeds folder: ``.txt``/``.md`` files and ``.jsonl`` files of many articles.

A text article may start with header lines, ``date YYYY-MM-DD``, ``title ...``, ``url ...`` and
``language xx`` (an ISO 639-1 code; without it the language is detected), before its body. A ``date``
header may share its line with the first words of the body (``date 2022-12-15 Morocco won ...``).
Without a ``title`` header the title comes from the file name: words are separated by
underscores, or by hyphens when the name has no underscore.

A ``.jsonl`` file holds one article a line: ``{"id", "title", "date"?, "url"?, "language"?, "text"}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from index.errors import ArticleError, SeedsError

TEXT_SUFFIXES = (".txt", ".md")
BULK_SUFFIX = ".jsonl"

_HEADER = re.compile(r"^(?P<key>title|date|url|language)[ \t]*:?[ \t]+(?P<value>.+)$", re.IGNORECASE)
_LANGUAGE = re.compile(r"[a-z]{2}")
_DATE_THEN_TEXT = re.compile(r"^date[ \t]*:?[ \t]+(?P<date>\d{4}-\d{2}-\d{2})(?:[ \t]+(?P<rest>.*))?$", re.I)


@dataclass(frozen=True, slots=True)
class Article:
    """One article: its metadata and body text."""

    id: str
    title: str
    text: str
    date: str | None = None
    url: str | None = None
    source: str = ""  # the file it came from, relative to the seeds folder
    language: str | None = None  # ISO 639-1, as its header says; None: detected when it is indexed

    @property
    def content_hash(self) -> str:
        """A hash of everything that goes into the index, so a changed header re-indexes too."""
        fields = [self.title, self.date, self.url, self.text] + ([self.language] if self.language else [])
        payload = json.dumps(fields, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class SeedsReading:
    """The articles read from a seeds folder, and a warning line for each file or line skipped."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_seeds(seeds_dir: Path) -> SeedsReading:
    """Read every article in ``seeds_dir`` (a folder, or one article file).

    Unusable files and lines are skipped with a warning, never fatal; a folder with no article is an
    empty reading (a library starts that way), a folder that does not exist a SeedsError.
    """
    if not seeds_dir.exists():
        raise SeedsError(
            f"The seeds folder {seeds_dir} does not exist: create it and put articles in it "
            "(.txt, .md or .jsonl), or point --seeds / MATCHBOT_SEEDS at your articles."
        )
    reading = SeedsReading()
    seen: set[str] = set()
    paths = sorted(seeds_dir.iterdir()) if seeds_dir.is_dir() else [seeds_dir]
    for path in paths:
        if not path.is_file() or path.name.startswith("."):
            continue
        suffix = path.suffix.lower()
        try:
            if suffix in TEXT_SUFFIXES:
                found = [parse_text_article(path.stem, _read_text(path), source=path.name)]
            elif suffix == BULK_SUFFIX:
                found = _read_bulk(path, reading.skipped)
            else:
                continue
        except ArticleError as exc:
            reading.skipped.append(str(exc))
            continue
        for article in found:
            if article.id in seen:
                reading.skipped.append(
                    f"skipped {article.source}: another article already has the id {article.id!r}"
                )
                continue
            seen.add(article.id)
            reading.articles.append(article)
    return reading


def parse_text_article(article_id: str, raw: str, *, source: str = "") -> Article:
    """Split header lines from the body of a text article."""
    headers: dict[str, str] = {}
    lines = raw.lstrip("\ufeff").lstrip().splitlines()
    body_start = 0
    for body_start, line in enumerate(lines):
        stripped = line.strip()
        if not stripped and headers:
            continue
        inline = _DATE_THEN_TEXT.match(stripped)
        if inline and "date" not in headers:
            headers["date"] = inline["date"]
            if inline["rest"]:
                lines[body_start] = inline["rest"]
                break
            continue
        header = _HEADER.match(stripped)
        if header and header["key"].lower() not in headers and header["key"].lower() != "date":
            headers[header["key"].lower()] = header["value"].strip()
            continue
        break
    else:
        body_start = len(lines)
    body = "\n".join(lines[body_start:]).strip()
    name = _shown(source or article_id)
    if not body:
        raise ArticleError(f"skipped {name}: the article has no text after its header lines")
    return Article(
        id=article_id,
        title=headers.get("title") or title_from_name(article_id),
        text=body,
        date=_checked_date(headers.get("date"), name),
        url=headers.get("url"),
        source=source,
        language=_checked_language(headers.get("language"), name),
    )


def title_from_name(stem: str) -> str:
    """``world_cup_2022_semi-final_france_2-0_morocco`` → ``World Cup 2022 Semi-final France 2-0 Morocco``."""
    words = stem.split("_") if "_" in stem else stem.split("-")
    return " ".join(word[:1].upper() + word[1:] for word in words if word)


def format_text_article(article: Article) -> str:
    """The text-file form of an article, headers first; ``parse_text_article`` reads it back."""
    header = [f"title {article.title}"]
    if article.date:
        header.append(f"date {article.date}")
    if article.url:
        header.append(f"url {article.url}")
    if article.language:
        header.append(f"language {article.language}")
    return "\n".join(header) + "\n\n" + article.text.strip() + "\n"


def link_key(url: str) -> str:
    """The form two links to the same page share: no scheme, host in lower case, no default port,
    no fragment, no ``utm_*`` tracking parameters, no trailing slash."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    if port is not None and (parts.scheme.lower(), port) not in {("http", 80), ("https", 443)}:
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    return urlunsplit(("", host, parts.path.rstrip("/"), urlencode(query), ""))


def decode_text(data: bytes, name: str) -> str:
    """An article file's bytes as text, or an ArticleError naming it: binary, not UTF-8, or empty."""
    name = _shown(name)
    if b"\x00" in data:
        raise ArticleError(f"{name}: it is a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ArticleError(f"{name}: it is not UTF-8 text (re-save it as UTF-8)") from None
    if not text.strip():
        raise ArticleError(f"{name}: the file is empty")
    return text


def _shown(name: str) -> str:
    """A file name as an error line shows it: on one line, and not endless."""
    flat = " ".join(name.split())
    return flat if len(flat) <= 200 else flat[:199] + "…"


def _read_text(path: Path) -> str:
    try:
        return decode_text(path.read_bytes(), path.name)
    except ArticleError as exc:
        raise ArticleError(f"skipped {exc}") from None


def _read_bulk(path: Path, skipped: list[str]) -> list[Article]:
    articles = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
            article_id, text = str(record["id"]).strip(), str(record["text"]).strip()
        except (ValueError, KeyError) as exc:
            skipped.append(f"skipped {where}: expected a JSON object with id and text ({exc})")
            continue
        if not article_id or not text:
            skipped.append(f"skipped {where}: the article has an empty id or text")
            continue
        try:
            articles.append(
                Article(
                    id=article_id,
                    title=str(record.get("title") or article_id),
                    text=text,
                    date=_checked_date(record.get("date"), where),
                    url=record.get("url") or None,
                    source=path.name,
                    language=_checked_language(record.get("language"), where),
                )
            )
        except ArticleError as exc:
            skipped.append(str(exc))
    return articles


def _checked_language(value: object, where: str) -> str | None:
    if not value:
        return None
    code = str(value).strip().lower()
    if not _LANGUAGE.fullmatch(code):
        raise ArticleError(
            f"skipped {where}: the language {value!r} is not a two-letter code such as en or fr"
        )
    return code


def _checked_date(value: str | None, where: str) -> str | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ArticleError(f"skipped {where}: the date {value!r} is not YYYY-MM-DD") from None
