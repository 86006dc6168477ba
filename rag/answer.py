"""From ranked passages to an Answer whose every sentence is backed by a quoted passage.

Citations are code's job: the model's `[n]` markers are parsed, markers that point to no passage are
dropped, each sentence must be supported by a passage it cites (its numbers verbatim, most of its
words), unsupported or uncited sentences are removed, as are sentences in a language neither the
question's nor the passage's and echoes of instructions planted in articles (rag.untrusted); when
nothing survives the extractive answer is returned instead, marked as a fallback. The model may be
wrong in silence, never wrong in print. Rules and calibration: docs/answers.md.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from llama_index.core.llms import LLM, ChatMessage, MessageRole

from rag.conflicts import find_conflict
from rag.evidence import Evidence, quotations
from rag.ingest.chunk import split_sentences
from rag.ingest.clean import detect_language
from rag.languages import language_name, question_language
from rag.prompts import load_prompt, render
from rag.support import TermSet, content_terms, coverage, supports
from rag.types import Answer, Citation, Passage, ScoredPassage
from rag.untrusted import has_instruction, is_instruction

NOT_FOUND_TEXT = "Not found in the indexed articles."
# Share of a generated sentence's words that one quotation of its cited passage must contain (numbers and
# names: all of them). 0.6 let "Kyiv has fallen to Russian forces on Monday" pass on unrelated words.
MIN_SUPPORT = 0.7
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


_TAG = re.compile(r"<(/?)(passage)", re.IGNORECASE)


def _attribute(value: str) -> str:
    return html.escape(value, quote=False).replace('"', "&quot;")


def _content(text: str) -> str:
    """Article text cannot open or close a <passage> tag: it stays material, never framing."""
    return _TAG.sub(r"&lt;\1\2", text)


def format_passages(passages: list[ScoredPassage]) -> str:
    return "\n\n".join(
        render(
            "passage",
            n=i,
            title=_attribute(sp.passage.title),
            source=_attribute(sp.passage.source or "unknown"),
            published=_attribute(sp.passage.published or "unknown"),
            text=_content(sp.passage.text),
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


@dataclass(frozen=True)
class QuoteUnit:
    """A sentence of a passage, widened to its whole quotation, with its article offsets: the unit a
    claim must be supported by. Words gathered from different sentences prove nothing together."""

    text: str
    start: int
    end: int
    terms: TermSet


def quote_units(passage: Passage) -> list[QuoteUnit]:
    spans = quotations(passage.text, split_sentences(passage.text, offset=passage.start), passage.start)
    texts = [passage.text[s.start - passage.start : s.end - passage.start] for s in spans]
    # An instruction in the article supports nothing, least of all a model that obeyed it.
    return [
        QuoteUnit(text, s.start, s.end, TermSet(text))
        for s, text in zip(spans, texts, strict=True)
        if not has_instruction(text)
    ]


def supporting_quote(units: list[QuoteUnit], claim: str) -> QuoteUnit | None:
    """The unit that supports `claim` best (all its numbers, most of its words), or None."""
    terms = content_terms(claim)
    best: tuple[float, QuoteUnit] | None = None
    for unit in units:
        if supports(claim, unit.terms, MIN_SUPPORT):
            score = coverage(terms, unit.terms)
            if best is None or score > best[0]:
                best = (score, unit)
    return best[1] if best else None


@dataclass
class _Citer:
    """Numbers citations in order of first use and keeps one Citation per (passage, quote)."""

    citations: list[Citation] = field(default_factory=list)

    def cite(self, passage: Passage, quote: str, start: int, end: int) -> int:
        for c in self.citations:
            if c.passage.article_id == passage.article_id and (c.start, c.end) == (start, end):
                return c.n
        n = len(self.citations) + 1
        self.citations.append(Citation(n=n, passage=passage, quote=quote, start=start, end=end))
        return n


def extractive_answer(question: str, passages: list[ScoredPassage], evidence: list[Evidence]) -> Answer:
    """The best evidence sentences, verbatim, each cited. Needs no model and cannot invent anything.
    When two articles contradict each other on the question, both sides are quoted, each with its marker."""
    if not evidence:
        return Answer(
            question=question, text=NOT_FOUND_TEXT, abstained=True, abstain_reason="no evidence", passages=passages
        )
    citer = _Citer()
    conflict = find_conflict(question, evidence, passages)

    def quote(ev: Evidence) -> tuple[str, int]:
        return ev.text, citer.cite(passages[ev.rank].passage, ev.text, ev.start, ev.end)

    # In the order the sentences rank; a side of the disagreement is quoted once, within it.
    parts: list[str] = []
    for ev in _extractive_choice(evidence, passages):
        if conflict is None or ev not in conflict:
            text, n = quote(ev)
            parts.append(f"{text} [{n}]")
        elif not any(p.startswith(DISAGREEMENT) for p in parts):
            parts.append(disagreement(quote(conflict[0]), quote(conflict[1])))
    if conflict and not any(p.startswith(DISAGREEMENT) for p in parts):
        parts.append(disagreement(quote(conflict[0]), quote(conflict[1])))
    return Answer(
        question=question, text=" ".join(parts), citations=citer.citations, backend="extractive", passages=passages
    )


def _extractive_choice(evidence: list[Evidence], passages: list[ScoredPassage]) -> list[Evidence]:
    """Up to EXTRACTIVE_SENTENCES sentences near the best score, none overlapping another."""
    chosen: list[Evidence] = []
    floor = evidence[0].score * EXTRACTIVE_RELATIVE
    for ev in evidence:
        if len(chosen) == EXTRACTIVE_SENTENCES or ev.score < floor:
            break
        article = passages[ev.rank].passage.article_id
        same = [c for c in chosen if passages[c.rank].passage.article_id == article]
        if any(c.start < ev.end and ev.start < c.end for c in same):
            continue  # overlaps a quote already chosen (chunk overlap, widened quotations)
        chosen.append(ev)
    return chosen


DISAGREEMENT = "Sources disagree:"


def disagreement(a: tuple[str, int], b: tuple[str, int]) -> str:
    """'Sources disagree: [1] says “…”; [2] says “…”' with both quotes verbatim."""
    return f"{DISAGREEMENT} [{a[1]}] says “{a[0]}”; [{b[1]}] says “{b[0]}”"


def abstention(question: str, passages: list[ScoredPassage], reason: str) -> Answer:
    return Answer(question=question, text=NOT_FOUND_TEXT, abstained=True, abstain_reason=reason, passages=passages)


class CitationChecker:
    """Checks generated sentences one at a time against the passages they cite."""

    def __init__(self, passages: list[ScoredPassage], question: str = "") -> None:
        self.passages = passages
        self._units = [quote_units(sp.passage) for sp in passages]
        self._asked_in = question_language(question)
        self.citer = _Citer()
        self.kept: list[str] = []
        self.dropped: list[str] = []
        self.wrong_language: list[str] = []  # language codes of sentences dropped for their language

    def _foreign(self, text: str, cited: list[int]) -> str | None:
        """The sentence's language when it is neither the question's nor a cited passage's (a model
        answering in another language than asked: names alone could make such a sentence pass)."""
        language = detect_language(text)
        allowed = {self._asked_in} | {self.passages[m - 1].passage.language for m in cited}
        return None if "und" in (language, self._asked_in) or language in allowed else language

    def check(self, sentence: str) -> str | None:
        """The sentence with renumbered, verified markers; None when no cited passage supports it."""
        text, markers = strip_markers(sentence)
        if not text:
            return None
        if is_instruction(text):
            self.dropped.append(sentence)  # an echo of an injected order, whatever it cites
            return None
        valid = [m for m in dict.fromkeys(markers) if 1 <= m <= len(self.passages)]
        foreign = self._foreign(text, valid)
        if foreign:
            self.dropped.append(sentence)
            self.wrong_language.append(foreign)
            return None
        quotes = [(m, supporting_quote(self._units[m - 1], text)) for m in valid]
        supported = [(m, unit) for m, unit in quotes if unit is not None]
        if not supported:
            self.dropped.append(sentence)
            return None
        numbers = [self.citer.cite(self.passages[m - 1].passage, u.text, u.start, u.end) for m, u in supported]
        out = text.rstrip() if text.rstrip()[-1:] in ".!?" else text.rstrip() + "."
        marks = "".join(f"[{n}]" for n in numbers)
        out = f"{out[:-1]} {marks}{out[-1]}"
        self.kept.append(out)
        return out


def _attach_markers(text: str) -> str:
    return _MARKER_AFTER_STOP.sub(r"\2\1", text)


def complete_sentences(buffer: str) -> tuple[list[str], str]:
    """Split a growing model output into finished sentences and the unfinished rest.

    A sentence counts as finished only once the next one has begun with real words, so markers that
    arrive after its full stop are still attached to it.
    """
    text = _attach_markers(buffer)
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


def passages_for_model(passages: list[ScoredPassage], evidence: list[Evidence], limit: int) -> list[ScoredPassage]:
    """The passages holding the best evidence, at most `limit`, in retrieval order. Reading the prompt
    is most of a CPU model's time, so it reads only what is likely to answer."""
    ranks: list[int] = []
    for ev in evidence:
        if ev.rank not in ranks:
            ranks.append(ev.rank)
        if len(ranks) == limit:
            break
    return [passages[r] for r in sorted(ranks)] or passages[:limit]


def generate_verified(
    llm: LLM,
    question: str,
    passages: list[ScoredPassage],
    evidence: list[Evidence],
    backend: str,
    shown: list[ScoredPassage] | None = None,
) -> Iterator[str | Answer]:
    """Stream the model's answer sentence by sentence, yielding only verified sentences (as text
    deltas), then the final Answer; the extractive answer, marked, when no sentence survives.

    The model sees `shown` (default: all `passages`), numbered from 1; the answer lists all `passages`.
    """
    shown = shown or passages
    checker = CitationChecker(shown, question)
    buffer = raw = ""
    emitted = 0

    def emit(sentences: list[str]) -> Iterator[str]:
        nonlocal emitted
        for s in sentences:
            kept = checker.check(s)
            if kept is not None:
                yield kept if emitted == 0 else " " + kept
                emitted += 1

    for chunk in llm.stream_chat(answer_messages(question, shown)):
        buffer += chunk.delta or ""
        raw += chunk.delta or ""
        done, buffer = complete_sentences(buffer)
        yield from emit(done)
    tail = _attach_markers(buffer)
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
    if re.fullmatch(r"\W*NOT FOUND\W*", raw, flags=re.IGNORECASE):
        fallback.fallback_reason = f"the {backend} model found no answer in the passages; these are the best matches"
    else:
        fallback.fallback_reason = f"the {backend} answer had no sentence supported by the passage it cited" + (
            _removed(question, checker)
        )
    yield fallback.text
    yield fallback


def _removed(question: str, checker: CitationChecker) -> str:
    """' (3 removed)', or ' (1 removed: written in German, not in English)' when the language was why."""
    if not checker.dropped:
        return ""
    if not checker.wrong_language:
        return f" ({len(checker.dropped)} removed)"
    written = ", ".join(language_name(code) for code in dict.fromkeys(checker.wrong_language))
    expected = {question_language(question)} | {sp.passage.language for sp in checker.passages}
    asked = " or ".join(sorted(language_name(c) for c in expected - {"und", ""})) or "the question's language"
    return f" ({len(checker.dropped)} removed: {len(checker.wrong_language)} written in {written}, not in {asked})"


def spoken_date(published: str | None) -> str:
    """'2025-11-04' -> '4 November 2025'; other forms as written; '' when undated."""
    if not published:
        return ""
    try:
        d = date.fromisoformat(published[:10])
    except ValueError:
        return published
    return f"{d.day} {d:%B %Y}"


def source_note(question: str, citations: list[Citation]) -> str:
    """One line naming each cited article's outlet and date, and its language when it differs from the
    question's: "Sources: [1] RFE/RL, 4 November 2025; [2][3] Aftonbladet, 5 November 2025, in Swedish,
    quoted in the original." Markers quoting the same article share one entry."""
    asked_in = detect_language(question)
    markers: dict[str, list[int]] = {}
    first: dict[str, Passage] = {}
    for c in citations:
        markers.setdefault(c.passage.article_id, []).append(c.n)
        first.setdefault(c.passage.article_id, c.passage)
    parts = []
    for article_id, p in first.items():
        title = p.title if len(p.title) <= 60 else p.title[:57].rsplit(" ", 1)[0] + "…"
        bits = [p.source or title or Path(p.path).name, spoken_date(p.published) or "undated"]
        if p.language and p.language not in ("und", asked_in if asked_in != "und" else "en"):
            bits.append(f"in {language_name(p.language)}, quoted in the original")
        parts.append("".join(f"[{n}]" for n in markers[article_id]) + " " + ", ".join(bits))
    return ("Sources: " + "; ".join(parts) + ".") if parts else ""
