"""PolNeAR who_said: "Who said that ...?" over 1,008 political news articles (2016).

All articles are indexed; each question of the split is asked. Reported as eval/README.md says: Recall@5
of the question's article, and speaker accuracy (the answer names the speaker: the last word of the
annotated source, case-insensitive).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag.app.index import Index
from rag.config import Settings
from rag.eval.common import cached_index, first_rank, format_table, mean, rank_metrics, split_questions


@dataclass
class WhoSaidResult:
    id: str
    rank: int | None  # rank of the question's article among the top 10 passages' articles
    speaker_named: bool | None  # None when answers were not asked for
    seconds: float
    # Stricter: the answer's first listed claimant is the speaker (None: no claims listed, or the
    # annotated source is a pronoun, which names no one).
    first_claimant: bool | None = None


def polnear_index(data: Path, settings: Settings, progress: bool = True) -> Index:
    return cached_index("polnear", [data / "polnear" / "articles"], settings, progress)


def article_ids_by_name(idx: Index) -> dict[str, str]:
    """File name -> article id (an identical copy or a near-duplicate maps to the article kept for it)."""
    return {Path(path).name: aid for path, aid in idx.article_of_files().items()}


def load(
    data: Path, settings: Settings, split: str, limit: int | None = None
) -> tuple[Index, list[dict[str, Any]], Callable[[dict[str, Any]], str | None]]:
    """The index, the split's questions, and each question's gold article id (None: the article could not
    be ingested, which counts as a miss)."""
    idx = polnear_index(data, settings)
    by_name = article_ids_by_name(idx)
    questions = split_questions(data / "polnear" / "who_said.jsonl", split, limit)
    return idx, questions, lambda q: by_name.get(q["article"])


_PRONOUNS = {"he", "she", "they", "it", "i", "we", "you", "who", "which", "that", "his", "her", "their"}


def speaker_word(source: str) -> str:
    """The word an answer must contain to name the speaker: the last word of the annotated source."""
    words = re.findall(r"[^\W_]+(?:['’][^\W_]+)*", source)
    return words[-1].lower() if words else source.lower()


def eval_polnear(
    data: Path,
    split: str = "test",
    backend: str = "extractive",
    settings: Settings | None = None,
    answers: bool = True,
    limit: int | None = None,
) -> tuple[list[WhoSaidResult], dict[str, Any]]:
    idx, questions, gold_of = load(data, settings or Settings(), split, limit)
    results = []
    for q in questions:
        t0 = time.perf_counter()
        found = [sp.passage.article_id for sp in idx.search(q["question"], top_k=10)]
        named = first = None
        if answers:
            a = idx.ask(q["question"], backend=backend)
            word = speaker_word(q["source"])
            named = re.search(rf"\b{re.escape(word)}\b", a.text.lower()) is not None
            if a.claims and word not in _PRONOUNS:
                first = re.search(rf"\b{re.escape(word)}\b", a.claims[0].speaker.lower()) is not None
        gold = gold_of(q)
        rank = first_rank(found, gold) if gold else None
        results.append(WhoSaidResult(q["id"], rank, named, time.perf_counter() - t0, first))
    table: dict[str, Any] = {"n": len(results), **rank_metrics([r.rank for r in results])}
    table["speaker_accuracy"] = mean([float(r.speaker_named) for r in results if r.speaker_named is not None])
    table["first_claimant"] = mean([float(r.first_claimant) for r in results if r.first_claimant is not None])
    table["claims_answers"] = sum(r.first_claimant is not None for r in results)
    table["mean_s"] = mean([r.seconds for r in results])
    table["passages_indexed"] = idx.store.count()
    return results, table


def polnear_table(title: str, table: dict[str, Any]) -> str:
    heads = ["n", "article R@1", "article R@5", "R@10", "MRR@10", "speaker accuracy", "first claimant (n)",
             "mean s/question", "passages"]  # fmt: skip
    keys = ["n", "recall@1", "recall@5", "recall@10", "mrr@10", "speaker_accuracy", "first_claimant", "mean_s",
            "passages_indexed"]  # fmt: skip
    row = [table[k] for k in keys]
    if table["first_claimant"] is not None:
        row[6] = f"{table['first_claimant']:.3f} ({table['claims_answers']})"
    return format_table(title, heads, [row])


def as_json(results: list[WhoSaidResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
