"""The UI without a browser: rendering from hand-built answers, and the streaming handler over a small index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rag.app.index import Index
from rag.app.ui import (
    SOURCES_PLACEHOLDER,
    Messages,
    Session,
    Update,
    answer_message,
    as_markdown_text,
    backend_note,
    claims_table,
    clear,
    linked_markers,
    render_sources,
    render_status,
    respond,
)
from rag.config import Settings
from rag.types import Answer, Citation, Claim, Passage, ScoredPassage


def _passage(n: int, **kw: object) -> Passage:
    fields: dict[str, object] = {
        "id": f"p{n}",
        "article_id": f"a{n}",
        "text": f"Passage {n} text.",
        "start": 0,
        "end": 16,
        "path": f"seeds/00{n}_article.txt",
        "title": f"Title {n}",
        "source": "Example News",
        "published": "2025-11-05",
    }
    fields.update(kw)
    return Passage(**fields)  # type: ignore[arg-type]


def _answer_with(citations: list[Citation], **kw: Any) -> Answer:
    return Answer(
        question="who claims Pokrovsk has fallen?", text="Mosiychuk claimed it [1].", citations=citations, **kw
    )


def test_sources_show_marker_title_outlet_date_path_and_quote() -> None:
    quote = "Igor Mosiychuk claimed that Ukrainian troops had lost control of Pokrovsk."
    html = render_sources(
        _answer_with(
            [
                Citation(1, _passage(1), quote, 10, 80),
                Citation(2, _passage(2, title="Second story", published=None, source=""), "Other quote.", 0, 12),
            ]
        )
    )
    assert (
        html.index("[1]")
        < html.index("Title 1")
        < html.index("Example News")
        < html.index("2025-11-05")
        < html.index("seeds/001_article.txt")
    )
    assert f"<blockquote>{quote}</blockquote>" in html
    assert "[2]" in html and "Second story" in html
    assert "undated" in html and "unknown outlet" in html  # missing metadata is said, not left blank
    assert "answered by extractive" in html


def test_sources_list_other_outlets_that_published_the_story() -> None:
    also = (
        {"path": "wire.jsonl#kp-7", "source": "Kyiv <Post>", "published": "2025-11-06", "similarity": 0.91},
        {"path": "copies/b.txt", "source": "", "published": None, "similarity": 1.0},
    )
    html = render_sources(_answer_with([Citation(1, _passage(1), "Quote.", 0, 6, also_published_by=also)]))
    assert "Also published by: Kyiv &lt;Post&gt; 2025-11-06, copies/b.txt" in html
    assert "Also published" not in render_sources(_answer_with([Citation(1, _passage(1), "Quote.", 0, 6)]))


def test_sources_escape_html_everywhere() -> None:
    evil = _passage(1, title="<script>alert(1)</script>", source="A&B <i>", path='x/"><img src=x onerror=alert(2)>.txt')
    answer = Answer(
        question="<b>who</b>?",
        text="t [1]",
        citations=[Citation(1, evil, 'He said "<img src=x onerror=alert(3)>" & left.', 0, 5)],
    )
    html = render_sources(answer)
    assert "<script>" not in html and "<img" not in html and "<b>who" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "A&amp;B &lt;i&gt;" in html
    assert "&lt;img src=x onerror=alert(3)&gt;" in html and "&quot;" in html


def test_abstention_lists_closest_passages() -> None:
    near = [
        ScoredPassage(_passage(1, text="Myrnohrad faced an operational encirclement. " * 20), 0.42),
        ScoredPassage(_passage(2, title="<Weather>"), 0.17),
    ]
    answer = Answer(
        question="what is the capital of Mars?",
        text="Not found in the indexed articles.",
        abstained=True,
        abstain_reason="best evidence score 0.12 is below 0.30",
        passages=near,
    )
    html = render_sources(answer)
    assert "Not found in the indexed articles" in html
    assert "Closest passages" in html
    assert html.index("[1]") < html.index("Title 1") < html.index("[2]") < html.index("&lt;Weather&gt;")
    assert "score 0.420" in html
    assert "…" in html and html.count("Myrnohrad") < 20  # long passages are cut to an excerpt
    assert "<blockquote>" not in html  # nothing is presented as a quote supporting an answer
    assert "no answer: best evidence score 0.12 is below 0.30" in html


def test_abstention_without_passages_says_so() -> None:
    html = render_sources(Answer(question="q", text="", abstained=True))
    assert "Not found in the indexed articles" in html and "no passages" in html


def test_backend_note_names_backend_or_fallback() -> None:
    assert backend_note(_answer_with([], backend="ollama")) == "answered by ollama"
    fell_back = _answer_with([], backend="extractive", fallback_reason="no generated sentence was supported")
    assert backend_note(fell_back) == "extractive fallback: no generated sentence was supported"


def test_answer_message_is_literal_text_plus_backend_line() -> None:
    a = _answer_with([], backend="llamacpp", timings={"total_s": 1.25})
    a.text = "Prices rose *sharply* <b>[1]</b>."
    msg = answer_message(a)
    # Literal text; the marker alone becomes a link to its source card.
    assert msg.startswith(
        'Prices rose \\*sharply\\* &lt;b&gt;<a class="rag-marker" href="#rag-src-1">[1]</a>&lt;/b&gt;.'
    )
    assert msg.endswith("*answered by llamacpp · 1.2 s*")
    abstained = answer_message(Answer(question="q", text="Not found in the indexed articles.", abstained=True))
    assert abstained.startswith("Not found in the indexed articles.")


def test_as_markdown_text_keeps_plain_words() -> None:
    assert as_markdown_text("Mosiychuk said so [1].") == "Mosiychuk said so \\[1\\]."


def test_status_shows_counts_and_backend_availability() -> None:
    status = {
        "index": "index",
        "passages": 42,
        "manifest": {"articles": 5, "passages": 42},
        "backends": {
            "ollama": {"available": False, "detail": "Ollama is not reachable"},
            "llamacpp": {"available": True, "detail": "model.gguf"},
            "extractive": {"available": True, "detail": "no model"},
        },
        "default_backend": "auto",
    }
    line = render_status(status)
    assert "5 articles, 42 passages" in line
    assert "✗ ollama</span> (Ollama is not reachable)" in line and "✓ llamacpp" in line and "✓ extractive" in line
    assert "auto → llamacpp" in line
    # What 'auto' picks comes from the index when it says (the bundled SmolLM2 is available but not in auto).
    status["backends"]["llamacpp"]["in_auto"] = False
    line = render_status(status | {"auto_backend": "extractive"})
    assert "auto → extractive" in line and "✓ llamacpp</span> (when chosen by name" in line


def test_status_escapes_details() -> None:
    status = {"index": "<idx>", "passages": 0, "backends": {"ollama": {"available": False, "detail": "<b>down</b>"}}}
    line = render_status(status)
    assert "&lt;idx&gt;" in line and "&lt;b&gt;down&lt;/b&gt;" in line and "<b>down" not in line


# --- the streaming handler, over a small real index (hashing embedder: no model) ------------------
SEEDS = Path(__file__).parents[2] / "seeds"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    idx = Index(
        Settings(
            index=tmp_path_factory.mktemp("ui") / "index", embed={"model": "hashing"}, llm={"backend": "extractive"}
        )
    )
    idx.ingest(SEEDS)
    return idx


def _run(
    index: Index,
    question: str,
    session: Session | None = None,
    history: Messages | None = None,
    backend: str = "extractive",
) -> tuple[list[Update], Update]:
    updates = list(respond(index, question, history or [], session, backend, index.settings.retrieve.top_k))
    return updates, updates[-1]


def test_respond_streams_then_shows_answer_and_sources(index: Index) -> None:
    updates, (history, box, sources, session) = _run(index, "who claims Pokrovsk has fallen?")
    assert len(updates) >= 3  # the question at once, the streamed text, the final answer
    assert updates[0][0] == [{"role": "user", "content": "who claims Pokrovsk has fallen?"}]
    assert box == ""  # the textbox is emptied for the next question
    assert "Mosiychuk" in history[-1]["content"] and "answered by extractive" in history[-1]["content"]
    assert "000_b89d6b79fc443941.txt" in sources and "[1]" in sources
    assert len(session.chat.turns) == 1 and session.sources == {1: sources}


def test_respond_shows_package_errors_as_chat_messages(index: Index) -> None:
    _, (history, _, sources, session) = _run(index, "   ")
    assert history == [{"role": "assistant", "content": "⚠️ **Could not answer:** the question is empty"}]
    assert session.chat.turns == [] and sources == SOURCES_PLACEHOLDER
    _, (history, _, _, _) = _run(index, "x" * 5000, session)
    assert "Could not answer:** the question has 5,000 characters" in history[-1]["content"]


def test_respond_shows_unexpected_errors_without_raising(index: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionResetError("model server went away")

    session = Session(index.chat())
    monkeypatch.setattr(session.chat, "ask_stream", broken)
    _, (history, *_) = _run(index, "who claims Pokrovsk has fallen?", session)
    assert "internal error (ConnectionResetError): model server went away" in history[-1]["content"]


def test_sessions_keep_separate_histories(index: Index) -> None:
    _, (_, _, _, alice) = _run(index, "who claims Pokrovsk has fallen?")
    _, (_, _, _, bob) = _run(index, "what did the Russian Defense Ministry claim?")
    assert alice is not bob
    assert [a.question for a in alice.chat.turns] == ["who claims Pokrovsk has fallen?"]
    assert [a.question for a in bob.chat.turns] == ["what did the Russian Defense Ministry claim?"]


def test_clear_forgets_the_conversation(index: Index) -> None:
    _, (_, _, _, session) = _run(index, "who claims Pokrovsk has fallen?")
    history, box, sources, same = clear(session)
    assert history == [] and box == "" and sources == SOURCES_PLACEHOLDER
    assert same is session and session.chat.turns == [] and session.sources == {}


ARTICLE = (
    "Headline\n\nFormer parliamentarian Igor Mosiychuk claimed that Ukrainian troops had lost control of "
    "Pokrovsk. He said more. Another paragraph <b>here</b>."
)


def test_card_highlights_the_quote_inside_its_passage_and_offers_the_full_article() -> None:
    start = ARTICLE.index("Former")
    end = ARTICLE.index("Pokrovsk.") + len("Pokrovsk.")
    p = _passage(1, text=ARTICLE[start:], start=start, end=len(ARTICLE), language="uk")
    c = Citation(1, p, ARTICLE[start:end], start, end)
    html = render_sources(_answer_with([c]), article_text=lambda aid: ARTICLE if aid == "a1" else None)
    assert 'id="rag-src-1"' in html and "Ukrainian" in html  # the card's anchor; the language named
    assert f'<mark class="rag-quote">{ARTICLE[start:end]}</mark> He said more.' in html
    full = html[html.index('<details class="rag-full">') :]
    assert "Open the full article" in full and "Headline" in full and "&lt;b&gt;here&lt;/b&gt;" in full
    assert full.count("<mark") == 1
    # Without the article text, no full-article fold; a quote that is not in its passage is shown alone.
    assert "rag-full" not in render_sources(_answer_with([c]))
    off = Citation(1, p, "Not in the passage.", 0, 19)
    assert "<blockquote>Not in the passage.</blockquote>" in render_sources(_answer_with([off]))


def test_markers_link_to_their_cards() -> None:
    assert linked_markers("said so \\[2\\]\\[3\\].") == (
        'said so <a class="rag-marker" href="#rag-src-2">[2]</a><a class="rag-marker" href="#rag-src-3">[3]</a>.'
    )
    assert linked_markers("a \\[note\\]") == "a \\[note\\]"


def test_who_claims_answer_shows_a_who_said_what_table() -> None:
    p = _passage(1, source="RFE/RL", published="2025-11-04")
    c1 = Citation(1, p, "q1", 0, 2)
    c2 = Citation(2, _passage(2, source="Kyiv | Post"), "q2", 0, 2)
    answer = _answer_with(
        [c1, c2],
        claims=[
            Claim(
                "Igor Mosiychuk",
                "troops had lost control of Pokrovsk,",
                c1,
                "claimed",
                "former MP",
                "November 4",
                "supports",
            ),
            Claim("Oleksiy Hetman", "That's nonsense", c2, "added", "military expert", None, "counter"),
        ],
    )
    answer.text = "Who claims Pokrovsk has fallen:\nRFE/RL:\n- Igor Mosiychuk ... [1]\n- Oleksiy Hetman ... [2]"
    table = claims_table(answer)
    rows = table.splitlines()
    assert rows[0] == "**Claimed by**" and rows[2] == "| who | when | what they said | source |"
    assert rows[4].startswith("| Igor Mosiychuk (former MP) | November 4 | “troops had lost control of Pokrovsk” |")
    assert '<a class="rag-marker" href="#rag-src-1">[1]</a> RFE/RL |' in rows[4]
    other = rows[rows.index("**The other side** (denials, counter-claims)") :]
    assert other[4].startswith("| Oleksiy Hetman (military expert) | 2025-11-05 |")
    assert "Kyiv \\| Post" in other[4]  # a pipe in a cell does not break the table
    msg = answer_message(answer)
    assert msg.startswith("Who claims Pokrovsk has fallen:\n\n**Claimed by**")
    assert claims_table(_answer_with([c1])) == ""  # an ordinary answer has no table


def test_rewritten_follow_up_query_is_shown_on_demand() -> None:
    a = _answer_with([], query="who claims Pokrovsk has fallen? and Myrnohrad?")
    a.question = "and Myrnohrad?"
    assert "<details" in answer_message(a) and "who claims Pokrovsk has fallen? and Myrnohrad?" in answer_message(a)
    assert "<details" not in answer_message(_answer_with([], query="who claims Pokrovsk has fallen?"))


def test_denials_table_comes_first_when_the_denials_are_the_answer() -> None:
    c1 = Citation(1, _passage(1), "q1", 0, 2)
    c2 = Citation(2, _passage(2), "q2", 0, 2)
    answer = _answer_with(
        [c1, c2],
        claims=[
            Claim("Oleksiy Hetman", "That's nonsense", c1, "added", "", None, "counter"),
            Claim("Igor Mosiychuk", "troops had lost control", c2, "claimed", "", None, "supports"),
        ],
    )
    rows = claims_table(answer).splitlines()
    assert rows[0] == "**Denied or disputed by**"
    assert rows.index("**The claim they dispute, made by**") > rows.index("**Denied or disputed by**")
