"""Ingest: files -> cleaned Articles -> Passages -> vectors -> Store, reporting every input's fate.

Streams: one file at a time is read, cleaned and chunked, and passages are embedded and stored in batches
(the unit the embedder is fastest at), so memory stays flat however large the collection.

Crash safety (SIGKILL at any point): a new article is listed as unfinished in the ledger before its first
passage is written and taken off the list, with its location recorded, in the same transaction that
marks it complete; an article being deleted is listed before its passages go. The next run (or the next
`rag.open`) deletes whatever is still listed, and re-reads every file not yet marked done, so the index
is completed with no duplicate passages and no orphans.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from rag.config import Settings
from rag.errors import RagError
from rag.ingest.boilerplate import LineStats
from rag.ingest.chunk import chunk_article
from rag.ingest.clean import CLEANER_VERSION, clean_document
from rag.ingest.formats import decode_with_bom
from rag.ingest.guard import guarded
from rag.ingest.ledger import Ledger, Location
from rag.ingest.load import SUPPORTED_SUFFIXES, RawDocument, byte_limit, find_files, parse_file, read_bytes
from rag.ingest.neardup import NearDuplicates, from_bytes, signature, to_bytes
from rag.types import Article, Duplicate, FileProblem, IngestReport, Passage

if TYPE_CHECKING:  # the store and the embedder are handed in: ingest knows them by their interfaces only
    from rag.store.chroma import Store
    from rag.store.embed import Embedder

STDIN_PREFIX = "stdin:"  # locations of text piped in: no file behind them, so never pruned
_TEXT_SUFFIXES = {".txt", ".md"}  # plain-text scrapes: the only inputs whose lines feed boilerplate statistics


def ledger_path(settings: Settings) -> Path:
    return Path(settings.index) / "ledger.sqlite"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """One writer per index folder at a time (a second `rag ingest` gets a clear error, not a mixed index)."""
    folder = Path(settings.index)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "ingest.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RagError(f"another ingest is writing to {folder}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def recover(store: Store, ledger: Ledger) -> list[str]:
    """Finish what an interrupted run left: delete the articles it listed as unfinished, and relabel
    those whose stored file it had changed. Returns the ids touched."""
    unfinished, relabels = ledger.unfinished(), ledger.relabels()
    if unfinished or relabels:
        store.begin_writes()
        for article_id in unfinished:
            store.delete_article(article_id)
        for article_id, path in relabels:
            store.relabel_article(article_id, path)
        with ledger.transaction():
            ledger.clear_unfinished(unfinished)
            for article_id, _ in relabels:
                ledger.clear_relabel(article_id)
    return unfinished + [a for a, _ in relabels]


@dataclass
class _Pending:
    """A new article on its way into the store, and the inputs that wait for it to be complete."""

    article: Article
    path: str  # the file (or stdin name) it came from
    sha256: str  # of the raw input
    signature: bytes
    last_passage: str
    replaces: Location | None  # the location's previous article, retired once this one is complete
    copies: list[tuple[Location, Location | None]] = field(default_factory=list)  # (copy, what it held)


class _Ingest:
    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        embedder: Embedder | None,
        settings: Settings,
        report: IngestReport,
    ) -> None:
        self.store, self.ledger, self.settings, self.report = store, ledger, settings, report
        self._embedder = embedder
        self.lines = LineStats.load(Path(settings.index) / "boilerplate.json")
        self._near: NearDuplicates | None = None
        self.pending: dict[str, _Pending] = {}  # article id -> pending, in insertion order
        self.batch: list[Passage] = []
        self.stored_passages: set[str] = set()
        self.marked: set[str] = set()  # pending articles listed as unfinished in the ledger
        self.bar: tqdm | None = None
        self.wrote = False  # anything changed in the store (then the keyword index is rebuilt)
        self.started = time.perf_counter()
        self.files_done = 0
        self.files_total = 0
        self.problem_files: set[str] = set()  # files with nothing usable: read again next run
        self.reread: set[str] = set()  # files of near-duplicates whose kept article was deleted
        self.done_files: dict[str, str] = {}  # path -> sha256 of files read in full this run

    # --- helpers --------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            raise RuntimeError("this run only removes articles; it has no embedder")
        return self._embedder

    @property
    def near(self) -> NearDuplicates:
        if self._near is None:
            self._near = NearDuplicates(self.settings.ingest.near_duplicate_threshold)
            for article_id, blob in self.ledger.signatures():
                self._near.add(article_id, from_bytes(blob))
        return self._near

    def _begin(self) -> None:
        if not self.wrote:
            self.store.begin_writes()
            self.wrote = True

    def stored_location(self, article_id: str) -> str:
        if article_id in self.pending:
            return self.pending[article_id].article.path
        locs = self.ledger.locations_of(article_id)
        return locs[0].location if locs else article_id

    # --- one input ------------------------------------------------------------------------------
    def place(self, doc: RawDocument, location: str, path: str, force: bool) -> None:
        """Decide what one article-sized input becomes: unchanged, new, updated, or a duplicate."""
        sha = _sha256(doc.raw)
        old = self.ledger.location(location)
        if old and old.sha256 == sha and not force:
            self.report.unchanged.append(location)
            return
        article = guarded(location, "cleaning", lambda: self._clean(doc, location))
        if isinstance(article, FileProblem):
            self.report.failed.append(article)
            return
        if not article.text:
            self.report.failed.append(FileProblem(location, "no article text left after cleaning"))
            return
        if old and old.article_id == article.id:  # same text, other bytes (whitespace, encoding): keep
            with self.ledger.transaction():
                self.ledger.put_location(replace(old, sha256=sha))
            self.report.unchanged.append(location)
            return
        self._begin()
        described = Location(
            location,
            path,
            sha,
            article.id,
            "copy",
            1.0,
            article.title,
            article.source,
            article.url,
            article.published or "",
        )
        if article.id in self.pending or self.ledger.has_article(article.id):
            self._duplicate(described, old)
            return
        sig = signature(article.text)
        # An edited file is not a near-duplicate of its own previous version (only of other articles).
        match = self.near.find(sig, exclude=old.article_id if old and old.kind == "stored" else "")
        if match:
            near = replace(described, article_id=match.article_id, kind="near", similarity=match.similarity)
            self._duplicate(near, old)
            return
        chunk = self.settings.chunk
        passages = guarded(
            location,
            "splitting into passages",
            lambda: chunk_article(article, chunk.max_chars, chunk.overlap_sentences),
        )
        if isinstance(passages, FileProblem):
            self.report.failed.append(passages)
            return
        (self.report.updated if old else self.report.new).append(location)
        self.near.add(article.id, sig)
        self.pending[article.id] = _Pending(article, path, sha, to_bytes(sig), passages[-1].id, old)
        self.batch.extend(passages)
        while len(self.batch) >= self.settings.embed.batch_size:
            self._flush(self.batch[: self.settings.embed.batch_size])
            self.batch = self.batch[self.settings.embed.batch_size :]

    def _clean(self, doc: RawDocument, location: str) -> Article:
        return replace(clean_document(doc, self.lines, self.settings.ingest.boilerplate_min_repeats), path=location)

    def _duplicate(self, loc: Location, old: Location | None) -> None:
        self.report.duplicates.append(Duplicate(loc.location, self.stored_location(loc.article_id), loc.similarity))
        if loc.article_id in self.pending:  # recorded once the article it copies is complete
            self.pending[loc.article_id].copies.append((loc, old))
            return
        with self.ledger.transaction():
            followups = self._move(loc, old)
        self._follow(followups)

    # --- storing --------------------------------------------------------------------------------
    def _flush(self, batch: list[Passage]) -> None:
        vectors = self.embedder.embed_passages([p.text for p in batch])
        starting = {p.article_id for p in batch} - self.marked
        if starting:  # durable before the first passage of an article reaches Chroma
            with self.ledger.transaction():
                self.ledger.mark_unfinished(starting)
            self.marked |= starting
        self.store.add(batch, vectors)
        self.report.passages_added += len(batch)
        self.stored_passages.update(p.id for p in batch)
        if self.bar is not None:
            self.bar.set_postfix_str(self._rates(), refresh=False)
        done = [p for p in self.pending.values() if p.last_passage in self.stored_passages]
        if done:
            self._complete(done)

    def finish(self) -> None:
        if self.batch:
            self._flush(self.batch)
            self.batch = []

    def _complete(self, done: list[_Pending]) -> None:
        """Articles whose passages are all stored: their records go to Chroma, then one ledger transaction
        records their locations, retires what those locations held before and lists every Chroma change
        that follows (deletions, relabels), so a kill anywhere leaves work that `recover` finishes."""
        self.store.add_articles([p.article for p in done])
        followups: list[tuple[str, str, str]] = []
        with self.ledger.transaction():
            for p in done:
                a = p.article
                stored = Location(
                    a.path, p.path, p.sha256, a.id, "stored", 1.0, a.title, a.source, a.url, a.published or ""
                )
                self.ledger.set_signature(a.id, p.signature)
                followups += self._move(stored, p.replaces)
                for copy, old in p.copies:
                    followups += self._move(copy, old)
            self.ledger.clear_unfinished([p.article.id for p in done])
        for p in done:
            del self.pending[p.article.id]
            self.marked.discard(p.article.id)
            self.stored_passages.difference_update(
                pid for pid in list(self.stored_passages) if pid.startswith(p.article.id + ":")
            )
        self._follow(followups)

    def _move(self, new: Location | None, old: Location | None) -> list[tuple[str, str, str]]:
        """Inside a ledger transaction: `new.location` now holds `new` (None: nothing) instead of `old`.
        Returns the Chroma changes to make once the transaction is committed (already journaled)."""
        followups: list[tuple[str, str, str]] = []
        if old is not None and (new is None or new.article_id != old.article_id):
            current = self.ledger.location(old.location)  # the caller's copy may be stale
            if current is not None and current.article_id == old.article_id:
                followups = self._release(current)
        if new is not None:
            self.ledger.put_location(new)
        return followups

    def _release(self, loc: Location) -> list[tuple[str, str, str]]:
        """Inside a transaction: `loc` no longer holds its article. Another identical copy takes over as
        the stored location, or, with none left, the article is deleted and its near-duplicates are
        read again (they were only listed under it)."""
        self._begin()
        others = [x for x in self.ledger.locations_of(loc.article_id) if x.location != loc.location]
        copies = [x for x in others if x.kind in ("stored", "copy")]
        self.ledger.drop_location(loc.location, loc.article_id)
        if loc.kind == "near" or (loc.kind == "copy" and copies):
            return []
        if copies:  # the stored file went; an identical copy remains
            if any(x.kind == "stored" for x in copies):
                return []
            promoted = replace(copies[0], kind="stored")
            self.ledger.put_location(promoted)
            self.ledger.mark_relabel(loc.article_id, promoted.location)
            return [("relabel", loc.article_id, promoted.location)]
        self.ledger.mark_unfinished([loc.article_id])
        self.ledger.drop_article(loc.article_id)
        for near in others:
            self.ledger.forget_file(near.path)
            self.reread.add(near.path)
        return [("delete", loc.article_id, "")]

    def _follow(self, followups: list[tuple[str, str, str]]) -> None:
        for action, article_id, path in followups:
            if action == "relabel":
                self.store.relabel_article(article_id, path)
                with self.ledger.transaction():
                    self.ledger.clear_relabel(article_id)
            else:
                self.store.delete_article(article_id)
                if self._near is not None:
                    self._near.remove(article_id)
                with self.ledger.transaction():
                    self.ledger.clear_unfinished([article_id])

    def unlink(self, old: Location) -> None:
        """Remove one location (pruned, removed, or a record gone from its export)."""
        with self.ledger.transaction():
            followups = self._move(None, old)
        self._follow(followups)

    def _rates(self) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        return (
            f"{self.files_done}/{self.files_total} files, {self.files_done / elapsed:.1f} files/s, "
            f"{self.report.passages_added / elapsed:.1f} passages/s"
        )

    def advance(self, nbytes: int) -> None:
        if self.bar is not None and nbytes > 0:
            self.bar.update(nbytes)
            self.bar.set_postfix_str(self._rates(), refresh=False)


def ingest_paths(
    paths: Iterable[str | Path],
    store: Store,
    embedder: Embedder,
    settings: Settings,
    progress: bool = True,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    prune: bool = False,
    stdin: tuple[str, bytes] | None = None,
    follow_links: bool = False,
) -> IngestReport:
    """Add new and changed articles under `paths`; a bad file is reported and skipped, never fatal.

    `stdin`: (name, bytes) of text piped in, stored under the location `stdin:NAME`.
    `prune`: also remove the articles of files that no longer exist.
    `follow_links`: also read symbolic links whose target is outside the folder given.
    """
    started = time.perf_counter()
    report = IngestReport()
    with _run(store, embedder, settings, report) as run:
        found = list(find_files(paths, include=include, exclude=exclude, follow_links=follow_links)) if paths else []
        files = [f for f in found if isinstance(f, Path)]
        report.failed.extend(f for f in found if isinstance(f, FileProblem))
        report.files = len(files) + (1 if stdin else 0)
        changed = _changed_files(files, run, report)
        run.files_total = len(files)
        run.files_done = len(files) - len(changed)
        with tqdm(
            total=sum(size for _, _, size in changed),
            desc="ingest",
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress or not changed,
            mininterval=0.5,
        ) as bar:
            run.bar = bar
            for file, path, _ in changed:
                raw = read_bytes(file, byte_limit(file, settings.ingest))  # again: only one file's bytes in memory
                if isinstance(raw, FileProblem):
                    report.failed.append(raw)
                    run.problem_files.add(path)
                else:
                    _ingest_file(run, path, raw, file)
                run.files_done += 1
            if stdin:
                name, raw = stdin
                if Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                    _ingest_file(run, STDIN_PREFIX + name, raw)
                else:
                    suffix = Path(name).suffix or "(none)"
                    report.failed.append(FileProblem(STDIN_PREFIX + name, f"unsupported file type '{suffix}'"))
            run.finish()
        if prune:
            _prune(run)
        _reread_orphans(run)
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def _run(store: Store, embedder: Embedder | None, settings: Settings, report: IngestReport) -> Iterator[_Ingest]:
    """One writing run: the lock, recovery of an interrupted run first, and at the end the files marked
    done (only now that every article they hold is complete: a killed run re-reads them, finds the
    finished records unchanged and redoes only the rest) and the keyword index rebuilt."""
    ledger = Ledger(ledger_path(settings))
    try:
        with writer_lock(settings):
            recovered = recover(store, ledger)
            run = _Ingest(store, ledger, embedder, settings, report)
            yield run
            # The line statistics first: a file marked done is never read again, so the counts its lines
            # added must be on disk before (a kill in between re-reads files whose lines are counted once).
            run.lines.save(Path(settings.index) / "boilerplate.json")
            with ledger.transaction():
                for path, sha in run.done_files.items():
                    if path not in run.problem_files and path not in run.reread:
                        ledger.set_file(path, sha, CLEANER_VERSION)
            if run.wrote or recovered or is_stale(store):
                store.commit()
    finally:
        ledger.close()


def is_stale(store: Store) -> bool:
    """The keyword index or the manifest's counts do not match the collection (a run was killed after
    its last write but before its commit)."""
    manifest = store.manifest()
    return (
        not (store.folder / "keyword" / "ids.json").exists()
        or manifest.get("passages") != store.count()
        or manifest.get("articles") != store.article_count()
    )


def _changed_files(files: list[Path], run: _Ingest, report: IngestReport) -> list[tuple[Path, str, int]]:
    """(file, path, size) of files whose bytes differ from the ledger's (or were read with another
    cleaner). Reading and hashing is all an unchanged file costs. Their plain-text lines feed the
    boilerplate statistics before any of them is cleaned, so lines repeated across the batch are known."""
    changed = []
    for file in files:
        path = str(file.resolve())  # one spelling per file, however it was named on the command line
        raw = read_bytes(file, byte_limit(file, run.settings.ingest))
        if isinstance(raw, FileProblem):
            report.failed.append(raw)
            continue
        if run.ledger.file_hash(path) == (_sha256(raw), CLEANER_VERSION):
            report.unchanged.extend(loc.location for loc in run.ledger.locations_in_file(path))
            continue
        changed.append((file, path, len(raw)))
        if file.suffix.lower() in _TEXT_SUFFIXES:
            run.lines.observe(_text_of(raw))
    return changed


def _text_of(raw: bytes) -> str:
    """A plain-text file's lines for the boilerplate statistics (UTF-16 / UTF-32 with a BOM decoded)."""
    try:
        marked = decode_with_bom(raw)
    except UnicodeDecodeError:
        marked = None
    return marked[0] if marked else raw.decode("utf-8", errors="replace")


def _ingest_file(run: _Ingest, path: str, raw: bytes, found: Path | None = None) -> None:
    """One file's (or stdin's) articles into the run. `found` is the file as it was found, whose name
    sets the format: `path` is its resolved path, which for a followed link may have no suffix."""
    known = run.ledger.file_hash(path)
    force = known is not None and known[1] != CLEANER_VERSION
    seen: dict[str, str] = {}  # location -> where in the file
    failed_before, consumed = len(run.report.failed), 0
    source = Path(path.removeprefix(STDIN_PREFIX))
    if found is not None and found.suffix.lower() != source.suffix.lower():
        source = found  # a followed link to a file named otherwise: read it as its link says
    for doc in parse_file(source, raw, run.settings.ingest):
        if isinstance(doc, FileProblem):
            if path.startswith(STDIN_PREFIX):  # the reader saw only the name; the user knows it as stdin:NAME
                doc = replace(doc, path=STDIN_PREFIX + doc.path)
            run.report.failed.append(doc)
            continue
        location = f"{path}#{doc.key}" if doc.key else path
        if location in seen:
            problem = f"record id '{doc.key}' appears twice; only the first record with it is used"
            run.report.failed.append(FileProblem(path, problem))
            continue
        seen[location] = doc.key
        run.place(doc, location, path, force)
        run.advance(len(doc.raw))  # per record, so a large export shows progress and an ETA
        consumed += len(doc.raw)
    run.advance(len(raw) - consumed)
    problems = len(run.report.failed) > failed_before
    if problems and not seen:
        run.problem_files.add(path)
    if not path.startswith(STDIN_PREFIX):
        run.done_files[path] = _sha256(raw)
    # Records gone from a changed export go too; not when some records failed to parse this time
    # (their old versions stay rather than be lost to a broken line).
    if not problems:
        for old in run.ledger.locations_in_file(path):
            if old.location not in seen:
                run.report.removed.append(old.location)
                run.unlink(old)


def _prune(run: _Ingest) -> None:
    for path in run.ledger.all_paths():
        if path.startswith(STDIN_PREFIX) or os.path.exists(path):
            continue
        for old in run.ledger.locations_in_file(path):
            run.report.removed.append(old.location)
            run.unlink(old)
        with run.ledger.transaction():
            run.ledger.forget_file(path)


def _reread_orphans(run: _Ingest) -> None:
    """Near-duplicates whose kept article was deleted in this run are read again now: each becomes an
    article of its own (or a duplicate of another). Piped-in text cannot be read again: say so."""
    while run.reread:
        path = run.reread.pop()
        if path.startswith(STDIN_PREFIX):
            run.report.failed.append(
                FileProblem(path, "its text was a near-duplicate of a removed article; pipe it in again to index it")
            )
            continue
        raw = read_bytes(Path(path), byte_limit(Path(path), run.settings.ingest))
        if isinstance(raw, FileProblem):
            run.report.failed.append(raw)  # gone or unreadable: nothing of it is indexed any more
            continue
        _ingest_file(run, path, raw)
        run.finish()


def remove(targets: Iterable[str], store: Store, embedder: Embedder, settings: Settings) -> IngestReport:
    """`rag remove`: the articles from these files or folders (present or not), locations or article ids.
    A removed file that still exists comes back with the next `rag ingest` of its folder (use --exclude
    to keep it out). Near-duplicates listed under a removed article are indexed on their own."""
    started = time.perf_counter()
    report = IngestReport()
    with _run(store, embedder, settings, report) as run:
        removed: set[str] = set()
        for target in targets:
            matches = _resolve_target(target, run.ledger)
            if not matches:
                report.failed.append(FileProblem(target, "not in the index (no such file, folder, or article id)"))
            for loc in matches:
                report.removed.append(loc.location)
                removed.add(loc.path)
                run.unlink(loc)
                with run.ledger.transaction():
                    run.ledger.forget_file(loc.path)
        run.reread -= removed
        _reread_orphans(run)
    report.seconds = time.perf_counter() - started
    return report


def _resolve_target(target: str, ledger: Ledger) -> list[Location]:
    by_id = ledger.locations_of(target)
    if by_id:
        return by_id
    exact = ledger.location(target) or ledger.location(str(Path(target).resolve()))
    if exact:
        return [exact]
    folder = str(Path(target).resolve())
    return [
        loc
        for path in ledger.all_paths()
        if path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
        for loc in ledger.locations_in_file(path)
    ]
