"""`make bench`: speed on this machine, printed as a table. Targets live here, never in unit tests."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag.config import Settings
from rag.eval import DEFAULT_DATA, ROOT
from rag.ingest.chunk import chunk_article
from rag.ingest.clean import clean_document
from rag.ingest.load import RawDocument, find_files, read_document
from rag.pipeline import Index
from rag.types import Passage

SEEDS = ROOT / "seeds"


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1] if len(xs) > 1 else xs[0]


def _questions(n: int) -> list[str]:
    path = DEFAULT_DATA / "seeds_qa.jsonl"
    base = (
        [json.loads(line)["question"] for line in path.read_text().splitlines()]
        if path.exists()
        else [
            "who claims Pokrovsk has fallen?",
            "How many residents remain in Toretsk?",
        ]
    )
    return [base[i % len(base)] + ("" if i < len(base) else f" ({i})") for i in range(n)]


def run_bench(queries: int = 50) -> int:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        idx = Index(Settings(index=Path(tmp) / "index"))
        # The embedder alone on exactly the passages ingest will make: the floor for ingest time.
        passages: list[Passage] = []
        for f in find_files([SEEDS]):
            doc = read_document(f) if isinstance(f, Path) else None
            if isinstance(doc, RawDocument):
                chunking = idx.settings.chunk
                passages += chunk_article(clean_document(doc), chunking.max_chars, chunking.overlap_sentences)
        idx.embedder.embed_passages([passages[0].text])  # warm up
        t0 = time.perf_counter()
        idx.embedder.embed_passages([p.text for p in passages])
        embed_only = time.perf_counter() - t0

        report = idx.ingest(SEEDS)
        rows += [
            ("seeds ingest (5 articles)", f"{report.seconds:.2f} s, {report.passages_added} passages"),
            ("ingest throughput", f"{report.passages_added / report.seconds:.1f} passages/s"),
            (
                "embedder alone, same passages",
                f"{embed_only:.2f} s (ingest/embedder = {report.seconds / embed_only:.2f})",
            ),
        ]
        t0 = time.perf_counter()
        again = idx.ingest(SEEDS)
        rows.append(("re-ingest unchanged", f"{time.perf_counter() - t0:.2f} s ({len(again.unchanged)} unchanged)"))

        retrieve, answer = [], []
        for q in _questions(queries):
            t0 = time.perf_counter()
            idx.retriever.retrieve(q)
            retrieve.append(time.perf_counter() - t0)
            a = idx.ask(q, backend="extractive")
            answer.append(a.timings["total_s"])

        def ms(xs: list[float], p: int) -> str:
            return f"{1000 * _pct(xs, p):.1f}"

        rows += [
            (f"retrieval latency, {queries} queries", f"p50 {ms(retrieve, 50)} ms, p95 {ms(retrieve, 95)} ms"),
            (f"extractive answer latency, {queries} queries", f"p50 {ms(answer, 50)} ms, p95 {ms(answer, 95)} ms"),
        ]

        t0 = time.perf_counter()
        cold = subprocess.run(
            [
                sys.executable,
                "-m",
                "rag.cli",
                "ask",
                "who claims Pokrovsk has fallen?",
                "--backend",
                "extractive",
                "--json",
                "--index",
                str(Path(tmp) / "index"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        rows.append(
            ("cold `rag ask --backend extractive`", f"{time.perf_counter() - t0:.2f} s wall (exit {cold.returncode})")
        )

    width = max(len(k) for k, _ in rows)
    print(f"\n| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for k, v in rows:
        print(f"| {k.ljust(width)} | {v} |")
    return 0
