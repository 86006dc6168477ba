"""In-process stub of the Ollama REST API for contract tests.

The stub follows the wire format in Ollama's ``docs/api.md``. Field names,
status codes, error texts and NDJSON streaming match a real server, so an
Ollama client that passes against the stub should also work against
``ollama serve``. It needs no model and no GPU: replies are scripted, and
embeddings come from the package's hashing embedder (similar wording gives
similar vectors).

Example::

    import ollama
    from rag.testing.ollama_server import OllamaStubServer

    with OllamaStubServer(models=["qwen2.5:7b"], replies=["Paris."]) as srv:
        client = ollama.Client(host=srv.url)
        reply = client.chat(
            model="qwen2.5:7b",
            messages=[{"role": "user", "content": "Capital of France?"}],
            stream=False,
        )
        assert reply.message.content == "Paris."
        assert srv.requests[-1][:2] == ("POST", "/api/chat")

The answer and the judge pass (rag.answer.judge_pass) ask the same model. A request
whose messages contain ``JUDGE_MARK`` (a phrase of ``prompts/judge.md``) is
a judge call: with ``judge_replies`` set it gets those replies (and
``judge_fail_with`` / ``judge_delay_s``), so a test scripts the answer and
the verdicts apart::

    with OllamaStubServer(replies=["... [1]."], judge_replies=["1: no"]) as srv:
        ...
        assert len(srv.judge_requests) == 1

Embeddings: ``/api/embed`` (``{"model", "input", "truncate"}`` ->
``{"model", "embeddings"}``, L2-normalised) and the legacy ``/api/embeddings``
(``{"model", "prompt"}`` -> ``{"embedding"}``) answer for the models in
``embedding_models``; another pulled model gets Ollama's 501 "this model does
not support embeddings", one not pulled its 404::

    with OllamaStubServer(embedding_models=["nomic-embed-text"]) as srv:
        httpx.post(f"{srv.url}/api/embed", json={"model": "nomic-embed-text", "input": ["a", "b"]})
        assert srv.embed_requests[-1]["input"] == ["a", "b"]
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, cast

from rag.store.embed import HashingEmbedder
from rag.testing.stub_http import (
    JSON,
    JUDGE_MARK,
    LoopbackStub,
    RecordedRequest,
    Replies,
    StubHandler,
    is_judge_request,
)

__all__ = ["JUDGE_MARK", "OllamaStubServer", "RecordedRequest", "Replies", "is_judge_request"]

_NDJSON = "application/x-ndjson"
_JSON_CT = "application/json; charset=utf-8"
# Fixed, plausible numbers: clients may read them, but tests should not
# depend on their exact values.
_MODEL_SIZE = 4_683_087_332
_LOAD_NS = 1_234_567
_PROMPT_EVAL_NS = 12_345_678
_NS_PER_TOKEN = 20_000_000


def _now() -> str:
    # Ollama sends RFC 3339 timestamps. The "Z" suffix parses in both Go and
    # pydantic.
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _qualify(name: str) -> str:
    # Ollama treats "llama3" and "llama3:latest" as the same model.
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _architecture(name: str) -> str:
    # Guess a GGUF architecture from the name: "qwen2.5:7b" -> "qwen2". This is
    # good enough for clients that read "<arch>.context_length".
    base = name.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    match = re.match(r"[a-z]+\d*", base)
    return match.group(0) if match else "llama"


def _tokens(text: str) -> list[str]:
    # Split into word chunks with the space at the front (" sky"), the way
    # model tokens usually look. Joining the chunks gives back the exact text.
    return [part for part in re.split(r"(?<=\S)(?=\s)", text) if part]


def _count_words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_count_words(item) for item in value)
    if isinstance(value, dict):
        return _count_words(value.get("content", ""))
    return 0


class _Handler(StubHandler):
    server_version = "OllamaStub/0.1"

    @property
    def stub(self) -> OllamaStubServer:
        return cast(OllamaStubServer, self.server.stub)  # type: ignore[attr-defined]

    # ----------------------------------------------------------------- I/O

    def _send_bytes(self, status: int, body: bytes, content_type: str) -> None:
        self.send_body(status, body, content_type)

    def _send_json(self, status: int, payload: JSON) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), _JSON_CT)

    def _send_error(self, status: int, message: str) -> None:
        # Ollama reports every API error as {"error": "..."}. ollama-python
        # reads that field when it builds ResponseError.
        self._send_json(status, {"error": message})

    def _send_stream(self, parts: Iterable[JSON], drop_after: int | None = None) -> None:
        # NDJSON over chunked encoding: the client reads each line as soon as it is sent.
        self.send_chunks(_NDJSON, ((json.dumps(part) + "\n").encode() for part in parts), drop_after)

    def _read_body(self) -> tuple[Any, str | None]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None, "missing request body"
        try:
            return json.loads(raw), None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return None, f"invalid JSON: {exc}"

    # ------------------------------------------------------------- routing

    def do_HEAD(self) -> None:
        self.stub._record("HEAD", self.path, None)
        if self.path == "/":
            self._send_bytes(HTTPStatus.OK, b"Ollama is running", "text/plain; charset=utf-8")
        else:
            self._send_bytes(HTTPStatus.NOT_FOUND, b"", "text/plain")

    def do_GET(self) -> None:
        self.stub._record("GET", self.path, None)
        if self.path == "/":
            self._send_bytes(HTTPStatus.OK, b"Ollama is running", "text/plain; charset=utf-8")
        elif self.path == "/api/version":
            self._send_json(HTTPStatus.OK, {"version": self.stub.version})
        elif self.path == "/api/tags":
            models = [self.stub._model_entry(name) for name in self.stub.models]
            self._send_json(HTTPStatus.OK, {"models": models})
        else:
            self._not_found()

    def do_POST(self) -> None:
        body, problem = self._read_body()
        self.stub._record("POST", self.path, body)
        routes: dict[str, Callable[[JSON], None]] = {
            "/api/chat": self._chat,
            "/api/generate": self._generate,
            "/api/show": self._show,
            "/api/pull": self._pull,
            "/api/embed": self._embed,
            "/api/embeddings": self._embeddings,
        }
        route = routes.get(self.path)
        if route is None:
            self._not_found()
        elif problem is not None:
            self._send_error(HTTPStatus.BAD_REQUEST, problem)
        elif not isinstance(body, dict):
            self._send_error(HTTPStatus.BAD_REQUEST, "request body must be a JSON object")
        else:
            route(body)

    def _not_found(self) -> None:
        # Unknown routes get gin's default plain-text 404, as on a real server.
        self._send_bytes(HTTPStatus.NOT_FOUND, b"404 page not found", "text/plain")

    # ------------------------------------------------------------ handlers

    def _show(self, body: JSON) -> None:
        # "name" is the old spelling of "model". Ollama still accepts it.
        name = body.get("model") or body.get("name")
        if not name or not isinstance(name, str):
            self._send_error(HTTPStatus.BAD_REQUEST, "model is required")
        elif not self.stub._knows(name):
            self._send_error(HTTPStatus.NOT_FOUND, f"model '{name}' not found")
        else:
            self._send_json(HTTPStatus.OK, self.stub._show_payload(name))

    def _chat(self, body: JSON) -> None:
        self._complete(body, kind="chat")

    def _generate(self, body: JSON) -> None:
        self._complete(body, kind="generate")

    def _complete(self, body: JSON, kind: str) -> None:
        stub = self.stub
        judging = stub.judge_replies is not None and is_judge_request(body)
        fail_with = stub.judge_fail_with if judging else stub.fail_with
        if judging and stub.judge_delay_s:
            time.sleep(stub.judge_delay_s)  # before the first byte: a slow model, or one that times out
        if fail_with is not None:
            self._send_error(fail_with, f"stub failure injected (HTTP {fail_with})")
            return
        model = body.get("model")
        if not model or not isinstance(model, str):
            self._send_error(HTTPStatus.BAD_REQUEST, "model is required")
            return
        if not stub._knows(model):
            # Go formats this with %q, so the name is in double quotes. /api/show
            # uses single quotes. Clients that parse the message see both forms.
            self._send_error(HTTPStatus.NOT_FOUND, f'model "{model}" not found, try pulling it first')
            return

        def shape(text: str) -> JSON:
            if kind == "chat":
                return {"message": {"role": "assistant", "content": text}}
            return {"response": text}

        prompt = body.get("messages") if kind == "chat" else body.get("prompt")
        if not prompt:
            # Documented "load/unload a model" call: one JSON object, even when
            # streaming was requested, and no reply is used up.
            reason = "unload" if body.get("keep_alive") in (0, "0", "0s") else "load"
            head = {"model": model, "created_at": _now()}
            self._send_json(HTTPStatus.OK, head | shape("") | {"done": True, "done_reason": reason})
            return

        text = stub._next_reply(body, judging)
        chunks = _tokens(text)
        prompt_tokens = max(1, _count_words(prompt))
        stats: JSON = {
            "done_reason": "stop",
            "total_duration": _LOAD_NS + _PROMPT_EVAL_NS + _NS_PER_TOKEN * len(chunks),
            "load_duration": _LOAD_NS,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": _PROMPT_EVAL_NS,
            "eval_count": len(chunks),
            "eval_duration": _NS_PER_TOKEN * len(chunks),
        }
        if kind == "generate" and not body.get("raw"):
            # The API docs say "context" is left out in raw mode.
            stats["context"] = list(range(1, prompt_tokens + len(chunks) + 1))

        # Ollama streams unless "stream" is exactly false. Missing or null
        # means stream.
        if body.get("stream") is False:
            final = {"model": model, "created_at": _now()} | shape(text) | {"done": True}
            self._send_json(HTTPStatus.OK, final | stats)
            return

        def parts() -> Iterator[JSON]:
            for i, chunk in enumerate(chunks):
                if i and stub.delay_s:
                    time.sleep(stub.delay_s)
                yield {"model": model, "created_at": _now()} | shape(chunk) | {"done": False}
            # The last line has empty content and carries the statistics.
            yield {"model": model, "created_at": _now()} | shape("") | {"done": True} | stats

        self._send_stream(parts(), drop_after=stub.drop_after)

    def _embed(self, body: JSON) -> None:
        # Ollama's EmbedHandler: the input is read first, then the model is looked up (404), an empty
        # input answers without embedding, and a model without pooling fails in its runner (501).
        stub = self.stub
        model, given = body.get("model"), body.get("input")
        if not model or not isinstance(model, str):
            self._send_error(HTTPStatus.BAD_REQUEST, "model is required")
            return
        if isinstance(given, str):
            texts = [given] if given else []
        elif isinstance(given, list) and all(isinstance(t, str) for t in given):
            texts = list(given)
        elif given is None:
            texts = []
        else:
            self._send_error(HTTPStatus.BAD_REQUEST, "invalid input type")
            return
        if self._embedding_refused(model):
            return
        if not texts:
            self._send_json(HTTPStatus.OK, {"model": model, "embeddings": []})
            return
        if not stub._embeds(model):
            self._send_error(stub.not_embedding_status, "this model does not support embeddings")
            return
        if stub.embed_delay_s:
            time.sleep(stub.embed_delay_s)
        payload = {
            "model": model,
            "embeddings": [stub._vector(t) for t in texts],
            "total_duration": _LOAD_NS + _PROMPT_EVAL_NS,
            "load_duration": _LOAD_NS,
            "prompt_eval_count": max(1, _count_words(texts)),
        }
        self._send_json(HTTPStatus.OK, payload)

    def _embedding_refused(self, model: str) -> bool:
        """Answers a model not pulled (404) or an injected failure, as both embedding endpoints do."""
        if not self.stub._knows(model):
            self._send_error(HTTPStatus.NOT_FOUND, f'model "{model}" not found, try pulling it first')
            return True
        failure = self.stub._embed_failure()
        if failure is not None:
            self._send_error(failure, f"stub failure injected (HTTP {failure})")
            return True
        return False

    def _embeddings(self, body: JSON) -> None:
        # The legacy endpoint: one prompt, one "embedding", not normalised by the server; runner errors
        # are a 500 there.
        stub = self.stub
        model, prompt = body.get("model"), body.get("prompt")
        if not model or not isinstance(model, str):
            self._send_error(HTTPStatus.BAD_REQUEST, "model is required")
            return
        if self._embedding_refused(model):
            return
        if not prompt or not isinstance(prompt, str):
            self._send_json(HTTPStatus.OK, {"embedding": []})
            return
        if not stub._embeds(model):
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "this model does not support embeddings")
            return
        self._send_json(HTTPStatus.OK, {"embedding": stub._vector(prompt)})

    def _pull(self, body: JSON) -> None:
        name = body.get("model") or body.get("name")
        if not name or not isinstance(name, str):
            self._send_error(HTTPStatus.BAD_REQUEST, "model is required")
            return
        # Add the model so a client's "pull if missing, then chat" flow works
        # against the stub.
        self.stub._add_model(name)
        if body.get("stream") is False:
            self._send_json(HTTPStatus.OK, {"status": "success"})
            return
        digest = "sha256:" + hashlib.sha256(_qualify(name).encode()).hexdigest()
        total = _MODEL_SIZE
        self._send_stream(
            [
                {"status": "pulling manifest"},
                {"status": f"pulling {digest[7:19]}", "digest": digest, "total": total},
                {
                    "status": f"pulling {digest[7:19]}",
                    "digest": digest,
                    "total": total,
                    "completed": total // 2,
                },
                {
                    "status": f"pulling {digest[7:19]}",
                    "digest": digest,
                    "total": total,
                    "completed": total,
                },
                {"status": "verifying sha256 digest"},
                {"status": "writing manifest"},
                {"status": "success"},
            ]
        )


class OllamaStubServer(LoopbackStub):
    """A local HTTP server that acts like ``ollama serve`` for tests.

    Args:
        models: Model names to report as installed. A name without a tag gets
            ``:latest``, as in Ollama.
        replies: Assistant texts, used one per /api/chat or /api/generate call
            in order. The last text repeats once the list runs out. Pass a
            callable ``(request_json) -> str`` to build replies from the
            request instead.
        delay_s: Seconds to sleep between streamed chunks. Use it to test
            timeouts, cancellation and incremental rendering.
        fail_with: HTTP status that /api/chat and /api/generate return, with an
            Ollama-style ``{"error": ...}`` body. Use it to test error
            handling.
        host: Interface to bind. The default is loopback only, so the stub is
            never visible on the network.
        port: TCP port. 0 lets the OS pick a free one, so parallel tests do
            not collide.
        version: Value reported by /api/version.
        context_length: Value of ``<arch>.context_length`` in /api/show.
        judge_replies: Replies for judge calls (requests holding ``JUDGE_MARK``),
            used like ``replies`` with their own counter. None: judge calls
            take ``replies`` like any other request.
        judge_fail_with: HTTP status that judge calls return (only with
            ``judge_replies`` set).
        judge_delay_s: Seconds a judge call waits before replying (only with
            ``judge_replies`` set); longer than the client's timeout makes
            it time out.
        drop_after: Streamed lines a /api/chat or /api/generate reply sends
            before the server drops the connection, leaving the chunked body
            unfinished: what a client sees when ``ollama serve`` dies while
            the model writes. None: every stream completes.
        embedding_models: Pulled models that are embedding models (added to
            ``models``): /api/embed and /api/embeddings answer for them, and
            /api/show lists the "embedding" capability.
        embedding_dim: Length of the vectors (768, as nomic-embed-text's).
        embed_scale: Factor on every vector; not 1 makes a server that does
            not normalise (the legacy endpoint's behaviour).
        embed_fail_with: HTTP status that embedding requests return, with an
            Ollama-style error body, once ``embed_fail_after`` have succeeded.
        embed_fail_after: Embedding requests answered before ``embed_fail_with``
            applies (0: from the first).
        embed_delay_s: Seconds an embedding request waits before answering.
        not_embedding_status: Status of /api/embed for a pulled model that is
            not an embedding model: 501, what Ollama's runner answers (older
            engines said 400).

    Example::

        with OllamaStubServer(replies=["Hi there"], delay_s=0.01) as srv:
            httpx.post(f"{srv.url}/api/chat", json={...})  # NDJSON stream
            method, path, body = srv.requests[-1]
    """

    handler = _Handler
    thread_name = "ollama-stub"

    def __init__(
        self,
        models: Iterable[str] = ("qwen2.5:7b",),
        replies: Replies = ("This is a stub reply.",),
        *,
        delay_s: float = 0.0,
        fail_with: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        version: str = "0.6.0",
        context_length: int = 32768,
        judge_replies: Replies | None = None,
        judge_fail_with: int | None = None,
        judge_delay_s: float = 0.0,
        drop_after: int | None = None,
        embedding_models: Iterable[str] = (),
        embedding_dim: int = 768,
        embed_scale: float = 1.0,
        embed_fail_with: int | None = None,
        embed_fail_after: int = 0,
        embed_delay_s: float = 0.0,
        not_embedding_status: int = 501,
    ) -> None:
        if isinstance(models, str):
            raise TypeError("models must be an iterable of names, not str")
        super().__init__(replies, judge_replies, host, port)
        if isinstance(embedding_models, str):
            raise TypeError("embedding_models must be an iterable of names, not str")
        self.embedding_models: list[str] = [_qualify(m) for m in embedding_models]
        self.models: list[str] = [_qualify(m) for m in models]
        self.models += [m for m in self.embedding_models if m not in self.models]
        self.embedding_dim = embedding_dim
        self.embed_scale = embed_scale
        self.embed_fail_with = embed_fail_with
        self.embed_fail_after = embed_fail_after
        self.embed_delay_s = embed_delay_s
        self.not_embedding_status = not_embedding_status
        self._embed_calls = 0
        self._hashing = HashingEmbedder()
        self._hashing.dim = embedding_dim
        self.delay_s = delay_s
        self.fail_with = fail_with
        self.version = version
        self.context_length = context_length
        self.judge_fail_with = judge_fail_with
        self.judge_delay_s = judge_delay_s
        self.drop_after = drop_after

    @property
    def url(self) -> str:
        """Base URL for ``ollama.Client(host=...)``, e.g. ``http://127.0.0.1:54321``."""
        return self.root

    @property
    def judge_requests(self) -> list[RecordedRequest]:
        """The judge calls received (requests whose prompt holds JUDGE_MARK), oldest first."""
        with self._lock:
            return [r for r in self.requests if r[0] == "POST" and is_judge_request(r[2])]

    @property
    def embed_requests(self) -> list[JSON]:
        """The bodies of the /api/embed calls received, oldest first."""
        with self._lock:
            return [r[2] for r in self.requests if r[:2] == ("POST", "/api/embed") and isinstance(r[2], dict)]

    @property
    def embedded_texts(self) -> list[str]:
        """Every text sent to /api/embed, in order (prefixes included)."""
        texts: list[str] = []
        for body in self.embed_requests:
            given = body.get("input")
            texts += [given] if isinstance(given, str) else [t for t in given or [] if isinstance(t, str)]
        return texts

    @property
    def answer_requests(self) -> list[RecordedRequest]:
        """The /api/chat and /api/generate calls that are not judge calls, oldest first."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r[1] in ("/api/chat", "/api/generate") and r[2] is not None and not is_judge_request(r[2])
            ]

    # ------------------------------------------- internals used by _Handler

    def _knows(self, name: str) -> bool:
        return _qualify(name) in self.models

    def _embeds(self, name: str) -> bool:
        return _qualify(name) in self.embedding_models

    def _embed_failure(self) -> int | None:
        """The injected status for this embedding request (None: answer it)."""
        with self._lock:
            self._embed_calls += 1
            calls = self._embed_calls
        return self.embed_fail_with if self.embed_fail_with is not None and calls > self.embed_fail_after else None

    def _vector(self, text: str) -> list[float]:
        return [float(x) * self.embed_scale for x in self._hashing.embed_query(text)]

    def _add_model(self, name: str) -> None:
        with self._lock:
            if not self._knows(name):
                self.models.append(_qualify(name))

    def _details(self, name: str) -> JSON:
        arch = _architecture(name)
        return {
            "parent_model": "",
            "format": "gguf",
            "family": arch,
            "families": [arch],
            "parameter_size": "7.6B",
            "quantization_level": "Q4_K_M",
        }

    def _model_entry(self, name: str) -> JSON:
        return {
            "name": name,
            "model": name,
            "modified_at": _now(),
            "size": _MODEL_SIZE,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": self._details(name),
        }

    def _show_payload(self, name: str) -> JSON:
        arch = _architecture(name)
        template = (
            "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
            "<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n"
        )
        return {
            "modelfile": (
                f'# Modelfile generated by "ollama show"\nFROM {_qualify(name)}\n'
                f'TEMPLATE """{template}"""\nPARAMETER stop "<|im_end|>"\n'
            ),
            "parameters": 'stop                           "<|im_end|>"',
            "template": template,
            "details": self._details(name),
            "model_info": {
                "general.architecture": arch,
                "general.parameter_count": 7_615_616_512,
                "general.file_type": 15,
                f"{arch}.context_length": self.context_length,
                f"{arch}.embedding_length": 3584,
                f"{arch}.block_count": 28,
            },
            # In Ollama's ShowResponse, "capabilities" is a top-level field and
            # not part of model_info.
            "capabilities": ["embedding"] if self._embeds(name) else ["completion"],
            "modified_at": _now(),
        }
