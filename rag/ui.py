"""Browser chat over an `Index` (Gradio): answers stream in, their numbered sources sit beside them.

`serve(rag.open("index"))` runs it on http://127.0.0.1:7860. Everything stays on this machine: no share
links, no analytics, no fonts or scripts from the internet.
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

# Gradio reads this when a Blocks is built; set it first so no usage report ever leaves the machine.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr

from rag.chat import Chat
from rag.errors import RagError
from rag.filters import Filters
from rag.pipeline import Index
from rag.types import Answer, Passage

log = logging.getLogger(__name__)

BACKENDS = ["auto", "ollama", "llamacpp", "extractive"]
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
.rag-sources blockquote {
  margin: 0.45rem 0 0 0; padding: 0.1rem 0 0.1rem 0.6rem; border-left: 3px solid var(--color-accent);
  font-style: italic;
}
.rag-sources .rag-excerpt { margin: 0.45rem 0 0 0; color: var(--body-text-color-subdued); }
.rag-sources .rag-none { font-weight: 600; margin: 0 0 0.3rem 0; }
.rag-sources .rag-by { color: var(--body-text-color-subdued); font-size: 0.85em; margin-top: 0.3rem; }
.rag-empty { color: var(--body-text-color-subdued); }
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
    """`[n] title`, then `outlet — date — path` on a line of its own so a long path wraps cleanly;
    what the article lacks is said rather than left blank."""
    return (
        f'<div class="rag-head"><span class="rag-n">{_e(n)}</span> '
        f'<span class="rag-title">{_e(p.title or "(untitled)")}</span></div>'
        f'<div class="rag-meta">{_e(p.source or "unknown outlet")} — {_e(p.published or "undated")} — '
        f'<span class="rag-path">{_e(p.path or p.article_id)}</span></div>'
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


def render_sources(answer: Answer) -> str:
    """HTML for the sources panel: numbered citations with their quotes, or after an abstention the
    closest passages retrieval found, so the user can judge for themselves."""
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
        for c in answer.citations:
            parts.append(
                f"<li>{_source_line(f'[{c.n}]', c.passage)}<blockquote>{_e(c.quote)}</blockquote>"
                f"{_also_published(c.also_published_by)}</li>"
            )
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


def answer_message(answer: Answer) -> str:
    """The chat bubble for a finished answer: the text, then in italics who answered and how fast."""
    if answer.abstained:
        body = "Not found in the indexed articles. The closest passages are listed under Sources."
    else:
        # A "who claims" answer is a list, one claimant per line: Markdown hard line breaks keep it one.
        body = "  \n".join(as_markdown_text(line) for line in answer.text.splitlines())
    if answer.source_note:
        body += f"\n\n{as_markdown_text(answer.source_note)}"
    if answer.language_note:
        body += f"\n\n{as_markdown_text(answer.language_note)}"
    took = answer.timings.get("total_s")
    note = backend_note(answer) + (f" · {took:.1f} s" if took is not None else "")
    return f"{body}\n\n*{as_markdown_text(note)}*"


def render_status(status: dict[str, Any]) -> str:
    """HTML: index counts on one line, then each backend's availability (with the reason when not)."""
    manifest = status.get("manifest") or {}
    articles = manifest.get("articles")
    counts = f"{articles:,} articles, " if isinstance(articles, int) else ""
    backends = status.get("backends") or {}
    auto = next((name for name, b in backends.items() if b.get("available")), "extractive")
    marks = [
        f'<span class="rag-ok">✓ {_e(name)}</span>'
        if b.get("available")
        else f'<span class="rag-off">✗ {_e(name)}</span> ({_e(b.get("detail", ""))})'
        for name, b in backends.items()
    ]
    return (
        f'<div class="rag-status"><div><b>Index</b> {_e(status.get("index", ""))}: '
        f"{counts}{status.get('passages', 0):,} passages"
        f" · default backend <b>{_e(status.get('default_backend', 'auto'))}</b> (auto → {_e(auto)})</div>"
        f'<div class="rag-backends">{" · ".join(marks)}</div></div>'
    )


# --- per-session state and event handlers --------------------------------------------------------
@dataclass
class Session:
    """One browser tab's conversation. Kept in gr.State, which gives each session its own copy, so the
    follow-up history of concurrent users never mixes."""

    chat: Chat
    sources: dict[int, str] = field(default_factory=dict)  # chatbot message index -> its sources HTML


Messages = list[dict[str, Any]]
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
            yield [*history, {"role": "assistant", "content": as_markdown_text(text)}], "", pending, session
        answer = stream.answer
    except RagError as e:  # bad question, backend unavailable, empty index: the user can act on these
        yield [*history, _error_message(str(e))], "", SOURCES_PLACEHOLDER, session
        return
    except Exception as e:  # a bug or a dropped model server must not take the tab down
        log.exception("answering %r failed", question)
        yield [*history, _error_message(f"internal error ({type(e).__name__}): {e}")], "", SOURCES_PLACEHOLDER, session
        return
    sources = render_sources(answer)
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


# --- app -----------------------------------------------------------------------------------------
def build_app(index: Index) -> gr.Blocks:
    """The chat UI for `index`; launch it with `serve` (or `start` to keep the calling thread)."""
    top_k = index.settings.retrieve.top_k
    demo: gr.Blocks
    with gr.Blocks(title="rag — ask the news", analytics_enabled=False) as demo:
        gr.Markdown(
            "## Ask the indexed news articles\n"
            "Every sentence of an answer is quoted from, or checked against, the numbered sources."
        )
        # A function value is re-run on each page load: counts and backend availability stay current.
        gr.HTML(lambda: render_status(index.status()), elem_id="status", css_template=STATUS_CSS, js_on_load=None)
        session = gr.State(None)
        with gr.Row(equal_height=False):
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
                with gr.Row():
                    backend = gr.Dropdown(
                        BACKENDS, value=index.settings.llm.backend, label="Backend", elem_id="backend"
                    )
                    k = gr.Slider(
                        1, max(20, top_k), value=top_k, step=1, label="Passages retrieved (top-k)", elem_id="top_k"
                    )
                with gr.Accordion("Filters", open=False, elem_id="filters"):
                    with gr.Row():
                        outlets = gr.Dropdown(choices=[], multiselect=True, label="Outlets", elem_id="filter_sources")
                        langs = gr.Dropdown(choices=[], multiselect=True, label="Languages", elem_id="filter_langs")
                    with gr.Row():
                        since = gr.Textbox(label="Published since", placeholder="YYYY-MM-DD", elem_id="filter_since")
                        until = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD", elem_id="filter_until")
                        where = gr.Textbox(
                            label="File or folder", placeholder="a path in the library", elem_id="filter_path"
                        )
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(SOURCES_PLACEHOLDER, elem_id="sources", css_template=SOURCES_CSS, js_on_load=None)

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

        demo.load(_filter_choices, outputs=[outlets, langs], queue=False)

        # One listener for Enter and Send, so the concurrency limit of 1 covers both.
        answering = gr.on(
            triggers=[question.submit, send.click],
            fn=_respond,
            inputs=[question, chatbot, session, backend, k, outlets, langs, since, until, where],
            outputs=[chatbot, question, sources, session],
            show_progress="minimal",
        )
        # The chatbot's own trash icon must forget the follow-up history too, not just the bubbles.
        for trigger in (clear_btn.click, chatbot.clear):
            trigger(
                clear, inputs=[session], outputs=[chatbot, question, sources, session], cancels=[answering], queue=False
            )
        chatbot.select(show_sources, inputs=[session], outputs=[sources], queue=False)
    return demo


def _launch(demo: gr.Blocks, host: str, port: int, auth: tuple[str, str] | None) -> None:
    # One answer at a time: a second user waits in the queue instead of sharing the model mid-answer.
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        share=False,  # explicit: overrides GRADIO_SHARE, no tunnel to gradio.live
        prevent_thread_lock=True,
        ssr_mode=False,  # no Node server
        mcp_server=False,
        pwa=False,
        run_history=False,  # its page offers uploading runs to Hugging Face
        enable_monitoring=False,
        footer_links=["api", "settings"],
        quiet=True,
    )


def start(index: Index, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None) -> gr.Blocks:
    """Launch in background threads and return the app (call `.close()` to stop it): for tests and notebooks."""
    demo = build_app(index)
    _launch(demo, host, port, auth)
    return demo


def serve(index: Index, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None) -> None:
    """Run the chat UI until interrupted (Ctrl-C). `auth=(user, password)` asks for a login."""
    demo = start(index, host, port, auth)
    print(f"rag UI on http://{host}:{port}/ (Ctrl-C to stop)")
    try:
        demo.block_thread()
    finally:
        demo.close()
