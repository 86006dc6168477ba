"""Browser chat over an `Index` (Gradio): answers stream in, their numbered sources sit beside them; a
"Check a text" tab fact-checks a pasted text sentence by sentence.

`serve(rag.open("index"))` runs it on http://127.0.0.1:7860. Everything stays on this machine: no share
links, no analytics, no fonts or scripts from the internet.
"""

from __future__ import annotations

import html
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Gradio reads this when a Blocks is built; set it first so no usage report ever leaves the machine.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr

from rag.answer.check import MAX_CHECK_CHARS, VERDICT_LABELS, CheckedSentence, count_line
from rag.answer.judgement import QuotedSpan
from rag.answer.llm import ollama_models, openai_models
from rag.answer.timeline import CLAIMS, OTHER_SIDE, split_undated
from rag.app.chat import Chat
from rag.app.index import Index
from rag.app.library import ARTICLE_COLUMNS, article_rows, delete_uploaded, index_stats, save_uploads
from rag.config import BACKEND_NAMES
from rag.errors import BadSetting, RagError
from rag.faults import Place, translated
from rag.ingest.load import SUPPORTED_SUFFIXES
from rag.search.filters import Filters
from rag.text.languages import language_name
from rag.types import Answer, Citation, Passage, TimelinePoint

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

BACKENDS = list(BACKEND_NAMES)
FULL_ARTICLE_CHARS = 60_000  # of an article shown in full under a source card (longer: a window around the quote)
EXCERPT_CHARS = 320  # of a closest passage shown after an abstention: enough to judge it, short enough to scan
SOURCES_PLACEHOLDER = (
    '<p class="rag-empty">Sources of the answer appear here. Click an earlier answer to see its sources again.</p>'
)

# Scoped to the sources panel by gr.HTML's css_template, so the app needs no page-wide stylesheet.
SOURCES_CSS = """
.rag-sources { font-size: 0.95rem; line-height: 1.45; }
.rag-sources .rag-for { color: var(--body-text-color-subdued); margin: 0 0 0.6rem 0; }
.rag-sources ol { list-style: none; padding: 0; margin: 0; }
.rag-sources li {
  border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.55rem 0.7rem;
  margin: 0 0 0.6rem 0; background: var(--background-fill-secondary);
}
.rag-sources .rag-n { font-weight: 700; color: var(--color-accent); margin-right: 0.3rem; }
.rag-sources .rag-title { font-weight: 600; }
.rag-sources .rag-meta { color: var(--body-text-color-subdued); font-size: 0.85em; margin-top: 0.15rem; }
.rag-sources .rag-path { font-family: var(--font-mono); overflow-wrap: anywhere; }
.rag-sources mark.rag-quote { background: var(--color-accent-soft, #fde68a); color: inherit; padding: 0 1px; }
.rag-sources .rag-passage { margin: 0.45rem 0 0 0; }
.rag-sources li.rag-flash { outline: 3px solid var(--color-accent); transition: outline 0.2s; }
.rag-sources li.rag-picked { outline: 2px dashed var(--color-accent); }
.rag-sources details.rag-full { margin-top: 0.4rem; }
.rag-sources details.rag-full summary { cursor: pointer; color: var(--color-accent); font-size: 0.9em; }
.rag-sources .rag-article {
  max-height: 22rem; overflow-y: auto; white-space: pre-wrap; font-size: 0.9em; margin-top: 0.3rem;
  padding: 0.4rem; border: 1px solid var(--border-color-primary); border-radius: 6px;
}
.rag-sources blockquote {
  margin: 0.45rem 0 0 0; padding: 0.1rem 0 0.1rem 0.6rem; border-left: 3px solid var(--color-accent);
  font-style: italic;
}
.rag-sources .rag-excerpt { margin: 0.45rem 0 0 0; color: var(--body-text-color-subdued); }
.rag-sources .rag-none { font-weight: 600; margin: 0 0 0.3rem 0; }
.rag-sources .rag-by { color: var(--body-text-color-subdued); font-size: 0.85em; margin-top: 0.3rem; }
.rag-sources .rag-paraphrase { color: var(--color-yellow-700, #a16207); font-style: italic; }
.rag-empty { color: var(--body-text-color-subdued); }
"""

# The "Check a text" result: each sentence a box with a coloured edge and badge (green verified, amber a
# paraphrase, red removed); its quotes are source cards (SOURCES_CSS) inside it.
CHECK_CSS = """
.rag-check li.rag-checked { border-left-width: 5px; }
.rag-check li.rag-verified { border-left-color: var(--color-green-600, #16a34a); }
.rag-check li.rag-supported { border-left-color: var(--color-yellow-500, #eab308); }
.rag-check li.rag-removed { border-left-color: var(--color-red-600, #dc2626); }
.rag-check .rag-badge {
  font-weight: 700; font-size: 0.85em; padding: 0.05rem 0.45rem; border-radius: 999px; color: #fff;
}
.rag-check .rag-badge.rag-verified { background: var(--color-green-600, #16a34a); }
.rag-check .rag-badge.rag-supported { background: var(--color-yellow-600, #ca8a04); }
.rag-check .rag-badge.rag-removed { background: var(--color-red-600, #dc2626); }
.rag-check .rag-score { color: var(--body-text-color-subdued); font-size: 0.85em; margin-left: 0.4rem; }
.rag-check .rag-sentence { margin: 0.35rem 0; }
.rag-check li.rag-removed .rag-sentence {
  text-decoration: line-through; text-decoration-color: var(--color-red-600, #dc2626);
}
.rag-check .rag-why { font-size: 0.9em; margin: 0.2rem 0 0.3rem 0; }
.rag-check .rag-quotes > summary { cursor: pointer; color: var(--color-accent); font-size: 0.9em; }
.rag-check ol.rag-cards { margin-top: 0.4rem; }
.rag-check li.rag-card { background: var(--background-fill-primary); }
"""

# In the page head: a click on an answer's [n] shows source card n (scrolled to, briefly outlined), and
# opening "the full article" scrolls its highlighted quote into view. Nothing is fetched from elsewhere.
HEAD_JS = """
<script>
(() => {
  const flash = (n, tries) => {
    const card = document.getElementById("rag-src-" + n);
    if (!card) { if (tries > 0) setTimeout(() => flash(n, tries - 1), 150); return; }
    card.scrollIntoView({behavior: "smooth", block: "nearest"});
    card.classList.add("rag-flash");
    setTimeout(() => card.classList.remove("rag-flash"), 1600);
  };
  document.addEventListener("click", (e) => {
    const a = e.target.closest && e.target.closest('a[href^="#rag-src-"]');
    if (!a) return;
    e.preventDefault();  // the click still reaches the message, whose select event shows its sources
    // The sources panel may first switch to this answer's sources (the chatbot's select event), which
    // replaces the cards: outline again once the new ones are in.
    const n = a.getAttribute("href").slice(9);
    [60, 400, 900].forEach((t) => setTimeout(() => flash(n, 10), t));
  }, true);
  document.addEventListener("toggle", (e) => {
    const d = e.target;
    if (d.matches && d.matches("details.rag-full") && d.open) {
      const m = d.querySelector("mark");
      if (m) m.scrollIntoView({block: "center"});
    }
  }, true);
})();
</script>
"""

STATUS_CSS = """
.rag-status { font-size: 0.9rem; line-height: 1.5; }
.rag-status .rag-backends { color: var(--body-text-color-subdued); font-size: 0.85em; }
.rag-status .rag-ok { color: var(--color-green-600, green); }
.rag-status .rag-off { color: var(--color-red-600, #c00); }
"""


# --- pure rendering (unit-tested) -----------------------------------------------------------------
def _e(text: object) -> str:
    """Article text is untrusted: it must show as text, never become markup."""
    return html.escape(str(text), quote=True)


def _source_line(n: str, p: Passage) -> str:
    """`[n] title`, then `outlet — date — language — path` on a line of its own so a long path wraps
    cleanly; what the article lacks is said rather than left blank."""
    language = f" — {_e(language_name(p.language))}" if p.language and p.language != "und" else ""
    return (
        f'<div class="rag-head"><span class="rag-n">{_e(n)}</span> '
        f'<span class="rag-title">{_e(p.title or "(untitled)")}</span></div>'
        f'<div class="rag-meta">{_e(p.source or "unknown outlet")} — {_e(p.published or "undated")}{language} — '
        f'<span class="rag-path">{_e(p.path or p.article_id)}</span></div>'
    )


Span = tuple[int, int]


def _merged(spans: Sequence[Span]) -> list[Span]:
    """Spans in order, overlapping or touching ones joined, so no <mark> nests in another."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _marked(text: str, offset: int, spans: Sequence[Span]) -> str:
    """`text` (which starts at article offset `offset`) as HTML, every [start, end) span in <mark>."""
    out, at = [], 0
    for start, end in _merged(spans):
        a, b = max(at, start - offset), min(len(text), end - offset)
        if b > a:  # a span outside this window marks nothing
            out += [_e(text[at:a]), f'<mark class="rag-quote">{_e(text[a:b])}</mark>']
            at = b
    out.append(_e(text[at:]))
    return "".join(out)


def _found(text: str, offset: int, start: int, end: int, quote: str) -> bool:
    """Is `quote` verbatim at article offsets [start, end) of `text` (which starts at `offset`)?"""
    a, b = start - offset, end - offset
    return bool(quote) and 0 <= a <= b <= len(text) and text[a:b] == quote


def _full_article(c: Citation, article: str | None) -> str:
    """The whole article behind a citation, every quoted span highlighted, folded; opening it scrolls
    the first span into view (see HEAD_JS)."""
    spans = [(s, e) for s, e, t in c.quoted_spans if article and _found(article, 0, s, e, t)]
    if not article or not spans:
        return ""
    offset = 0
    if len(article) > FULL_ARTICLE_CHARS:  # a huge text: a window around the first quote
        offset = max(0, spans[0][0] - FULL_ARTICLE_CHARS // 2)
        article = article[offset : offset + FULL_ARTICLE_CHARS]
    return (
        '<details class="rag-full"><summary>Open the full article</summary>'
        f'<div class="rag-article">{_marked(article, offset, spans)}</div></details>'
    )


PARAPHRASE_NOTE = "Paraphrase: no single quote states it; the highlighted spans together support it."


def _card(c: Citation, article: str | None, anchor: str = "rag-src") -> str:
    """A source card: header, every quoted span highlighted inside its passage, the full article.
    A citation of a sentence judged "supported" is marked as a paraphrase. `anchor`: the card's id
    prefix (the chat's markers link to rag-src-n)."""
    p = c.passage
    spans = [(s, e, t) for s, e, t in c.quoted_spans if t] or [(c.start, c.end, c.quote)]
    inside = [(s, e) for s, e, t in spans if _found(p.text, p.start, s, e, t)]
    body = f'<p class="rag-passage">{_marked(p.text, p.start, inside)}</p>' if inside else ""
    # A span reaching past its passage (a quotation over a chunk edge) is shown on its own.
    body += "".join(f"<blockquote>{_e(t)}</blockquote>" for s, e, t in spans if (s, e) not in inside)
    note = f'<div class="rag-meta rag-paraphrase">{_e(PARAPHRASE_NOTE)}</div>' if c.verdict == "supported" else ""
    return (
        f'<li class="rag-card" id="{anchor}-{c.n}">{_source_line(f"[{c.n}]", p)}{note}{body}'
        f"{_also_published(c.also_published_by)}{_full_article(c, article)}</li>"
    )


def _also_published(others: Sequence[dict[str, Any]]) -> str:
    """Identical and syndicated copies of the cited article, stored once: who else published it."""
    if not others:
        return ""
    names = ", ".join(
        _e(" ".join(x for x in (o.get("source") or "", o.get("published") or "") if x) or str(o["path"]))
        for o in others
    )
    return f'<div class="rag-meta rag-also">Also published by: {names}</div>'


def backend_note(answer: Answer) -> str:
    """Which backend produced the answer (plain text), so a quoted fallback is never mistaken for a model's."""
    if answer.abstained:
        return f"no answer: {answer.abstain_reason}" if answer.abstain_reason else "no answer"
    if answer.fallback_reason:
        return f"extractive fallback: {answer.fallback_reason}"
    return f"answered by {answer.backend}"


def render_sources(answer: Answer, article_text: Callable[[str], str | None] | None = None) -> str:
    """HTML for the sources panel: a card per citation (its quote highlighted in the passage, the full
    article one click away when `article_text` can read it), or after an abstention the closest
    passages retrieval found, so the user can judge for themselves."""
    parts = [f'<div class="rag-sources"><p class="rag-for">Sources for: <q>{_e(answer.question)}</q></p>']
    if answer.abstained:
        parts.append('<p class="rag-none">Not found in the indexed articles</p>')
        if answer.passages:
            parts.append("<p>Closest passages:</p><ol>")
            for rank, sp in enumerate(answer.passages, start=1):
                text = " ".join(sp.passage.text.split())
                excerpt = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
                parts.append(
                    f"<li>{_source_line(f'[{rank}]', sp.passage)}"
                    f'<div class="rag-meta">retrieval score {sp.score:.3f}</div>'
                    f'<p class="rag-excerpt">{_e(excerpt)}</p></li>'
                )
            parts.append("</ol>")
        else:
            parts.append("<p>Retrieval found no passages.</p>")
    elif answer.citations:
        parts.append("<ol>")
        texts: dict[str, str | None] = {}
        for c in answer.citations:
            aid = c.passage.article_id
            if article_text is not None and aid not in texts:
                texts[aid] = article_text(aid)
            parts.append(_card(c, texts.get(aid)))
        parts.append("</ol>")
    else:
        parts.append("<p>The answer cites no sources.</p>")
    parts.append(f'<p class="rag-by">{_e(backend_note(answer))}</p></div>')
    return "".join(parts)


_MD_ACTIVE = re.compile(r"([\\`*_\[\]#|~])")


def as_markdown_text(text: str) -> str:
    """Text shown literally by the (Markdown-rendering) chatbot: HTML escaped, Markdown punctuation
    backslashed, so an article's '*' or '<b>' is shown, not interpreted."""
    return _MD_ACTIVE.sub(r"\\\1", html.escape(text, quote=False))


_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")


def linked_markers(markdown: str) -> str:
    """Escaped `[n]` markers become links to source card n (HEAD_JS scrolls to it and flashes it)."""
    return _ESCAPED_MARKER.sub(r'<a class="rag-marker" href="#rag-src-\1">[\1]</a>', markdown)


def chat_text(text: str) -> str:
    """Answer text (streaming or final) for the chatbot: literal, one line per line, markers linked."""
    # A "who claims" answer is a list, one claimant per line: Markdown hard line breaks keep it one.
    return linked_markers("  \n".join(as_markdown_text(line) for line in text.splitlines()))


def _cell(text: str, limit: int = 220) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
    return as_markdown_text(text)  # escapes "|" too, so a cell cannot break the table


def claims_table(answer: Answer) -> str:
    """The "who said what" tables of a who-claims answer: the claimants, then the other side (denials and
    counter-claims), one row per speaker: who (role), when, the exact words, the source card."""
    out = []
    groups = [("supports", "**Claimed by**"), ("counter", "**The other side** (denials, counter-claims)")]
    # In the answer's order: for "who denied it?" the denials come first.
    first = {
        stance: min((c.citation.n for c in answer.claims if c.stance == stance), default=10**9) for stance, _ in groups
    }
    groups.sort(key=lambda g: first[g[0]])
    if groups[0][0] == "counter":
        groups = [("counter", "**Denied or disputed by**"), ("supports", "**The claim they dispute, made by**")]
    for stance, title in groups:
        rows = [c for c in answer.claims if c.stance == stance]
        if not rows:
            continue
        out += [title, "", "| who | when | what they said | source |", "|---|---|---|---|"]
        for c in rows:
            p = c.citation.passage
            who = _cell(c.speaker, 60) + (f" ({_cell(c.speaker_role, 70)})" if c.speaker_role else "")
            when = _cell(c.date or p.published or "undated", 30)
            source = f"{linked_markers(as_markdown_text(f'[{c.citation.n}]'))} {_cell(p.source or p.title, 40)}"
            out.append(f"| {who} | {when} | “{_cell(c.content.rstrip(' ,;:'))}” | {source} |")
        out.append("")
    return "\n".join(out).strip()


def answer_message(answer: Answer) -> str:
    """The chat bubble for a finished answer: the text (a "who said what" table for a who-claims
    answer), notes, the search query when a follow-up was rewritten, then who answered and how fast."""
    if answer.abstained:
        body = "Not found in the indexed articles. The closest passages are listed under Sources."
    else:
        table = claims_table(answer)
        first = as_markdown_text(answer.text.splitlines()[0]) if table else ""
        body = f"{first}\n\n{table}" if table else chat_text(answer.text)
    if answer.source_note:
        body += f"\n\n{as_markdown_text(answer.source_note)}"
    if answer.language_note:
        body += f"\n\n{as_markdown_text(answer.language_note)}"
    body += removed_details(answer)
    if answer.judge_note:
        body += f"\n\n{as_markdown_text(answer.judge_note)}"
    if answer.query and answer.query != answer.question:
        body += (
            '\n\n<details class="rag-query"><summary>Searched for (the follow-up read with the conversation)'
            f"</summary>{as_markdown_text(answer.query)}</details>"
        )
    took = answer.timings.get("total_s")
    note = backend_note(answer) + (f" · {took:.1f} s" if took is not None else "")
    return f"{body}\n\n*{as_markdown_text(note)}*"


def removed_details(answer: Answer) -> str:
    """How many of the model's sentences were removed, and, folded, which and why."""
    if not answer.removed_note:
        return ""
    items = "".join(f"<li>{_e(r.sentence)} <em>({_e('; '.join(r.reasons))})</em></li>" for r in answer.removed)
    return f'\n\n<details class="rag-removed"><summary>{_e(answer.removed_note)}</summary><ul>{items}</ul></details>'


def render_status(status: dict[str, Any]) -> str:
    """HTML: index counts on one line, then each backend's availability (with the reason when not)."""
    manifest = status.get("manifest") or {}
    articles = manifest.get("articles")
    counts = f"{articles:,} articles, " if isinstance(articles, int) else ""
    backends = status.get("backends") or {}
    auto = status.get("auto_backend") or next((n for n, b in backends.items() if b.get("available")), "extractive")
    used = (status.get("embedder") or {}).get("index") or (status.get("embedder") or {}).get("configured")
    embedder = f" · embedder <b>{_e(used)}</b>" if used else ""
    marks = [
        f'<span class="rag-ok">✓ {_e(name)}</span>'
        + ("" if b.get("in_auto", True) else " (when chosen by name: 'auto' passes it by)")
        if b.get("available")
        else f'<span class="rag-off">✗ {_e(name)}</span> ({_e(b.get("detail", ""))})'
        for name, b in backends.items()
    ]
    return (
        f'<div class="rag-status"><div><b>Index</b> {_e(status.get("index", ""))}: '
        f"{counts}{status.get('passages', 0):,} passages"
        f"{embedder}"
        f" · default backend <b>{_e(status.get('default_backend', 'auto'))}</b> (auto → {_e(auto)})</div>"
        f'<div class="rag-backends">{" · ".join(marks)}</div></div>'
    )


def status_line(index: Index) -> str:
    """The status HTML; when the index cannot be read (its Chroma server went away, its disk is full),
    the one-line reason, marked, in its place."""
    try:
        return render_status(index.status())
    except RagError as e:
        return f'<div class="rag-status"><div class="rag-off">⚠️ {_e(e)}</div></div>'


# --- check tab: rendering (unit-tested) -----------------------------------------------------------
CHECK_PLACEHOLDER = (
    '<p class="rag-empty">Each sentence of the text appears here with its verdict and the quotes behind it.</p>'
)


def _quote_citations(result: CheckedSentence) -> list[Citation]:
    """A sentence's quotes as citations, one per passage (its spans together), so the cards of the chat's
    sources panel show them highlighted inside their passages."""
    by_passage: dict[str, list[tuple[Passage, QuotedSpan]]] = {}
    for p, q in result.quoted():
        by_passage.setdefault(p.id, []).append((p, q))
    out = []
    for n, quotes in enumerate(by_passage.values(), start=1):
        p, first = quotes[0]
        spans = tuple((q.start, q.end, q.text) for _, q in quotes)
        out.append(Citation(n, p, first.text, first.start, first.end, spans=spans, verdict=result.verdict))
    return out


def _checked_item(i: int, result: CheckedSentence, article_text: Callable[[str], str | None] | None) -> str:
    j = result.judgement
    parts = [
        f'<li class="rag-checked rag-{_e(j.verdict)}" id="rag-chk-{i}">',
        f'<div class="rag-verdict"><span class="rag-badge rag-{_e(j.verdict)}">{_e(VERDICT_LABELS[j.verdict])}</span>'
        f'<span class="rag-score">score {j.score:.2f}</span></div>',
        f'<p class="rag-sentence">{_e(j.sentence)}</p>',
    ]
    if j.reasons:
        label = "Removed" if j.verdict == "removed" else "Note"
        parts.append(f'<div class="rag-why"><b>{label}:</b> {_e("; ".join(j.reasons))}</div>')
    cards = "".join(
        _card(c, article_text(c.passage.article_id) if article_text else None, anchor=f"rag-chk-{i}-src")
        for c in _quote_citations(result)
    )
    if cards and j.verdict == "removed":  # what came closest, folded: it does not support the sentence
        parts.append(
            '<details class="rag-quotes"><summary>Closest passages (they do not support it)</summary>'
            f'<ol class="rag-cards">{cards}</ol></details>'
        )
    elif cards:
        parts.append(f'<ol class="rag-cards">{cards}</ol>')
    parts.append("</li>")
    return "".join(parts)


def render_check(results: Sequence[CheckedSentence], article_text: Callable[[str], str | None] | None = None) -> str:
    """HTML for the "Check a text" tab: the counts, then each sentence with its colour-coded verdict, why
    (when removed or only a paraphrase), and its quotes highlighted inside their passages and articles."""
    texts: dict[str, str | None] = {}

    def cached(aid: str) -> str | None:  # one read per article, however many sentences quote it
        if aid not in texts and article_text is not None:
            texts[aid] = article_text(aid)
        return texts.get(aid)

    items = "".join(_checked_item(i, r, cached) for i, r in enumerate(results, start=1))
    return (
        f'<div class="rag-sources rag-check"><p class="rag-for">{_e(count_line(results))}</p>'
        f'<ol class="rag-checked-list">{items}</ol></div>'
    )


def check_result(index: Index, text: str, progress: Callable[[int, int], object] | None = None) -> str:
    """The "Check a text" button: the rendered result, or the reason the text cannot be checked.
    `progress(done, total)` hears of each sentence searched."""
    try:
        return render_check(index.check(text or "", progress=progress), index.store.article_text)
    except RagError as e:  # empty, too long, binary, empty index: the user can act on these
        message = f"Could not check the text: {e}"
    except Exception as e:  # a bug must not take the tab down
        log.exception("checking a text failed")
        message = f"Could not check the text: internal error ({type(e).__name__}): {e}"
    return f'<div class="rag-sources rag-check"><p class="rag-none">⚠️ {_e(message)}</p></div>'


# --- per-session state and event handlers --------------------------------------------------------
@dataclass
class Session:
    """One browser tab's conversation. Kept in gr.State, which gives each session its own copy, so the
    follow-up history of concurrent users never mixes."""

    chat: Chat
    sources: dict[int, str] = field(default_factory=dict)  # chatbot message index -> its sources HTML


Messages = list[dict[str, Any]]
Auth = list[tuple[str, str]] | tuple[str, str] | None
STATUS_EVERY_S = 15.0  # how often the status line asks whether Ollama is up
Update = tuple[Messages, str, str, Session]


def respond(
    index: Index,
    question: str,
    history: Messages,
    session: Session | None,
    backend: str,
    top_k: float,
    filters: Filters | None = None,
) -> Iterator[Update]:
    """Stream one answer: yields (chat messages, textbox value, sources HTML, session) as it grows."""
    # The State starts empty: Gradio deep-copies a State's initial value, and an Index must not be copied.
    session = session or Session(index.chat())
    history = list(history or [])
    if question.strip():
        history.append({"role": "user", "content": as_markdown_text(question)})
    pending = '<p class="rag-empty">Searching the indexed articles…</p>'
    yield history, "", pending, session
    text = ""
    try:
        stream = session.chat.ask_stream(question, backend=backend, top_k=int(top_k), filters=filters)
        for delta in stream:
            text += delta
            yield [*history, {"role": "assistant", "content": chat_text(text)}], "", pending, session
        answer = stream.answer
    except RagError as e:  # bad question, backend unavailable, empty index: the user can act on these
        yield [*history, _error_message(str(e))], "", SOURCES_PLACEHOLDER, session
        return
    except Exception as e:  # a bug or a dropped model server must not take the tab down
        log.exception("answering %r failed", question)
        yield [*history, _error_message(f"internal error ({type(e).__name__}): {e}")], "", SOURCES_PLACEHOLDER, session
        return
    sources = render_sources(answer, index.store.article_text)
    session.sources[len(history)] = sources
    yield [*history, {"role": "assistant", "content": answer_message(answer)}], "", sources, session


def _error_message(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": f"⚠️ **Could not answer:** {as_markdown_text(text)}"}


def show_sources(session: Session | None, evt: gr.SelectData) -> str | Any:
    """Clicking an answer (or the question before it) brings its sources back into the panel."""
    i = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    if session is None or not isinstance(i, int):
        return gr.skip()
    for j in (i, i + 1):
        if j in session.sources:
            return session.sources[j]
    return gr.skip()


def clear(session: Session | None) -> tuple[Messages, str, str, Session | None]:
    """Forget the conversation: follow-ups after this start fresh."""
    if session is not None:
        session.chat.reset()
        session.sources.clear()
    return [], "", SOURCES_PLACEHOLDER, session


def export_conversation(session: Session | None) -> str | None:
    """A Markdown file of the conversation with its citations, for the download button."""
    if session is None or not session.chat.turns:
        return None
    folder = Path(tempfile.mkdtemp(prefix="rag-export-"))
    path = folder / f"conversation-{datetime.now():%Y%m%d-%H%M}.md"
    path.write_text(session.chat.to_markdown(), encoding="utf-8")
    return str(path)


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """RAG_AUTH: "user:password", or the path of a file with one "user:password" per line ('#' starts a
    comment). None when unset. A malformed value is an error naming what is wrong, never a silent open UI."""
    if not value or not value.strip():
        return None
    value = value.strip()
    path = Path(value).expanduser()
    source, lines = ("RAG_AUTH", [value])
    if path.is_file():
        try:
            source, lines = str(path), path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise BadSetting(f"RAG_AUTH file {path}: cannot be read ({e})") from e
    elif "/" in value or "\\" in value:
        raise BadSetting(f"RAG_AUTH: no such file {value} (give USER:PASSWORD or an existing file)")
    pairs = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user.strip() or not password:
            where = f"{source} line {number}" if source != "RAG_AUTH" else "RAG_AUTH"
            raise BadSetting(f"{where}: expected USER:PASSWORD (or the path of a file of such lines)")
        pairs.append((user.strip(), password))
    if not pairs:
        raise BadSetting(f"{source}: no USER:PASSWORD line")
    return pairs


# --- timeline of claims (a who-claims answer's claims by date and side) -------------------------
TIMELINE_COLORS = {CLAIMS: "#2563eb", OTHER_SIDE: "#dc2626"}
TIMELINE_HELP = (
    "**Timeline of claims:** one mark per claim, on the date it gives or else its article's date; "
    "each row is a source card. Hover a mark for its words; drag across dates to outline those claims' "
    "source cards."
)
# After a drag on the plot: the first outlined source card scrolled into view.
SCROLL_TO_PICKED_JS = """() => {
  const card = document.querySelector("#sources li.rag-picked");
  if (card) card.scrollIntoView({behavior: "smooth", block: "nearest"});
}"""


def _timeline_row_label(p: TimelinePoint, width: int) -> str:
    """'[2] Igor Mosiychuk': the y-axis names each mark's source card (padded, so [10] sorts after [9])."""
    return f"[{p.n:>{width}}] {p.speaker}"


def timeline_frame(points: Sequence[TimelinePoint]) -> pd.DataFrame:
    """The dated points as the plot's rows: x = date, y = source card and speaker, colour = side; the
    claim's words, outlet and where its date comes from for the tooltip."""
    import pandas as pd  # comes with gradio

    dated, _ = split_undated(list(points))
    width = len(str(max((p.n for p in dated), default=1)))
    rows = [
        {
            "date": p.date,
            "source card": _timeline_row_label(p, width),
            "side": p.stance,
            "claim": p.claim,
            "outlet": p.outlet,
            "dated by": f"the claim (“{p.date_text}”)" if p.date_from == "claim" else "its article's date",
        }
        for p in dated
    ]
    frame = pd.DataFrame(rows, columns=["date", "source card", "side", "claim", "outlet", "dated by"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _card_links(points: Sequence[TimelinePoint]) -> str:
    """'[1] Unigolova, [2] Igor Mosiychuk (“November 4”)', each marker a link to its source card."""
    return ", ".join(
        linked_markers(as_markdown_text(f"[{p.n}]"))
        + f" {as_markdown_text(p.speaker)}"
        + (f" (“{as_markdown_text(p.date_text)}”)" if p.date_text else "")
        for p in points
    )


def _day_seconds(day: date) -> float:
    """A date as the plot's x value: seconds since the epoch at its midnight, UTC (pandas' naive times)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def timeline_view(answer: Answer | None) -> tuple[Any, Any]:
    """(plot update, note update) for an answer: its dated claims on the plot, the undated ones listed
    under it; both hidden for an answer without a timeline (an ordinary answer, an abstention)."""
    points = answer.timeline if answer is not None and not answer.abstained else []
    if not points:
        return gr.update(visible=False, value=None), gr.update(visible=False, value="")
    dated, undated = split_undated(points)
    note = TIMELINE_HELP if dated else "**Timeline of claims:** no claim of this answer has a known date."
    if undated:
        note += f"\n\nUndated (no date in the claim or its article): {_card_links(undated)}"
    if not dated:
        return gr.update(visible=False, value=None), gr.update(visible=True, value=note)
    days = [p.date for p in dated if p.date is not None]
    rows = len({(p.n, p.speaker) for p in dated})
    # At least a week wide, a day or more either side: no mark on the edge, and the axis ticks fall on
    # whole days (over two or three days the chart would tick every 12 hours, each date written twice).
    first, last = _day_seconds(min(days)), _day_seconds(max(days))
    pad = max(86_400.0, (7 * 86_400 - (last - first)) / 2)
    plot = gr.update(
        visible=True,
        value=timeline_frame(dated),
        x_lim=[first - pad, last + pad],
        # Room for the rows and the colour legend under the axis.
        height=min(200 + 28 * rows, 520),
    )
    return plot, gr.update(visible=True, value=note)


def _latest_answer(session: Session | None, history: Messages | None) -> Answer | None:
    """The answer in the conversation's last message, or None when that message is not an answer (an
    error, a cleared conversation)."""
    if session is None or not session.chat.turns or not history or len(history) - 1 not in session.sources:
        return None
    return session.chat.turns[-1]


def show_timeline(session: Session | None, history: Messages | None) -> tuple[Any, Any]:
    """After an answer: the timeline of its claims (hidden when it has none)."""
    return timeline_view(_latest_answer(session, history))


def hide_timeline() -> tuple[Any, Any]:
    return timeline_view(None)


def picked_points(points: Sequence[TimelinePoint], span: object) -> list[TimelinePoint]:
    """The dated points inside a span dragged on the plot: [start, end] in seconds since the epoch
    (what the plot's select event gives for a date axis)."""
    if not isinstance(span, (list, tuple)) or len(span) != 2:
        return []
    try:
        start, end = sorted(float(s) for s in span)
    except (TypeError, ValueError):
        return []
    return [p for p in points if p.date is not None and start <= _day_seconds(p.date) <= end]


def outline_cards(sources: str, numbers: Sequence[int]) -> str:
    """The sources panel's HTML with source cards `numbers` outlined (class rag-picked)."""
    for n in numbers:
        card = f'<li class="rag-card" id="rag-src-{n}">'
        sources = sources.replace(card, card.replace('"rag-card"', '"rag-card rag-picked"'))
    return sources


def pick_timeline(session: Session | None, evt: gr.SelectData) -> tuple[Any, Any]:
    """Dragging across dates on the plot: the sources panel shows the latest answer's cards with those
    claims' cards outlined (then scrolled to, SCROLL_TO_PICKED_JS), and the note names them."""
    if session is None or not session.chat.turns or not session.sources:
        return gr.skip(), gr.skip()
    answer = session.chat.turns[-1]
    picked = picked_points(answer.timeline, evt.index)
    sources = outline_cards(session.sources[max(session.sources)], sorted({p.n for p in picked}))
    _, undated = split_undated(answer.timeline)
    note = TIMELINE_HELP + (f"\n\nPicked: {_card_links(picked)}" if picked else "\n\nNo claim in the dates picked.")
    if undated:
        note += f"\n\nUndated (no date in the claim or its article): {_card_links(undated)}"
    return sources, note


def _timeline_components() -> tuple[Any, Any]:
    """The plot of the latest answer's claims and its note, hidden until a who-claims answer comes."""
    plot = gr.ScatterPlot(
        x="date",
        y="source card",
        color="side",
        color_map=TIMELINE_COLORS,
        tooltip=["claim", "outlet", "dated by"],
        x_title="date",
        y_title="",
        x_axis_format="%d %b %Y",
        label="Timeline of claims",
        show_label=True,
        visible=False,
        elem_id="timeline",
    )
    note = gr.Markdown(visible=False, elem_id="timeline_note")
    return plot, note


def _wire_timeline(c: _ChatTab, session: Any, answering: Any) -> None:
    """The timeline follows the latest answer, hides with the conversation, and a drag across its dates
    outlines those claims' source cards. Private listeners: the app's API endpoints stay as they are."""
    outputs = [c.timeline, c.timeline_note]
    answering.then(show_timeline, inputs=[session, c.chatbot], outputs=outputs, queue=False, api_visibility="private")
    for trigger in (c.clear.click, c.chatbot.clear):
        trigger(hide_timeline, outputs=outputs, queue=False, api_visibility="private")
    c.timeline.select(
        pick_timeline, inputs=[session], outputs=[c.sources, c.timeline_note], queue=False, api_visibility="private"
    ).then(None, js=SCROLL_TO_PICKED_JS, queue=False)


# --- check tab -----------------------------------------------------------------------------------
def check_tab(index: Index) -> None:
    """Paste a text; each sentence comes back verified, supported (a paraphrase) or removed, with its quotes."""
    with gr.Tab("Check a text", elem_id="tab_check"):
        gr.Markdown(
            "Paste a draft, a press release or another tool's answer. Each sentence is checked against the "
            "indexed articles: **verified** (a quote states it), **supported** (a paraphrase of the quoted "
            f"passages) or **removed** (not backed by them), with the quotes highlighted. Up to "
            f"{MAX_CHECK_CHARS:,} characters."
        )
        text = gr.Textbox(label="Text to check", lines=8, max_lines=30, elem_id="check_text")
        run = gr.Button("Check against the articles", variant="primary", elem_id="check_run")
        result = gr.HTML(
            CHECK_PLACEHOLDER, elem_id="check_result", css_template=SOURCES_CSS + CHECK_CSS, js_on_load=None
        )

        # Gradio injects the progress tracker through this default.
        def _check(t: str, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
            def searched(done: int, total: int) -> None:
                progress(done / total, desc=f"Searched the articles for {done} of {total} sentences")

            return check_result(index, t, searched)

        # Own queue, like the library: checking a long text does not hold up the chat's answers.
        run.click(_check, inputs=[text], outputs=[result], concurrency_id="check", concurrency_limit=1)


# --- library tab ---------------------------------------------------------------------------------
def library_folder(index: Index) -> Path:
    return index.settings.ui.library or Path(index.settings.index) / "library"


def _stats(index: Index) -> str:
    try:
        records = index.store.article_records()
        claims = len(index.store.claim_index())
        return index_stats(records, index.store.count(), claims, Path(index.settings.index))
    except Exception as e:  # an unreadable index: say so, keep the tab
        return f"Index statistics are not available: {type(e).__name__}: {e}"


def _rows(index: Index) -> list[list[Any]]:
    try:
        return article_rows(index.store.article_records())
    except Exception:
        return []


def add_uploads(index: Index, paths: Sequence[str] | None) -> str:
    """Files the browser uploaded: kept in the library folder (checked), then ingested. Markdown report."""
    if not paths:
        return ""
    ui = index.settings.ui
    # A folder brings everything in it: only readable types count towards the limit; the rest is listed.
    skipped = [p for p in paths if Path(p).suffix.lower() not in SUPPORTED_SUFFIXES]
    paths = [p for p in paths if Path(p).suffix.lower() in SUPPORTED_SUFFIXES]
    saved = save_uploads([(Path(p).name, Path(p)) for p in paths], library_folder(index), ui.max_upload_mb,
                         ui.max_upload_files)  # fmt: skip
    lines = []
    if saved.files:
        report = index.ingest(*saved.files, progress=True)
        lines.append(as_markdown_text(report.summary()).replace("\n", "  \n"))
    lines += [f"refused: {as_markdown_text(str(problem))}" for problem in saved.refused]
    if skipped:
        names = ", ".join(sorted(Path(p).name for p in skipped)[:10]) + (" …" if len(skipped) > 10 else "")
        lines.append(f"skipped {len(skipped)} files of types ingest does not read: {as_markdown_text(names)}")
    return "  \n".join(lines)


def remove_article(index: Index, target: str) -> str:
    """Remove an article (by id, file or FILE#RECORD) from the index; an uploaded copy in the library
    folder goes too, so the next upload of the folder does not bring it back."""
    target = (target or "").strip()
    if not target:
        return "Choose an article first: click its row, or type its file or id."
    with translated(Place.of(index.settings), "remove"):  # a Chroma server that went away: one line
        records = index.store.article_records()
        locations = index.article_of_locations()
    # One article at a time: an id, or an input the ledger knows (a file, FILE#RECORD); never a folder.
    if target not in records and target not in locations:
        return f"Nothing was removed: {as_markdown_text(target)} is not an article id or an indexed file."
    aid = target if target in records else locations[target]
    path = str(records.get(aid, {}).get("path") or target)
    report = index.remove(target)
    if not report.removed:
        return f"Nothing was removed: no article or file matches {as_markdown_text(target)}."
    deleted = delete_uploaded(library_folder(index), path)
    summary = as_markdown_text(report.summary()).replace("\n", "  \n")
    return summary + ("  \nThe uploaded copy was deleted from the library folder." if deleted else "")


def library_tab(index: Index, status: gr.HTML) -> None:
    """Upload files or a folder (ingested with a progress bar while the chat stays usable), the
    articles with their metadata, removal, and index statistics."""
    kinds = sorted(SUPPORTED_SUFFIXES)
    with gr.Tab("Library", elem_id="tab_library"):
        stats = gr.Markdown(lambda: _stats(index), elem_id="library_stats")
        with gr.Row():
            files = gr.File(
                label=f"Add files ({', '.join(kinds)}; up to {index.settings.ui.max_upload_mb:g} MB each)",
                file_count="multiple",
                file_types=kinds,
                type="filepath",
                elem_id="upload_files",
            )
            folder = gr.File(label="Add a folder", file_count="directory", type="filepath", elem_id="upload_folder")
        report = gr.Markdown(elem_id="ingest_report")
        table = gr.Dataframe(
            value=lambda: _rows(index),
            headers=ARTICLE_COLUMNS,
            interactive=False,
            wrap=True,
            max_height=420,
            elem_id="articles",
            label="Articles (click a row to choose it)",
        )
        with gr.Row():
            target = gr.Textbox(label="Article to remove (id, file, or FILE#RECORD)", elem_id="remove_target", scale=4)
            remove_btn = gr.Button("Remove from the index", variant="stop", elem_id="remove", scale=1)

        # Gradio injects the progress tracker through this default.
        def _add(paths: list[str] | None, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, ...]:  # noqa: B008
            progress(0, desc="Reading the files")
            try:
                with translated(Place.of(index.settings), "ingest"):  # a full disk while saving the uploads, too
                    message = add_uploads(index, paths)
            except RagError as e:
                message = f"⚠️ {as_markdown_text(str(e))}"
            return message, _rows(index), _stats(index), status_line(index), None

        def _remove(t: str) -> tuple[Any, ...]:
            try:
                message = remove_article(index, t)
            except RagError as e:
                message = f"⚠️ {as_markdown_text(str(e))}"
            return message, _rows(index), _stats(index), status_line(index), ""

        def _pick(evt: gr.SelectData) -> str:
            row = evt.row_value or []
            return str(row[-1]) if row else ""

        # Own queue: an ingest runs while questions are answered in the Chat tab.
        for upload in (files, folder):
            upload.upload(
                _add,
                inputs=[upload],
                outputs=[report, table, stats, status, upload],
                concurrency_id="library",
                concurrency_limit=1,
            )
        remove_btn.click(
            _remove, inputs=[target], outputs=[report, table, stats, status, target], concurrency_id="library"
        )
        table.select(_pick, outputs=[target], queue=False)


# --- app -----------------------------------------------------------------------------------------
@dataclass
class _ChatTab:
    """The components of the Chat tab that its listeners read and write."""

    chatbot: Any
    question: Any
    send: Any
    clear: Any
    backend: Any
    model: Any
    k: Any
    filters: tuple[Any, Any, Any, Any, Any]  # outlets, languages, since, until, file or folder
    export: Any
    sources: Any
    openai_model: Any = None  # the OpenAI-compatible server's model (shown when one is configured)
    timeline: Any = None  # the latest answer's claims by date (a gr.ScatterPlot), and its note
    timeline_note: Any = None


def build_app(index: Index) -> gr.Blocks:
    """The chat UI for `index`; launch it with `serve` (or `start` to keep the calling thread)."""
    demo: gr.Blocks
    with gr.Blocks(title="rag — ask the news", analytics_enabled=False, fill_width=True) as demo:
        gr.Markdown(
            "## Ask the indexed news articles\n"
            "Every sentence of an answer is quoted from, or checked against, the numbered sources."
        )
        # Re-read on page load and every STATUS_EVERY_S: counts, and whether Ollama is up with the model pulled.
        status = gr.HTML(
            lambda: status_line(index),
            every=gr.Timer(STATUS_EVERY_S),
            elem_id="status",
            css_template=STATUS_CSS,
            js_on_load=None,
        )
        session = gr.State(None)
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Chat", elem_id="tab_chat"), gr.Row(equal_height=False):
                chat = _chat_tab(index)
            check_tab(index)
            library_tab(index, status)
        _wire_chat(demo, index, chat, session, status)
    return demo


def _chat_tab(index: Index) -> _ChatTab:
    """The conversation with its question box and settings (left), the sources of the answer (right)."""
    with gr.Column(scale=3):
        chatbot = gr.Chatbot(
            elem_id="chat",
            label="Conversation",
            height=520,
            latex_delimiters=[],  # news is full of '$': never typeset it as maths
            feedback_options=None,
            buttons=["copy"],
            placeholder="Ask about the articles, e.g. *who claims Pokrovsk has fallen?*",
        )
        with gr.Row(equal_height=True):
            question = gr.Textbox(
                elem_id="question",
                show_label=False,
                placeholder="Ask a question and press Enter",
                scale=6,
                max_lines=4,
                autofocus=True,
            )
            send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=80)
            clear_btn = gr.Button("Clear", elem_id="clear", variant="secondary", scale=1, min_width=80)
        timeline, timeline_note = _timeline_components()
        backend, model, openai_model, k = _answer_settings(index)
        filters = _filter_fields()
        with gr.Row():
            export = gr.DownloadButton(
                "Export the conversation (.md)", elem_id="export", variant="secondary", size="sm"
            )
    with gr.Column(scale=2):
        gr.Markdown("### Sources")
        sources = gr.HTML(SOURCES_PLACEHOLDER, elem_id="sources", css_template=SOURCES_CSS, js_on_load=None)
    return _ChatTab(
        chatbot,
        question,
        send,
        clear_btn,
        backend,
        model,
        k,
        filters,
        export,
        sources,
        openai_model=openai_model,
        timeline=timeline,
        timeline_note=timeline_note,
    )


def _answer_settings(index: Index) -> tuple[Any, Any, Any, Any]:
    """Backend, Ollama model, the OpenAI-compatible server's model (when one is configured) and top-k,
    under the question box."""
    llm = index.settings.llm
    top_k = index.settings.retrieve.top_k
    with gr.Row():
        backend = gr.Dropdown(BACKENDS, value=llm.backend, label="Backend", elem_id="backend")
        model = gr.Dropdown(
            choices=[llm.ollama_model],
            value=llm.ollama_model,
            allow_custom_value=True,
            label="Ollama model (for the whole server)",
            elem_id="ollama_model",
        )
        openai_model = gr.Dropdown(
            choices=[llm.openai_model] if llm.openai_model else [],
            value=llm.openai_model,
            allow_custom_value=True,
            label="OpenAI-compatible server's model (for the whole server)",
            elem_id="openai_model",
            visible=bool(llm.openai_base_url),
        )
        k = gr.Slider(1, max(20, top_k), value=top_k, step=1, label="Passages retrieved (top-k)", elem_id="top_k")
    return backend, model, openai_model, k


def _filter_fields() -> tuple[Any, Any, Any, Any, Any]:
    """The Filters accordion: outlets, languages, dates, file or folder."""
    with gr.Accordion("Filters", open=False, elem_id="filters"):
        with gr.Row():
            outlets = gr.Dropdown(choices=[], multiselect=True, label="Outlets", elem_id="filter_sources")
            langs = gr.Dropdown(choices=[], multiselect=True, label="Languages", elem_id="filter_langs")
        with gr.Row():
            since = gr.Textbox(label="Published since", placeholder="YYYY-MM-DD", elem_id="filter_since")
            until = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD", elem_id="filter_until")
            where = gr.Textbox(label="File or folder", placeholder="a path in the library", elem_id="filter_path")
    return outlets, langs, since, until, where


def _wire_chat(demo: gr.Blocks, index: Index, c: _ChatTab, session: Any, status: Any) -> None:
    """The Chat tab's listeners: asking (one queue), clearing, showing sources, the model and export."""

    def _respond(
        q: str,
        h: Messages,
        s: Session | None,
        b: str,
        kk: float,
        src: list[str] | None,
        lg: list[str] | None,
        since_: str,
        until_: str,
        path: str,
    ) -> Iterator[Update]:
        try:
            filters = Filters.parse(src, lg, since_ or None, until_ or None, (path or "").strip() or None)
        except RagError as e:  # a malformed date or unknown language: say so in the conversation
            yield [*(h or []), _error_message(str(e))], q, SOURCES_PLACEHOLDER, s or Session(index.chat())
            return
        yield from respond(index, q, h, s, b, kk, filters)

    def _filter_choices() -> tuple[Any, Any]:
        """Outlets and languages present in the index, read when the page loads."""
        try:
            return gr.update(choices=index.outlets()), gr.update(choices=index.languages())
        except Exception:  # an empty or unreadable index: no choices, the chat says why when asked
            return gr.update(choices=[]), gr.update(choices=[])

    outlets, langs = c.filters[0], c.filters[1]
    demo.load(_filter_choices, outputs=[outlets, langs], queue=False)

    # One listener for Enter and Send, so the concurrency limit of 1 covers both.
    answering = gr.on(
        triggers=[c.question.submit, c.send.click],
        fn=_respond,
        inputs=[c.question, c.chatbot, session, c.backend, c.k, *c.filters],
        outputs=[c.chatbot, c.question, c.sources, session],
        show_progress="minimal",
        # Several users asking at once wait in one queue, so answers never interleave.
        concurrency_id="answer",
    )
    # The chatbot's own trash icon must forget the follow-up history too, not just the bubbles.
    for trigger in (c.clear.click, c.chatbot.clear):
        trigger(
            clear,
            inputs=[session],
            outputs=[c.chatbot, c.question, c.sources, session],
            cancels=[answering],
            queue=False,
        ).then(lambda: None, outputs=[c.export], queue=False)  # nothing left to export
    c.chatbot.select(show_sources, inputs=[session], outputs=[c.sources], queue=False)

    def _models() -> Any:
        return gr.update(choices=ollama_models(index.settings.llm) or [index.settings.llm.ollama_model])

    def _use_model(name: str) -> str:
        index.use_ollama_model(name or "")
        return status_line(index)

    def _openai_models() -> Any:
        llm = index.settings.llm
        listed = openai_models(llm) if llm.openai_base_url else []
        current = [llm.openai_model] if llm.openai_model else []
        # Never pick for the user: with several listed and none configured, 'auto' passes the server by.
        return gr.update(choices=sorted({*listed, *current}), value=llm.openai_model)

    def _use_openai_model(name: str | None) -> str:
        index.use_openai_model(name or "")
        return status_line(index)

    demo.load(_models, outputs=[c.model], queue=False)
    c.model.change(_use_model, inputs=[c.model], outputs=[status], queue=False)
    demo.load(_openai_models, outputs=[c.openai_model], queue=False)
    c.openai_model.change(_use_openai_model, inputs=[c.openai_model], outputs=[status], queue=False)
    # The download button always holds the conversation so far: one click saves it.
    answering.then(export_conversation, inputs=[session], outputs=[c.export], queue=False)
    _wire_timeline(c, session, answering)


def _launch(demo: gr.Blocks, host: str, port: int, auth: Auth, mcp: bool = False) -> None:
    from rag.app.mcp import after_launch, launch_options

    # With mcp: the tools under the UI's login (refused on another host without one); see rag/app/mcp.py.
    options = launch_options(demo, host, auth) if mcp else {"mcp_server": False}
    # One answer at a time: a second user waits in the queue instead of sharing the model mid-answer.
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        share=False,  # explicit: overrides GRADIO_SHARE, no tunnel to gradio.live
        prevent_thread_lock=True,
        ssr_mode=False,  # no Node server
        pwa=False,
        run_history=False,  # its page offers uploading runs to Hugging Face
        enable_monitoring=False,
        footer_links=["api", "settings"],
        head=HEAD_JS,
        max_file_size=int(demo.rag_max_upload_mb * 1024 * 1024),  # type: ignore[attr-defined]
        auth_message="Log in to the news archive (RAG_AUTH).",
        quiet=True,
        **options,
    )
    if mcp:
        try:
            after_launch(demo, auth)
        except BaseException:
            demo.close()
            raise


def start(index: Index, host: str = "127.0.0.1", port: int = 7860, auth: Auth = None, mcp: bool = False) -> gr.Blocks:
    """Launch in background threads and return the app (call `.close()` to stop it): for tests and notebooks.
    `mcp=True` also serves `search`, `ask` and `check` as MCP tools (rag/app/mcp.py)."""
    demo = build_app(index)
    if mcp:
        from rag.app.mcp import add_tools

        with demo:
            add_tools(index)
    demo.rag_max_upload_mb = index.settings.ui.max_upload_mb  # type: ignore[attr-defined]
    _launch(demo, host, port, auth, mcp)
    return demo


def serve(index: Index, host: str = "127.0.0.1", port: int = 7860, auth: Auth = None, mcp: bool = False) -> None:
    """Run the chat UI until interrupted (Ctrl-C). `auth=[(user, password), ...]` asks for a login;
    `mcp=True` also serves the archive as MCP tools."""
    demo = start(index, host, port, auth, mcp)
    print(f"rag UI on http://{host}:{port}/ (Ctrl-C to stop)")
    if mcp:
        from rag.app.mcp import mcp_url

        login = "HTTP Basic auth with the RAG_AUTH login" if auth else "no login: this machine only"
        print(f"MCP tools search, ask, check on {mcp_url(host, port)} (streamable HTTP; {login})")
    try:
        demo.block_thread()
    finally:
        demo.close()
