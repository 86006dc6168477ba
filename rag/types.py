"""The data that moves through the pipeline: plain, typed, immutable where it can be."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Article:
    """One cleaned news article. `id` hashes the cleaned text, so re-ingesting the same story is a no-op."""

    id: str
    path: str
    title: str
    source: str
    url: str
    published: str | None  # ISO date (YYYY-MM-DD) when known
    language: str
    text: str
    sha256: str  # of the raw bytes the article came from
    words: int = 0
    author: str = ""


@dataclass(frozen=True)
class Passage:
    """A chunk of an article; `start`/`end` are character offsets into `Article.text`."""

    id: str
    article_id: str
    text: str
    start: int
    end: int
    path: str = ""
    title: str = ""
    source: str = ""
    url: str = ""
    published: str | None = None
    language: str = ""


@dataclass(frozen=True)
class ScoredPassage:
    """A retrieved passage with its fused score and the ranks that produced it (None: not in that list)."""

    passage: Passage
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None
    dense_similarity: float | None = None


@dataclass(frozen=True)
class Citation:
    """Marker `[n]` in an answer: the passage and the exact sentence(s) quoted from it.

    `start`/`end` are character offsets of `quote` in the article text. A paraphrase supported by
    several sentences of the passage together quotes each of them: `spans` holds every quoted span as
    (start, end, text), the primary quote first; it is ((start, end, quote),) for a single quote.
    `verdict` says how the sentence citing it was judged: "verified" (the quote states it) or
    "supported" (a faithful paraphrase of the quoted spans); extractive quotes are "verified".
    """

    n: int
    passage: Passage
    quote: str
    start: int
    end: int
    # Other inputs with this article's text: identical copies and near-duplicates (syndicated copies),
    # each {"path", "title", "source", "url", "published", "similarity"}.
    also_published_by: tuple[dict[str, Any], ...] = ()
    spans: tuple[tuple[int, int, str], ...] = ()
    verdict: str = "verified"

    @property
    def quoted_spans(self) -> tuple[tuple[int, int, str], ...]:
        return self.spans or ((self.start, self.end, self.quote),)

    def to_json(self) -> dict[str, Any]:
        p = self.passage
        return {
            "n": self.n,
            "path": p.path,
            "title": p.title,
            "source": p.source,
            "url": p.url,
            "published": p.published,
            "language": p.language,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "spans": [{"start": s, "end": e, "text": t} for s, e, t in self.quoted_spans],
            "verdict": self.verdict,
            "also_published_by": list(self.also_published_by),
        }


@dataclass(frozen=True)
class Claim:
    """Who said what, where and when (filled by attribution extraction)."""

    speaker: str
    content: str
    citation: Citation
    cue: str = ""
    speaker_role: str = ""
    date: str | None = None  # as the text gives it ("on November 4"); the article's date is on the citation
    # For a "who claims" answer: "supports" (a claimant) or "counter" (a denial or counter-claim);
    # "" for the claims behind an ordinary answer's quotes.
    stance: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "speaker": self.speaker,
            "speaker_role": self.speaker_role,
            "cue": self.cue,
            "content": self.content,
            "date": self.date,
            "stance": self.stance,
            "citation": self.citation.n,
            "source": self.citation.passage.source,
            "published": self.citation.passage.published,
            "path": self.citation.passage.path,
        }


@dataclass(frozen=True)
class TimelinePoint:
    """One claim of a who-claims answer placed on a timeline (built by rag.answer.timeline): when, which
    side, who, and its source card `[n]`. `date` is the claim's own date when the text gives one, else its
    article's (`date_from` says which); None for a claim with neither, which is listed, never dropped."""

    n: int  # the citation marker of the claim: source card [n]
    stance: str  # "claims" or "other side"
    speaker: str
    claim: str  # the claim's words, shortened
    outlet: str
    date: dt.date | None
    date_from: str  # "claim", "article", or "" when undated
    date_text: str = ""  # the claim's own words for when ("November 4"), "" when it gives none
    speaker_role: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "date": self.date.isoformat() if self.date else None,
            "date_from": self.date_from,
            "date_text": self.date_text,
            "stance": self.stance,
            "speaker": self.speaker,
            "speaker_role": self.speaker_role,
            "claim": self.claim,
            "outlet": self.outlet,
        }


@dataclass(frozen=True)
class RemovedSentence:
    """A sentence of a model's answer that was not shown, and why (rag.answer.judgement's reasons)."""

    sentence: str
    reasons: tuple[str, ...]
    score: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"sentence": self.sentence, "reasons": list(self.reasons), "score": round(self.score, 4)}


@dataclass
class Answer:
    """The result of a question: text with `[n]` markers, the citations behind them, and how it was made."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    abstained: bool = False
    abstain_reason: str = ""
    backend: str = "extractive"
    fallback_reason: str = ""  # why a generated answer was replaced by the extractive one
    passages: list[ScoredPassage] = field(default_factory=list)  # what retrieval returned, best first
    timings: dict[str, float] = field(default_factory=dict)
    settings_hash: str = ""
    query: str = ""  # the text retrieval used: the question, or a follow-up rewritten with chat history
    # Outlet, date and language of each cited source ("[2] Aftonbladet, 5 November 2025, in Swedish").
    source_note: str = ""
    # Set when the question's language is not the answer's ("The question is in Swedish; the answer is
    # in English, the language of the articles it cites ...").
    language_note: str = ""
    # Sentences the model wrote that were not shown, with the reasons (a generated answer only).
    removed: list[RemovedSentence] = field(default_factory=list)
    # Set when the judge pass (rag.answer.judge_pass) failed or could not read its verdicts: the checker's stand.
    judge_note: str = ""
    # A who-claims answer's claims by date and side, one point per claim (rag.answer.timeline).
    timeline: list[TimelinePoint] = field(default_factory=list)

    @property
    def removed_note(self) -> str:
        """'1 sentence of the model's answer was removed: not supported by the passages it cites.' or ''."""
        n = len(self.removed)
        if not n or self.backend == "extractive":
            return ""
        was = "sentence of the model's answer was" if n == 1 else "sentences of the model's answer were"
        return f"{n} {was} removed: not supported by the passages cited."

    def to_json(self) -> dict[str, Any]:
        """The stable shape `rag ask --json` prints: scripts parse it."""
        return {
            "question": self.question,
            "text": self.text,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "backend": self.backend,
            "fallback_reason": self.fallback_reason,
            "citations": [c.to_json() for c in self.citations],
            "claims": [c.to_json() for c in self.claims],
            "timeline": [p.to_json() for p in self.timeline],
            "query": self.query,
            "source_note": self.source_note,
            "language_note": self.language_note,
            "removed": [r.to_json() for r in self.removed],
            "judge_note": self.judge_note,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "settings_hash": self.settings_hash,
            # What retrieval found, best first: for an abstention, the nearest passages to read.
            "passages": [
                {
                    "rank": i,
                    "path": sp.passage.path,
                    "title": sp.passage.title,
                    "score": round(sp.score, 4),
                    "start": sp.passage.start,
                    "end": sp.passage.end,
                    "text": sp.passage.text,
                }
                for i, sp in enumerate(self.passages, start=1)
            ],
        }


@dataclass(frozen=True)
class FileProblem:
    """A file ingest could not use, and why (one line for the user)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{display_path(self.path)}: {self.reason}"


def display_path(path: str) -> str:
    """A path as one printable line: bytes that are not UTF-8 (kept by Python as surrogate escapes) as
    \\xNN, and control characters such as a newline in a file name as escapes."""
    if any("\ud800" <= c <= "\udfff" for c in path):
        path = os.fsencode(path).decode("utf-8", "backslashreplace")
    if path.isprintable():
        return path
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in path)


@dataclass(frozen=True)
class Duplicate:
    """An input not stored on its own: an identical copy (similarity 1.0) or a near-duplicate of `of`."""

    location: str
    of: str  # the location of the stored article
    similarity: float

    def __str__(self) -> str:
        if self.similarity >= 1.0:
            return f"{self.location}: identical to {self.of}"
        return f"{self.location}: near-duplicate ({self.similarity:.0%} similar) of {self.of}, listed as also published"


@dataclass
class IngestReport:
    """What one ingest run did, per article-sized input (a file, or one record of a JSON export)."""

    new: list[str] = field(default_factory=list)  # locations stored as new articles
    updated: list[str] = field(default_factory=list)  # locations whose article was replaced
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    failed: list[FileProblem] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # locations removed (pruned, or `rag remove`)
    files: int = 0  # files looked at
    passages_added: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated or self.duplicates or self.removed)

    def summary(self, limit: int = 50) -> str:
        """A closing summary: counts, then one line per duplicate and per failure (at most `limit` each)."""
        line = (
            f"{len(self.new)} new, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.duplicates)} duplicate, {len(self.failed)} failed"
            + (f", {len(self.removed)} removed" if self.removed else "")
            + f"; {self.passages_added} passages added from {self.files} files in {self.seconds:.1f}s"
        )
        out = [line]
        for label, items in (("duplicate", self.duplicates), ("failed", self.failed), ("removed", self.removed)):
            out += [f"  {label}: {item}" for item in items[:limit]]
            if len(items) > limit:
                out.append(f"  ... and {len(items) - limit} more {label}")
        return "\n".join(out)
