"""The bot's log: discord.py's handler, with the token and the database password replaced in every
line, at every level; and the libraries that read pages and feeds kept to DEBUG, so that what they
say never shows above matchbot's own one-line message."""

from __future__ import annotations

import logging

import discord

from bot.database import passwords, redact

HIDDEN = "[DISCORD_TOKEN]"
HIDDEN_PASSWORD = "***"
# What fetches and reads pages and feeds. Their errors ("lxml parsing failed: Document is empty") are
# matchbot's to explain, in one line that says what to do.
LIBRARIES = (
    "trafilatura",
    "htmldate",
    "courlan",
    "justext",
    "charset_normalizer",
    "chardet",
    "feedparser",
    "httpx",
    "httpcore",
)


class HideSecret(logging.Filter):
    """Replaces ``secret`` by ``shown`` in a record's message and traceback before any handler writes it."""

    def __init__(self, secret: str, shown: str = HIDDEN) -> None:
        super().__init__()
        self.secret = secret
        self.shown = shown

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, self.shown), None
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = record.exc_text.replace(self.secret, self.shown)
        if record.stack_info and self.secret in record.stack_info:
            record.stack_info = record.stack_info.replace(self.secret, self.shown)
        return True


def hide_from_logs(secret: str, shown: str = HIDDEN) -> None:
    """Hide ``secret`` from everything the root logger's handlers write, from now on."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(HideSecret(secret, shown))


def hide_token(token: str) -> None:
    """Hide the bot's token from the log in every form a line can show it: as it is; escaped for
    Discord's markdown, as the bot quotes a member's question that holds it ("_" → "\\_"), which the
    gateway's DEBUG lines then show when Discord sends the bot its own message back; and that escape as
    a Python or JSON string shows it, each backslash written twice ("\\\\_")."""
    escaped = discord.utils.escape_markdown(token)
    for form in dict.fromkeys((token, escaped, escaped.replace("\\", "\\\\"))):
        hide_from_logs(form)


def hide_database_password(url: str) -> None:
    """Hide the password of ``DATABASE_URL`` from the log: the URL is written as ``redact`` writes it,
    and the password alone (as written or percent-decoded) as ``***``, as in matchbot's own messages."""
    hide_from_logs(url, redact(url))
    for password in passwords(url):
        hide_from_logs(password, HIDDEN_PASSWORD)


class AtDebug(logging.Handler):
    """Hands a library's records on to the root logger's handlers as DEBUG records, when the log is at
    DEBUG; at any other level they are dropped."""

    def emit(self, record: logging.LogRecord) -> None:
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        root = logging.getLogger()
        if root.isEnabledFor(logging.DEBUG):
            root.handle(record)


def libraries_at_debug(names: tuple[str, ...] = LIBRARIES) -> None:
    """Log everything the libraries in ``names`` log at DEBUG, whatever level they gave it."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(handler, AtDebug) for handler in logger.handlers):
            logger.addHandler(AtDebug())
        logger.propagate = False  # their records reach the root's handlers through AtDebug only
