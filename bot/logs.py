"""The bot's log: discord.py's handler, with the token replaced in every line, at every level."""

from __future__ import annotations

import logging

HIDDEN = "[DISCORD_TOKEN]"


class HideSecret(logging.Filter):
    """Replaces ``secret`` in a record's message and traceback before any handler writes it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, HIDDEN), None
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = record.exc_text.replace(self.secret, HIDDEN)
        if record.stack_info and self.secret in record.stack_info:
            record.stack_info = record.stack_info.replace(self.secret, HIDDEN)
        return True


def hide_from_logs(secret: str) -> None:
    """Hide ``secret`` from everything the root logger's handlers write, from now on."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(HideSecret(secret))
