"""The attribution extractor against PolNeAR's human annotations (eval/README.md).

The extractor runs directly on each annotated article of the split. A predicted (speaker, content) pair
matches an annotated one when the contents overlap by at least half of the shorter span and the
speakers share a word. The annotation marks the speaker's words in the text ("he", "who", "Trump"); a
prediction names its speaker by the words in the text and by the name they were resolved to, and
either may share the word.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.claims.attribution import ExtractedClaim, extract_claims
from rag.eval.common import format_table, read_jsonl

Ranges = tuple[tuple[int, int], ...]
# Words two speakers can share without naming the same one.
_FUNCTION_WORDS = {"the", "a", "an", "of", "and", "in", "for", "at", "to", "on", "s", "mr", "mrs", "ms", "dr"}


@dataclass(frozen=True)
class Attribution:
    speaker: str
    content: Ranges
    cue: str = ""


def _ranges(field: str) -> Ranges:
    """'209 236;91 186' -> ((209, 236), (91, 186)): brat's discontinuous spans."""
    return tuple((int(a), int(b)) for a, b in (part.split() for part in field.split(";")))


def read_annotations(path: Path) -> list[Attribution]:
    """Every `E` line of a brat .ann file with its Source and Content spans (Source may be absent)."""
    spans: dict[str, tuple[str, Ranges, str]] = {}
    links: list[dict[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if parts[0].startswith("T") and len(parts) >= 3:
            label, _, where = parts[1].partition(" ")
            spans[parts[0]] = (label, _ranges(where), parts[2])
        elif parts[0].startswith("E") and len(parts) >= 2:
            links.append(dict(item.split(":", 1) for item in parts[1].split()))
    out = []
    for link in links:
        source = spans.get(link.get("Source", ""))
        content = spans.get(link.get("Content", ""))
        cue = spans.get(link.get("Cue", ""))
        if content is None:
            continue
        out.append(Attribution(source[2] if source else "", content[1], cue[2] if cue else ""))
    return out


def _length(r: Ranges) -> int:
    return sum(b - a for a, b in r)


def _overlap(a: Ranges, b: Ranges) -> int:
    return sum(max(0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def speaker_words(speaker: str) -> set[str]:
    return {w for w in re.findall(r"[^\W_]+", speaker.lower()) if w not in _FUNCTION_WORDS}


def pair_matches(predicted: Attribution, gold: Attribution) -> bool:
    shorter = min(_length(predicted.content), _length(gold.content))
    if shorter == 0 or _overlap(predicted.content, gold.content) * 2 < shorter:
        return False
    return bool(speaker_words(predicted.speaker) & speaker_words(gold.speaker))


def as_attribution(claim: ExtractedClaim) -> Attribution:
    """The words in the text ("he", "who") and the speaker they were resolved to both name the speaker."""
    speaker = " ".join(dict.fromkeys([claim.speaker_mention, claim.speaker]))
    return Attribution(speaker, ((claim.content_start, claim.content_end),), claim.cue)


@dataclass
class ArticleScore:
    name: str
    predicted: int
    gold: int
    correct_predicted: int  # predictions matching some annotation
    found_gold: int  # annotations matched by some prediction


def split_articles(polnear: Path, split: str) -> list[str]:
    """Annotated article names of a split (who_said.jsonl says which split an article is in)."""
    names = {q["article"] for q in read_jsonl(polnear / "who_said.jsonl") if q["split"] == split}
    return sorted(n for n in names if (polnear / "annotations" / (Path(n).stem + ".ann")).exists())


def score_article(polnear: Path, name: str) -> ArticleScore:
    text = (polnear / "articles" / name).read_text(encoding="utf-8")
    gold = read_annotations(polnear / "annotations" / (Path(name).stem + ".ann"))
    claims = extract_claims(text)
    predicted = [as_attribution(c) for c in claims]
    correct = sum(any(pair_matches(p, g) for g in gold) for p in predicted)
    found = sum(any(pair_matches(p, g) for p in predicted) for g in gold)
    return ArticleScore(name, len(predicted), len(gold), correct, found)


def iter_scores(polnear: Path, split: str, limit: int | None = None) -> Iterator[ArticleScore]:
    for name in split_articles(polnear, split)[:limit]:
        yield score_article(polnear, name)


def eval_attribution(data: Path, split: str = "test", limit: int | None = None) -> dict[str, Any]:
    """Precision and recall of (speaker, content) pairs over the split's annotated articles."""
    t0 = time.perf_counter()
    scores = list(iter_scores(data / "polnear", split, limit))
    predicted = sum(s.predicted for s in scores)
    gold = sum(s.gold for s in scores)
    precision = sum(s.correct_predicted for s in scores) / predicted if predicted else 0.0
    recall = sum(s.found_gold for s in scores) / gold if gold else 0.0
    return {
        "articles": len(scores),
        "annotated": gold,
        "extracted": predicted,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "ms_per_article": 1000 * (time.perf_counter() - t0) / max(1, len(scores)),
    }


def attribution_table(title: str, by_split: dict[str, dict[str, Any]]) -> str:
    heads = ["split", "articles", "annotated", "extracted", "precision", "recall", "F1", "ms/article"]
    keys = ["articles", "annotated", "extracted", "precision", "recall", "f1", "ms_per_article"]
    return format_table(title, heads, [[split, *(row[k] for k in keys)] for split, row in by_split.items()])
