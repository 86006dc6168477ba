"""seeds_qa.jsonl over the five seed articles: retrieval, answers, citations and abstention per question
type, as eval/README.md defines them."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.eval.common import ROOT, cached_index, format_table, mean, read_jsonl
from rag.text.sentences import split_sentences
from rag.types import Answer, ScoredPassage


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
    # Attribution questions: a claim of the answer names the expected speaker (None for other types).
    claim_speaker: bool | None = None
    other_side_markers: int = 0  # markers citing denials and counter-claims
    # A model's answer: the sentences it got past the checker (to be read: a false one is a defect),
    # and how many it wrote that were removed.
    model_sentences: tuple[str, ...] = ()
    model_removed: int = 0


def score_question(q: dict[str, Any], a: Answer, retrieved: list[ScoredPassage] | None = None) -> QuestionResult:
    """Scores of one answer; retrieval is judged on `retrieved` (the top 10) when given, else on the
    passages the answer read."""
    sources = set(q["sources"])
    names = [Path(sp.passage.path).name for sp in (retrieved if retrieved is not None else a.passages)]
    recall5 = rr10 = None
    if sources:
        recall5 = float(sources <= set(names[:5]))
        rr10 = next((1.0 / i for i, n in enumerate(names[:10], start=1) if n in sources), 0.0)
    cited_sources = {Path(c.passage.path).name for c in a.citations}
    wanted = [s.lower() for s in q["answers"] + q.get("also_acceptable", [])]
    if q["type"] == "unanswerable":
        correct = a.abstained
    else:
        correct = any(w in a.text.lower() for w in wanted) and bool(cited_sources & sources)
    # Markers of the answer itself; a "who claims" answer also cites the other side (denials), whose
    # passages by design hold no evidence for the answer: counted apart.
    other = {c.citation.n for c in a.claims if c.stance == "counter"}
    answer_citations = [c for c in a.citations if c.n not in other]
    good = sum(overlaps_evidence(c.passage.text, q["evidence"]) for c in answer_citations)
    claim_speaker = None
    if q["type"] == "attribution" and q["question"].lower().startswith("who "):  # the answers are speakers
        claim_speaker = any(w in c.speaker.lower() for c in a.claims for w in wanted)
    return QuestionResult(
        q["id"],
        q["type"],
        recall5,
        rr10,
        correct,
        len(answer_citations),
        good,
        a.abstained,
        a.backend,
        a.timings.get("total_s", 0.0),
        claim_speaker,
        len(other),
        _model_sentences(a),
        len(a.removed),
    )


def _model_sentences(a: Answer) -> tuple[str, ...]:
    """The sentences of a model-written answer, each with its markers and how it was judged."""
    if a.backend == "extractive" or a.abstained:
        return ()
    verdict = {c.n: c.verdict for c in a.citations}
    out = []
    for span in split_sentences(a.text):
        sentence = a.text[span.start : span.end]
        marks = [int(n) for n in re.findall(r"\[(\d+)\]", sentence)]
        how = "/".join(dict.fromkeys(verdict.get(n, "?") for n in marks)) or "uncited"
        out.append(f"{sentence} ({how})")
    return tuple(out)


def model_sentences_report(results: list[QuestionResult], backend: str) -> str:
    """Every sentence the model got past the checker, by question, and the count removed."""
    if backend == "extractive":
        return ""
    kept = [(r.id, s) for r in results for s in r.model_sentences]
    removed = sum(r.model_removed for r in results)
    lines = [f"\nSentences the {backend} model got past the checker: {len(kept)} ({removed} removed)"]
    lines += [f"  {qid}: {s}" for qid, s in kept] or ["  (none: every answer is the marked extractive fallback)"]
    return "\n".join(lines)


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
            "recall@5": mean([r.recall5 for r in answerable if r.recall5 is not None]),
            "mrr@10": mean([r.rr10 for r in answerable if r.rr10 is not None]),
            "answer": mean([float(r.correct) for r in rs]),
            "citation_precision": sum(r.good_markers for r in answerable) / markers if markers else None,
            "abstain_when_unanswerable": mean([float(r.abstained) for r in unanswerable]),
            "wrong_abstain": mean([float(r.abstained) for r in answerable]),
            "other_side_markers": sum(r.other_side_markers for r in rs),
            "claim_speaker": mean([float(r.claim_speaker) for r in rs if r.claim_speaker is not None]),
            # Share of answered questions whose text the model wrote and the checker kept (no fallback).
            "model_kept": None
            if backend == "extractive"
            else mean([float(r.backend != "extractive") for r in rs if not r.abstained]),
            "mean_s": mean([r.seconds for r in rs]),
        }
    return table


COLUMNS = [
    ("n", "n"),
    ("recall@5", "R@5"),
    ("mrr@10", "MRR@10"),
    ("answer", "answer"),
    ("citation_precision", "cite-prec"),
    ("abstain_when_unanswerable", "abstain(unans)"),
    ("wrong_abstain", "wrong-abstain"),
    ("claim_speaker", "claim-speaker"),
    ("other_side_markers", "other-side markers"),
    ("model_kept", "model-kept"),
    ("mean_s", "mean s"),
]


def seeds_table(title: str, table: dict[str, dict[str, Any]]) -> str:
    order = [*sorted(k for k in table if k != "all"), "all"]
    rows = [[k, *(table[k][c] for c, _ in COLUMNS)] for k in order]
    return format_table(title, ["type", *(h for _, h in COLUMNS)], rows)


def eval_seeds(
    data: Path, backend: str, settings: Settings | None = None
) -> tuple[list[QuestionResult], dict[str, dict[str, Any]]]:
    settings = settings or Settings()
    # seeds_qa is written over ../seeds beside the eval folder (the same files as this repo's seeds/).
    seeds = data.parent / "seeds" if (data.parent / "seeds").is_dir() else ROOT / "seeds"
    idx = cached_index("seeds", [seeds], settings)
    questions = read_jsonl(data / "seeds_qa.jsonl")
    results = [
        score_question(q, idx.ask(q["question"], backend=backend), idx.search(q["question"], top_k=10))
        for q in questions
    ]
    return results, summarise(results, backend)
