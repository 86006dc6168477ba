"""Find article files and read them as text, reporting each unusable file with a reason."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.types import FileProblem

SUPPORTED_SUFFIXES = {".txt": "text", ".md": "text", ".html": "html", ".htm": "html"}
MAX_FILE_BYTES = 20_000_000


@dataclass(frozen=True)
class RawDocument:
    path: Path
    kind: str  # "text" or "html"
    text: str
    raw: bytes


def find_files(paths: Iterable[str | Path]) -> Iterator[Path | FileProblem]:
    """Yield supported files under `paths` (folders recursively, sorted), or a problem per bad path."""
    for given in paths:
        path = Path(given)
        if not path.exists():
            yield FileProblem(str(path), "no such file or folder")
        elif path.is_dir():
            found = False
            for p in sorted(path.rglob("*")):
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not _hidden(p, path):
                    found = True
                    yield p
            if not found:
                kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
                yield FileProblem(str(path), f"folder has no supported files ({kinds})")
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            yield FileProblem(str(path), f"unsupported file type '{path.suffix or '(none)'}'")
        else:
            yield path


def _hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(root).parts)


def read_document(path: Path) -> RawDocument | FileProblem:
    """Read one file as UTF-8 text; binary, unreadable, empty or mis-encoded files become a FileProblem."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return FileProblem(str(path), f"file too large ({size:,} bytes; limit {MAX_FILE_BYTES:,})")
        raw = path.read_bytes()
    except PermissionError:
        return FileProblem(str(path), "permission denied")
    except OSError as e:
        return FileProblem(str(path), f"cannot read: {e.strerror or e}")
    if b"\x00" in raw[:8192]:
        return FileProblem(str(path), "binary file (contains NUL bytes), not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return FileProblem(str(path), f"invalid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})")
    if not text.strip():
        return FileProblem(str(path), "empty file")
    return RawDocument(path=path, kind=SUPPORTED_SUFFIXES[path.suffix.lower()], text=text, raw=raw)
