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

from tqdm import tqdm

from rag.config import Settings
from rag.embed import Embedder
from rag.errors import RagError
from rag.ingest.boilerplate import LineStats
from rag.ingest.chunk import chunk_article
from rag.ingest.clean import CLEANER_VERSION, clean_document
from rag.ingest.ledger import Ledger, Location
from rag.ingest.load import SUPPORTED_SUFFIXES, RawDocument, byte_limit, find_files, parse_file, read_bytes
from rag.ingest.neardup import NearDuplicates, from_bytes, signature, to_bytes
from rag.store import Store
from rag.types import Article, Duplicate, FileProblem, IngestReport, Passage

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
    """Delete from Chroma every article an interrupted run left unfinished; returns their ids."""
    unfinished = ledger.unfinished()
    if unfinished:
        store.begin_writes()
        for article_id in unfinished:
            store.delete_article(article_id)
        with ledger.transaction():
            ledger.clear_unfinished(unfinished)
    return unfinished


@dataclass
class _Pending:
    """A new article on its way into the store, and the inputs that wait for it to be complete."""

    article: Article
    path: str  # the file (or stdin name) it came from
    sha256: str  # of the raw input
    signature: bytes
    last_passage: str
    replaces: Location | None  # the location's previous article, unlinked once this one is complete
    copies: list[Location] = field(default_factory=list)


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
        article = replace(clean_document(doc, self.lines, self.settings.ingest.boilerplate_min_repeats), path=location)
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
        match = self.near.find(sig, exclude=old.article_id if old else "")
        if match:
            near = replace(described, article_id=match.article_id, kind="near", similarity=match.similarity)
            self._duplicate(near, old)
            return
        (self.report.updated if old else self.report.new).append(location)
        passages = chunk_article(article, self.settings.chunk.max_chars, self.settings.chunk.overlap_sentences)
        self.near.add(article.id, sig)
        self.pending[article.id] = _Pending(article, path, sha, to_bytes(sig), passages[-1].id, old)
        self.batch.extend(passages)
        while len(self.batch) >= self.settings.embed.batch_size:
            self._flush(self.batch[: self.settings.embed.batch_size])
            self.batch = self.batch[self.settings.embed.batch_size :]

    def _duplicate(self, loc: Location, old: Location | None) -> None:
        self.report.duplicates.append(Duplicate(loc.location, self.stored_location(loc.article_id), loc.similarity))
        if loc.article_id in self.pending:  # recorded once the article it copies is complete
            self.pending[loc.article_id].copies.append(loc)
            return
        with self.ledger.transaction():
            self.ledger.put_location(loc)
        if old:
            self.unlink(old)

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
        self.store.add_articles([p.article for p in done])
        with self.ledger.transaction():
            for p in done:
                a = p.article
                self.ledger.put_location(
                    Location(a.path, p.path, p.sha256, a.id, "stored", 1.0, a.title, a.source, a.url, a.published or "")
                )
                self.ledger.set_signature(a.id, p.signature)
                for copy in p.copies:
                    self.ledger.put_location(copy)
            self.ledger.clear_unfinished([p.article.id for p in done])
        for p in done:
            del self.pending[p.article.id]
            self.marked.discard(p.article.id)
            self.stored_passages.difference_update(
                pid for pid in list(self.stored_passages) if pid.startswith(p.article.id + ":")
            )
            if p.replaces:
                self.unlink(p.replaces)

    def unlink(self, old: Location) -> None:
        """A location no longer holds `old.article_id`'s text: forget it, and delete the article when no
        identical copy is left (its near-duplicates' files are then re-read by the next run)."""
        self._begin()
        remaining = [loc for loc in self.ledger.locations_of(old.article_id) if loc.location != old.location]
        copies = [loc for loc in remaining if loc.kind in ("stored", "copy")]
        with self.ledger.transaction():
            self.ledger.drop_location(old.location, old.article_id)
            if copies and old.kind == "stored":
                self.ledger.put_location(replace(copies[0], kind="stored"))
            elif not copies:
                self.ledger.mark_unfinished([old.article_id])
                self.ledger.drop_article(old.article_id)
                for loc in remaining:  # near-duplicates lose their kept article: read them afresh next time
                    self.ledger.forget_file(loc.path)
        if copies and old.kind == "stored":
            self.store.relabel_article(old.article_id, copies[0].location)
        elif not copies:
            self.store.delete_article(old.article_id)
            if self._near is not None:
                self._near.remove(old.article_id)
            with self.ledger.transaction():
                self.ledger.clear_unfinished([old.article_id])

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
) -> IngestReport:
    """Add new and changed articles under `paths`; a bad file is reported and skipped, never fatal.

    `stdin`: (name, bytes) of text piped in, stored under the location `stdin:NAME`.
    `prune`: also remove the articles of files that no longer exist.
    """
    started = time.perf_counter()
    report = IngestReport()
    ledger = Ledger(ledger_path(settings))
    try:
        with writer_lock(settings):
            recovered = recover(store, ledger)
            run = _Ingest(store, ledger, embedder, settings, report)
            found = list(find_files(paths, include=include, exclude=exclude)) if paths else []
            files = [f for f in found if isinstance(f, Path)]
            report.failed.extend(f for f in found if isinstance(f, FileProblem))
            report.files = len(files) + (1 if stdin else 0)
            changed = _changed_files(files, run, report)
            run.files_total = len(files)
            run.files_done = len(files) - len(changed)
            total_bytes = sum(len(raw) for _, _, raw in changed)
            with tqdm(
                total=total_bytes,
                desc="ingest",
                unit="B",
                unit_scale=True,
                file=sys.stderr,
                disable=not progress or not changed,
                mininterval=0.5,
            ) as bar:
                run.bar = bar
                for _, path, raw in changed:
                    _ingest_file(run, path, raw)
                    run.files_done += 1
                if stdin:
                    name, raw = stdin
                    if Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                        _ingest_file(run, STDIN_PREFIX + name, raw)
                    else:
                        report.failed.append(
                            FileProblem(STDIN_PREFIX + name, f"unsupported file type '{Path(name).suffix or '(none)'}'")
                        )
                run.finish()
            # Files are marked done only now that every article they hold is complete: a killed run
            # re-reads them, finds the finished records unchanged and redoes only the rest.
            with ledger.transaction():
                for _, path, raw in changed:
                    if path not in run.problem_files:
                        ledger.set_file(path, _sha256(raw), CLEANER_VERSION)
            if prune:
                _prune(run, ledger)
            if run.wrote or recovered or not (store.folder / "keyword" / "ids.json").exists():
                store.commit()
            run.lines.save(Path(settings.index) / "boilerplate.json")
    finally:
        ledger.close()
    report.seconds = time.perf_counter() - started
    return report


def _changed_files(files: list[Path], run: _Ingest, report: IngestReport) -> list[tuple[Path, str, bytes]]:
    """Files whose bytes differ from the ledger's (or were read with another cleaner). Reading and
    hashing is all an unchanged file costs. Their plain-text lines feed the boilerplate statistics
    before any of them is cleaned, so lines repeated across this batch of files are known."""
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
        changed.append((file, path, raw))
        if file.suffix.lower() in _TEXT_SUFFIXES:
            run.lines.observe(raw.decode("utf-8", errors="replace"))
    return changed


def _ingest_file(run: _Ingest, path: str, raw: bytes) -> None:
    known = run.ledger.file_hash(path)
    force = known is not None and known[1] != CLEANER_VERSION
    seen: set[str] = set()
    failed_before, consumed = len(run.report.failed), 0
    source = Path(path.removeprefix(STDIN_PREFIX))
    for doc in parse_file(source, raw, run.settings.ingest):
        if isinstance(doc, FileProblem):
            run.report.failed.append(doc)
            continue
        location = f"{path}#{doc.key}" if doc.key else path
        seen.add(location)
        run.place(doc, location, path, force)
        run.advance(len(doc.raw))  # per record, so a large export shows progress and an ETA
        consumed += len(doc.raw)
    run.advance(len(raw) - consumed)
    problems = len(run.report.failed) > failed_before
    if problems and not seen:
        run.problem_files.add(path)
    # Records gone from a changed export go too; not when some records failed to parse this time
    # (their old versions stay rather than be lost to a broken line).
    if not problems:
        for old in run.ledger.locations_in_file(path):
            if old.location not in seen:
                run.report.removed.append(old.location)
                run.unlink(old)


def _prune(run: _Ingest, ledger: Ledger) -> None:
    for path in ledger.all_paths():
        if path.startswith(STDIN_PREFIX) or os.path.exists(path):
            continue
        for old in ledger.locations_in_file(path):
            run.report.removed.append(old.location)
            run.unlink(old)
        with ledger.transaction():
            ledger.forget_file(path)


def remove(targets: Iterable[str], store: Store, settings: Settings) -> IngestReport:
    """`rag remove`: the articles from these files or folders (present or not), locations or article ids."""
    started = time.perf_counter()
    report = IngestReport()
    ledger = Ledger(ledger_path(settings))
    try:
        with writer_lock(settings):
            recover(store, ledger)
            run = _Ingest(store, ledger, None, settings, report)
            for target in targets:
                matches = _resolve_target(target, ledger)
                if not matches:
                    report.failed.append(FileProblem(target, "not in the index (no such file, folder, or article id)"))
                for loc in matches:
                    report.removed.append(loc.location)
                    run.unlink(loc)
                    with ledger.transaction():
                        ledger.forget_file(loc.path)
            if run.wrote:
                store.commit()
    finally:
        ledger.close()
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
