"""`rag eval --tune`: fusion settings tried on the dev splits, one table row per setting.

Each question is embedded and searched once, dense and keyword, 100 candidates deep; every fusion setting
is then scored on those lists, using `reciprocal_rank_fusion` exactly as retrieval does. So the grid
costs seconds once the candidates are in hand, and test questions are never looked at.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_GERMAN, STOPWORDS_RUSSIAN, STOPWORDS_SWEDISH

from rag.app.index import Index
from rag.eval.common import first_rank, format_table, rank_metrics
from rag.search.retrieve import reciprocal_rank_fusion, spread_over_articles
from rag.store import keyword
from rag.store.keyword import KeywordIndex
from rag.text.languages import FUNCTION_WORDS

DEPTH = 100


@dataclass
class Candidates:
    gold: str
    dense: list[tuple[str, str]]  # (passage id, article id), best first
    keyword: list[tuple[str, str]]


def dense_lists(idx: Index, questions: list[str]) -> list[list[tuple[str, str]]]:
    """Dense candidates (passage id, article id) of each question, best first."""
    out = []
    for question in questions:
        qvec = idx.embedder.embed_query(question)
        out.append([(p.id, p.article_id) for p, _ in idx.store.dense_search(qvec, DEPTH)])
    return out


def keyword_lists(keyword_index: KeywordIndex, questions: list[str]) -> list[list[tuple[str, str]]]:
    return [[(pid, pid.rsplit(":", 1)[0]) for pid, _ in keyword_index.search(q, DEPTH)] for q in questions]


@contextmanager
def stop_words(words: Iterable[str]) -> Iterator[None]:
    """Tokenize with another stop-word list for a while (to build comparison indexes)."""
    saved = keyword._STOP
    keyword._STOP = set(words)
    try:
        yield
    finally:
        keyword._STOP = saved


def stop_lists() -> dict[str, set[str]]:
    """The stop-word lists compared; the middle one is the default."""
    base = set().union(*FUNCTION_WORDS.values())
    larger = set(STOPWORDS_EN_PLUS) | set(STOPWORDS_SWEDISH) | set(STOPWORDS_GERMAN) | set(STOPWORDS_RUSSIAN)
    return {
        "function words": base,
        "function + question words": base | keyword.QUESTION_WORDS,
        "+ bm25s en+/sv/de/ru lists": base | keyword.QUESTION_WORDS | larger,
    }


def candidates_by_stop_list(idx: Index, questions: list[tuple[str, str]]) -> dict[str, list[Candidates]]:
    """For each stop-word list, every question's dense and keyword candidates (dense computed once)."""
    texts = [q for q, _ in questions]
    dense = dense_lists(idx, texts)
    ids, docs = [], []
    for pid, text, _ in idx.store._iter_rows():
        ids.append(pid)
        docs.append(text)
    out = {}
    for name, words in stop_lists().items():
        with stop_words(words):
            kw = keyword_lists(KeywordIndex.build(ids, docs), texts)
        out[name] = [Candidates(gold, d, k) for (_, gold), d, k in zip(questions, dense, kw, strict=True)]
    return out


def score(
    cands: list[Candidates], candidates: int, rrf_k: int, dense_w: float, keyword_w: float, per_article: int = 1
) -> dict[str, Any]:
    ranks = []
    for c in cands:
        article_of = dict(c.dense[:candidates] + c.keyword[:candidates])
        fused = reciprocal_rank_fusion(
            [[p for p, _ in c.dense[:candidates]], [p for p, _ in c.keyword[:candidates]]], rrf_k, [dense_w, keyword_w]
        )
        ranked = sorted(fused, key=lambda pid: -fused[pid])
        best = spread_over_articles(ranked, article_of.__getitem__, per_article)[:10]
        ranks.append(first_rank([article_of[p] for p in best], c.gold))
    return rank_metrics(ranks)


GRID_CANDIDATES = (10, 20, 30, 50, 100)
GRID_RRF_K = (5, 10, 30, 60)
GRID_DENSE_WEIGHT = (1.0, 1.5, 2.0, 3.0)


def grid(cands: list[Candidates], label: str = "") -> list[dict[str, Any]]:
    """Every setting of the grid, plus dense alone and keyword alone, each with its metrics."""
    rows = [
        {"setting": "dense only", **score(cands, DEPTH, 60, 1.0, 0.0)},
        {"setting": f"keyword only{label}", **score(cands, DEPTH, 60, 0.0, 1.0)},
    ]
    for n, k, w in itertools.product(GRID_CANDIDATES, GRID_RRF_K, GRID_DENSE_WEIGHT):
        rows.append(
            {
                "setting": f"candidates={n} rrf_k={k} dense_weight={w:g}{label}",
                "candidates": n,
                "rrf_k": k,
                "dense_weight": w,
                "per_article": 1,
                **score(cands, n, k, w, 1.0),
            }
        )
    for k, w in itertools.product(GRID_RRF_K, GRID_DENSE_WEIGHT):  # without spreading over articles
        rows.append(
            {
                "setting": f"candidates=30 rrf_k={k} dense_weight={w:g} per_article=0{label}",
                "candidates": 30,
                "rrf_k": k,
                "dense_weight": w,
                "per_article": 0,
                **score(cands, 30, k, w, 1.0, per_article=0),
            }
        )
    return rows


def tuning_table(title: str, rows: list[dict[str, Any]], show: int = 15) -> str:
    """The baselines (dense alone, keyword alone per stop list), then the best `show` fused settings by
    MRR@10 + Recall@5."""
    fused = [r for r in rows if "candidates" in r]
    ranked = sorted(fused, key=lambda r: -(r["mrr@10"] + r["recall@5"]))
    baselines = [r for r in rows if "candidates" not in r]
    chosen = [baselines[0], *(r for r in baselines if r["setting"].startswith("keyword")), *ranked[:show]]
    heads = ["setting", "R@1", "R@5", "R@10", "MRR@10"]
    return format_table(
        title, heads, [[r["setting"], r["recall@1"], r["recall@5"], r["recall@10"], r["mrr@10"]] for r in chosen]
    )


def grid_by_stop_list(idx: Index, questions: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The grid for each stop-word list; rows name their list."""
    rows: list[dict[str, Any]] = []
    for name, cands in candidates_by_stop_list(idx, questions).items():
        part = grid(cands, f" [{name}]")
        rows += part if not rows else part[1:]  # dense alone does not depend on the stop list
    return rows
