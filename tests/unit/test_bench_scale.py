"""The latency benchmark's scaled index: replicas are searchable, distinct and filterable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rag.eval.bench_scale import latency, replicate
from rag.search.filters import Filters

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_replicas_multiply_passages_and_articles_with_distinct_vectors(tmp_path: Path, make_index: Any) -> None:
    base = make_index(tmp_path / "base")
    base.ingest(SEEDS)
    n, articles = base.store.count(), base.store.article_count()
    big = replicate(base, tmp_path / "x3", copies=2)
    assert big.store.count() == 3 * n and big.store.article_count() == 3 * articles
    assert len(big.store.keyword_index().ids) == 3 * n  # keyword search covers the replicas too
    table = big.store.vector_table()
    first = table.ids.index(next(i for i in table.ids if "-r1:" in i))
    original = table.ids.index(first_id := table.ids[first].replace("-r1:", ":"))
    assert first_id in table.ids
    similarity = float(table.matrix[first] @ table.matrix[original])
    assert 0.5 < similarity < 0.9999  # a noisy copy: near, not identical
    assert np.allclose(np.linalg.norm(table.matrix, axis=1), 1.0, atol=1e-4)
    hits = big.search("Who claims Pokrovsk has fallen?")
    assert {sp.passage.article_id.split("-r")[0] for sp in hits} <= set(base.store.article_records())
    assert replicate(base, tmp_path / "x3", copies=2).store.count() == 3 * n  # reused, not rebuilt


def test_latency_reports_total_embedding_and_the_rest(tmp_path: Path, make_index: Any) -> None:
    idx = make_index(tmp_path / "idx")
    idx.ingest(SEEDS)
    questions = ["Who claims Pokrovsk has fallen?", "How many residents remain in Toretsk?", "Who is Haidai?"]
    t = latency(idx, questions)
    assert set(t) == {"total", "embedding", "without embedding"}
    assert all(0 <= p50 <= p95 for p50, p95 in t.values())
    swedish = latency(idx, questions, Filters.parse(languages="sv"))
    assert swedish["total"][1] > 0
