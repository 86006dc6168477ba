"""From ranked passages to an Answer whose every sentence is backed by a quoted passage.

Citations are code's job: the model's `[n]` markers are parsed, markers that point to no passage are
dropped, each sentence must be supported by a passage it cites (its numbers verbatim, most of its
words), unsupported or uncited sentences are removed, and when nothing survives the extractive answer
is returned instead, marked as a fallback. The model may be wrong in silence, never wrong in print.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from llama_index.core.llms import LLM, ChatMessage, MessageRole

from rag.evidence import Evidence
from rag.ingest.chunk import split_sentences
from rag.prompts import load_prompt, render
from rag.support import TermSet, content_terms, coverage, supports
from rag.types import Answer, Citation, Passage, ScoredPassage

NOT_FOUND_TEXT = "Not found in the indexed articles."
# Share of a generated sentence's words that its cited passage must contain (numbers: all of them).
MIN_SUPPORT = 0.6
# An extractive answer takes up to this many sentences, each within this share of the best score.
EXTRACTIVE_SENTENCES = 2
EXTRACTIVE_RELATIVE = 0.9

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_PARTIAL_MARKER = re.compile(r"\[[\d,;\s]*\]?")
# "… Pokrovsk. [1] Next" -> "… Pokrovsk [1]. Next": a marker after the full stop belongs to the sentence before.
_MARKER_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)")


def strip_markers(text: str) -> tuple[str, list[int]]:
    """The sentence without its `[n]` markers, and the numbers they held, in order."""
    found: list[int] = []
    for m in _MARKERS.finditer(text):
        found.extend(int(n) for n in re.split(r"[,;\s]+", m.group(1)) if n)
    return _MARKERS.sub("", text).strip(), found


def format_passages(passages: list[ScoredPassage]) -> str:
    return "\n\n".join(
        render(
            "passage",
            n=i,
            title=sp.passage.title,
            source=sp.passage.source or "unknown",
            published=sp.passage.published or "unknown",
            text=sp.passage.text,
        ).strip()
        for i, sp in enumerate(passages, start=1)
    )


def answer_messages(question: str, passages: list[ScoredPassage]) -> list[ChatMessage]:
    """System rules plus the numbered passages and the question, from the templates in prompts/."""
    return [
        ChatMessage(role=MessageRole.SYSTEM, content=load_prompt("system")),
        ChatMessage(
            role=MessageRole.USER, content=render("answer", passages=format_passages(passages), question=question)
        ),
    ]


def best_quote(passage: Passage, claim: str) -> tuple[str, int, int]:
    """The sentence of `passage` that shares most words with `claim`, with its article offsets."""
    terms = content_terms(claim)
    best: tuple[float, int, int] | None = None
    for span in split_sentences(passage.text, offset=passage.start):
        sentence = passage.text[span.start - passage.start : span.end - passage.start]
        score = coverage(terms, TermSet(sentence))
        if best is None or score > best[0]:
            best = (score, span.start, span.end)
    if best is None:
        return passage.text, passage.start, passage.end
    _, start, end = best
    return passage.text[start - passage.start : end - passage.start], start, end


@dataclass
class _Citer:
    """Numbers citations in order of first use and keeps one Citation per (passage, quote)."""

    citations: list[Citation] = field(default_factory=list)

    def cite(self, passage: Passage, quote: str, start: int, end: int) -> int:
        for c in self.citations:
            if c.passage.id == passage.id and c.start == start:
                return c.n
        n = len(self.citations) + 1
        self.citations.append(Citation(n=n, passage=passage, quote=quote, start=start, end=end))
        return n


def extractive_answer(question: str, passages: list[ScoredPassage], evidence: list[Evidence]) -> Answer:
    """The best evidence sentences, verbatim, each cited. Needs no model and cannot invent anything."""
    if not evidence:
        return Answer(
            question=question, text=NOT_FOUND_TEXT, abstained=True, abstain_reason="no evidence", passages=passages
        )
    citer = _Citer()
    chosen: list[str] = []
    floor = evidence[0].score * EXTRACTIVE_RELATIVE
    for ev in evidence:
        if len(chosen) == EXTRACTIVE_SENTENCES or ev.score < floor:
            break
        if any(ev.text in c for c in chosen):
            continue
        n = citer.cite(passages[ev.rank].passage, ev.text, ev.start, ev.end)
        chosen.append(f"{ev.text} [{n}]")
    return Answer(
        question=question, text=" ".join(chosen), citations=citer.citations, backend="extractive", passages=passages
    )


def abstention(question: str, passages: list[ScoredPassage], reason: str) -> Answer:
    return Answer(question=question, text=NOT_FOUND_TEXT, abstained=True, abstain_reason=reason, passages=passages)


class CitationChecker:
    """Checks generated sentences one at a time against the passages they cite."""

    def __init__(self, passages: list[ScoredPassage]) -> None:
        self.passages = passages
        self._terms = [TermSet(sp.passage.text) for sp in passages]
        self.citer = _Citer()
        self.kept: list[str] = []
        self.dropped: list[str] = []

    def check(self, sentence: str) -> str | None:
        """The sentence with renumbered, verified markers; None when no cited passage supports it."""
        text, markers = strip_markers(sentence)
        if not text:
            return None
        valid = [m for m in dict.fromkeys(markers) if 1 <= m <= len(self.passages)]
        supporting = [m for m in valid if supports(text, self._terms[m - 1], MIN_SUPPORT)]
        if not supporting:
            self.dropped.append(sentence)
            return None
        numbers = []
        for m in supporting:
            passage = self.passages[m - 1].passage
            numbers.append(self.citer.cite(passage, *best_quote(passage, text)))
        out = text.rstrip() if text.rstrip()[-1:] in ".!?" else text.rstrip() + "."
        marks = "".join(f"[{n}]" for n in numbers)
        out = f"{out[:-1]} {marks}{out[-1]}"
        self.kept.append(out)
        return out


def complete_sentences(buffer: str) -> tuple[list[str], str]:
    """Split a growing model output into finished sentences and the unfinished rest.

    A sentence counts as finished only once the next one has begun with real words, so markers that
    arrive after its full stop are still attached to it.
    """
    text = _MARKER_AFTER_STOP.sub(r"\2\1", buffer)
    spans = split_sentences(text)
    if len(spans) < 2:
        return [], text
    last = spans[-1]
    if not re.search(r"[^\W\d_]", _PARTIAL_MARKER.sub("", text[last.start : last.end])):
        spans = spans[:-1]
        if len(spans) < 2:
            return [], text
        last = spans[-1]
    return [text[s.start : s.end] for s in spans[:-1]], text[last.start :]


def generate_verified(
    llm: LLM, question: str, passages: list[ScoredPassage], evidence: list[Evidence], backend: str
) -> Iterator[str | Answer]:
    """Stream the model's answer sentence by sentence, yielding only verified sentences (as text
    deltas), then the final Answer; the extractive answer, marked, when no sentence survives."""
    checker = CitationChecker(passages)
    buffer = ""
    emitted = 0

    def emit(sentences: list[str]) -> Iterator[str]:
        nonlocal emitted
        for s in sentences:
            kept = checker.check(s)
            if kept is not None:
                yield kept if emitted == 0 else " " + kept
                emitted += 1

    for chunk in llm.stream_chat(answer_messages(question, passages)):
        buffer += chunk.delta or ""
        done, buffer = complete_sentences(buffer)
        yield from emit(done)
    tail = _MARKER_AFTER_STOP.sub(r"\2\1", buffer)
    yield from emit([tail[s.start : s.end] for s in split_sentences(tail)])

    if checker.kept:
        yield Answer(
            question=question,
            text=" ".join(checker.kept),
            citations=checker.citer.citations,
            backend=backend,
            passages=passages,
        )
        return
    fallback = extractive_answer(question, passages, evidence)
    fallback.fallback_reason = f"the {backend} answer had no sentence supported by the passage it cited" + (
        f" ({len(checker.dropped)} removed)" if checker.dropped else ""
    )
    yield fallback.text
    yield fallback
