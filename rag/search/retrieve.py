"""Hybrid retrieval: dense and BM25 candidates fused by weighted reciprocal rank fusion.

The weights, candidate depth and fusion constant were chosen on the RealTimeQA and PolNeAR dev splits
(`rag eval --tune`; the table is in docs/retrieval.md). A question asking for the latest news adds a third
ranking, the candidates by publication date, so recent articles move up without burying relevant ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.config import RetrieveSettings
from rag.store.chroma import Store
from rag.store.embed import Embedder, Vectors
from rag.store.keyword import KeywordIndex, passage_terms, query_terms, tokenize
from rag.text.variants import Variants
from rag.types import Passage, ScoredPassage

# Words asking for the present state of things: "latest", "now", "currently" ... and the same in Swedish,
# German, Ukrainian and Russian. Not "this week" or "recently": in RealTimeQA's dev questions those mean the
# week the question was asked in, and ranking the newest articles first for them cost 0.15 of MRR@10.
_RECENT = re.compile(
    r"\b(latest|newest|most recent|now|currently|at the moment|at present|so far|"
    r"senaste|nu|just nu|aktuell|neueste|jetzt|derzeit|"
    r"зараз|наразі|останні|сейчас|последние)\b",
    re.IGNORECASE,
)


def asks_for_recent(question: str) -> bool:
    """Does the question ask about the present state of things ("latest", "now", "currently")?"""
    return bool(_RECENT.search(question))


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int, weights: Sequence[float] = ()
) -> dict[str, float]:
    """score(id) = sum over rankings of weight / (k + rank), rank starting at 1 (weights default to 1)."""
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        w = weights[i] if i < len(weights) else 1.0
        if w == 0:
            continue  # a ranking switched off adds no candidates either
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] = scores.get(pid, 0.0) + w / (k + rank)
    return scores


def spread_over_articles(ranked: Sequence[str], article_of: Callable[[str], str], per_article: int) -> list[str]:
    """`ranked` reordered so that an article's passages beyond its best `per_article` come after every other
    article's (news answers are spread over outlets; five passages of one story crowd out the second
    source). Order is otherwise kept. `per_article` 0 keeps the order as is."""
    if per_article <= 0:
        return list(ranked)
    seen: dict[str, int] = {}
    first: list[str] = []
    rest: list[str] = []
    for pid in ranked:
        article = article_of(pid)
        seen[article] = seen.get(article, 0) + 1
        (first if seen[article] <= per_article else rest).append(pid)
    return first + rest


def dense_query(query: str, keyword_index: KeywordIndex) -> str:
    """The text embedded for dense search: the question, plus the other spellings of names in it that the
    embedder cannot know are the same place or person ("Myrnohrad" -> "(Dimitrov)", its Soviet name),
    if the indexed articles use them. (Every listed spelling, Swedish and German exonyms included, cost
    RealTimeQA dev questions naming Russia or Ukraine 0.02 of MRR@10; only those in use, nothing.)"""
    in_use = keyword_index.name_words
    alternatives = Variants.load().alternatives(query, lambda name: all(w in in_use for w in tokenize(name)))
    return f"{query} ({', '.join(alternatives)})" if alternatives else query


def by_recency(passages: Sequence[Passage]) -> list[str]:
    """Passage ids, newest publication date first; undated passages are left out (no evidence of recency)."""
    dated = [p for p in passages if p.published]
    return [p.id for p in sorted(dated, key=lambda p: str(p.published)[:10], reverse=True)]


def quotes_passage(query: str, passage_text: str, min_terms: int, share: float) -> bool:
    """Does the question quote the passage: at least `min_terms` distinct words, `share` of them in it?"""
    wanted = set(query_terms(query))
    return len(wanted) >= min_terms and len(wanted & set(passage_terms(passage_text))) >= share * len(wanted)


def _article_of(passage_id: str) -> str:
    return passage_id.rsplit(":", 1)[0]  # passage ids are "<article id>:<n>"


class HybridRetriever:
    """Dense (Chroma) + keyword (BM25) search, fused; every passage carries its article's metadata."""

    def __init__(self, store: Store, embedder: Embedder, settings: RetrieveSettings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings

    def _keyword_weight(
        self, query: str, keyword: list[tuple[str, float]], dense: list[tuple[Passage, float]]
    ) -> float:
        """BM25's weight for this question: raised to the dense ranking's when the question quotes its
        best passage (a verbatim quotation is what keyword search is surest about)."""
        s = self.settings
        if not keyword or s.quote_share >= 1.0 + 1e-9:
            return s.keyword_weight
        top = keyword[0][0]
        text = next((p.text for p, _ in dense if p.id == top), None)
        if text is None:
            got = self.store.get([top])
            text = got[0].text if got else ""
        if quotes_passage(query, text, s.quote_min_terms, s.quote_share):
            return max(s.keyword_weight, s.dense_weight)
        return s.keyword_weight

    def retrieve(
        self,
        query: str,
        top_k: int | None = None,
        keyword_index: KeywordIndex | None = None,
        allowed_articles: set[str] | None = None,
        recent: bool | None = None,
    ) -> tuple[list[ScoredPassage], Vectors]:
        """Best `top_k` passages for `query`, and the query vector (reused to score evidence).

        `keyword_index`: the current one when the caller holds it (saves a staleness check).
        `allowed_articles`: search only these articles (resolved filters). `recent`: prefer newer articles
        (default: when the query asks for the latest news)."""
        s = self.settings
        k = top_k or s.top_k
        keyword_index = keyword_index or self.store.keyword_index()
        qvec = self.embedder.embed_query(dense_query(query, keyword_index) if s.expand_names else query)
        dense = self.store.dense_search(qvec, s.candidates, allowed_articles)
        keyword = keyword_index.search(query, s.candidates, allowed_articles)
        rankings: list[list[str]] = [[p.id for p, _ in dense], [pid for pid, _ in keyword]]
        weights = [s.dense_weight, self._keyword_weight(query, keyword, dense)]

        dense_by_id = {p.id: (rank, p, sim) for rank, (p, sim) in enumerate(dense, start=1)}
        keyword_rank = {pid: rank for rank, (pid, _) in enumerate(keyword, start=1)}
        fetched: dict[str, Passage] = {}
        if recent if recent is not None else asks_for_recent(query):
            # Dates live on the passages: fetch the keyword-only candidates too, then rank all by date.
            fetched = {p.id: p for p in self.store.get([pid for pid in keyword_rank if pid not in dense_by_id])}
            candidates = [p for _, p, _ in dense_by_id.values()] + list(fetched.values())
            rankings.append(by_recency(candidates))
            weights.append(s.recency_weight)
        fused = reciprocal_rank_fusion(rankings, s.rrf_k, weights)
        ranked = sorted(fused, key=lambda pid: -fused[pid])
        best = spread_over_articles(ranked, _article_of, s.per_article)[:k]

        missing = [pid for pid in best if pid not in dense_by_id]
        # Keyword-only hits get their cosine similarity too, so evidence scoring treats all alike.
        got, missing_vectors = self.store.get_with_vectors(missing)
        fetched.update({p.id: p for p in got})

        out = []
        for pid in best:
            if pid in dense_by_id:
                rank, passage, sim = dense_by_id[pid]
                d_rank: int | None = rank
            elif pid in fetched:
                passage, d_rank = fetched[pid], None
                sim = float(missing_vectors[pid] @ qvec) if pid in missing_vectors else 0.0
            else:
                continue  # gone from Chroma since the keyword index was built (a writer is at work)
            out.append(ScoredPassage(passage, fused[pid], d_rank, keyword_rank.get(pid), sim))
        return out, qvec
