"""Hybrid retrieval: dense and BM25 candidates fused by reciprocal rank fusion."""

from __future__ import annotations

from rag.config import RetrieveSettings
from rag.embed import Embedder, Vectors
from rag.keyword import KeywordIndex
from rag.store import Store
from rag.types import Passage, ScoredPassage


def reciprocal_rank_fusion(rankings: list[list[str]], k: int) -> dict[str, float]:
    """score(id) = sum over rankings of 1 / (k + rank), rank starting at 1."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank)
    return scores


class HybridRetriever:
    """Dense (Chroma) + keyword (BM25) search, fused; every passage carries its article's metadata."""

    def __init__(self, store: Store, embedder: Embedder, settings: RetrieveSettings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings

    def retrieve(
        self, query: str, top_k: int | None = None, keyword_index: KeywordIndex | None = None
    ) -> tuple[list[ScoredPassage], Vectors]:
        """Best `top_k` passages for `query`, and the query vector (reused to score evidence).
        Pass `keyword_index` when the caller already holds the current one (saves a staleness check)."""
        k = top_k or self.settings.top_k
        qvec = self.embedder.embed_query(query)
        dense = self.store.dense_search(qvec, self.settings.candidates)
        keyword = (keyword_index or self.store.keyword_index()).search(query, self.settings.candidates)
        fused = reciprocal_rank_fusion([[p.id for p, _ in dense], [pid for pid, _ in keyword]], self.settings.rrf_k)
        best = sorted(fused, key=lambda pid: -fused[pid])[:k]

        dense_by_id = {p.id: (rank, p, sim) for rank, (p, sim) in enumerate(dense, start=1)}
        keyword_rank = {pid: rank for rank, (pid, _) in enumerate(keyword, start=1)}
        missing = [pid for pid in best if pid not in dense_by_id]
        fetched: dict[str, Passage] = {p.id: p for p in self.store.get(missing)}
        # Keyword-only hits get their cosine similarity too, so evidence scoring treats all alike.
        missing_vectors = self.store.vectors(missing)

        out = []
        for pid in best:
            if pid in dense_by_id:
                rank, passage, sim = dense_by_id[pid]
                d_rank: int | None = rank
            else:
                passage, d_rank = fetched[pid], None
                sim = float(missing_vectors[pid] @ qvec) if pid in missing_vectors else 0.0
            out.append(ScoredPassage(passage, fused[pid], d_rank, keyword_rank.get(pid), sim))
        return out, qvec
