"""The same store behaviour on an embedded Chroma index and on a real Chroma server."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag
from rag.errors import IndexMismatch

SEEDS = Path(__file__).parents[2] / "seeds"

pytestmark = pytest.mark.integration


@pytest.fixture(params=["embedded", "server"])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        # A fresh collection per test on the shared server.
        return {"index": tmp_path / "local", "chroma_url": url, "collection": f"t{abs(hash(tmp_path)) % 10**8}"}
    return {"index": tmp_path / "local"}


def test_ingest_retrieve_and_reingest(backend_settings: dict[str, object]) -> None:
    idx = rag.open(**backend_settings)  # type: ignore[arg-type]
    first = idx.ingest(SEEDS)
    assert (len(first.new), len(first.failed)) == (5, 0)
    passages = idx.store.count()
    again = idx.ingest(SEEDS)
    assert (len(again.new), len(again.unchanged)) == (0, 5) and idx.store.count() == passages

    hits, _ = idx.retriever.retrieve("Who claims Pokrovsk has fallen?")
    top = hits[0].passage
    assert Path(top.path).name == "000_b89d6b79fc443941.txt"
    assert idx.store.article_text(top.article_id)[top.start : top.end] == top.text  # offsets point into the article
    assert top.title and top.language == "en"


def test_second_client_sees_the_same_index(backend_settings: dict[str, object]) -> None:
    rag.open(**backend_settings).ingest(SEEDS / "002_3c9bcfb2537f8c2b.txt")  # type: ignore[arg-type]
    other = rag.open(**backend_settings)  # type: ignore[arg-type]
    assert other.store.manifest()["articles"] == 1
    answer = other.ask(
        "Which village near Lysychansk did the Ukrainian army take full control of?", backend="extractive"
    )
    assert "Bilohorivka" in answer.text


def test_other_settings_are_refused(backend_settings: dict[str, object]) -> None:
    rag.open(**backend_settings).ingest(SEEDS / "002_3c9bcfb2537f8c2b.txt")  # type: ignore[arg-type]
    with pytest.raises(IndexMismatch, match="rebuild"):
        rag.open(**backend_settings, chunk={"max_chars": 400})  # type: ignore[arg-type]
