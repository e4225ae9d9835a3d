"""One question's candidates and their named scores, as each stage of the answer path adds them.

A stage adds a column: the first stage ``sentence``, ``context``, ``lexical``, ``article_lexical`` and
``distinct`` for every candidate; the second stage ``late`` for the best few and ``cross`` for fewer
still. A later stage that read the question's gloss (a question in a language it does not read,
glossed word by word into its own: ``index.word_lookup``) adds its columns with the prefix ``GLOSS``
(``gloss_late``, ``gloss_cross``): scores of their own, which the fusion weighs apart. A score that does
not apply to a candidate (a passage the cross-encoder did not read, a model that does not read the
question's language) is *missing*: NaN, never zero, so that the fusion (``index.fusion``) weighs only
the scores a candidate has.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

GLOSS = "gloss_"  # the prefix of a later stage's columns when it read the question's gloss


class ScoreTable:
    """Candidate rows of the index and a float column of scores per name, NaN where missing, for one
    question in ``language``."""

    def __init__(
        self, rows: np.ndarray, columns: Mapping[str, np.ndarray] | None = None, language: str = "en"
    ) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        self.language = language
        self.question = ""  # the question as the later stages read it: as searched, in plain words
        # the question glossed word by word into other languages (``index.word_lookup.LookedUp``): what
        # a later stage that does not read its language reads instead, by the gloss's language
        self.glosses: dict[str, str] = {}
        self.asked: frozenset[str] = frozenset()  # the kinds of answer it asks for (index.vocabulary)
        self._columns: dict[str, np.ndarray] = {}
        for name, values in (columns or {}).items():
            self.add(name, values)

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def add(self, name: str, values: Sequence[float] | np.ndarray, at: np.ndarray | None = None) -> None:
        """Set the column ``name``: ``values`` for the candidates at positions ``at`` (all when None),
        missing for the others (or as they were, when the column exists)."""
        values = np.asarray(values, dtype=np.float64)
        if at is None:
            if values.shape != (len(self),):
                raise ValueError(f"{name}: {values.shape[0]} scores for {len(self)} candidates")
            self._columns[name] = values.copy()
            return
        column = self._columns.get(name)
        if column is None:
            column = self._columns[name] = np.full(len(self), np.nan)
        column[np.asarray(at, dtype=np.int64)] = values

    def column(self, name: str) -> np.ndarray:
        """The scores called ``name``, NaN where missing (all NaN when no stage gave it)."""
        found = self._columns.get(name)
        return found if found is not None else np.full(len(self), np.nan)

    def present(self, name: str) -> np.ndarray:
        """Which candidates have a ``name`` score."""
        return ~np.isnan(self.column(name))

    def take(self, positions: np.ndarray) -> ScoreTable:
        """The candidates at ``positions``, in that order, with all their scores."""
        positions = np.asarray(positions, dtype=np.int64)
        taken = ScoreTable(
            self.rows[positions], {n: c[positions] for n, c in self._columns.items()}, self.language
        )
        taken.question = self.question
        taken.glosses = self.glosses
        taken.asked = self.asked
        return taken

    def without(self, names: Sequence[str]) -> ScoreTable:
        """The same candidates without the columns ``names``."""
        return ScoreTable(
            self.rows, {n: c for n, c in self._columns.items() if n not in names}, self.language
        )
