"""The Ollama backend, through llama-index's Ollama integration, against a local server that speaks
Ollama's documented wire format (rag.testing.ollama_server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rag
from rag.answer.llm import ollama_status, resolve_backend
from rag.errors import BackendUnavailable
from rag.testing import HashingEmbedder
from rag.testing.ollama_server import OllamaStubServer
from rag.testing.stub_http import cite_reply, free_port

pytestmark = pytest.mark.contract
SEEDS = Path(__file__).parents[2] / "seeds"
# Not a "who claims" question: those are answered from extracted claims without asking the model.
QUESTION = "Did Ukrainian troops lose control of Pokrovsk?"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("idx")
    rag.open(folder, embedder=HashingEmbedder()).ingest(SEEDS)
    return folder


def _open(folder: Path, url: str, **llm: object) -> rag.Index:
    return rag.open(folder, embedder=HashingEmbedder(), llm={"ollama_host": url, "ollama_model": "qwen2.5:7b", **llm})


def test_auto_picks_ollama_when_model_is_pulled(seeded: Path) -> None:
    with OllamaStubServer(models=["qwen2.5:7b"]) as srv:
        idx = _open(seeded, srv.url)
        assert resolve_backend(idx.settings.llm) == "ollama"
        assert ("GET", "/api/tags") in [(r[0], r[1]) for r in srv.requests]


def test_auto_falls_back_when_model_is_missing(seeded: Path) -> None:
    with OllamaStubServer(models=["llama3.2:1b"]) as srv:
        idx = _open(seeded, srv.url)
        status = ollama_status(idx.settings.llm)
        assert not status.available and "ollama pull qwen2.5:7b" in status.detail
        assert resolve_backend(idx.settings.llm) in ("llamacpp", "extractive")
        with pytest.raises(BackendUnavailable, match=r"ollama pull qwen2\.5:7b"):
            idx.ask(QUESTION, backend="ollama")


def test_unreachable_server_says_how_to_start_it(seeded: Path) -> None:
    idx = _open(seeded, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable, match="ollama serve"):
        idx.ask(QUESTION, backend="ollama")


def test_streamed_answer_is_verified_and_cited(seeded: Path) -> None:
    reply = cite_reply(
        "lost control of Pokrovsk",
        "Former parliamentarian Igor Mosiychuk claimed on November 4 that Ukrainian troops had already "
        "lost control of Pokrovsk [{n}]. Kyiv has surrendered to Russia [{n}].",
    )
    with OllamaStubServer(replies=reply, delay_s=0.001) as srv:
        idx = _open(seeded, srv.url)
        stream = idx.ask_stream(QUESTION, backend="ollama")
        pieces = list(stream)
        answer = stream.answer
        chat_calls = [r for r in srv.requests if r[1] == "/api/chat"]
    assert answer.backend == "ollama"
    assert "Mosiychuk" in answer.text and "surrendered" not in answer.text  # the invented sentence is gone
    assert "".join(pieces) == answer.text
    assert [c.n for c in answer.citations] == [1]
    assert Path(answer.citations[0].passage.path).name == "000_b89d6b79fc443941.txt"
    assert "lost control of Pokrovsk" in answer.citations[0].quote
    # What went over the wire: the documented chat request, streaming, with our prompt.
    body = chat_calls[-1][2]
    assert body["model"] == "qwen2.5:7b" and body.get("stream", True) is True
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user"]
    assert '<passage n="1"' in body["messages"][1]["content"] and QUESTION in body["messages"][1]["content"]


def test_unsupported_ollama_answer_falls_back_to_extractive(seeded: Path) -> None:
    with OllamaStubServer(replies=["Pokrovsk fell in 1990 according to everyone [1]."]) as srv:
        answer = _open(seeded, srv.url).ask(QUESTION, backend="ollama")
    assert answer.backend == "extractive"
    assert "ollama" in answer.fallback_reason
    assert "Mosiychuk" in answer.text


def test_server_error_during_chat_is_a_clear_error(seeded: Path) -> None:
    with OllamaStubServer(fail_with=500) as srv:
        idx = _open(seeded, srv.url)
        with pytest.raises(BackendUnavailable, match="Ollama"):
            idx.ask(QUESTION, backend="ollama")


def test_cli_json_records_the_backend(
    seeded: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.app.cli import main

    reply = cite_reply(
        "lost control of Pokrovsk",
        "Igor Mosiychuk claimed that Ukrainian troops had already lost control of Pokrovsk [{n}].",
    )
    with OllamaStubServer(replies=reply) as srv:
        monkeypatch.setenv("RAG_EMBED__MODEL", "hashing")
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        assert main(["ask", QUESTION, "--index", str(seeded), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == "ollama" and out["citations"][0]["path"].endswith("000_b89d6b79fc443941.txt")
