"""Reading saved NumPy arrays (``.npy``, ``.npz``), safe from a fault of CPython 3.11 under threads.

NumPy reads an array file's header with ``ast.literal_eval``, and CPython 3.11 can fail such a parse
with a spurious ``SystemError: AST constructor recursion depth mismatch`` when another thread compiles
code at the same moment, a module imported for the first time say (python/cpython#106905): the bot
opens saved vectors in one thread while it warms its models up in another. The file is sound and the
next read succeeds, so ``load`` reads it again; any other error is raised as ``np.load`` raises it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

ATTEMPTS = 3
_FAULT = "AST constructor recursion depth mismatch"


def load(path: Path, **options: Any) -> Any:
    """``np.load(path, **options)``, read again (at most ``ATTEMPTS`` times in all) when the header's
    parse fails with CPython's spurious recursion-depth ``SystemError``."""
    for _ in range(ATTEMPTS - 1):
        try:
            return np.load(path, **options)
        except SystemError as exc:
            if _FAULT not in str(exc):
                raise
    return np.load(path, **options)
