"""Find article files and read them, reporting each unusable file (or record) with a one-line reason.

Reading is split from parsing so the indexer can hash a file's bytes before it pays for parsing:
`find_files` -> `read_bytes` -> `parse_file`. The formats themselves live in `formats.py`.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator, Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from rag.config import IngestSettings
from rag.ingest.formats import ARTICLE_PARSERS, RECORD_PARSERS, RawDocument
from rag.types import FileProblem

__all__ = [
    "RECORD_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "RawDocument",
    "byte_limit",
    "find_files",
    "parse_file",
    "read_bytes",
    "read_document",
]

RECORD_SUFFIXES = frozenset(RECORD_PARSERS)  # exports holding many articles, one per record
SUPPORTED_SUFFIXES = frozenset(ARTICLE_PARSERS) | RECORD_SUFFIXES


# --- finding files --------------------------------------------------------------------------------------


def _match(patterns: Sequence[str], rel: PurePosixPath) -> bool:
    return any(fnmatchcase(name, p) for p in patterns for name in (rel.as_posix(), rel.name))


def _wanted(rel: PurePosixPath, include: Sequence[str], exclude: Sequence[str]) -> bool:
    return (not include or _match(include, rel)) and not _match(exclude, rel)


def _not_a_file(path: Path) -> FileProblem:
    """Why a path with a supported suffix cannot be read as a file."""
    if path.is_symlink():
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return FileProblem(str(path), "symlink loop: the link never reaches a file")
            return FileProblem(str(path), f"broken symlink (target {os.readlink(path)} does not exist)")
    return FileProblem(str(path), "not a regular file")


def _walk(
    folder: Path, root: Path, ancestors: frozenset[Path], include: Sequence[str], exclude: Sequence[str]
) -> Iterator[Path | FileProblem]:
    """Wanted files under `folder`, sorted by name, hidden names skipped, symlinks followed.

    `ancestors` holds the real paths of the folders being walked: a link back to one is a loop.
    An excluded folder is not entered, so nothing under it is reported either.
    """
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        yield FileProblem(str(folder), "permission denied" if isinstance(e, PermissionError) else str(e.strerror))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if path.is_dir():  # follows symlinks; False for a link that loops on itself (DirEntry would raise)
            if _match(exclude, rel):
                continue
            real = path.resolve()
            if real in ancestors:
                yield FileProblem(str(path), f"symlink loop: points back to {real}")
            else:
                yield from _walk(path, root, ancestors | {real}, include, exclude)
        elif path.suffix.lower() in SUPPORTED_SUFFIXES and _wanted(rel, include, exclude):
            yield path if path.is_file() else _not_a_file(path)


def _folder_files(folder: Path, include: Sequence[str], exclude: Sequence[str]) -> Iterator[Path | FileProblem]:
    found = False
    for item in _walk(folder, folder, frozenset({folder.resolve()}), include, exclude):
        found = found or isinstance(item, Path)
        yield item
    if not found and (include or exclude):
        yield FileProblem(str(folder), "no supported file in the folder matches --include/--exclude")
    elif not found:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        yield FileProblem(str(folder), f"folder has no supported files ({kinds})")


def find_files(
    paths: Iterable[str | Path], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Iterator[Path | FileProblem]:
    """Yield supported files under `paths` (folders recursively, sorted), or a problem per bad path.

    `include` / `exclude` are glob patterns (fnmatch: case-sensitive, `*` also matches `/`) tried on
    the path relative to the folder given and on the file name; an exclude pattern matching a
    folder's relative path or name skips everything under it. A file named directly is matched by
    the path as given. A file reached twice (two links, or a folder and a file inside it) is yielded once.
    """
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            items = _folder_files(path, include, exclude)
        elif not path.exists() and not path.is_symlink():
            items = iter([FileProblem(str(path), "no such file or folder")])
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            items = iter([FileProblem(str(path), f"unsupported file type '{path.suffix or '(none)'}'")])
        elif not path.is_file():
            items = iter([_not_a_file(path)])
        else:
            items = iter([path] if _wanted(PurePosixPath(path.as_posix()), include, exclude) else [])
        for item in items:
            if isinstance(item, Path):
                real = item.resolve()
                if real in seen:
                    continue
                seen.add(real)
            yield item


# --- reading and parsing --------------------------------------------------------------------------------


def byte_limit(path: Path, settings: IngestSettings) -> int:
    """Largest file read: JSON / JSON Lines exports hold many articles, so they get a larger limit."""
    mb = settings.max_records_file_mb if path.suffix.lower() in RECORD_SUFFIXES else settings.max_file_mb
    return int(mb * 1_000_000)


def read_bytes(path: Path, max_bytes: int) -> bytes | FileProblem:
    """The file's bytes; the size is checked before reading, so a huge file costs nothing."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return FileProblem(str(path), f"file too large ({size:,} bytes; limit {max_bytes:,})")
        return path.read_bytes()
    except PermissionError:
        return FileProblem(str(path), "permission denied")
    except OSError as e:
        return FileProblem(str(path), f"cannot read: {e.strerror or e}")


def parse_file(path: Path, raw: bytes, settings: IngestSettings) -> Iterator[RawDocument | FileProblem]:
    """The articles in a file's bytes, by suffix: one for an article file, one per record for an export."""
    suffix = path.suffix.lower()
    if not raw or raw.isspace():  # not raw.strip(): that would copy a large export
        yield FileProblem(str(path), "empty file")
    elif suffix in RECORD_PARSERS:
        yield from RECORD_PARSERS[suffix](path, raw, settings.json_fields)
    else:
        yield ARTICLE_PARSERS[suffix](path, raw)


def read_document(path: Path, settings: IngestSettings | None = None) -> RawDocument | FileProblem:
    """Read and parse a one-article file (not a JSON / JSON Lines export: use read_bytes and parse_file)."""
    if path.suffix.lower() in RECORD_SUFFIXES:
        raise ValueError(f"{path} holds records: use read_bytes and parse_file")
    settings = settings or IngestSettings()
    raw = read_bytes(path, byte_limit(path, settings))
    return raw if isinstance(raw, FileProblem) else next(parse_file(path, raw, settings))
