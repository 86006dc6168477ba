"""FaithBench: does the citation checker keep what is true in real LLM output, and remove what is not?

750 summaries by ten LLMs with human-marked unfaithful spans (../shared/eval/faithbench/, CC BY-NC-SA:
read here, never copied into the package). Following eval/README.md: the source is one passage, each
summary sentence cites it as [1] and goes through `CitationChecker` as a model's sentence would.
Sentence labels: consistent (no annotation overlaps it), unwanted (an `Unwanted` one does), other
(only Benign / Questionable ones). A summary is hallucinated when any annotation is `Unwanted`.

`--tune` (dev only) fits the judgement's logistic weights and prints the threshold curve.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answer.compose import CitationChecker
from rag.answer.judgement import MIN_COVERAGE, Judgement
from rag.answer.support_checks import is_lead_in
from rag.eval.common import format_table, split_questions
from rag.text.sentences import split_sentences
from rag.types import Passage, ScoredPassage

SMALL_OPEN = (
    "meta-llama/Meta-Llama-3.1-8B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "microsoft/Phi-3-mini-4k-instruct",
)
DETECTORS = ("gpt_4o", "gpt-4-turbo", "gpt-3.5-turbo", "hhem-2.1", "hhem-2.1-english", "trueteacher", "true_nli")


@dataclass(frozen=True)
class JudgedSentence:
    sample: str
    writer: str
    label: str  # consistent | unwanted | other
    sentence: str
    judgement: Judgement


def path_of(folder: Path) -> Path:
    return folder / "faithbench" / "samples.jsonl"


def _unwanted(annotation: dict[str, Any]) -> bool:
    return any(label.startswith("Unwanted") for label in annotation["label"])


def sentence_label(start: int, end: int, annotations: Sequence[dict[str, Any]]) -> str:
    over = [a for a in annotations if a.get("start") is not None and a["start"] < end and start < a["end"]]
    if not over:
        return "consistent"
    return "unwanted" if any(_unwanted(a) for a in over) else "other"


def source_passage(sample: dict[str, Any]) -> Passage:
    """A sample's source as the one passage its summary cites (FaithBench's sources are English)."""
    text = sample["source"]
    return Passage(id=sample["id"], article_id=sample["id"], text=text, start=0, end=len(text), language="en")


def split_samples(folder: Path, split: str) -> list[dict[str, Any]]:
    return split_questions(path_of(folder), split)


def judge_samples(samples: Iterable[dict[str, Any]]) -> list[JudgedSentence]:
    out = []
    for s in samples:
        checker = CitationChecker([ScoredPassage(source_passage(s), 1.0)])
        for span in split_sentences(s["summary"]):
            text = s["summary"][span.start : span.end]
            assessed = checker.assess(f"{text} [1]")
            if assessed is None:
                continue
            label = sentence_label(span.start, span.end, s["annotations"])
            out.append(JudgedSentence(s["id"], s["summarizer"], label, text, assessed.judgement))
    return out


def with_other_sources(samples: Sequence[dict[str, Any]], shift: int = 5) -> list[dict[str, Any]]:
    """Each summary paired with the source of another story (a wrong citation): every sentence of it
    should be removed. FaithBench alone holds only on-topic summaries, so without these negatives the
    calibration would not learn that words missing from the quotes matter."""
    sources = sorted({s["source"] for s in samples})
    other = {src: sources[(i + shift) % len(sources)] for i, src in enumerate(sources)}
    return [{**s, "id": s["id"] + "~other", "source": other[s["source"]], "annotations": []} for s in samples]


def _share(xs: Sequence[bool]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def sentence_row(name: str, judged: Sequence[JudgedSentence]) -> list[Any]:
    cons = [j.judgement for j in judged if j.label == "consistent"]
    statements = [j.judgement for j in judged if j.label == "consistent" and not is_lead_in(j.sentence)]
    bad = [j.judgement for j in judged if j.label == "unwanted"]
    return [
        name,
        len(cons),
        _share([j.kept for j in cons]),
        _share([j.kept for j in statements]),
        _share([j.verdict == "verified" for j in cons]),
        len(bad),
        _share([j.verdict == "verified" for j in bad]),
        _share([j.verdict == "supported" for j in bad]),
        _share([j.verdict == "removed" for j in bad]),
    ]


SENTENCE_HEADS = [
    "writer", "consistent", "kept", "kept (no lead-ins)", "as verified",
    "unwanted", "shown verified", "shown supported", "removed",
]  # fmt: skip


def sentence_table(judged: Sequence[JudgedSentence]) -> list[list[Any]]:
    writers = sorted({j.writer for j in judged})
    rows = [sentence_row(w.split("/")[-1], [j for j in judged if j.writer == w]) for w in writers]
    rows.append(sentence_row("four small open models", [j for j in judged if j.writer in SMALL_OPEN]))
    rows.append(sentence_row("all", judged))
    return rows


def balanced_accuracy(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    """Mean of the recall of both classes; pairs are (predicted consistent, truly consistent)."""
    pos = [p for p, t in pairs if t]
    neg = [not p for p, t in pairs if not t]
    if not pos or not neg:
        return None
    return (sum(pos) / len(pos) + sum(neg) / len(neg)) / 2


def summary_rows(samples: Sequence[dict[str, Any]], judged: Sequence[JudgedSentence]) -> list[list[Any]]:
    truth = {s["id"]: not any(_unwanted(a) for a in s["annotations"]) for s in samples}
    removed = {j.sample for j in judged if not j.judgement.kept}
    ours = balanced_accuracy([(s not in removed, t) for s, t in truth.items()])
    rows: list[list[Any]] = [["this checker (faithful: every sentence kept)", ours]]
    for d in DETECTORS:
        stored = [(s["detectors"][d], truth[s["id"]]) for s in samples if s["detectors"].get(d) is not None]
        rows.append([f"{d} (stored)", balanced_accuracy([(float(v) >= 0.5, t) for v, t in stored])])
    return rows


def eval_faithbench(folder: Path, split: str) -> dict[str, Any]:
    samples = split_samples(folder, split)
    t0 = time.perf_counter()
    judged = judge_samples(samples)
    seconds = time.perf_counter() - t0
    wrong = judge_samples(with_other_sources(samples))
    return {
        "wrong_source_kept": _share([j.judgement.kept for j in wrong]),
        "wrong_source_sentences": len(wrong),
        "split": split,
        "summaries": len(samples),
        "sentences": len(judged),
        "ms_per_sentence": 1000 * seconds / max(1, len(judged)),
        "sentence_table": sentence_table(judged),
        "summary_table": summary_rows(samples, judged),
        "judged": [{"id": j.sample, "writer": j.writer, "label": j.label, **j.judgement.to_json()} for j in judged],
    }


def print_tables(result: dict[str, Any]) -> None:
    title = (
        f"FaithBench {result['split']} ({result['summaries']} summaries, {result['sentences']} sentences, "
        f"{result['ms_per_sentence']:.1f} ms/sentence): share of sentences by verdict"
    )
    print(format_table(title, SENTENCE_HEADS, result["sentence_table"]), flush=True)
    print(
        f"Each summary against another story's source (a wrong citation): {result['wrong_source_kept']:.3f} of "
        f"{result['wrong_source_sentences']} sentences kept (should be 0).",
        flush=True,
    )
    print(
        format_table(
            f"FaithBench {result['split']}: summary-level balanced accuracy",
            ["detector", "balanced accuracy"],
            result["summary_table"],
        ),
        flush=True,
    )


# --- tuning on dev -------------------------------------------------------------------------------


# The sign each soft feature's weight may take: more coverage never lowers the score, more words the
# quotes lack never raise it (FaithBench's on-topic summaries alone would let it learn otherwise).
SIGNS = (1, 1, 1, -1, -1, -1)


def fit_logistic(xs: Sequence[Sequence[float]], ys: Sequence[int], l2: float = 0.01, steps: int = 3000) -> list[float]:
    """Weights then intercept of a logistic regression, balanced classes, by projected gradient descent
    (numpy): each weight kept to its sign in SIGNS."""
    import numpy as np

    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    x = np.hstack([x, np.ones((len(x), 1))])
    pos = max(1.0, float(y.sum()))
    neg = max(1.0, float(len(y) - y.sum()))
    weight = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * neg))
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ ((p - y) * weight) / len(y) + l2 * np.r_[w[:-1], 0.0]
        w -= 1.0 * grad
        w[:-1] = np.where(np.asarray(SIGNS) * w[:-1] < 0, 0.0, w[:-1])
    return [float(v) for v in w]


def _refit(j: Judgement, weights: Sequence[float], threshold: float) -> str:
    """The verdict `j` would get with other weights and threshold (hard checks and quotes as they are)."""
    if j.hard_failure or not j.features:
        return "removed"
    if j.verdict == "verified":
        return "verified"
    if j.features[0] < MIN_COVERAGE or (j.verdict == "removed" and j.score == 0.0):
        return "removed"  # too few words quoted (rag.answer.judgement.enough_words)
    z = weights[-1] + sum(w * x for w, x in zip(weights[:-1], j.features, strict=True))
    return "supported" if 1 / (1 + math.exp(-z)) >= threshold else "removed"


def curve(
    judged: Sequence[JudgedSentence],
    weights: Sequence[float],
    thresholds: Sequence[float],
    wrong: Sequence[JudgedSentence] = (),
) -> list[list[Any]]:
    """At each supported-score threshold: consistent kept (all; four small open models), unwanted shown
    as verified, unwanted removed, the summary-level balanced accuracy (a summary passes when every
    sentence is kept), and the sentences kept against another story's source (`wrong`)."""
    rows = []
    for t in thresholds:
        verdicts = [_refit(j.judgement, weights, t) for j in judged]
        cons = [v != "removed" for j, v in zip(judged, verdicts, strict=True) if j.label == "consistent"]
        claims = [
            v != "removed" for j, v in zip(judged, verdicts, strict=True)
            if j.label == "consistent" and not is_lead_in(j.sentence)
        ]  # fmt: skip
        small = [
            v != "removed" for j, v in zip(judged, verdicts, strict=True)
            if j.label == "consistent" and j.writer in SMALL_OPEN
        ]  # fmt: skip
        bad = [v for j, v in zip(judged, verdicts, strict=True) if j.label == "unwanted"]
        passed: dict[str, bool] = {}
        truth: dict[str, bool] = {}
        for j, v in zip(judged, verdicts, strict=True):
            passed[j.sample] = passed.get(j.sample, True) and v != "removed"
            truth[j.sample] = truth.get(j.sample, True) and j.label != "unwanted"
        ba = balanced_accuracy([(passed[s], truth[s]) for s in passed])
        other = [_refit(j.judgement, weights, t) != "removed" for j in wrong]
        rows.append([t, _share(cons), _share(claims), _share(small), _share([v == "verified" for v in bad]),
                     _share([v == "removed" for v in bad]), ba, _share(other)])  # fmt: skip
    return rows


def tune(folder: Path) -> dict[str, Any]:
    samples = split_samples(folder, "dev")
    judged = judge_samples(samples)
    wrong = judge_samples(with_other_sources(samples))
    train = [j for j in judged if j.label != "other"] + wrong
    train = [
        j for j in train
        if j.judgement.features and not j.judgement.hard_failure and j.judgement.features[0] >= MIN_COVERAGE
        and not (j.judgement.verdict == "removed" and j.judgement.score == 0.0)
    ]  # fmt: skip
    labels = [int(j.label == "consistent" and not j.sample.endswith("~other")) for j in train]
    weights = fit_logistic([j.judgement.features for j in train], labels)
    rows = curve(judged, weights, [round(0.2 + 0.02 * i, 2) for i in range(16)], wrong)
    print("FaithBench dev: fitted weights (features of rag.answer.support_checks.soft_features, then intercept):")
    print("  " + ", ".join(f"{w:.3f}" for w in weights))
    heads = ["threshold", "consistent kept", "kept (no lead-ins)", "kept (4 small)",
             "unwanted shown verified", "unwanted removed",
             "summary balanced acc.", "wrong source: kept"]  # fmt: skip
    print(format_table("FaithBench dev: trade-off by supported-score threshold", heads, rows), flush=True)
    return {"weights": weights, "curve": rows}
