"""Ingest: files -> cleaned Articles -> Passages -> vectors -> Store, reporting every file's fate."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
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
    article_of_path = {str(meta["path"]): aid for aid, meta in known.items()}
    batcher = _Batcher(store, embedder, settings.embed.batch_size)
    replaced: list[str] = []
    bar = tqdm(files, desc="ingest", unit="file", file=sys.stderr, disable=not progress or not files)
    for path in bar:
        doc = read_document(path)
        if isinstance(doc, FileProblem):
            report.failed.append(doc)
            continue
        article = clean_document(doc)
        if not article.text:
            report.failed.append(FileProblem(str(path), "no article text left after cleaning"))
            continue
        if article.id in known:
            report.unchanged.append(str(path))
            continue
        previous = article_of_path.get(str(path))
        if previous:
            replaced.append(previous)
            report.updated.append(str(path))
        else:
            report.new.append(str(path))
        known[article.id] = {"path": str(path)}
        store.add_article(article)
        batcher.add(chunk_article(article, settings.chunk.max_chars, settings.chunk.overlap_sentences))
        bar.set_postfix(passages=batcher.added + len(batcher.pending))
    batcher.finish()
    # Old versions go only after their replacements are stored: an interrupted run loses nothing.
    for article_id in replaced:
        store.delete_article(article_id)
    if report.new or report.updated or not (store.folder / "keyword" / "ids.json").exists():
        store.commit()
    report.passages_added = batcher.added
    report.seconds = time.perf_counter() - started
    return report
