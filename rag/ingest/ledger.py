"""The ingest ledger: which file and record became which article, so re-runs skip unchanged files by
content hash without reading the index, and an interrupted run can be finished cleanly.

SQLite in the index folder (`ledger.sqlite`), one transaction per step. Chroma holds the passages and
article texts; the ledger holds the bookkeeping around them:

- `files`: each file's content hash and the cleaner version it was read with;
- `locations`: each article-sized input (a file, or `FILE#KEY` for a record of an export) and the article
  it became: `stored` (its own article), `copy` (identical text to another location's article) or `near`
  (a near-duplicate, listed as "also published by" on the kept article);
- `signatures`: the MinHash signature of each stored article, for near-duplicate detection;
- `unfinished`: articles being written or deleted right now. Whatever is still listed here when an
  ingest starts was interrupted (killed), and is deleted from Chroma before anything else happens;
- `relabel`: articles whose stored file went while an identical copy remains: their passages are to
  name the copy (done right after, or by the next run if killed first).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, cleaner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locations (
    location TEXT PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL, article_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('stored', 'copy', 'near')), similarity REAL NOT NULL DEFAULT 1.0,
    title TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '', url TEXT NOT NULL DEFAULT '',
    published TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS locations_by_path ON locations (path);
CREATE INDEX IF NOT EXISTS locations_by_article ON locations (article_id);
CREATE TABLE IF NOT EXISTS signatures (article_id TEXT PRIMARY KEY, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS unfinished (article_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS relabel (article_id TEXT PRIMARY KEY, path TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Location:
    """Where an article-sized input came from, and what became of it."""

    location: str
    path: str
    sha256: str
    article_id: str
    kind: str  # "stored", "copy" or "near"
    similarity: float = 1.0
    title: str = ""
    source: str = ""
    url: str = ""
    published: str = ""


@contextmanager
def existing_ledger(path: Path) -> Iterator[Ledger | None]:
    """The ledger at `path` for reading, or None when no ingest has made one (never creates it)."""
    if not path.exists():
        yield None
        return
    ledger = Ledger(path)
    try:
        yield ledger
    finally:
        ledger.close()


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit off; each `transaction()` is one atomic step, durable before Chroma is touched next.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- files ----------------------------------------------------------------------------------
    def file_hash(self, path: str) -> tuple[str, str] | None:
        """(sha256, cleaner version) the file was last ingested with."""
        row = self._db.execute("SELECT sha256, cleaner FROM files WHERE path = ?", (path,)).fetchone()
        return (row[0], row[1]) if row else None

    def set_file(self, path: str, sha256: str, cleaner: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (path, sha256, cleaner))

    def forget_file(self, path: str) -> None:
        self._db.execute("DELETE FROM files WHERE path = ?", (path,))

    # --- locations ------------------------------------------------------------------------------
    def location(self, location: str) -> Location | None:
        row = self._db.execute("SELECT * FROM locations WHERE location = ?", (location,)).fetchone()
        return Location(*row) if row else None

    def locations_in_file(self, path: str) -> list[Location]:
        return [Location(*r) for r in self._db.execute("SELECT * FROM locations WHERE path = ?", (path,))]

    def locations_of(self, article_id: str) -> list[Location]:
        """Every location that became this article, the stored one first, then copies, then near ones."""
        rows = self._db.execute(
            "SELECT * FROM locations WHERE article_id = ? "
            "ORDER BY CASE kind WHEN 'stored' THEN 0 WHEN 'copy' THEN 1 ELSE 2 END, rowid",
            (article_id,),
        )
        return [Location(*r) for r in rows]

    def put_location(self, loc: Location) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO locations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                loc.location,
                loc.path,
                loc.sha256,
                loc.article_id,
                loc.kind,
                loc.similarity,
                loc.title,
                loc.source,
                loc.url,
                loc.published,
            ),
        )

    def drop_location(self, location: str, article_id: str) -> None:
        """Forget that `location` holds `article_id` (if it now holds another article, that row stays)."""
        self._db.execute("DELETE FROM locations WHERE location = ? AND article_id = ?", (location, article_id))

    def article_of_locations(self) -> dict[str, str]:
        """location -> article id, for every input (stored articles, identical copies, near-duplicates)."""
        return dict(self._db.execute("SELECT location, article_id FROM locations"))

    def location_kinds(self) -> dict[str, str]:
        """location -> 'stored', 'copy' or 'near'."""
        return dict(self._db.execute("SELECT location, kind FROM locations"))

    def article_of_files(self) -> dict[str, str]:
        """file path -> article id, for files that are one article each (not records of an export)."""
        return dict(self._db.execute("SELECT path, article_id FROM locations WHERE location = path"))

    def other_locations(self) -> dict[str, list[dict[str, str]]]:
        """article id -> its identical copies and near-duplicates ({"path", "source", "url"} each), for
        filters: a copy in the folder asked for, or a syndicated copy by the outlet asked for, counts."""
        out: dict[str, list[dict[str, str]]] = {}
        rows = self._db.execute("SELECT article_id, location, source, url FROM locations WHERE kind != 'stored'")
        for article_id, location, source, url in rows:
            out.setdefault(article_id, []).append({"path": location, "source": source, "url": url})
        return out

    def all_paths(self) -> list[str]:
        """Every file that has a location, for pruning."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT path FROM locations ORDER BY path")]

    def has_article(self, article_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM signatures WHERE article_id = ?", (article_id,)).fetchone() is not None

    # --- stored articles ------------------------------------------------------------------------
    def set_signature(self, article_id: str, signature: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO signatures VALUES (?, ?)", (article_id, signature))

    def drop_article(self, article_id: str) -> None:
        self._db.execute("DELETE FROM signatures WHERE article_id = ?", (article_id,))
        self._db.execute("DELETE FROM locations WHERE article_id = ?", (article_id,))

    def signatures(self) -> Iterator[tuple[str, bytes]]:
        yield from self._db.execute("SELECT article_id, signature FROM signatures")

    def counts(self) -> dict[str, int]:
        """Files, stored articles, and inputs by what they became (stored, copy, near)."""
        out = {"files": int(self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0])}
        out["articles"] = int(self._db.execute("SELECT COUNT(*) FROM signatures").fetchone()[0])
        for kind, n in self._db.execute("SELECT kind, COUNT(*) FROM locations GROUP BY kind"):
            out[f"inputs_{kind}"] = int(n)
        return out

    # --- crash journal --------------------------------------------------------------------------
    def mark_unfinished(self, article_ids: Iterable[str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO unfinished VALUES (?)", [(a,) for a in article_ids])

    def clear_unfinished(self, article_ids: Iterable[str]) -> None:
        self._db.executemany("DELETE FROM unfinished WHERE article_id = ?", [(a,) for a in article_ids])

    def unfinished(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT article_id FROM unfinished")]

    def mark_relabel(self, article_id: str, path: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO relabel VALUES (?, ?)", (article_id, path))

    def clear_relabel(self, article_id: str) -> None:
        self._db.execute("DELETE FROM relabel WHERE article_id = ?", (article_id,))

    def relabels(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._db.execute("SELECT article_id, path FROM relabel")]
