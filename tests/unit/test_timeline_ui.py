"""The timeline of claims in the UI: a plot of a who-claims answer's dated claims (hidden otherwise), the
undated ones listed under it, and a drag across its dates outlining those claims' source cards."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest

from rag.answer.timeline import timeline_points
from rag.app.index import Index
from rag.app.ui import (
    Session,
    build_app,
    hide_timeline,
    outline_cards,
    pick_timeline,
    picked_points,
    respond,
    show_timeline,
    timeline_frame,
    timeline_view,
)
from rag.config import Settings
from rag.testing.documents import DATED_POKROVSK_WIRE
from rag.types import Answer, Citation, Claim, Passage

SEEDS = Path(__file__).parents[2] / "seeds"
def _citation(n: int, published: str | None) -> Citation:
    p = Passage(f"p{n}", f"a{n}", f"Passage {n}.", 0, 10, f"news/{n}.txt", f"Title {n}", "Example News", "", published)
    return Citation(n, p, f"Quote {n}.", 0, 8)


def _who_answer(*claims: tuple[str, str, str | None, str | None]) -> Answer:
    """An answer with claims (speaker, stance, the claim's date words, the article's date), and its timeline."""
    listed = [
        Claim(speaker, f"words of {speaker}", _citation(n, published), "said", "", when, stance)
        for n, (speaker, stance, when, published) in enumerate(claims, start=1)
    ]
    answer = Answer("who claims Pokrovsk has fallen?", "Who claims Pokrovsk has fallen:", [c.citation for c in listed])
    answer.claims = listed
    answer.timeline = timeline_points(answer)
    return answer


def _hidden(update: dict[str, Any]) -> bool:
    return update.get("visible") is False


def test_the_plot_gets_a_who_claims_answers_dated_claims() -> None:
    answer = _who_answer(
        ("Igor Mosiychuk", "supports", "November 4", "2025-11-05"),
        ("Oleksiy Hetman", "counter", None, "2025-11-06"),
        ("Unigolova", "supports", None, None),
    )
    plot, note = timeline_view(answer)
    assert plot["visible"] is True and note["visible"] is True
    frame = plot["value"]
    assert list(frame["source card"]) == ["[1] Igor Mosiychuk", "[2] Oleksiy Hetman"]  # one mark per dated claim
    assert list(frame["side"]) == ["claims", "other side"]
    assert [d.date() for d in frame["date"]] == [date(2025, 11, 4), date(2025, 11, 6)]
    assert list(frame["dated by"]) == ["the claim (“November 4”)", "its article's date"]
    assert str(frame["date"].dtype).startswith("datetime64")  # a date axis for the plot
    # A day's margin either side of the dates, in seconds (the plot's unit for a date axis).
    # 4 to 6 November, widened to a week centred on them (whole-day ticks, no mark on the edge).
    day = 86_400.0
    assert plot["x_lim"] == [1762214400.0 - 2.5 * day, 1762387200.0 + 2.5 * day]
    # The undated claim is listed under the plot, linked to its source card.
    undated = 'Undated (no date in the claim or its article): <a class="rag-marker" href="#rag-src-3">[3]</a> Unigolova'
    assert undated in note["value"]


def test_the_plot_gets_its_data_through_the_gradio_component() -> None:
    answer = _who_answer(("Igor Mosiychuk", "supports", "November 4", "2025-11-05"))
    plot = gr.ScatterPlot(x="date", y="source card", color="side")
    data = plot.postprocess(timeline_frame(answer.timeline))
    assert data is not None
    assert data.datatypes == {
        "date": "temporal",
        "source card": "nominal",
        "side": "nominal",
        "claim": "nominal",
        "outlet": "nominal",
        "dated by": "nominal",
    }
    assert data.data[0][:3] == [1762214400000, "[1] Igor Mosiychuk", "claims"]


def test_the_plot_is_hidden_without_a_timeline() -> None:
    ordinary = _who_answer(("Igor Mosiychuk", "", "November 4", "2025-11-05"))  # claims behind ordinary quotes
    assert ordinary.timeline == []
    abstained = _who_answer(("Igor Mosiychuk", "supports", None, "2025-11-05"))
    abstained.abstained = True
    for answer in (ordinary, abstained, None):
        plot, note = timeline_view(answer)
        assert _hidden(plot) and _hidden(note)
    assert all(_hidden(u) for u in hide_timeline())


def test_undated_claims_only_hide_the_plot_but_are_listed() -> None:
    plot, note = timeline_view(_who_answer(("Igor Mosiychuk", "supports", "November 4", None)))
    assert _hidden(plot) and note["visible"] is True
    assert "no claim of this answer has a known date" in note["value"]
    assert "[1]</a> Igor Mosiychuk (“November 4”)" in note["value"]


def test_a_drag_across_dates_outlines_those_claims_source_cards() -> None:
    answer = _who_answer(
        ("Igor Mosiychuk", "supports", "November 4", "2025-11-05"),
        ("Oleksiy Hetman", "counter", None, "2025-11-06"),
    )
    nov4, nov6 = 1762214400.0, 1762387200.0
    assert [p.n for p in picked_points(answer.timeline, [nov4 - 3600, nov4 + 3600])] == [1]
    assert [p.n for p in picked_points(answer.timeline, (nov6 + 10, nov4 - 10))] == [1, 2]  # either way round
    assert picked_points(answer.timeline, None) == [] and picked_points(answer.timeline, ["a", "b"]) == []
    cards = '<ol><li class="rag-card" id="rag-src-1">one</li><li class="rag-card" id="rag-src-2">two</li></ol>'
    outlined = cards.replace('"rag-card" id="rag-src-2"', '"rag-card rag-picked" id="rag-src-2"')
    assert outline_cards(cards, [2]) == outlined

    session = Session(SimpleNamespace(turns=[answer]))  # type: ignore[arg-type]  # a chat that has answered
    session.sources = {1: cards}
    sources, note = pick_timeline(session, gr.SelectData(None, {"index": [nov4 - 60, nov4 + 60], "value": None}))
    assert '<li class="rag-card rag-picked" id="rag-src-1">' in sources and 'rag-picked" id="rag-src-2"' not in sources
    assert 'Picked: <a class="rag-marker" href="#rag-src-1">[1]</a> Igor Mosiychuk' in note
    _, note = pick_timeline(session, gr.SelectData(None, {"index": [0, 60], "value": None}))
    assert "No claim in the dates picked." in note


# --- over a small real index (hashing embedder: no model) ------------------------------------------
@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    root = tmp_path_factory.mktemp("timeline-ui")
    (root / "dated").mkdir()
    (root / "dated" / "pokrovsk_wire.txt").write_text(DATED_POKROVSK_WIRE, encoding="utf-8")
    idx = Index(Settings(index=root / "index", embed={"model": "hashing"}, llm={"backend": "extractive"}))
    report = idx.ingest(SEEDS, root / "dated")
    assert len(report.new) == 6, report.summary()
    return idx


def _ask(index: Index, question: str, session: Session | None = None) -> tuple[list[dict[str, Any]], Session]:
    *_, (history, _, _, session) = respond(index, question, [], session, "extractive", index.settings.retrieve.top_k)
    return history, session


def test_after_a_who_claims_answer_the_plot_shows_its_claims(index: Index) -> None:
    history, session = _ask(index, "who claims Pokrovsk has fallen?")
    plot, note = show_timeline(session, history)
    assert plot["visible"] is True
    frame = plot["value"]
    rows = dict(zip(frame["source card"].str.split("] ").str[1], frame["date"].dt.date, strict=True))
    assert rows["Valery Gerasimov"] == date(2025, 11, 10)  # "on Monday" in the paper of Wednesday 12 November
    assert rows["Viktor Trehubov"] == date(2025, 11, 11)
    assert set(frame["side"]) == {"claims", "other side"}
    assert "Igor Mosiychuk (“November 4”)" in note["value"]  # the seeds are undated: listed, not plotted
    # A drag across 10-11 November outlines the two dated claims' source cards in the sources panel.
    sources, _ = pick_timeline(session, gr.SelectData(None, {"index": [1762732800, 1762819200], "value": None}))
    dated = [p.n for p in session.chat.turns[-1].timeline if p.date is not None]
    assert sources.count("rag-picked") == len(dated) == 2
    assert all(f'<li class="rag-card rag-picked" id="rag-src-{n}">' in sources for n in dated)


def test_an_ordinary_answer_or_an_error_hides_the_plot(index: Index) -> None:
    history, session = _ask(index, "How many residents remain in Toretsk?")
    assert all(_hidden(u) for u in show_timeline(session, history))
    history, session = _ask(index, "   ", session)  # an error message is the latest: no timeline under it
    assert all(_hidden(u) for u in show_timeline(session, history))
    assert all(_hidden(u) for u in show_timeline(None, []))


def test_the_app_has_the_plot_and_keeps_its_api(index: Index) -> None:
    demo = build_app(index)
    plots = [b for b in demo.blocks.values() if isinstance(b, gr.ScatterPlot)]
    assert [p.elem_id for p in plots] == ["timeline"] and plots[0].visible is False
    public = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert {"_respond", "clear", "_add", "_remove"} <= public
    assert not {n for n in public if "timeline" in str(n)}  # the timeline's listeners add no endpoints
    selects = [fn for fn in demo.fns.values() if fn.name == "pick_timeline"]
    assert len(selects) == 1 and [t[0] for t in selects[0].targets] == [plots[0]._id]
