"""Find article files and read them as text, reporting each unusable file with a reason."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.types import FileProblem

SUPPORTED_SUFFIXES = {".txt": "text", ".md": "text", ".html": "html", ".htm": "html"}
MAX_FILE_BYTES = 20_000_000


@dataclass(frozen=True)
class RawDocument:
    """One article's worth of input: a whole file, or one record of a JSON / JSON Lines export."""

    path: Path
    kind: str  # "text", "html", "pdf", "docx" or "record"
    text: str  # text as read (HTML source for "html"; extracted text for pdf, docx and records)
    raw: bytes  # the bytes this article came from (the file, or the record's line), for hashing
    key: str = ""  # "" for one-article files; the record's id (or line number) inside an export
    meta: dict[str, str] = field(default_factory=dict)  # known fields: title, source, url, published, author

    @property
    def location(self) -> str:
        """How citations and the index name this article: the file path, plus '#key' for records."""
        return f"{self.path}#{self.key}" if self.key else str(self.path)


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
