"""From ranked passages to an Answer whose every sentence is backed by a quoted passage.

Citations are code's job: the model's `[n]` markers are parsed, markers that point to no passage are
dropped, each sentence must be supported by a passage it cites (its numbers verbatim, most of its
words), unsupported or uncited sentences are removed, as are sentences in a language neither the
question's nor the passage's and echoes of instructions planted in articles (rag.answer.untrusted); when
nothing survives the extractive answer is returned instead, marked as a fallback. The model may be
wrong in silence, never wrong in print. Rules and calibration: docs/answers.md.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer.conflicts import find_conflict
from rag.answer.evidence import MIN_COVERAGE, Evidence
from rag.answer.judge_pass import JudgePassResult, judge_pass
from rag.answer.judgement import Judgement, QuotedSpan, SupportJudge
from rag.answer.prompts import load_prompt, render
from rag.answer.untrusted import is_instruction
from rag.text.languages import detect_language, language_name, question_language
from rag.text.sentences import split_sentences
from rag.types import Answer, Citation, Passage, RemovedSentence, ScoredPassage

if TYPE_CHECKING:  # llama-index takes a second to import: only the model paths load it
    from llama_index.core.llms import LLM, ChatMessage

NOT_FOUND_TEXT = "Not found in the indexed articles."
# An extractive answer takes up to this many sentences, each within this share of the best score.
EXTRACTIVE_SENTENCES = 2
EXTRACTIVE_RELATIVE = 0.9
# When several articles answer: the best sentence of each whose score is within this share of the best,
# up to EXTRACTIVE_ARTICLES of them (docs/answers.md, "Abstention and evidence choice").
BROAD_RELATIVE = 0.75
EXTRACTIVE_ARTICLES = 3

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
    from llama_index.core.llms import ChatMessage, MessageRole

    return [
        ChatMessage(role=MessageRole.SYSTEM, content=load_prompt("system")),
        ChatMessage(
            role=MessageRole.USER, content=render("answer", passages=format_passages(passages), question=question)
        ),
    ]


@dataclass
class _Citer:
    """Numbers citations in order of first use and keeps one Citation per (passage, quote)."""

    citations: list[Citation] = field(default_factory=list)

    def cite(self, passage: Passage, spans: tuple[tuple[int, int, str], ...], verdict: str = "verified") -> int:
        """The marker of `spans` (start, end, text; the primary quote first) of `passage`."""
        for c in self.citations:
            same = c.passage.article_id == passage.article_id and c.quoted_spans == spans
            if same and c.verdict == verdict:  # a paraphrase of a quote is marked apart from the quote
                return c.n
        n = len(self.citations) + 1
        start, end, quote = spans[0]
        many = spans if len(spans) > 1 else ()
        self.citations.append(
            Citation(n=n, passage=passage, quote=quote, start=start, end=end, spans=many, verdict=verdict)
        )
        return n


def extractive_answer(
    question: str, passages: list[ScoredPassage], evidence: list[Evidence], min_coverage: float = MIN_COVERAGE
) -> Answer:
    """The best evidence sentences, verbatim, each cited. Needs no model and cannot invent anything.
    When two articles contradict each other on the question, both sides are quoted, each with its marker."""
    if not evidence:
        return Answer(
            question=question, text=NOT_FOUND_TEXT, abstained=True, abstain_reason="no evidence", passages=passages
        )
    citer = _Citer()
    conflict = find_conflict(question, evidence, passages)

    def quote(ev: Evidence) -> tuple[str, int]:
        return ev.text, citer.cite(passages[ev.rank].passage, ((ev.start, ev.end, ev.text),))

    # In the order the sentences rank; a side of the disagreement is quoted once, within it.
    parts: list[str] = []
    for ev in _extractive_choice(evidence, passages, min_coverage):
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


def _extractive_choice(
    evidence: list[Evidence], passages: list[ScoredPassage], min_coverage: float = MIN_COVERAGE
) -> list[Evidence]:
    """The sentences to quote, among those that answer (coverage at least `min_coverage`, the rule
    abstention uses; all of them when none does). When sentences of several articles score within
    BROAD_RELATIVE of the best, the best of each, up to EXTRACTIVE_ARTICLES: a question several
    articles answer is answered from all of them. Otherwise up to EXTRACTIVE_SENTENCES sentences within
    EXTRACTIVE_RELATIVE of the best. Never two overlapping quotes."""
    answering = [ev for ev in evidence if ev.coverage >= min_coverage] or evidence
    if not answering:
        return []
    best = answering[0].score
    per_article: dict[str, list[Evidence]] = {}
    for ev in answering:
        if ev.score >= best * BROAD_RELATIVE:
            per_article.setdefault(passages[ev.rank].passage.article_id, []).append(ev)
    if len(per_article) > 1:
        # From each article the earliest of its quotes that hold the most of the question: news says
        # the main fact first.
        firsts = [
            min((e for e in evs if e.own >= max(x.own for x in evs)), key=lambda e: e.start)
            for evs in per_article.values()
        ][:EXTRACTIVE_ARTICLES]
        # A place left (two articles answer): the next sentence, when it is nearly as good as the best.
        for ev in answering:
            if len(firsts) >= EXTRACTIVE_ARTICLES or ev.score < best * EXTRACTIVE_RELATIVE:
                break
            if not any(_overlaps(ev, c, passages) for c in firsts):
                firsts.append(ev)
        return firsts
    chosen: list[Evidence] = []
    floor = best * EXTRACTIVE_RELATIVE
    for ev in answering:
        if len(chosen) == EXTRACTIVE_SENTENCES or ev.score < floor:
            break
        if any(_overlaps(ev, c, passages) for c in chosen):
            continue  # overlaps a quote already chosen (chunk overlap, widened quotations)
        chosen.append(ev)
    return chosen


def _overlaps(a: Evidence, b: Evidence, passages: list[ScoredPassage]) -> bool:
    same = passages[a.rank].passage.article_id == passages[b.rank].passage.article_id
    return same and a.start < b.end and b.start < a.end


DISAGREEMENT = "Sources disagree:"


def disagreement(a: tuple[str, int], b: tuple[str, int]) -> str:
    """'Sources disagree: [1] says “…”; [2] says “…”' with both quotes verbatim."""
    return f"{DISAGREEMENT} [{a[1]}] says “{a[0]}”; [{b[1]}] says “{b[0]}”"


def abstention(question: str, passages: list[ScoredPassage], reason: str) -> Answer:
    return Answer(question=question, text=NOT_FOUND_TEXT, abstained=True, abstain_reason=reason, passages=passages)


@dataclass(frozen=True)
class Assessed:
    """A model's sentence judged against the passages it cites, before it is shown or removed."""

    sentence: str  # as written, markers included
    text: str  # without its markers
    judgement: Judgement


class CitationChecker:
    """Checks generated sentences one at a time against the passages they cite (rag.answer.judgement)."""

    def __init__(self, passages: list[ScoredPassage], question: str = "") -> None:
        self.passages = passages
        self.judge = SupportJudge([sp.passage for sp in passages])
        self._asked_in = question_language(question)
        self.citer = _Citer()
        self.kept: list[str] = []
        self.dropped: list[str] = []
        self.removed: list[RemovedSentence] = []
        self.wrong_language: list[str] = []  # language codes of sentences dropped for their language

    def _foreign(self, text: str, cited: list[int]) -> str | None:
        """The sentence's language when it is neither the question's nor a cited passage's (a model
        answering in another language than asked: names alone could make such a sentence pass)."""
        language = detect_language(text)
        allowed = {self._asked_in} | {self.passages[m - 1].passage.language for m in cited}
        return None if "und" in (language, self._asked_in) or language in allowed else language

    def assess(self, sentence: str) -> Assessed | None:
        """The sentence's judgement (nothing is recorded yet); None for a bare marker."""
        text, markers = strip_markers(sentence)
        if not re.search(r"[^\W\d_]", text):
            return None  # a bare marker or list number ("2.") says nothing
        valid = [m for m in dict.fromkeys(markers) if 1 <= m <= len(self.passages)]
        if is_instruction(text):  # an echo of an injected order, whatever it cites
            return Assessed(sentence, text, _refused(text, "an instruction to a model, not a statement"))
        if not valid:
            return Assessed(sentence, text, _refused(text, "cites no passage shown to the model"))
        foreign = self._foreign(text, valid)
        if foreign:
            self.wrong_language.append(foreign)
            return Assessed(sentence, text, _refused(text, f"written in {language_name(foreign)}"))
        judgement = self.judge.judge(text, [m - 1 for m in valid])
        if judgement.kept:
            judgement = self._corroborated(judgement, [m - 1 for m in valid])
        return Assessed(sentence, text, judgement)

    def _corroborated(self, judgement: Judgement, cited: list[int]) -> Judgement:
        """Other cited passages that state the sentence on their own keep their markers too."""
        quoted = {q.passage for q in judgement.quotes}
        extra = [q for i in cited if i not in quoted for q in self._verified_quotes(judgement.sentence, i)]
        return replace(judgement, quotes=(*judgement.quotes, *extra)) if extra else judgement

    def _verified_quotes(self, text: str, i: int) -> tuple[QuotedSpan, ...]:
        other = self.judge.judge(text, [i])
        return other.quotes if other.verdict == "verified" else ()

    def accept(self, assessed: Assessed) -> str | None:
        """The sentence with renumbered markers of the passages that back it, or None when removed."""
        j = assessed.judgement
        if not j.kept:
            self.dropped.append(assessed.sentence)
            self.removed.append(RemovedSentence(assessed.sentence, j.reasons, j.score))
            return None
        numbers = []
        for i in dict.fromkeys(q.passage for q in j.quotes):
            spans = tuple((q.start, q.end, q.text) for q in j.quotes if q.passage == i)
            numbers.append(self.citer.cite(self.passages[i].passage, spans, j.verdict))
        out = assessed.text.rstrip() if assessed.text.rstrip()[-1:] in ".!?" else assessed.text.rstrip() + "."
        marks = "".join(f"[{n}]" for n in numbers)
        out = f"{out[:-1]} {marks}{out[-1]}"
        self.kept.append(out)
        return out

    def check(self, sentence: str) -> str | None:
        """The sentence with renumbered, verified markers; None when no cited passage supports it."""
        assessed = self.assess(sentence)
        return None if assessed is None else self.accept(assessed)


def _refused(text: str, reason: str) -> Judgement:
    return Judgement(text, "removed", 0.0, (reason,), hard_failure=True)


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
    judge: bool = False,
) -> Iterator[str | Answer]:
    """Stream the model's answer sentence by sentence, yielding only verified sentences (as text
    deltas), then the final Answer; the extractive answer, marked, when no sentence survives.

    The model sees `shown` (default: all `passages`), numbered from 1; the answer lists all `passages`.

    `judge`: the judge pass (rag.answer.judge_pass). Sentences judged `verified` still stream at once; from the
    first borderline (`supported`) sentence on, every sentence is held until the model has finished, then
    one batched call to the same model decides the held borderline ones (it can only remove them), and the
    held sentences are shown in order. `timings` then holds `judge_s` (the call's time), `judge_sentences`
    (sent) and `judge_lowered` (removed by it); a failed call keeps the checker's verdicts (`judge_note`).
    """
    shown = shown or passages
    checker = CitationChecker(shown, question)
    buffer = raw = ""
    emitted = 0
    held: list[Assessed] = []

    def show(assessed: Assessed) -> Iterator[str]:
        nonlocal emitted
        kept = checker.accept(assessed)
        if kept is not None:
            yield kept if emitted == 0 else " " + kept
            emitted += 1

    def emit(sentences: list[str]) -> Iterator[str]:
        for s in sentences:
            assessed = checker.assess(s)
            if assessed is None:
                continue
            if held or (judge and assessed.judgement.borderline):
                held.append(assessed)  # shown after the judge pass, in order
            else:
                yield from show(assessed)

    for chunk in llm.stream_chat(answer_messages(question, shown)):
        buffer += chunk.delta or ""
        raw += chunk.delta or ""
        done, buffer = complete_sentences(buffer)
        yield from emit(done)
    tail = _attach_markers(buffer)
    yield from emit([tail[s.start : s.end] for s in split_sentences(tail)])

    judged = judge_pass(llm, [a.judgement for a in held]) if judge else None
    for assessed, judgement in zip(held, judged.judgements if judged else (), strict=True):
        yield from show(replace(assessed, judgement=judgement))
    timings = _judge_timings(judged) if judged else {}
    note = judged.note if judged else ""

    if checker.kept:
        yield Answer(
            question=question,
            text=" ".join(checker.kept),
            citations=checker.citer.citations,
            backend=backend,
            passages=passages,
            removed=checker.removed,
            timings=timings,
            judge_note=note,
        )
        return
    fallback = extractive_answer(question, passages, evidence)
    if re.fullmatch(r"\W*NOT FOUND\W*", raw, flags=re.IGNORECASE):
        fallback.fallback_reason = f"the {backend} model found no answer in the passages; these are the best matches"
    else:
        fallback.fallback_reason = f"the {backend} answer had no sentence supported by the passage it cited" + (
            _removed(question, checker, judged.lowered if judged else 0)
        )
    fallback.removed = checker.removed
    fallback.timings = timings
    fallback.judge_note = note
    yield fallback.text
    yield fallback


def _judge_timings(judged: JudgePassResult) -> dict[str, float]:
    """`judge_s`, `judge_sentences`, `judge_lowered` (0 each when the pass had nothing to judge)."""
    return {"judge_s": judged.seconds, "judge_sentences": judged.asked, "judge_lowered": judged.lowered}


def _removed(question: str, checker: CitationChecker, by_judge: int = 0) -> str:
    """' (3 removed)', ' (3 removed, 1 by the judge pass)', or ' (1 removed: written in German, not in
    English)' when the language was why."""
    if not checker.dropped:
        return ""
    judged = f", {by_judge} by the judge pass" if by_judge else ""
    if not checker.wrong_language:
        return f" ({len(checker.dropped)} removed{judged})"
    written = ", ".join(language_name(code) for code in dict.fromkeys(checker.wrong_language))
    expected = {question_language(question)} | {sp.passage.language for sp in checker.passages}
    asked = " or ".join(sorted(language_name(c) for c in expected - {"und", ""})) or "the question's language"
    return (
        f" ({len(checker.dropped)} removed{judged}: {len(checker.wrong_language)} written in {written}, not in {asked})"
    )


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
