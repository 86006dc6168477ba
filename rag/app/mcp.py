"""The archive as MCP tools (`rag serve --mcp`): `search`, `ask` and `check` for other assistants,
served by Gradio's MCP server beside the chat UI, under the UI's login rules.

Gradio makes every public endpoint of the app an MCP tool and does not put its MCP routes behind the
app's login, so this module
- registers the three tools with `gr.api` and, at start-up (before the first request), keeps only them
  as MCP tools: the chat's own listeners stay ordinary Gradio endpoints, never tools;
- guards every path under /gradio_api/mcp with the UI's credentials, as HTTP Basic auth (or the UI's
  session cookie), when a login is configured (`McpLogin`); without one, only on a local host;
- logs Gradio's own loopback client in, through which it runs queued tools, so `ask` waits in the
  chat's answer queue (one answer at a time) rather than beside it.

Without `from __future__ import annotations`: Gradio reads the tools' annotations as real types to
build their input schemas.
"""

import base64
import binascii
import contextlib
import hmac
import json
import logging
import re
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from http.cookies import CookieError, SimpleCookie
from typing import Any

import gradio as gr
from gradio.events import api
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.answer.check import MAX_CHECK_CHARS, CheckedSentence
from rag.app.index import Index
from rag.config import Backend
from rag.errors import BadSetting, RagError
from rag.search.filters import Filters
from rag.types import ScoredPassage

log = logging.getLogger(__name__)

TOOLS = ("search", "ask", "check")
MCP_PATH = "/gradio_api/mcp"  # Gradio's: streamable HTTP at MCP_PATH/, SSE at MCP_PATH/sse
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_TOP_K = 50
Login = list[tuple[str, str]]
# Gradio warns that a tool with a gr.State input never sees its state change: that is the chat's
# listener, which is never a tool here.
_STATE_WARNING = "This MCP server includes a tool that has a gr.State input"


class ToolError(gr.Error):
    """A tool's failure as the MCP client sees it: the one-line message, no traceback on the console."""

    def __init__(self, message: str) -> None:
        super().__init__(message, print_exception=False)

    def __str__(self) -> str:
        return str(self.message)


def mcp_url(host: str, port: int) -> str:
    """The streamable HTTP address MCP clients connect to."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{MCP_PATH}/"


# --- the tools' results (plain data, unit-testable without a server) --------------------------------
def passage_results(hits: Sequence[ScoredPassage]) -> list[dict[str, Any]]:
    """Retrieved passages, best first, with the article each belongs to."""
    return [
        {
            "rank": rank,
            "score": round(sp.score, 4),
            "title": sp.passage.title,
            "source": sp.passage.source,
            "published": sp.passage.published,
            "language": sp.passage.language,
            "path": sp.passage.path,
            "url": sp.passage.url,
            "article_id": sp.passage.article_id,
            "start": sp.passage.start,
            "end": sp.passage.end,
            "text": sp.passage.text,
        }
        for rank, sp in enumerate(hits, start=1)
    ]


def check_results(results: Sequence[CheckedSentence]) -> list[dict[str, Any]]:
    """`rag check --json`'s shape (quotes by article path), each quote also naming its article."""
    out = []
    for r in results:
        item = r.to_json("path")
        for quote, (p, _) in zip(item["quotes"], r.quoted(), strict=True):
            quote.update(title=p.title, source=p.source, published=p.published)
        out.append(item)
    return out


def _json(value: Any) -> str:
    # Gradio hands a tool's result to the client as str(result): a dict would arrive as Python's repr.
    return json.dumps(value, ensure_ascii=False)


def _run(what: str, work: Callable[[], Any]) -> str:
    """The tool's result as JSON text, or a ToolError the client can act on."""
    try:
        return _json(work())
    except RagError as e:  # a bad question, an empty index, a backend that is down: one line
        raise ToolError(str(e)) from e
    except ToolError:
        raise
    except Exception as e:  # a bug must not become Gradio's "the upstream app raised an exception"
        log.exception("MCP %s failed", what)
        raise ToolError(f"internal error ({type(e).__name__}): {e}") from e


def _top_k(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise ToolError(f"top_k must be a whole number from 1 to {MAX_TOP_K}, not {value!r}")
    return value


def _filters(outlets: str, languages: str, since: str, until: str) -> Filters | None:
    """The tools' filter arguments (comma-separated outlets and language codes, YYYY[-MM[-DD]] dates) as
    the index's Filters; None when none is given. A malformed one is the tool's error (BadFilter)."""
    if not any(v.strip() for v in (outlets, languages, since, until)):
        return None
    return Filters.parse(outlets or None, languages or None, since.strip() or None, until.strip() or None)


def add_tools(index: Index) -> None:
    """Register `search`, `ask` and `check` on the Blocks being built (call inside `with demo:`).

    Gradio builds each tool's MCP description from its docstring: the lines before "Args:" are joined
    into one paragraph, but each parameter and the "Returns:" text must stay on a line of their own.
    """
    default_k = min(index.settings.retrieve.top_k, MAX_TOP_K)
    default_backend: Backend = index.settings.llm.backend

    def search(
        query: str, top_k: int = default_k, outlets: str = "", languages: str = "", since: str = "", until: str = ""
    ) -> str:
        """Search the offline news archive: the passages of indexed news articles that best match a
        query, best first, with the article each comes from (title, outlet, date, file). It finds
        passages; it does not answer or check anything.

        Args:
            query: words or a question to search for, in any language of the articles
            top_k: how many passages to return (1 to 50)
            outlets: only these outlets, comma-separated (e.g. "Reuters, BBC"); empty: all
            languages: only articles in these languages, ISO 639-1 codes comma-separated (e.g. "en, sv"); empty: all
            since: only articles published on or after this day: YYYY-MM-DD, YYYY-MM or YYYY; empty: no limit
            until: only articles published on or before this day: YYYY-MM-DD, YYYY-MM or YYYY; empty: no limit

        Returns:
            a JSON list of passages, best first, each with rank, score, title, source (the outlet), published (YYYY-MM-DD or null), language, path (the article's file, or FILE#RECORD), url, article_id, start and end (character offsets in the article) and text
        """  # noqa: E501
        return _run(
            "search",
            lambda: passage_results(
                index.search(query, top_k=_top_k(top_k), filters=_filters(outlets, languages, since, until))
            ),
        )

    def ask(
        question: str,
        backend: Backend = default_backend,
        outlets: str = "",
        languages: str = "",
        since: str = "",
        until: str = "",
    ) -> str:
        """Answer a question from the offline news archive with verified citations: every sentence of
        the answer is quoted from, or checked against, its numbered source passages. When no article
        covers the question it abstains (abstained is true) and lists the closest passages instead of
        guessing.

        Args:
            question: the question, in plain words
            backend: who writes the answer: auto (the first local model that can answer now: Ollama, an OpenAI-compatible server, a configured GGUF model; else quotes only), ollama, openai, llamacpp or extractive (quotes from the articles only, fastest)
            outlets: only articles of these outlets, comma-separated; empty: all
            languages: only articles in these languages, ISO 639-1 codes comma-separated; empty: all
            since: only articles published on or after this day: YYYY-MM-DD, YYYY-MM or YYYY; empty: no limit
            until: only articles published on or before this day: YYYY-MM-DD, YYYY-MM or YYYY; empty: no limit

        Returns:
            a JSON object, the shape of `rag ask --json`: text with [n] markers, citations (n, title, source, published, path, quote, start, end, verdict), abstained and abstain_reason, backend, claims (who said what), passages (what retrieval found) and timings
        """  # noqa: E501
        return _run(
            "ask",
            lambda: index.ask(question, backend=backend, filters=_filters(outlets, languages, since, until)).to_json(),
        )

    def check(text: str) -> str:
        """Fact-check a text against the offline news archive, sentence by sentence: each sentence is
        verified (a quote from an article states it), supported (a faithful paraphrase of the quoted
        passages) or removed (not backed by the articles), with the quotes behind the verdict.

        Args:
            text: the text to check, such as a draft, a press release or another assistant's answer (at most {max_chars} characters)

        Returns:
            a JSON list with one object per sentence, in order (the shape of `rag check --json`): sentence, verdict (verified, supported or removed), score, reasons, and quotes (path, title, source, published, start, end, text)
        """  # noqa: E501
        return _run("check", lambda: check_results(index.check(text)))

    check.__doc__ = (check.__doc__ or "").replace("{max_chars}", f"{MAX_CHECK_CHARS:,}")
    # Queued like the UI's listeners: an assistant's question waits in the chat's answer queue (one
    # answer at a time: the bundled model must not run twice at once), a check in the check tab's.
    api(search, api_name="search", concurrency_id="mcp_search")
    api(ask, api_name="ask", concurrency_id="answer")
    api(check, api_name="check", concurrency_id="check")


# --- the login -------------------------------------------------------------------------------------
def logins(auth: Login | tuple[str, str] | None) -> Login | None:
    """The UI's `auth` as a list of (user, password) pairs."""
    if auth is None:
        return None
    if isinstance(auth, tuple):
        return [auth]
    return list(auth)


def _is_mcp_path(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", "") or "")
    if root and path.startswith(root):
        path = path[len(root) :]
    # Whatever spelling reaches Gradio's mount (doubled slashes, another case) is guarded too.
    return re.sub(r"/+", "/", path).lower().startswith(MCP_PATH)


def _credentials(scope: Scope) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic ...` header, None without a readable one."""
    for key, value in scope.get("headers", []):
        if key.lower() != b"authorization":
            continue
        kind, _, token = value.decode("latin-1").strip().partition(" ")
        if kind.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None
    return None


def _logged_in(scope: Scope) -> bool:
    """Does the request carry the session cookie of a user logged in to the UI? (The API page of a
    logged-in browser reads the tools' schema; it must not be asked for the password again.)"""
    app = scope.get("app")
    cookie_id, tokens = getattr(app, "cookie_id", None), getattr(app, "tokens", None)
    if not cookie_id or not isinstance(tokens, dict):
        return False
    cookies = SimpleCookie()
    for key, value in scope.get("headers", []):
        if key.lower() == b"cookie":
            with contextlib.suppress(CookieError):
                cookies.load(value.decode("latin-1"))
    names = (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}")
    return any(name in cookies and cookies[name].value in tokens for name in names)


def _matches(given: tuple[str, str], allowed: Login) -> bool:
    """Constant-time comparison with every configured login (no early exit on the first match)."""
    found = False
    for user, password in allowed:
        same_user = hmac.compare_digest(given[0].encode(), user.encode())
        same_password = hmac.compare_digest(given[1].encode(), password.encode())
        found |= same_user and same_password
    return found


class McpLogin:
    """ASGI middleware: every request under /gradio_api/mcp (streamable HTTP, SSE, its messages, the
    schema, the landing page) must carry one of the UI's logins as HTTP Basic auth, or the session
    cookie of a browser logged in to the UI; other paths pass (Gradio guards them itself)."""

    def __init__(self, app: ASGIApp, allowed: Login) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_mcp_path(scope):
            await self.app(scope, receive, send)
            return
        given = _credentials(scope)
        if (given is not None and _matches(given, self.allowed)) or _logged_in(scope):
            await self.app(scope, receive, send)
            return
        body = (
            b"401 Unauthorized: the MCP tools need the UI's login (RAG_AUTH) as HTTP Basic auth: "
            b"an 'Authorization: Basic base64(USER:PASSWORD)' header.\n"
        )
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Basic realm="rag MCP tools", charset="UTF-8"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# --- launching -------------------------------------------------------------------------------------
def require_login(host: str, auth: Login | tuple[str, str] | None) -> Login | None:
    """The UI's logins; BadSetting for a host other than this machine without one (the UI only warns,
    but an MCP client neither sees a warning nor is asked for a password)."""
    allowed = logins(auth)
    if allowed is None and host not in LOCAL_HOSTS:
        raise BadSetting(
            f"--mcp on {host} needs a login: set RAG_AUTH=user:password (or --auth), or serve on 127.0.0.1"
        )
    return allowed


def launch_options(demo: gr.Blocks, host: str, auth: Login | tuple[str, str] | None) -> dict[str, Any]:
    """Keyword arguments for `demo.launch(...)` serving the tools over MCP, the login guarding them.
    Raises BadSetting without the mcp package, or on another host without a login (`require_login`)."""
    allowed = require_login(host, auth)
    try:
        import mcp  # noqa: F401  (Gradio would otherwise start without its MCP server, saying nothing)
    except ImportError as e:
        raise BadSetting("rag serve --mcp needs the mcp package: pip install 'mcp>=1.21,<2'") from e
    warnings.filterwarnings("ignore", message=_STATE_WARNING, category=UserWarning)

    @contextlib.asynccontextmanager
    async def only_our_tools(app: Any) -> AsyncIterator[None]:
        # Runs once Gradio's MCP server exists, before the first request: every other endpoint of the
        # app (the chat's listeners) stops being a tool, for listing and for calling alike.
        server = demo.mcp_server_obj
        if server is not None:
            ours = {e.lstrip("/"): e for e in server.tool_to_endpoint.values() if e.lstrip("/") in TOOLS}
            if sorted(ours) != sorted(TOOLS):
                raise RuntimeError(f"MCP tools {TOOLS} expected, the app has {sorted(ours)}")
            server.tool_to_endpoint = ours
        yield

    app_kwargs: dict[str, Any] = {"lifespan": only_our_tools}
    if allowed is not None:
        app_kwargs["middleware"] = [Middleware(McpLogin, allowed=allowed)]
    return {"mcp_server": True, "app_kwargs": app_kwargs}


def after_launch(demo: gr.Blocks, auth: Login | tuple[str, str] | None) -> None:
    """Checks the MCP server runs, and logs in the Gradio client through which Gradio runs queued
    tools (a loopback to its own app): behind a login it must log in like a user, or every call fails
    with "credentials were not provided"."""
    server = demo.mcp_server_obj
    if server is None:
        raise BadSetting(f"the MCP server did not start: {demo.mcp_error or 'no reason given'}")
    allowed = logins(auth)
    if allowed is None:
        return
    if not hasattr(server, "_client_instance"):
        raise BadSetting("this Gradio runs MCP tools differently than 6.31: rag serve --mcp cannot log it in")
    from gradio_client import Client

    server._client_instance = Client(
        demo.local_url or f"http://127.0.0.1:{demo.server_port}/",
        auth=allowed[0],
        verbose=False,
        download_files=False,
        analytics_enabled=False,
        ssl_verify=False,
        _skip_components=False,
        headers={"x-gradio-user": "mcp"},
    )
