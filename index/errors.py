"""The exceptions matchbot's core raises, each carrying one line a user can act on.

    MatchbotError
     ├── QuestionError   the question is empty or too long
     ├── ArticleError    an article cannot be read, parsed, added or removed
     │    └── DuplicateArticleError   an article with that link is already in the library
     ├── SeedsError      the seeds folder cannot be read or created
     ├── NoArticles      the library holds no article yet: there is nothing to answer from
     ├── StoreError      the saved index is missing, corrupt or built differently
     │    ├── OlderIndex     it was written by an older matchbot, in a format this one no longer reads
     │    ├── ShuttingDown   matchbot is stopping: an index update gave up, leaving the index as it was
     │    └── IndexBusy      another process is changing the same articles or index: try again later
     ├── ModelError      the sentence-transformers model cannot be loaded
     └── WebError        a link or a feed cannot be fetched, or holds no article

``str(error)`` is the message to show; callers print it as it is, without a traceback.
``disk_problem`` words a failed write (full disk, read-only folder) as such a line.
"""

from __future__ import annotations

import errno
from pathlib import Path

_DISK_FIXES = {
    errno.ENOSPC: "free some disk space",
    errno.EDQUOT: "free some disk space (the disk quota is used up)",
    errno.EFBIG: "raise the file size limit (ulimit -f) or free some space",
    errno.EROFS: "mount the folder read-write",
    errno.EACCES: "make it writable by the user matchbot runs as",
    errno.EPERM: "make it writable by the user matchbot runs as",
    errno.ENAMETOOLONG: "use a shorter folder path",
}


class MatchbotError(Exception):
    """Base class: the message is one line that says what to do."""


class QuestionError(MatchbotError):
    """The question cannot be asked as it is."""


class ArticleError(MatchbotError):
    """An article cannot be read, parsed, added or removed."""


class DuplicateArticleError(ArticleError):
    """An article with the same link is already in the library; ``article_id`` names it."""

    def __init__(self, message: str, article_id: str) -> None:
        super().__init__(message)
        self.article_id = article_id


class SeedsError(MatchbotError):
    """The seeds folder cannot be read or created."""


class NoArticles(MatchbotError):
    """The library holds no article yet (a state, not a fault): questions cannot be answered until one
    is added."""


class StoreError(MatchbotError):
    """The saved index is missing, corrupt, or was built with other settings."""


class OlderIndex(StoreError):
    """The saved index was written by an older matchbot, in a format this one no longer reads: it is
    built again from the articles."""


class ShuttingDown(StoreError):
    """matchbot is stopping: an index update gave up at its next step; the saved index is unchanged."""


class IndexBusy(StoreError):
    """Another matchbot process is changing the same seeds folder or updating the same index."""


class ModelError(MatchbotError):
    """The embedding model cannot be loaded."""


class WebError(MatchbotError):
    """A link or a feed cannot be fetched, is refused, or holds no article.

    ``transient`` is True when trying again later may work (a timeout, a server error).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def disk_problem(what: str, path: Path | str, error: OSError) -> str:
    """``Cannot write the index in data/index (No space left on device): free some disk space``."""
    reason = error.strerror or str(error)
    fix = _DISK_FIXES.get(error.errno or 0, "check that the folder exists and is writable")
    return f"Cannot {what} in {path} ({reason}): {fix}, then try again"
