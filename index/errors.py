"""The exceptions matchbot's core raises, each carrying one line a user can act on.

    MatchbotError
     ├── QuestionError   the question is empty or too long
     ├── ArticleError    an article cannot be read, parsed, added or removed
     │    └── DuplicateArticleError   an article with that link is already in the library
     ├── SeedsError      the seeds folder is missing or holds no usable article
     ├── StoreError      the saved index is missing, corrupt or built differently
     ├── ModelError      the sentence-transformers model cannot be loaded
     └── WebError        a link or a feed cannot be fetched, or holds no article

``str(error)`` is the message to show; callers print it as it is, without a traceback.
"""


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
    """The seeds folder is missing or holds no usable article."""


class StoreError(MatchbotError):
    """The saved index is missing, corrupt, or was built with other settings."""


class ModelError(MatchbotError):
    """The embedding model cannot be loaded."""


class WebError(MatchbotError):
    """A link or a feed cannot be fetched, is refused, or holds no article.

    ``transient`` is True when trying again later may work (a timeout, a server error).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
