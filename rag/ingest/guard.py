"""The file boundary: whatever a reader or the cleaner raises on one file becomes that file's
`FileProblem` with a specific reason, and the run goes on with the next file.

The readers in `formats.py` return problems for the failures they know (malformed JSON, a broken zip,
a PDF without text). This guard is for the rest: recursion on deep input, memory, decoder and library
bugs. It never wraps storing: a full disk or a dead Chroma server is the run's fault, not the file's
(see rag.faults), and must stop the run rather than mark good files as bad.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from rag.ingest.formats import _one_line
from rag.types import FileProblem

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["failure", "guarded", "guarded_iter"]


def failure(path: str, stage: str, error: BaseException) -> FileProblem:
    """The one-line problem for an exception raised while `stage` ("reading", "cleaning") ran on `path`."""
    if isinstance(error, RecursionError):
        reason = f"{stage} failed: the file is nested too deeply for the reader (RecursionError)"
    elif isinstance(error, MemoryError):
        reason = f"{stage} failed: not enough memory for this file (MemoryError)"
    else:
        detail = _one_line(error, 160) if str(error).strip() else ""  # formats' gives the type when empty
        reason = f"{stage} failed: {type(error).__name__}" + (f": {detail}" if detail else "")
    # The traceback goes to the log (rag ingest -v, or the UI's log), the user gets the line.
    log.debug("%s of %s failed", stage, path, exc_info=error)
    return FileProblem(path, reason)


def guarded(path: str, stage: str, step: Callable[[], T]) -> T | FileProblem:
    """`step()`, or the FileProblem for what it raised."""
    try:
        return step()
    except Exception as e:  # RecursionError and MemoryError are Exceptions too; KeyboardInterrupt is not
        return failure(path, stage, e)


def guarded_iter(path: str, stage: str, items: Iterator[T]) -> Iterator[T | FileProblem]:
    """The items of a reader's generator; if it raises, one FileProblem for the rest of the file (the
    records read before it stay good)."""
    try:
        yield from items
    except Exception as e:
        yield failure(path, stage, e)
