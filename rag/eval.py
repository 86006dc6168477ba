"""`make eval`: quality on ../shared/eval/seeds_qa.jsonl, per question type, as eval/README.md defines it.

Each data set is indexed once into `.cache/eval/<hash of data and settings>` and reused after that.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.pipeline import Index
from rag.types import Answer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "eval"
CACHE = ROOT / ".cache" / "eval"


def overlaps_evidence(passage_text: str, evidence: list[str]) -> bool:
    """The passage contains an evidence string, or shares at least half of one as a single run."""
    for ev in evidence:
        if ev in passage_text:
            return True
        m = SequenceMatcher(None, passage_text, ev, autojunk=False).find_longest_match(0, len(passage_text), 0, len(ev))
        if m.size >= len(ev) / 2:
            return True
    return False


@dataclass
class QuestionResult:
    id: str
    type: str
    recall5: float | None  # None for unanswerable questions
    rr10: float | None
    correct: bool
    markers: int
    good_markers: int
    abstained: bool
    backend: str
    seconds: float


def score_question(q: dict[str, Any], a: Answer) -> QuestionResult:
    sources = set(q["sources"])
    names = [Path(sp.passage.path).name for sp in a.passages]
    recall5 = rr10 = None
    if sources:
        recall5 = float(sources <= set(names[:5]))
        rr10 = next((1.0 / i for i, n in enumerate(names[:10], start=1) if n in sources), 0.0)
    cited_sources = {Path(c.passage.path).name for c in a.citations}
    if q["type"] == "unanswerable":
        correct = a.abstained
    else:
        wanted = [s.lower() for s in q["answers"] + q.get("also_acceptable", [])]
        correct = any(w in a.text.lower() for w in wanted) and bool(cited_sources & sources)
    good = sum(overlaps_evidence(c.passage.text, q["evidence"]) for c in a.citations)
    return QuestionResult(
        q["id"],
        q["type"],
        recall5,
        rr10,
        correct,
        len(a.citations),
        good,
        a.abstained,
        a.backend,
        a.timings.get("total_s", 0.0),
    )


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def summarise(results: list[QuestionResult], backend: str = "extractive") -> dict[str, dict[str, Any]]:
    groups: dict[str, list[QuestionResult]] = defaultdict(list)
    for r in results:
        groups[r.type].append(r)
        groups["all"].append(r)
    table = {}
    for name, rs in groups.items():
        answerable = [r for r in rs if r.type != "unanswerable"]
        unanswerable = [r for r in rs if r.type == "unanswerable"]
        markers = sum(r.markers for r in answerable)
        table[name] = {
            "n": len(rs),
            "recall@5": _mean([r.recall5 for r in answerable if r.recall5 is not None]),
            "mrr@10": _mean([r.rr10 for r in answerable if r.rr10 is not None]),
            "answer": _mean([float(r.correct) for r in rs]),
            "citation_precision": sum(r.good_markers for r in answerable) / markers if markers else None,
            "abstain_when_unanswerable": _mean([float(r.abstained) for r in unanswerable]),
            "wrong_abstain": _mean([float(r.abstained) for r in answerable]),
            # Share of answered questions whose text the model wrote and the checker kept (no fallback).
            "model_kept": None
            if backend == "extractive"
            else _mean([float(r.backend != "extractive") for r in rs if not r.abstained]),
            "mean_s": _mean([r.seconds for r in rs]),
        }
    return table


def format_table(title: str, table: dict[str, dict[str, Any]]) -> str:
    cols = [
        "n",
        "recall@5",
        "mrr@10",
        "answer",
        "citation_precision",
        "abstain_when_unanswerable",
        "wrong_abstain",
        "model_kept",
        "mean_s",
    ]
    heads = [
        "type",
        "n",
        "R@5",
        "MRR@10",
        "answer",
        "cite-prec",
        "abstain(unans)",
        "wrong-abstain",
        "model-kept",
        "mean s",
    ]
    order = [*sorted(k for k in table if k != "all"), "all"]
    rows = [[k, *(_fmt(table[k][c]) for c in cols)] for k in order]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([f"\n{title}", line(heads), sep, *(line(r) for r in rows)])


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def cached_index(name: str, sources: list[Path], settings: Settings) -> Index:
    """An index of `sources` under .cache/eval, keyed by the data's bytes and the index settings."""
    h = hashlib.sha256(json.dumps(settings.index_identity(), sort_keys=True).encode())
    for src in sources:
        for f in sorted(src.rglob("*") if src.is_dir() else [src]):
            if f.is_file():
                h.update(f.name.encode() + f.read_bytes())
    folder = CACHE / f"{name}-{h.hexdigest()[:12]}"
    idx = Index(settings.model_copy(update={"index": folder}))
    idx.ingest(*sources, progress=True)  # a no-op when nothing changed; completes an interrupted build
    return idx


def eval_seeds(
    data: Path, backend: str, settings: Settings | None = None
) -> tuple[list[QuestionResult], dict[str, dict[str, Any]]]:
    settings = settings or Settings()
    # seeds_qa is written over ../seeds beside the eval folder (the same files as this repo's seeds/).
    seeds = data.parent / "seeds" if (data.parent / "seeds").is_dir() else ROOT / "seeds"
    idx = cached_index("seeds", [seeds], settings)
    questions = [json.loads(line) for line in (data / "seeds_qa.jsonl").read_text().splitlines() if line.strip()]
    results = [score_question(q, idx.ask(q["question"], backend=backend)) for q in questions]
    return results, summarise(results, backend)


def run_eval(data: str | None = None, backend: str = "extractive", out: str | None = None) -> int:
    folder = Path(data) if data else DEFAULT_DATA
    if not (folder / "seeds_qa.jsonl").exists():
        print(f"no eval data at {folder} (expected seeds_qa.jsonl): pass --data")
        return 2
    results, table = eval_seeds(folder, backend)
    print(format_table(f"seeds_qa ({len(results)} questions), backend={backend}", table))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(
            json.dumps({"backend": backend, "table": table, "questions": [r.__dict__ for r in results]}, indent=2)
        )
    return 0
