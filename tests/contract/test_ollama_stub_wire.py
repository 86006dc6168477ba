"""Contract tests: the Ollama stub speaks the wire format real clients expect.

Each test goes through the official ``ollama`` client or plain ``httpx``, never
through the stub's internals, so a drift from Ollama's documented API
(docs/api.md) shows up here.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import ollama
import pytest

from rag.testing.ollama_server import OllamaStubServer

pytestmark = pytest.mark.contract

MODEL = "qwen2.5:7b"
REPLY = "Paris is the capital of France."
USER = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def srv() -> Any:
    with OllamaStubServer(models=[MODEL], replies=[REPLY]) as server:
        yield server


@pytest.fixture
def client(srv: OllamaStubServer) -> ollama.Client:
    return ollama.Client(host=srv.url, timeout=10)


def _ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.iter_lines() if line.strip()]


# ------------------------------------------------------------- server basics


def test_binds_loopback_on_os_chosen_port(srv: OllamaStubServer) -> None:
    assert srv.url.startswith("http://127.0.0.1:")
    assert int(srv.url.rsplit(":", 1)[1]) > 0


def test_root_and_version(srv: OllamaStubServer) -> None:
    root = httpx.get(srv.url + "/")
    assert root.status_code == 200
    assert root.text == "Ollama is running"
    version = httpx.get(srv.url + "/api/version")
    assert version.headers["content-type"].startswith("application/json")
    assert version.json() == {"version": "0.6.0"}


def test_unknown_route_is_404(srv: OllamaStubServer) -> None:
    assert httpx.get(srv.url + "/api/nope").status_code == 404


def test_server_is_gone_after_exit() -> None:
    with OllamaStubServer() as server:
        url = server.url
        assert httpx.get(url + "/").status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/", timeout=2)


# ------------------------------------------------------------ list and show


def test_list_reports_models_in_ollama_shape(srv: OllamaStubServer, client: ollama.Client) -> None:
    listed = client.list()
    assert [m.model for m in listed.models] == [MODEL]
    entry = listed.models[0]
    assert entry.size and entry.size > 0
    assert entry.digest and len(entry.digest) == 64
    assert entry.modified_at is not None
    assert entry.details is not None and entry.details.format == "gguf"

    raw = httpx.get(srv.url + "/api/tags").json()["models"][0]
    assert {"name", "model", "modified_at", "size", "digest", "details"} <= raw.keys()
    assert raw["name"] == MODEL


def test_untagged_model_name_gets_latest() -> None:
    with OllamaStubServer(models=["llama3"]) as server:
        names = [m.model for m in ollama.Client(host=server.url).list().models]
        assert names == ["llama3:latest"]
        # Ollama resolves "llama3" to "llama3:latest" on lookup as well.
        ollama.Client(host=server.url).show("llama3")


def test_show_returns_model_info_and_capabilities(client: ollama.Client) -> None:
    shown = client.show(MODEL)
    assert shown.modelinfo is not None
    arch = shown.modelinfo["general.architecture"]
    assert shown.modelinfo[f"{arch}.context_length"] == 32768
    assert shown.capabilities == ["completion"]
    assert shown.template and shown.modelfile and shown.parameters
    assert shown.details is not None and shown.details.family == arch


def test_show_accepts_legacy_name_field(srv: OllamaStubServer) -> None:
    response = httpx.post(srv.url + "/api/show", json={"name": MODEL})
    assert response.status_code == 200
    assert "model_info" in response.json()


def test_show_unknown_model_is_404(srv: OllamaStubServer, client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as excinfo:
        client.show("missing:1b")
    assert excinfo.value.status_code == 404
    assert excinfo.value.error == "model 'missing:1b' not found"


# ---------------------------------------------------------------------- chat


def test_chat_stream_arrives_in_word_chunks(client: ollama.Client) -> None:
    parts = list(client.chat(model=MODEL, messages=USER, stream=True))
    *body, final = parts
    assert len(body) == len(REPLY.split()) > 1
    assert "".join(p.message.content or "" for p in body) == REPLY
    assert all(p.done is False and p.message.role == "assistant" for p in body)
    assert final.done is True
    assert final.done_reason == "stop"
    assert final.message.content == ""
    assert final.eval_count == len(body)
    assert final.prompt_eval_count and final.total_duration and final.eval_duration


def test_chat_without_stream(client: ollama.Client) -> None:
    reply = client.chat(model=MODEL, messages=USER, stream=False)
    assert reply.message.role == "assistant"
    assert reply.message.content == REPLY
    assert reply.done is True
    assert reply.done_reason == "stop"
    assert reply.model == MODEL


def test_chat_unknown_model_is_404(srv: OllamaStubServer, client: ollama.Client) -> None:
    for stream in (False, True):
        with pytest.raises(ollama.ResponseError) as excinfo:
            result = client.chat(model="nope:1b", messages=USER, stream=stream)
            list(result) if stream else None
        assert excinfo.value.status_code == 404
        assert excinfo.value.error == 'model "nope:1b" not found, try pulling it first'


def test_chat_records_requests(srv: OllamaStubServer, client: ollama.Client) -> None:
    client.chat(model=MODEL, messages=USER, stream=False, options={"temperature": 0})
    method, path, body = srv.requests[-1]
    assert (method, path) == ("POST", "/api/chat")
    assert body["model"] == MODEL
    assert body["messages"] == USER
    assert body["stream"] is False
    assert body["options"] == {"temperature": 0}


def test_replies_advance_then_repeat_last() -> None:
    with OllamaStubServer(models=[MODEL], replies=["one", "two"]) as server:
        client = ollama.Client(host=server.url)
        got = [client.chat(model=MODEL, messages=USER).message.content for _ in range(3)]
    assert got == ["one", "two", "two"]


def test_callable_replies_see_the_request() -> None:
    def echo(request: dict[str, Any]) -> str:
        return "echo: " + str(request["messages"][-1]["content"])

    with OllamaStubServer(models=[MODEL], replies=echo) as server:
        reply = ollama.Client(host=server.url).chat(model=MODEL, messages=USER)
    assert reply.message.content == "echo: " + USER[0]["content"]


def test_fail_with_injects_http_error() -> None:
    with OllamaStubServer(models=[MODEL], fail_with=503) as server:
        client = ollama.Client(host=server.url)
        with pytest.raises(ollama.ResponseError) as excinfo:
            client.chat(model=MODEL, messages=USER, stream=False)
        assert excinfo.value.status_code == 503
        # The failure affects chat only: discovery still works.
        assert client.list().models


def test_delay_slows_the_stream() -> None:
    delay = 0.05
    with OllamaStubServer(models=[MODEL], replies=["a b c d e"], delay_s=delay) as server:
        started = time.monotonic()
        parts = list(ollama.Client(host=server.url).chat(model=MODEL, messages=USER, stream=True))
        elapsed = time.monotonic() - started
    assert len(parts) == 6
    # Four gaps between five chunks.
    assert elapsed >= 4 * delay


def test_empty_messages_loads_the_model(client: ollama.Client) -> None:
    reply = client.chat(model=MODEL, messages=[], stream=False)
    assert reply.done is True
    assert reply.done_reason == "load"
    assert reply.message.content == ""


# --------------------------------------------------------------- raw httpx


def test_raw_chat_streams_ndjson_by_default(srv: OllamaStubServer) -> None:
    # No "stream" key: Ollama streams by default.
    payload = {"model": MODEL, "messages": USER}
    with httpx.stream("POST", srv.url + "/api/chat", json=payload, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        assert response.headers.get("transfer-encoding") == "chunked"
        lines = _ndjson(response)
    assert len(lines) == len(REPLY.split()) + 1
    *body, final = lines
    for line in body:
        assert set(line) == {"model", "created_at", "message", "done"}
        assert line["done"] is False
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert final["message"] == {"role": "assistant", "content": ""}
    assert final["eval_count"] == len(body)
    for key in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration"):
        assert isinstance(final[key], int)
    assert final["created_at"].endswith("Z")


def test_raw_chat_stream_false_is_one_json_object(srv: OllamaStubServer) -> None:
    payload = {"model": MODEL, "messages": USER, "stream": False}
    response = httpx.post(srv.url + "/api/chat", json=payload)
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert data["message"] == {"role": "assistant", "content": REPLY}
    assert data["done"] is True


def test_raw_errors_are_json(srv: OllamaStubServer) -> None:
    missing = httpx.post(srv.url + "/api/chat", json={"model": "x", "messages": USER})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/json")
    assert missing.json() == {"error": 'model "x" not found, try pulling it first'}
    bad = httpx.post(srv.url + "/api/chat", content=b"{not json")
    assert bad.status_code == 400
    assert "error" in bad.json()


def test_keep_alive_connection_survives_a_stream(srv: OllamaStubServer) -> None:
    # Two requests on one pooled connection: the first stream must end
    # cleanly for the second request to parse.
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        first = _ndjson(http.post("/api/chat", json={"model": MODEL, "messages": USER}))
        second = http.get("/api/version").json()
    assert first[-1]["done"] is True
    assert second == {"version": "0.6.0"}


# ------------------------------------------------------------ generate, pull


def test_generate_stream_and_single(client: ollama.Client) -> None:
    parts = list(client.generate(model=MODEL, prompt="Capital of France?", stream=True))
    *body, final = parts
    assert "".join(p.response or "" for p in body) == REPLY
    assert final.done is True and final.response == ""
    assert final.done_reason == "stop"
    assert final.context

    single = client.generate(model=MODEL, prompt="Capital of France?", stream=False)
    assert single.response == REPLY
    assert single.done is True


def test_generate_unknown_model_is_404(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as excinfo:
        client.generate(model="nope:1b", prompt="hi")
    assert excinfo.value.status_code == 404


def test_pull_streams_status_and_adds_model(client: ollama.Client) -> None:
    statuses = [p.status for p in client.pull("llama3.2:1b", stream=True)]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    assert "llama3.2:1b" in [m.model for m in client.list().models]
    assert client.chat(model="llama3.2:1b", messages=USER).done is True
