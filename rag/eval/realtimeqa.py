"""RealTimeQA: news quiz questions over 4,909 dated passages (CNN, THE WEEK, USA Today).

Every passage is indexed as an article (passages.jsonl ingests as is); each question of the split is
asked. Reported as eval/README.md says: Recall@1/5/10 and MRR@10 of the gold `passage_id`, and the share
of answers containing the correct choice's text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rag.app.index import Index
from rag.config import Settings
from rag.eval.common import cached_index, first_rank, format_table, mean, rank_metrics, split_questions
from rag.ingest.indexer import ledger_path
from rag.ingest.ledger import existing_ledger
from rag.search.filters import Filters


@dataclass
class RtqaResult:
    id: str
    rank: int | None  # rank of the gold passage's article in the top 10, None when absent
    answer_contains: bool | None  # None when answers were not asked for
    seconds: float
    rank_in_week: int | None = None  # the same, searching only the week up to the question's date


def rtqa_index(data: Path, settings: Settings, progress: bool = True) -> Index:
    return cached_index("realtimeqa", [data / "realtimeqa" / "passages.jsonl"], settings, progress)


def gold_articles(idx: Index) -> dict[str, str]:
    """Record id -> the article it became. A passage that is a near-duplicate of another maps to the
    article kept for both, so finding that article counts as finding it."""
    return {loc.rsplit("#", 1)[1]: aid for loc, aid in idx.article_of_locations().items() if "#" in loc}


def load(
    data: Path, settings: Settings, split: str, limit: int | None = None
) -> tuple[Index, list[dict[str, Any]], Callable[[dict[str, Any]], str | None]]:
    """The index, the split's questions, and each question's gold article id (None: the record could not
    be ingested, which counts as a miss)."""
    idx = rtqa_index(data, settings)
    gold = gold_articles(idx)
    questions = split_questions(data / "realtimeqa" / "questions.jsonl", split, limit)
    return idx, questions, lambda q: gold.get(q["passage_id"])


def eval_realtimeqa(
    data: Path,
    split: str = "test",
    backend: str = "extractive",
    settings: Settings | None = None,
    answers: bool = True,
    limit: int | None = None,
) -> tuple[list[RtqaResult], dict[str, Any]]:
    idx, questions, gold_of = load(data, settings or Settings(), split, limit)
    results = []
    for q in questions:
        t0 = time.perf_counter()
        found = [sp.passage.article_id for sp in idx.search(q["question"], top_k=10)]
        contains = None
        if answers:
            a = idx.ask(q["question"], backend=backend)
            contains = q["answer"].lower() in a.text.lower()
        seconds = time.perf_counter() - t0
        gold_article = gold_of(q)
        rank = first_rank(found, gold_article) if gold_article else None
        # The quiz is dated: what a user filtering to that week (`--since`/`--until`) would get.
        asked = date.fromisoformat(q["date"])
        week = Filters(since=asked - timedelta(days=6), until=asked)
        in_week = [sp.passage.article_id for sp in idx.search(q["question"], top_k=10, filters=week)]
        rank_in_week = first_rank(in_week, gold_article) if gold_article else None
        results.append(RtqaResult(q["id"], rank, contains, seconds, rank_in_week))
    table = summarise(results, idx)
    table["in_week"] = rank_metrics([r.rank_in_week for r in results])
    # A gold passage stored as a near-duplicate of another is found through the article kept for both:
    # say how many questions that concerns, since it makes the figures a little more lenient.
    with existing_ledger(ledger_path(idx.settings)) as ledger:
        kinds = ledger.location_kinds() if ledger else {}
    by_record = {loc.rsplit("#", 1)[1]: kind for loc, kind in kinds.items() if "#" in loc}
    table["gold_not_stored_alone"] = sum(by_record.get(q["passage_id"], "stored") != "stored" for q in questions)
    return results, table


def summarise(results: list[RtqaResult], idx: Index) -> dict[str, Any]:
    table: dict[str, Any] = {"n": len(results), **rank_metrics([r.rank for r in results])}
    answered = [float(r.answer_contains) for r in results if r.answer_contains is not None]
    table["answer_contains"] = mean(answered)
    table["mean_s"] = mean([r.seconds for r in results])
    table["passages_indexed"] = idx.store.count()
    return table


def rtqa_table(title: str, table: dict[str, Any]) -> str:
    """Row 1: the questions as asked. Row 2: the same, searching only the week up to each question's date
    (a date filter, as a user asking about that week would set), for comparison."""
    heads = ["search", "n", "R@1", "R@5", "R@10", "MRR@10", "answer contains", "mean s/question", "passages"]
    keys = ["recall@1", "recall@5", "recall@10", "mrr@10"]
    rows = [
        ["all articles", table["n"], *(table[k] for k in keys), table["answer_contains"], table["mean_s"]],
        ["question's week (date filter)", table["n"], *(table["in_week"][k] for k in keys), None, None],
    ]
    rows[0].append(table["passages_indexed"])
    rows[1].append(None)
    note = f"\n(gold passages stored as a near-duplicate of another: {table['gold_not_stored_alone']})"
    return format_table(title, heads, rows) + note


def as_json(results: list[RtqaResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
