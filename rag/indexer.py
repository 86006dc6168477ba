"""Ingest: files -> cleaned Articles -> Passages -> vectors -> Store, reporting every file's fate."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from rag.config import Settings
from rag.embed import Embedder
from rag.ingest.chunk import chunk_article
from rag.ingest.clean import clean_document
from rag.ingest.load import find_files, read_document
from rag.store import Store
from rag.types import FileProblem, IngestReport, Passage


class _Batcher:
    """Collects passages and embeds + stores them in batches, the unit the embedder is fastest at."""

    def __init__(self, store: Store, embedder: Embedder, size: int) -> None:
        self.store, self.embedder, self.size = store, embedder, size
        self.pending: list[Passage] = []
        self.added = 0

    def add(self, passages: list[Passage]) -> None:
        self.pending.extend(passages)
        while len(self.pending) >= self.size:
            self._flush(self.pending[: self.size])
            self.pending = self.pending[self.size :]

    def finish(self) -> None:
        if self.pending:
            self._flush(self.pending)
            self.pending = []

    def _flush(self, batch: list[Passage]) -> None:
        self.store.add(batch, self.embedder.embed_passages([p.text for p in batch]))
        self.added += len(batch)


def ingest_paths(
    paths: Iterable[str | Path], store: Store, embedder: Embedder, settings: Settings, progress: bool = True
) -> IngestReport:
    """Add new and changed articles under `paths`; a bad file is reported and skipped, never fatal."""
    started = time.perf_counter()
    report = IngestReport()
    found = list(find_files(paths))
    files = [f for f in found if isinstance(f, Path)]
    report.failed.extend(f for f in found if isinstance(f, FileProblem))

    known = store.articles()
    article_of_path = {p: aid for aid, meta in known.items() for p in store.article_paths(meta)}
    batcher = _Batcher(store, embedder, settings.embed.batch_size)
    detach: list[tuple[str, str]] = []  # (path, article it no longer holds), applied at the end
    bar = tqdm(files, desc="ingest", unit="file", file=sys.stderr, disable=not progress or not files)
    for file in bar:
        path = str(file.resolve())  # one spelling per file, however it was named on the command line
        doc = read_document(file)
        if isinstance(doc, FileProblem):
            report.failed.append(doc)
            continue
        article = clean_document(doc)
        article = replace(article, path=path)
        if not article.text:
            report.failed.append(FileProblem(str(file), "no article text left after cleaning"))
            continue
        previous = article_of_path.get(path)
        if previous == article.id:
            report.unchanged.append(path)
            continue
        if previous:
            detach.append((path, previous))
            report.updated.append(path)
        if article.id in known:  # an identical copy of an article already stored: remember this file too
            paths = store.article_paths(known[article.id])
            if path not in paths:
                known[article.id] = {**known[article.id], "paths": json.dumps([*paths, path])}
                store.set_article_paths(article.id, known[article.id], [*paths, path])
            if not previous:
                report.unchanged.append(path)
            continue
        if not previous:
            report.new.append(path)
        known[article.id] = {"path": path, "paths": json.dumps([path])}
        store.add_article(article)
        batcher.add(chunk_article(article, settings.chunk.max_chars, settings.chunk.overlap_sentences))
        bar.set_postfix(passages=batcher.added + len(batcher.pending))
    batcher.finish()
    # Old versions go only after their replacements are stored: an interrupted run loses nothing.
    for path, article_id in detach:
        meta = store.articles().get(article_id)
        if meta is not None:
            store.set_article_paths(article_id, meta, [p for p in store.article_paths(meta) if p != path])
    if report.new or report.updated or not (store.folder / "keyword" / "ids.json").exists():
        store.commit()
    report.passages_added = batcher.added
    report.seconds = time.perf_counter() - started
    return report
