"""Faults of the world around the code, told apart from bugs and said in one line: what happened, where,
what to do. A full disk, a read-only index folder, a Chroma server that went away, an Ollama server that
died in the middle of an answer.

`storage_fault(exc, place, doing)` turns what Chroma, sqlite3, the file system or httpx raised into a
`RagError` (None when it is none of these faults: a bug keeps its traceback); `translated(place, doing)`
applies it at a boundary (ingest, remove, opening the index, a question). `backend_fault` does the same
for the LLM backend.

Chroma's embedded store (Rust, sqlx) reports SQLite's result code only inside its message ("(code: 13)
database or disk is full"), and a full disk often without any code at all ("Error in compaction: Failed to
apply logs to the metadata segment"). So for a storage error the index folder itself is asked too: is it
read-only, is its disk (nearly) out of space?

Nothing indexed before is lost in any of these faults: an ingest writes each article's passages before its
record and lists it as unfinished in the ledger until both are stored, so the next run (or opening the
index) deletes a half-written article and the same command finishes the job.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import httpx

from rag.config import LLMSettings, Settings, normalise_ollama_host, normalise_openai_base_url
from rag.errors import AnswerInterrupted, BackendUnavailable, DiskFull, IndexReadOnly, RagError, StoreUnavailable

Doing = Literal["ingest", "remove", "open", "ask", "search", "check", "status"]
WRITES: frozenset[Doing] = frozenset({"ingest", "remove"})

_VERB: dict[Doing, str] = {
    "ingest": "ingesting",
    "remove": "removing articles",
    "open": "opening the index",
    "ask": "answering",
    "search": "searching",
    "check": "checking the text",
    "status": "reading the index status",
}
_AGAIN: dict[Doing, str] = {
    "ingest": "run the same command again",
    "remove": "run the same command again",
    "open": "run the same command again",
    "ask": "ask again",
    "search": "search again",
    "check": "check the text again",
    "status": "run the same command again",
}
_KEPT = "nothing indexed before is lost"

# Below this much free space a storage error on the index's disk is read as a full disk: SQLite and
# Chroma's compaction need room for journals and segment files well before the last byte is used.
LOW_SPACE = 64 * 2**20

_SQLITE_READONLY, _SQLITE_FULL = 8, 13
_CHROMA_CODE = re.compile(r"\(code: (\d+)\)")  # sqlx's wording of a SQLite result code in a Chroma error


@dataclass(frozen=True)
class Place:
    """Where storage faults happen: the index folder, and the Chroma server when there is one."""

    index: Path
    chroma_url: str | None = None
    collection: str = "passages"

    @classmethod
    def of(cls, settings: Settings) -> Place:
        return cls(Path(settings.index), settings.chroma_url, settings.collection)


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it (explicitly, or the exception being handled when it was raised)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def brief(exc: BaseException, limit: int = 160) -> str:
    """`Type: message` on one line, cut to `limit` characters."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def size(n: int) -> str:
    """Bytes for people: 436 KB, 12.5 MB, 3.1 GB."""
    if n < 2**20:
        return f"{n // 1024} KB"
    if n < 2**30:
        return f"{n / 2**20:.1f} MB"
    return f"{n / 2**30:.1f} GB"


# --- what the file system says -------------------------------------------------------------------
def _existing(path: Path) -> Path:
    """`path`, or its nearest existing parent (an index folder may not exist yet)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def free_space(folder: Path) -> int | None:
    """Bytes this user may still write on the disk holding `folder` (None when it cannot be asked)."""
    try:
        return shutil.disk_usage(_existing(folder)).free
    except OSError:
        return None


def read_only_reason(folder: Path) -> str | None:
    """Why `folder` cannot be written ("read-only file system", "permission denied"), or None."""
    where = _existing(folder)
    try:
        if os.statvfs(where).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        return None
    # root may write anywhere the file system allows; for others the folder's permissions count
    if not os.access(where, os.W_OK):
        return "permission denied"
    return None


# --- what the exceptions say ---------------------------------------------------------------------
def _chroma_error() -> type[Exception]:
    from chromadb.errors import ChromaError

    return ChromaError


def _result_codes(errors: list[BaseException]) -> set[int]:
    """Primary SQLite result codes named anywhere in the chain (sqlite3's attribute, Chroma's message)."""
    codes: set[int] = set()
    chroma_error = _chroma_error()
    for e in errors:
        if isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorcode", None) is not None:
            codes.add(int(e.sqlite_errorcode) & 0xFF)
        elif isinstance(e, chroma_error):
            codes.update(int(c) & 0xFF for c in _CHROMA_CODE.findall(str(e)))
    return codes


def _errnos(errors: list[BaseException], folder: Path) -> set[int]:
    """OS error numbers in the chain; "permission denied" only for files of the index folder (an unreadable
    input file is that file's problem, reported by the ingest)."""
    found: set[int] = set()
    for e in errors:
        if not isinstance(e, OSError) or e.errno is None:
            continue
        if e.errno in (errno.EACCES, errno.EPERM) and e.filename is not None and not _inside(e.filename, folder):
            continue
        found.add(e.errno)
    return found


def _inside(filename: object, folder: Path) -> bool:
    if not isinstance(filename, (str, bytes, os.PathLike)):
        return False
    try:
        return Path(os.fsdecode(filename)).resolve().is_relative_to(folder.resolve())
    except (ValueError, OSError):
        return False


def _from_storage(errors: list[BaseException], files: bool = True) -> bool:
    """Raised by the storage layers (Chroma, SQLite and, with `files`, the file system), not by our bugs."""
    kinds: tuple[type[BaseException], ...] = (_chroma_error(), sqlite3.Error, *((OSError,) if files else ()))
    return any(isinstance(e, kinds) for e in errors)


def storage_fault(exc: BaseException, place: Place, doing: Doing) -> RagError | None:
    """The one-line error for a storage fault while `doing` (None: not a fault we know; let it be seen)."""
    if isinstance(exc, RagError):
        return exc
    errors = list(chain(exc))
    if place.chroma_url is not None:
        server = _server_fault(errors, place, doing)
        if server is not None:
            return server
    folder = place.index
    # Errors from this machine's storage: on a Chroma server, Chroma's own errors are the server's.
    remote: tuple[type[Exception], ...] = (_chroma_error(),) if place.chroma_url is not None else ()
    local = [e for e in errors if not isinstance(e, (httpx.HTTPError, *remote))]
    errnos, codes = _errnos(local, folder), _result_codes(local)
    refused = read_only_reason(folder) if _from_storage(local) else None
    if refused is None and (errnos & {errno.EROFS, errno.EACCES, errno.EPERM} or _SQLITE_READONLY in codes):
        refused = "read-only file system" if errno.EROFS in errnos else "permission denied"
    if refused is not None:
        return IndexReadOnly(_read_only_line(folder, refused, doing))
    says_full = bool(errnos & {errno.ENOSPC, errno.EDQUOT}) or _SQLITE_FULL in codes
    where = f"the index folder {folder}"
    elsewhere = _full_elsewhere(local, folder)
    if elsewhere is not None:  # a temporary file, say: name the disk that is full
        folder, where = elsewhere, str(elsewhere)
    free = free_space(folder)
    # Chroma and SQLite may fail for want of space without saying so; the file system always says ENOSPC.
    if says_full or (_from_storage(local, files=False) and free is not None and free < LOW_SPACE):
        left = f" ({size(free)} free)" if free is not None else ""
        return DiskFull(
            f"no space left on the disk holding {where}{left} while {_VERB[doing]}: "
            f"free space there and {_AGAIN[doing]}; {_KEPT}"
        )
    return None


def _full_elsewhere(errors: list[BaseException], folder: Path) -> Path | None:
    """The folder of a file outside the index that could not be written for want of space, if that is
    what happened."""
    for e in errors:
        if not isinstance(e, OSError) or e.errno not in (errno.ENOSPC, errno.EDQUOT):
            continue
        if isinstance(e.filename, (str, bytes, os.PathLike)) and not _inside(e.filename, folder):
            return Path(os.fsdecode(e.filename)).parent
    return None


def _read_only_line(folder: Path, why: str, doing: Doing) -> str:
    if doing in WRITES:
        return (
            f"the index folder {folder} is read-only ({why}): {_VERB[doing]} writes there; make it writable "
            f"(or pass --index with a writable folder) and run the same command again; {_KEPT}"
        )
    # Opening comes first for every command, so this line serves an ingest as well as a question.
    return (
        f"the index folder {folder} is read-only ({why}): rag writes there even to answer questions (Chroma "
        f"and the ingest ledger open their databases for writing); make it writable, or copy it to a writable "
        f"place (cp -r {folder} /tmp/index) and pass --index /tmp/index"
    )


def _server_fault(errors: list[BaseException], place: Place, doing: Doing) -> RagError | None:
    url = place.chroma_url
    port = urlparse(url).port or 8000
    start = f"start it again (chroma run --path <its data folder> --port {port}) and {_AGAIN[doing]}; {_KEPT}"
    transport = next((e for e in errors if isinstance(e, httpx.TransportError)), None)
    if transport is not None:
        if isinstance(transport, httpx.ConnectError):
            what, start = "is not reachable", start.replace("start it again", "start it", 1)
        elif isinstance(transport, httpx.TimeoutException):
            what = "did not answer in time"
        else:
            what = "went away"
        return StoreUnavailable(f"the Chroma server at {url} {what} while {_VERB[doing]} ({brief(transport)}): {start}")
    from chromadb.errors import NotFoundError

    missing = next((e for e in errors if isinstance(e, NotFoundError)), None)
    if missing is not None:
        return StoreUnavailable(
            f"the Chroma server at {url} no longer has the collections of this index ({brief(missing)}): was it "
            f"restarted on another data folder? Start it on the one it used, or run `rag ingest` to fill it again"
        )
    chroma_error = _chroma_error()
    server_side = next((e for e in errors if isinstance(e, chroma_error)), None)
    if server_side is not None and _SQLITE_FULL in _result_codes([server_side]):
        return DiskFull(
            f"the Chroma server at {url} has no space left on its disk while {_VERB[doing]}: free space "
            f"there and {_AGAIN[doing]}; {_KEPT}"
        )
    return None


@contextmanager
def translated(place: Place, doing: Doing) -> Iterator[None]:
    """Storage faults raised inside leave as their one-line RagError (the original chained to it)."""
    try:
        yield
    except RagError:
        raise
    except Exception as e:
        fault = storage_fault(e, place, doing)
        if fault is None:
            raise
        raise fault from e


# --- the LLM backend -----------------------------------------------------------------------------
def backend_fault(backend: str, exc: BaseException, settings: LLMSettings, started: bool) -> BackendUnavailable:
    """The one-line error for a backend that failed; `started`: part of the answer was already shown
    (then it is an AnswerInterrupted, so a terminal puts the error on a line of its own)."""

    kind = AnswerInterrupted if started else BackendUnavailable
    instead = "or use the extractive backend (--backend extractive)"
    errors = list(chain(exc))
    if backend == "openai":
        return _openai_fault(errors, exc, settings, kind, started, instead)
    if backend != "ollama":
        when = " in the middle of the answer" if started else ""
        return kind(f"the {backend} backend failed{when} ({brief(exc)}): ask again, {instead}")
    host, model = normalise_ollama_host(settings.ollama_host), settings.ollama_model
    where = f"the Ollama server at {host}"
    transport = next((e for e in errors if isinstance(e, httpx.TransportError)), None)
    refused = isinstance(transport, httpx.ConnectError) or any(type(e) is ConnectionError for e in errors)
    if refused:
        cause = brief(transport) if transport is not None else "connection refused"
        return kind(
            f"{where} is not reachable ({cause}): start it with `ollama serve` (or set OLLAMA_HOST to where "
            f"it runs) and ask again, {instead}"
        )
    if isinstance(transport, httpx.TimeoutException):
        return kind(
            f"{where} did not answer within {settings.ollama_timeout_s:g} s ({brief(transport)}): ask again, "
            f"raise RAG_LLM__OLLAMA_TIMEOUT_S, {instead}"
        )
    if transport is not None:
        when = "in the middle of the answer" if started else "before answering"
        return kind(
            f"{where} stopped {when} ({brief(transport)}): start it again with `ollama serve` and ask again, {instead}"
        )
    response_error = _ollama_response_error()
    status = next((getattr(e, "status_code", None) for e in errors if isinstance(e, response_error)), None)
    if status == 404:
        return kind(f"model '{model}' is not pulled on {where}: run `ollama pull {model}`, {instead}")
    if status is not None:
        http = f"HTTP {status}" if status > 0 else "an error line in the stream"
        return kind(f"{where} answered with an error ({http}: {brief(exc)}): ask again, {instead}")
    return kind(
        f"the ollama backend failed ({brief(exc)}). {where}: is `ollama serve` running and "
        f"`ollama pull {model}` done? Or use --backend extractive."
    )


def _openai_fault(
    errors: list[BaseException],
    exc: BaseException,
    settings: LLMSettings,
    kind: type[BackendUnavailable],
    started: bool,
    instead: str,
) -> BackendUnavailable:
    """The `openai` client's exceptions (it wraps httpx's) said as what the user can do."""
    where = f"the OpenAI-compatible server at {normalise_openai_base_url(settings.openai_base_url)}"
    model = settings.openai_model or "the model"
    names = {type(e).__name__ for e in errors}
    status = next((getattr(e, "status_code", None) for e in errors if getattr(e, "status_code", None)), None)
    if "APITimeoutError" in names or any(isinstance(e, httpx.TimeoutException) for e in errors):
        return kind(
            f"{where} did not answer within {settings.openai_timeout_s:g} s: ask again, raise "
            f"RAG_LLM__OPENAI_TIMEOUT_S, {instead}"
        )
    transport = next((e for e in errors if isinstance(e, httpx.TransportError)), None)
    if isinstance(transport, httpx.ConnectError) or ("APIConnectionError" in names and transport is None):
        cause = brief(transport) if transport is not None else brief(exc)
        return kind(f"{where} is not reachable ({cause}): start it, or fix RAG_LLM__OPENAI_BASE_URL, {instead}")
    if transport is not None:
        when = "in the middle of the answer" if started else "before answering"
        return kind(f"{where} stopped {when} ({brief(transport)}): start it again and ask again, {instead}")
    if status in (401, 403):
        return kind(f"{where} refused the API key (HTTP {status}): set RAG_LLM__OPENAI_API_KEY, {instead}")
    if status == 404:
        return kind(
            f"model '{model}' is not loaded on {where} (HTTP 404): load it there or set RAG_LLM__OPENAI_MODEL "
            f"to one it lists (`rag status`), {instead}"
        )
    if status is not None:
        return kind(f"{where} answered with an error (HTTP {status}: {brief(exc)}): ask again, {instead}")
    when = " in the middle of the answer" if started else ""
    return kind(f"the openai backend failed{when} ({brief(exc)}): ask again, {instead}")


def _ollama_response_error() -> tuple[type[Exception], ...]:
    """ollama-python's error for an HTTP error status or an error line in a stream (none without it)."""
    try:
        from ollama import ResponseError
    except ImportError:
        return ()
    return (ResponseError,)
