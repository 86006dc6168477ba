"""In-process stub of an OpenAI-compatible server (LM Studio, llama.cpp's llama-server, vLLM, LocalAI,
Jan) for contract tests.

It speaks the chat-completions wire format those servers share: ``GET /v1/models``, ``POST
/v1/chat/completions`` answered as one JSON object or, with ``"stream": true``, as server-sent events
(``data: {chunk}`` lines, then ``data: [DONE]``), and errors as ``{"error": {"message", "type",
"param", "code"}}`` with the HTTP status the official ``openai`` client maps to its exception classes
(401 bad key, 404 model not loaded, 400 bad request, 5xx). Standard library only.

Example::

    with OpenAIStubServer(models=["qwen2.5-7b-instruct"], replies=["Paris."]) as srv:
        httpx.post(f"{srv.url}/chat/completions", json={"model": "qwen2.5-7b-instruct", "messages": [...]})
        method, path, body = srv.requests[-1]

Judge calls (a prompt holding ``JUDGE_MARK``) can be scripted apart with ``judge_replies``, as in
``OllamaStubServer``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import Any, cast

from rag.testing.stub_http import (
    JSON,
    JUDGE_MARK,
    LoopbackStub,
    RecordedRequest,
    Replies,
    StubHandler,
    is_judge_request,
)

__all__ = ["JUDGE_MARK", "OpenAIStubServer"]

_JSON_CT = "application/json"
_CREATED = 1_764_000_000


def _tokens(text: str) -> list[str]:
    # Word chunks with the space in front, as model tokens look; joined they give the exact text back.
    return [part for part in re.split(r"(?<=\S)(?=\s)", text) if part]


class _Handler(StubHandler):
    server_version = "OpenAIStub/0.1"

    @property
    def stub(self) -> OpenAIStubServer:
        return cast(OpenAIStubServer, self.server.stub)  # type: ignore[attr-defined]

    def _send_json(self, status: int, payload: JSON) -> None:
        self.send_body(status, json.dumps(payload).encode(), _JSON_CT)

    def _send_error(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        # The OpenAI error object; the openai client reads error.message into its exception.
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})

    def _authorised(self) -> bool:
        key = self.stub.api_key
        if key is None:
            return True
        if self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._send_error(
            HTTPStatus.UNAUTHORIZED, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )
        return False

    def do_GET(self) -> None:
        self.stub._record("GET", self.path, None)
        if self.path.rstrip("/") != "/v1/models":
            self._send_error(HTTPStatus.NOT_FOUND, f"Unexpected endpoint or method. (GET {self.path})", "not_found")
            return
        if not self._authorised():
            return
        data = [
            {"id": m, "object": "model", "created": _CREATED, "owned_by": "organization_owner"}
            for m in self.stub.models
        ]
        self._send_json(HTTPStatus.OK, {"object": "list", "data": data})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        self.stub._record("POST", self.path, body)
        if self.path != "/v1/chat/completions":
            self._send_error(HTTPStatus.NOT_FOUND, f"Unexpected endpoint or method. (POST {self.path})", "not_found")
            return
        if not self._authorised():
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            self._send_error(HTTPStatus.BAD_REQUEST, "'messages' is required", "invalid_request_error")
            return
        self._chat(body)

    def _chat(self, body: JSON) -> None:
        stub = self.stub
        judging = stub.judge_replies is not None and is_judge_request(body)
        fail_with = stub.judge_fail_with if judging else stub.fail_with
        if judging and stub.judge_delay_s:
            time.sleep(stub.judge_delay_s)
        if fail_with is not None:
            self._send_error(fail_with, f"stub failure injected (HTTP {fail_with})", "server_error")
            return
        model = body.get("model")
        if not isinstance(model, str) or model not in stub.models:
            # What vLLM and LM Studio answer for a model that is not loaded.
            self._send_error(
                HTTPStatus.NOT_FOUND,
                f"The model `{model}` does not exist or is not loaded.",
                "invalid_request_error",
                "model_not_found",
            )
            return
        text = stub._next_reply(body, judging)
        chunks = _tokens(text)
        usage = {"prompt_tokens": 50, "completion_tokens": len(chunks), "total_tokens": 50 + len(chunks)}
        head = {"id": f"chatcmpl-{next(stub._ids)}", "created": _CREATED, "model": model}
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
            self._send_json(HTTPStatus.OK, head | {"object": "chat.completion", "choices": [choice], "usage": usage})
            return

        def events() -> Iterator[JSON]:
            chunk = head | {"object": "chat.completion.chunk"}
            yield chunk | {
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
            }
            for i, part in enumerate(chunks):
                if i and stub.delay_s:
                    time.sleep(stub.delay_s)
                yield chunk | {"choices": [{"index": 0, "delta": {"content": part}, "finish_reason": None}]}
            yield chunk | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            if (body.get("stream_options") or {}).get("include_usage"):
                yield chunk | {"choices": [], "usage": usage}

        self._send_events(events())

    def _send_events(self, events: Iterable[JSON]) -> None:
        # Server-sent events: one `data:` line per chunk, then `data: [DONE]`.
        lines = itertools.chain((f"data: {json.dumps(e)}\n\n" for e in events), ["data: [DONE]\n\n"])
        self.send_chunks(
            "text/event-stream", (line.encode() for line in lines), self.stub.drop_after, Cache_Control="no-cache"
        )


class OpenAIStubServer(LoopbackStub):
    """A local HTTP server that acts like an OpenAI-compatible model server for tests.

    Args:
        models: Model ids `/v1/models` lists; a chat request for any other is a 404 (not loaded).
        replies: Assistant texts, one per chat call in order (the last repeats), or a callable
            ``(request_json) -> str``.
        api_key: When set, every request needs ``Authorization: Bearer <api_key>`` (else 401).
        delay_s: Seconds between streamed chunks.
        fail_with: HTTP status every chat call returns, with an OpenAI error body.
        judge_replies / judge_fail_with / judge_delay_s: the same for judge calls, scripted apart.
        drop_after: Server-sent event lines sent before the connection drops mid-stream.
        host, port: Loopback and a free port by default.
    """

    handler = _Handler
    thread_name = "openai-stub"

    def __init__(
        self,
        models: Iterable[str] = ("qwen2.5-7b-instruct",),
        replies: Replies = ("This is a stub reply.",),
        *,
        api_key: str | None = None,
        delay_s: float = 0.0,
        fail_with: int | None = None,
        judge_replies: Replies | None = None,
        judge_fail_with: int | None = None,
        judge_delay_s: float = 0.0,
        drop_after: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if isinstance(models, str):
            raise TypeError("models must be a sequence of model ids, not str")
        super().__init__(replies, judge_replies, host, port)
        self.models = list(models)
        self.api_key = api_key
        self.delay_s = delay_s
        self.fail_with = fail_with
        self.judge_fail_with = judge_fail_with
        self.judge_delay_s = judge_delay_s
        self.drop_after = drop_after
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        """The base URL a client is given, ending in /v1 (e.g. http://127.0.0.1:54321/v1)."""
        return f"{self.root}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat-completion calls that are not judge calls, oldest first."""
        with self._lock:
            return [r for r in self.requests if r[1] == "/v1/chat/completions" and r[2] and not is_judge_request(r[2])]

    @property
    def judge_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r[1] == "/v1/chat/completions" and is_judge_request(r[2])]
