"""The `openai` backend (any OpenAI-compatible server: LM Studio, llama-server, vLLM, LocalAI, Jan), through
llama-index's OpenAILike integration, against a local server speaking that wire format
(rag.testing.openai_server): JSON and server-sent-event streaming, errors, a model that is not loaded, an
API key; and the order in which 'auto' picks a backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rag
from rag.answer.llm import default_gguf_path, make_llm, openai_status, resolve_backend
from rag.config import LLMSettings
from rag.errors import AnswerInterrupted, BackendUnavailable
from rag.testing import HashingEmbedder
from rag.testing.ollama_server import OllamaStubServer
from rag.testing.openai_server import OpenAIStubServer
from rag.testing.stub_http import cite_reply, free_port

pytestmark = pytest.mark.contract
SEEDS = Path(__file__).parents[2] / "seeds"
QUESTION = "Did Ukrainian troops lose control of Pokrovsk?"  # not a who-claims question: the model writes
MODEL = "qwen2.5-7b-instruct"


NO_OLLAMA = f"http://127.0.0.1:{free_port()}"  # nothing listens there: Ollama is "not running"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("idx")
    rag.open(folder, embedder=HashingEmbedder()).ingest(SEEDS)
    return folder


SUPPORTED = cite_reply(
    "lost control of Pokrovsk",
    "Former parliamentarian Igor Mosiychuk claimed on November 4 that Ukrainian troops had already "
    "lost control of Pokrovsk [{n}]. Kyiv has surrendered to Russia [{n}].",
)


def _llm(url: str, **extra: object) -> dict[str, object]:
    return {"ollama_host": NO_OLLAMA, "openai_base_url": url, "openai_model": MODEL, **extra}


def _open(folder: Path, url: str, **extra: object) -> rag.Index:
    return rag.open(folder, embedder=HashingEmbedder(), llm=_llm(url, **extra))


# --- status and 'auto' ------------------------------------------------------------------------------


def test_not_configured_is_off_and_auto_never_waits_for_it() -> None:
    settings = LLMSettings(ollama_host=NO_OLLAMA, gguf_path=None)
    status = openai_status(settings)
    assert not status.available and "RAG_LLM__OPENAI_BASE_URL" in status.detail
    # Nothing answers and no GGUF file is configured: extractive, even when the bundled SmolLM2 is installed.
    assert resolve_backend(settings) == "extractive"


def test_status_lists_the_servers_models() -> None:
    with OpenAIStubServer(models=[MODEL, "gemma-3-4b"]) as srv:
        status = openai_status(LLMSettings(**_llm(srv.url)))
        assert status.available and status.detail == f"{MODEL} at {srv.url} (it also lists gemma-3-4b)"
        assert ("GET", "/v1/models") in [r[:2] for r in srv.requests]
        # No model configured and two listed: the user must choose; 'auto' passes the server by.
        unset = LLMSettings(ollama_host=NO_OLLAMA, openai_base_url=srv.url)
        status = openai_status(unset)
        assert not status.available and "RAG_LLM__OPENAI_MODEL" in status.detail and "gemma-3-4b" in status.detail
        assert resolve_backend(unset) == "extractive"
    with OpenAIStubServer(models=["only-one"]) as srv:  # llama-server lists the one model it runs
        status = openai_status(LLMSettings(ollama_host=NO_OLLAMA, openai_base_url=srv.url))
        assert status.available and status.detail.startswith("only-one at ")


def test_auto_order_ollama_then_openai_then_configured_gguf_then_extractive(tmp_path: Path) -> None:
    with OpenAIStubServer(models=[MODEL]) as oai, OllamaStubServer(models=["qwen2.5:7b"]) as oll:
        assert resolve_backend(LLMSettings(**_llm(oai.url, ollama_host=oll.url))) == "ollama"
        # Ollama up but the model not pulled: the OpenAI-compatible server answers.
        assert resolve_backend(LLMSettings(**_llm(oai.url, ollama_host=oll.url, ollama_model="x:1b"))) == "openai"
        assert resolve_backend(LLMSettings(**_llm(oai.url))) == "openai"
    # Neither server answers: a GGUF file the user configured, else extractive.
    bundled = default_gguf_path()
    if bundled is not None:
        assert resolve_backend(LLMSettings(**_llm(NO_OLLAMA, gguf_path=str(bundled)))) == "llamacpp"
        # The bundled model is still there when asked for by name.
        assert resolve_backend(LLMSettings(**_llm(NO_OLLAMA)), "llamacpp") == "llamacpp"
    assert resolve_backend(LLMSettings(**_llm(NO_OLLAMA))) == "extractive"


# --- answers --------------------------------------------------------------------------------------


def test_streamed_answer_is_verified_and_cited(seeded: Path) -> None:
    with OpenAIStubServer(models=[MODEL], replies=SUPPORTED, delay_s=0.001) as srv:
        idx = _open(seeded, srv.url)
        stream = idx.ask_stream(QUESTION)  # 'auto': Ollama is not running, the server is
        pieces = list(stream)
        answer = stream.answer
        body = srv.chat_requests[0][2]
    assert answer.backend == "openai"
    assert "Mosiychuk" in answer.text and "surrendered" not in answer.text  # the invented sentence is gone
    assert "".join(pieces) == answer.text
    assert Path(answer.citations[0].passage.path).name == "000_b89d6b79fc443941.txt"
    # What went over the wire: a streamed chat completion with our prompt.
    assert body["model"] == MODEL and body["stream"] is True
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert '<passage n="1"' in body["messages"][1]["content"] and QUESTION in body["messages"][1]["content"]
    assert body["temperature"] == 0.0 and body["max_tokens"] == 200


def test_plain_json_chat_and_the_api_key() -> None:
    with OpenAIStubServer(models=[MODEL], replies=["Paris."], api_key="sekret") as srv:
        refused = openai_status(LLMSettings(**_llm(srv.url)))
        assert not refused.available and "RAG_LLM__OPENAI_API_KEY" in refused.detail
        settings = LLMSettings(**_llm(srv.url, openai_api_key="sekret"))
        assert openai_status(settings).available
        from llama_index.core.llms import ChatMessage

        reply = make_llm("openai", settings).chat([ChatMessage(role="user", content="Capital of France?")])
        assert reply.message.content == "Paris."
        assert srv.chat_requests[-1][2].get("stream") in (None, False)
    assert "sekret" not in settings.model_dump_json()  # the key never lands in logs or the settings hash


def test_unsupported_answer_falls_back_to_extractive(seeded: Path) -> None:
    with OpenAIStubServer(models=[MODEL], replies=["Pokrovsk fell in 1990 according to everyone [1]."]) as srv:
        answer = _open(seeded, srv.url).ask(QUESTION, backend="openai")
    assert answer.backend == "extractive" and "openai" in answer.fallback_reason
    assert "Mosiychuk" in answer.text


def test_model_not_loaded(seeded: Path) -> None:
    with OpenAIStubServer(models=["gemma-3-4b"]) as srv:
        idx = _open(seeded, srv.url)
        with pytest.raises(BackendUnavailable, match=rf"model '{MODEL}' is not loaded .*gemma-3-4b"):
            idx.ask(QUESTION, backend="openai")
        assert resolve_backend(idx.settings.llm) == "extractive"
    # A server that lists nothing (it loads models on demand) but then cannot find it: the 404 of the chat call.
    not_loaded = rf"model '{MODEL}' is not loaded .*HTTP 404"
    with OpenAIStubServer(models=[]) as srv, pytest.raises(BackendUnavailable, match=not_loaded):
        _open(seeded, srv.url).ask(QUESTION, backend="openai")


def test_server_errors_are_one_clear_line(seeded: Path) -> None:
    with OpenAIStubServer(models=[MODEL], fail_with=500) as srv:
        with pytest.raises(BackendUnavailable, match=r"answered with an error \(HTTP 500") as err:
            _open(seeded, srv.url).ask(QUESTION, backend="openai")
        assert "\n" not in str(err.value) and len(srv.chat_requests) == 1  # no silent retries
    with pytest.raises(BackendUnavailable, match="no OpenAI-compatible server answers"):
        _open(seeded, f"http://127.0.0.1:{free_port()}/v1").ask(QUESTION, backend="openai")


def test_server_dying_mid_answer_keeps_what_was_verified(seeded: Path) -> None:
    shown: list[str] = []
    # 26 events: the role, then the first sentence's words and the start of the second.
    with OpenAIStubServer(models=[MODEL], replies=SUPPORTED, drop_after=26) as srv:
        stream = _open(seeded, srv.url).ask_stream(QUESTION, backend="openai")
        with pytest.raises(AnswerInterrupted, match="stopped in the middle of the answer"):
            shown.extend(stream)
    assert shown and "lost control of Pokrovsk [1]." in shown[0]
    # Dying before the first word is a plain BackendUnavailable, not an interruption.
    with OpenAIStubServer(models=[MODEL], replies=SUPPORTED, drop_after=0) as srv:
        with pytest.raises(BackendUnavailable, match="stopped before answering") as err:
            list(_open(seeded, srv.url).ask_stream(QUESTION, backend="openai"))
        assert not isinstance(err.value, AnswerInterrupted)


# --- the ways in ----------------------------------------------------------------------------------


def test_cli_json_and_status_name_the_backend(
    seeded: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.app.cli import main

    with OpenAIStubServer(models=[MODEL], replies=SUPPORTED) as srv:
        url = srv.url
        monkeypatch.setenv("RAG_EMBED__MODEL", "hashing")
        monkeypatch.setenv("OLLAMA_HOST", NO_OLLAMA)
        monkeypatch.setenv("RAG_LLM__OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("RAG_LLM__OPENAI_MODEL", MODEL)
        assert main(["ask", QUESTION, "--index", str(seeded), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["backend"] == "openai" and out["citations"][0]["path"].endswith("000_b89d6b79fc443941.txt")
        assert main(["status", "--index", str(seeded)]) == 0
        text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.strip().startswith("openai"))
    assert "yes" in line and f"{MODEL} at {url}" in line
    assert "(auto → openai)" in text


def test_ui_model_choice_lists_the_servers_models(seeded: Path) -> None:
    from gradio_client import Client

    from rag.app import ui

    with OpenAIStubServer(models=[MODEL, "gemma-3-4b"], replies=SUPPORTED) as srv:
        idx = _open(seeded, srv.url)
        port = free_port()
        demo = ui.start(idx, port=port)
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            api = client.view_api(print_info=False, return_format="dict")
            assert any("use_openai_model" in name for name in api["named_endpoints"])
            client.predict("gemma-3-4b", api_name="/_use_openai_model")
            assert idx.settings.llm.openai_model == "gemma-3-4b"
            answer = idx.ask(QUESTION)
        finally:
            demo.close()
    assert answer.backend in ("openai", "extractive")
    assert srv.chat_requests[-1][2]["model"] == "gemma-3-4b"
