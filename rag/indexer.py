"""Ingest: files -> cleaned Articles -> Passages -> vectors -> Store, reporting every file's fate."""

from __future__ import annotations

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
from rag.types import Article, FileProblem, IngestReport, Passage


class _Batcher:
    """Embeds and stores passages in batches (the unit the embedder is fastest at). An article's own
    record is written only once all its passages are stored, so an interrupted run never leaves an
    article that looks complete but is not: the next run sees it as new and finishes it."""

    def __init__(self, store: Store, embedder: Embedder, size: int, bar: tqdm) -> None:
        self.store, self.embedder, self.size, self.bar = store, embedder, size, bar
        self.pending: list[Passage] = []
        self.waiting: list[tuple[Article, str]] = []  # articles in order, with their last passage id
        self.stored: set[str] = set()
        self.added = 0

    def add(self, article: Article, passages: list[Passage]) -> None:
        self.waiting.append((article, passages[-1].id))
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
        self.bar.update(len(batch))
        self.stored.update(p.id for p in batch)
        while self.waiting and self.waiting[0][1] in self.stored:
            self.store.add_article(self.waiting.pop(0)[0])


def ingest_paths(
    paths: Iterable[str | Path], store: Store, embedder: Embedder, settings: Settings, progress: bool = True
) -> IngestReport:
    """Add new and changed articles under `paths`; a bad file is reported and skipped, never fatal."""
    started = time.perf_counter()
    report = IngestReport()
    found = list(find_files(paths))
    files = [f for f in found if isinstance(f, Path)]
    report.failed.extend(f for f in found if isinstance(f, FileProblem))

    # Which files hold each article's text: identical copies are stored once, under all their paths.
    paths_of = {aid: store.article_paths(meta) for aid, meta in store.articles().items()}
    article_of_path = {p: aid for aid, ps in paths_of.items() for p in ps}
    touched: set[str] = set()  # articles whose list of files changed
    todo: list[tuple[Article, list[Passage]]] = []
    # Phase 1, fast: read, clean, chunk, and decide what is new. Phase 2, slow: embed and store.
    for file in tqdm(files, desc="read", unit="file", file=sys.stderr, disable=not progress or len(files) < 50):
        path = str(file.resolve())  # one spelling per file, however it was named on the command line
        doc = read_document(file)
        if isinstance(doc, FileProblem):
            report.failed.append(doc)
            continue
        article = replace(clean_document(doc), path=path)
        if not article.text:
            report.failed.append(FileProblem(str(file), "no article text left after cleaning"))
            continue
        previous = article_of_path.get(path)
        if previous == article.id:
            report.unchanged.append(path)
            continue
        if previous:
            paths_of[previous].remove(path)
            touched.add(previous)
            report.updated.append(path)
        if article.id in paths_of:  # an identical copy of an article already known: remember this file too
            paths_of[article.id].append(path)
            touched.add(article.id)
            if not previous:
                report.unchanged.append(path)
            continue
        if not previous:
            report.new.append(path)
        paths_of[article.id] = [path]
        todo.append((article, chunk_article(article, settings.chunk.max_chars, settings.chunk.overlap_sentences)))

    total = sum(len(passages) for _, passages in todo)
    with tqdm(total=total, desc="embed", unit="passage", file=sys.stderr, disable=not progress or not total) as bar:
        batcher = _Batcher(store, embedder, settings.embed.batch_size, bar)
        for article, passages in todo:
            batcher.add(article, passages)
        batcher.finish()
    # Old versions go only after their replacements are stored: an interrupted run loses nothing.
    if touched:
        stored = store.articles()
        for article_id in touched & stored.keys():
            store.set_article_paths(article_id, stored[article_id], paths_of[article_id])
    if report.new or report.updated or not (store.folder / "keyword" / "ids.json").exists():
        store.commit()
    report.passages_added = batcher.added
    report.seconds = time.perf_counter() - started
    return report
