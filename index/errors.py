"""The exceptions matchbot's core raises, each carrying one line a user can act on.

    MatchbotError
     ├── QuestionError   the question is empty or too long
     ├── ArticleError    an article cannot be read, parsed, added or removed
     ├── SeedsError      the seeds folder is missing or holds no usable article
     ├── StoreError      the saved index is missing, corrupt or built differently
     └── ModelError      the sentence-transformers model cannot be loaded

``str(error)`` is the message to show; callers print it as it is, without a traceback.
"""


class MatchbotError(Exception):
    """Base class: the message is one line that says what to do."""


class QuestionError(MatchbotError):
    """The question cannot be asked as it is."""


class ArticleError(MatchbotError):
    """An article cannot be read, parsed, added or removed."""


class SeedsError(MatchbotError):
    """The seeds folder is missing or holds no usable article."""


class StoreError(MatchbotError):
    """The saved index is missing, corrupt, or was built with other settings."""


class ModelError(MatchbotError):
    """The embedding model cannot be loaded."""
