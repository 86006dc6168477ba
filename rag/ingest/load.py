"""Find article files and read them, reporting each unusable file (or record) with a one-line reason.

Reading is split from parsing so the indexer can hash a file's bytes before it pays for parsing:
`find_files` -> `read_bytes` -> `parse_file`. The formats themselves live in `formats.py`; whatever a
reader raises becomes the file's problem (`guard.py`).

Symbolic links are followed inside the folder being read; one whose target lies outside it is skipped
with its reason (a link `notes.txt -> /etc/shadow` must not put that file's text into answers) unless
the caller asks to follow links.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from rag.config import IngestSettings
from rag.ingest import formats, news_formats
from rag.ingest.formats import RawDocument
from rag.ingest.guard import guarded_iter
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

# suffix -> reader: formats.py's (text, HTML, PDF, Word, JSON) and news_formats.py's (feeds, e-mail, MHTML)
ARTICLE_PARSERS = {**formats.ARTICLE_PARSERS, **news_formats.NEWS_ARTICLE_PARSERS}
RECORD_PARSERS = {**formats.RECORD_PARSERS, **news_formats.NEWS_RECORD_PARSERS}
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


def _name_problem(path: Path) -> FileProblem | None:
    """A file name the index cannot store: bytes that are not UTF-8 (Python keeps them as surrogate
    escapes, which neither SQLite nor Chroma accept)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return FileProblem(str(path), "file name is not valid UTF-8; rename the file to index it")
    return None


def _leaves(path: Path, root_real: Path) -> FileProblem | None:
    """A symbolic link (or a path through one) whose target lies outside the folder being read."""
    real = path.resolve()
    if real == root_real or real.is_relative_to(root_real):
        return None
    return FileProblem(
        str(path), f"symbolic link to {real}, outside the folder being ingested; skipped (--follow-links reads it)"
    )


@dataclass(frozen=True)
class _Walk:
    """What stays the same over one folder's walk."""

    root: Path
    root_real: Path
    include: Sequence[str]
    exclude: Sequence[str]
    follow_links: bool


def _walk(folder: Path, ancestors: frozenset[Path], w: _Walk) -> Iterator[Path | FileProblem]:
    """Wanted files under `folder`, sorted by name, hidden names skipped, symlinks inside the folder
    followed (outside it only with `follow_links`).

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
        rel = PurePosixPath(path.relative_to(w.root).as_posix())
        if path.is_dir():  # follows symlinks; False for a link that loops on itself (DirEntry would raise)
            if _match(w.exclude, rel):
                continue
            real = path.resolve()
            outside = None if w.follow_links or not entry.is_symlink() else _leaves(path, w.root_real)
            if outside:
                yield outside
            elif real in ancestors:
                yield FileProblem(str(path), f"symlink loop: points back to {real}")
            else:
                yield from _walk(path, ancestors | {real}, w)
        elif path.suffix.lower() in SUPPORTED_SUFFIXES and _wanted(rel, w.include, w.exclude):
            yield _file_or_problem(path, entry.is_symlink() and not w.follow_links, w.root_real)


def _file_or_problem(path: Path, check_link: bool, root_real: Path) -> Path | FileProblem:
    if not path.is_file():
        return _not_a_file(path)
    return (check_link and _leaves(path, root_real)) or _name_problem(path) or path


def _folder_files(
    folder: Path, include: Sequence[str], exclude: Sequence[str], follow_links: bool
) -> Iterator[Path | FileProblem]:
    found = False
    real = folder.resolve()
    for item in _walk(folder, frozenset({real}), _Walk(folder, real, include, exclude, follow_links)):
        found = True  # a file, or a supported file that is a problem (then "no supported files" is wrong)
        yield item
    if not found and (include or exclude):
        yield FileProblem(str(folder), "no supported file in the folder matches --include/--exclude")
    elif not found:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        yield FileProblem(str(folder), f"folder has no supported files ({kinds})")


def find_files(
    paths: Iterable[str | Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    follow_links: bool = False,
) -> Iterator[Path | FileProblem]:
    """Yield supported files under `paths` (folders recursively, sorted), or a problem per bad path.

    `include` / `exclude` are glob patterns (fnmatch: case-sensitive, `*` also matches `/`) tried on
    the path relative to the folder given and on the file name; an exclude pattern matching a
    folder's relative path or name skips everything under it. A file named directly is matched by
    the path as given (a link named directly is followed: the user chose it). A file reached twice
    (two links, or a folder and a file inside it) is yielded once. Inside a folder, a symbolic link
    whose target is outside it is a problem unless `follow_links`.
    """
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            items = _folder_files(path, include, exclude, follow_links)
        elif not path.exists() and not path.is_symlink():
            items = iter([FileProblem(str(path), "no such file or folder")])
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            items = iter([FileProblem(str(path), f"unsupported file type '{path.suffix or '(none)'}'")])
        elif not path.is_file():
            items = iter([_not_a_file(path)])
        elif not _wanted(PurePosixPath(path.as_posix()), include, exclude):
            items = iter([])
        else:
            items = iter([_name_problem(path) or path])
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
    """The articles in a file's bytes, by suffix: one for an article file, one per record for an export.
    Never raises: a reader's exception becomes the file's problem, and an article longer than
    `settings.max_article_chars` is refused."""
    for item in guarded_iter(str(path), "reading", _parse(path, raw, settings)):
        yield _within_limit(item, settings.max_article_chars) if isinstance(item, RawDocument) else item


def _parse(path: Path, raw: bytes, settings: IngestSettings) -> Iterator[RawDocument | FileProblem]:
    suffix = path.suffix.lower()
    if not raw or raw.isspace():  # not raw.strip(): that would copy a large export
        yield FileProblem(str(path), "empty file")
    elif suffix in RECORD_PARSERS:
        yield from RECORD_PARSERS[suffix](path, raw, settings.json_fields, settings)
    elif suffix in ARTICLE_PARSERS:
        yield ARTICLE_PARSERS[suffix](path, raw, settings)
    else:
        yield FileProblem(str(path), f"unsupported file type '{suffix or '(none)'}'")


def _within_limit(doc: RawDocument, max_chars: int) -> RawDocument | FileProblem:
    if len(doc.text) <= max_chars:
        return doc
    return FileProblem(
        doc.location,
        f"article text has {len(doc.text):,} characters (limit {max_chars:,}; split the file, or raise "
        "ingest.max_article_chars)",
    )


def read_document(path: Path, settings: IngestSettings | None = None) -> RawDocument | FileProblem:
    """Read and parse a one-article file (not a JSON / JSON Lines export: use read_bytes and parse_file)."""
    if path.suffix.lower() in RECORD_SUFFIXES:
        raise ValueError(f"{path} holds records: use read_bytes and parse_file")
    settings = settings or IngestSettings()
    raw = read_bytes(path, byte_limit(path, settings))
    return raw if isinstance(raw, FileProblem) else next(parse_file(path, raw, settings))
