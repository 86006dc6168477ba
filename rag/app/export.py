"""A conversation as Markdown: each question, its answer with `[n]` markers, and under it the numbered
sources with the exact quote, outlet, date, file and character offsets, so the export can be checked
without the tool."""

from __future__ import annotations

from datetime import datetime

from rag.types import Answer, TimelinePoint


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines()) or ">"


def answer_markdown(answer: Answer) -> str:
    lines = [f"## {answer.question.strip()}", ""]
    if answer.query and answer.query != answer.question:
        lines += [f"*Searched for:* {answer.query}", ""]
    lines += [answer.text, ""]
    for note in (answer.source_note, answer.language_note):
        if note:
            lines += [f"*{note}*", ""]
    if answer.abstained and answer.passages:
        lines += ["Closest passages:", ""]
        for rank, sp in enumerate(answer.passages[:5], start=1):
            p = sp.passage
            lines += [f"{rank}. {p.title or '(untitled)'} ({p.source or 'unknown outlet'}, {p.published or 'undated'})"]
        lines.append("")
    for c in answer.citations:
        p = c.passage
        lines += [
            f"**[{c.n}]** {p.title or '(untitled)'}: {p.source or 'unknown outlet'}, {p.published or 'undated'}, "
            f"`{p.path}` characters {c.start}-{c.end}" + (f" ({p.url})" if p.url else ""),
            "",
            _quote(c.quote),
            "",
        ]
    if answer.claims and any(c.stance for c in answer.claims):
        lines += ["| side | speaker | role | date | source |", "|---|---|---|---|---|"]
        for claim in answer.claims:
            side = "claims" if claim.stance == "supports" else "disputes"
            when = claim.date or claim.citation.passage.published or ""
            lines.append(f"| {side} | {claim.speaker} | {claim.speaker_role} | {when} | [{claim.citation.n}] |")
        lines.append("")
    lines += timeline_markdown(answer.timeline)
    by = f"extractive fallback ({answer.fallback_reason})" if answer.fallback_reason else answer.backend
    lines += [f"*Answered by {by}.*", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Table cell text: one line, a pipe escaped so it cannot end the cell."""
    return " ".join(text.split()).replace("|", "\\|")


def timeline_markdown(points: list[TimelinePoint]) -> list[str]:
    """The lines of a "Timeline of claims" table, oldest first, undated claims last; [] without points."""
    if not points:
        return []
    lines = ["### Timeline of claims", "", "| date | stance | who | claim | source |", "|---|---|---|---|---|"]
    for p in points:
        when = p.date.isoformat() if p.date else "undated"
        when += " (article date)" if p.date_from == "article" else ""
        who = p.speaker + (f" ({p.speaker_role})" if p.speaker_role else "")
        source = f"[{p.n}] {p.outlet}".rstrip()
        lines.append(f"| {when} | {p.stance} | {_cell(who)} | “{_cell(p.claim)}” | {_cell(source)} |")
    return [*lines, ""]


def conversation_markdown(turns: list[Answer], title: str = "Conversation") -> str:
    """The whole conversation, oldest first."""
    head = [f"# {title}", "", f"Exported {datetime.now():%Y-%m-%d %H:%M}.", ""]
    return "\n".join(head + [answer_markdown(a) for a in turns])
