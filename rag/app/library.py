"""The chat UI's library: uploaded files kept in one folder, the articles of the index listed with
their metadata, and index statistics. No Gradio here, so every rule is unit-tested.

Uploads are untrusted: only the file's own name is kept (no folders, no "..", no hidden names), the
type must be one ingest reads, the size is capped, and the resolved target must lie inside the library
folder, so an upload can never write anywhere else.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.ingest.load import SUPPORTED_SUFFIXES
from rag.text.languages import language_name
from rag.types import FileProblem

_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)


def safe_name(name: str) -> str:
    """A file name that stays where it is put: the last path part only, no leading dots, ordinary
    characters only ("../../etc/passwd" -> "passwd", "C:\\\\x\\\\a b.txt" -> "a b.txt")."""
    base = re.split(r"[\\\\/]", name.strip())[-1]
    base = _UNSAFE.sub("_", base).lstrip(". ").strip()
    stem, suffix = Path(base).stem, Path(base).suffix
    return (stem[: 150 - len(suffix[:20])] + suffix[:20]) if base else "upload"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Saved:
    """What an upload did: files now in the library, and files refused (with the reason)."""

    files: list[Path] = field(default_factory=list)
    refused: list[FileProblem] = field(default_factory=list)


def save_uploads(uploads: Sequence[tuple[str, Path]], library: Path, max_mb: float, max_files: int) -> Saved:
    """Copy uploaded files, given as (the name the user's file had, where the upload is now), into
    `library`. The same content under the same name is kept once; another file with a taken name gets
    a numbered name ("report (2).txt")."""
    library.mkdir(parents=True, exist_ok=True)
    root = library.resolve()
    out = Saved()
    if len(uploads) > max_files:
        out.refused.append(FileProblem("upload", f"{len(uploads)} files; at most {max_files} per upload"))
        return out
    for original, temp in uploads:
        name = safe_name(original)
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
            out.refused.append(
                FileProblem(original, f"unsupported file type '{suffix or '(none)'}' (readable: {kinds})")
            )
            continue
        size = temp.stat().st_size
        if size > max_mb * 1024 * 1024:
            out.refused.append(FileProblem(original, f"{size / 1024 / 1024:.1f} MB; the upload limit is {max_mb:g} MB"))
            continue
        try:
            digest = _sha256(temp)
            target = _free_target(root, name, digest)
            if not target.resolve().is_relative_to(root):  # defence in depth: safe_name already forbids it
                out.refused.append(FileProblem(original, "the name points outside the library"))
                continue
            if not target.exists():
                shutil.copyfile(temp, target)
            _remember_upload(root, target.name, digest)
        except OSError as e:  # a folder in the way, a full disk: this file is refused, the others go on
            out.refused.append(FileProblem(original, f"could not be stored: {e.strerror or e}"))
            continue
        out.files.append(target)
    return out


UPLOADS_RECORD = ".uploads.json"  # the files the UI put in the library (only these are ever deleted)


def _uploaded(root: Path) -> dict[str, str]:
    try:
        data = json.loads((root / UPLOADS_RECORD).read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _remember_upload(root: Path, name: str, digest: str) -> None:
    record = _uploaded(root)
    record[name] = digest
    (root / UPLOADS_RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")


def delete_uploaded(library: Path, path: str) -> bool:
    """Delete `path` if the UI uploaded it into `library` and it still holds what was uploaded; files
    the user keeps there themselves are never touched. True when deleted."""
    root = library.resolve()
    file = Path(path)
    if not file.is_file() or file.is_symlink() or file.resolve().parent != root:
        return False
    record = _uploaded(root)
    if record.get(file.name) != _sha256(file):
        return False
    file.resolve().unlink()
    del record[file.name]
    (root / UPLOADS_RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")
    return True


def _free_target(root: Path, name: str, digest: str) -> Path:
    """`root/name`, or the same file when it already holds this content, else `name (2)`, `name (3)` …"""
    stem, suffix = Path(name).stem, Path(name).suffix
    for i in range(1, 10_000):
        candidate = root / (name if i == 1 else f"{stem} ({i}){suffix}")
        if not candidate.exists() or _sha256(candidate) == digest:
            return candidate
    raise RuntimeError(f"no free name for {name} in {root}")


ARTICLE_COLUMNS = ["title", "outlet", "published", "language", "words", "file", "id"]


def article_rows(records: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """One row per article (newest first, undated last), for the library table."""

    def row(aid: str, m: dict[str, Any]) -> list[Any]:
        return [
            m.get("title") or "(untitled)",
            m.get("source") or "",
            m.get("published") or "",
            language_name(str(m.get("language") or "")),
            int(m.get("words") or 0),
            m.get("path") or "",
            aid,
        ]

    rows = [row(aid, m) for aid, m in records.items()]
    dated = sorted((r for r in rows if r[2]), key=lambda r: r[2], reverse=True)
    return dated + [r for r in rows if not r[2]]


def index_stats(records: dict[str, dict[str, Any]], passages: int, claims: int, folder: Path) -> str:
    """One Markdown paragraph: counts, languages, outlets, date range, size on disk."""
    languages: dict[str, int] = {}
    outlets: set[str] = set()
    dates = sorted(str(m["published"]) for m in records.values() if m.get("published"))
    for m in records.values():
        code = str(m.get("language") or "und")
        languages[code] = languages.get(code, 0) + 1
        if m.get("source"):
            outlets.add(str(m["source"]))
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0
    langs = ", ".join(f"{language_name(k)} {v}" for k, v in sorted(languages.items(), key=lambda kv: -kv[1]))
    span = f"{dates[0]} to {dates[-1]}" if dates else "no dates"
    return (
        f"**{len(records):,} articles**, {passages:,} passages, {claims:,} attributed claims · "
        f"languages: {langs or 'none'} · {len(outlets)} outlets · published {span} · "
        f"{size / 1024 / 1024:.1f} MB on disk"
    )
