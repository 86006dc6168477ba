"""What the wire-format stubs (`ollama_server`, `openai_server`) share: a threaded HTTP server on
loopback that records every request, tracks its connections so `stop()` never hangs on a keep-alive
client, streams chunked bodies (and can drop one half-way, as a dying server does), and hands out
scripted replies, with judge calls (a prompt holding JUDGE_MARK) scripted apart."""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

JSON = dict[str, Any]
# (method, path, parsed JSON body). The body is None for GET requests and for
# bodies that are not valid JSON.
RecordedRequest = tuple[str, str, Any]
Replies = Sequence[str] | Callable[[JSON], str]

# A phrase of prompts/judge.md that no answer prompt holds: it tells a judge call from an answer.
JUDGE_MARK = "does the quote state this?"


def is_judge_request(request: Any) -> bool:
    """Is this chat or generate body a judge pass's call (its prompt holds JUDGE_MARK)?"""
    if not isinstance(request, dict):
        return False
    prompt = request.get("messages") or request.get("prompt") or ""
    texts = [m.get("content") for m in prompt if isinstance(m, dict)] if isinstance(prompt, list) else [prompt]
    return any(isinstance(t, str) and JUDGE_MARK in t for t in texts)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server to start on, or to find closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cite_reply(fact: str, template: str) -> Callable[[JSON], str]:
    """A reply function for a stub: `template` with {n} filled in with the number of the passage in the
    request's prompt that contains `fact`, as a model that cites correctly would write it."""

    def reply(request: JSON) -> str:
        prompt = request["messages"][-1]["content"]
        blocks = re.findall(r'<passage n="(\d+)"[^>]*>(.*?)</passage>', prompt, flags=re.S)
        n = next(num for num, text in blocks if fact in text)
        return template.format(n=n)

    return reply


def check_replies(**scripted: Replies | None) -> None:
    """A bare string would be used one character at a time, almost certainly a mistake; an empty list
    has nothing to reply."""
    for name, replies in scripted.items():
        if replies is None or callable(replies):
            continue
        if isinstance(replies, str):
            raise TypeError(f"{name} must be a sequence of strings or a callable, not str")
        if not replies:
            raise ValueError(f"{name} must not be empty")


class _Server(ThreadingHTTPServer):
    # Don't wait for handler threads when closing: a client with a keep-alive
    # connection would otherwise make stop() hang.
    block_on_close = False
    daemon_threads = True
    stub: LoopbackStub


class StubHandler(BaseHTTPRequestHandler):
    """The request handler's common part: HTTP/1.1 (keep-alive and chunked streaming, as real servers),
    connection tracking, quiet logs, bodies sent whole or in chunks."""

    protocol_version = "HTTP/1.1"

    @property
    def stub(self) -> Any:  # the LoopbackStub subclass this handler serves
        return self.server.stub  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        self.stub._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.stub._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean: tests read srv.requests

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a timeout test)

    def send_chunks(
        self, content_type: str, chunks: Iterable[bytes], drop_after: int | None = None, **headers: str
    ) -> None:
        """A 200 with a chunked body, each chunk flushed at once so the client reads it as it comes;
        after `drop_after` chunks the connection drops with the body unfinished."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for i, chunk in enumerate(chunks):
                if drop_after is not None and i >= drop_after:
                    self.drop()
                    return
                self.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up mid-stream (a cancellation test)

    def drop(self) -> None:
        """What a client sees when the server dies mid-answer: the socket closes, the body unfinished."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class LoopbackStub:
    """Lifecycle, request log and scripted replies of a stub server; a subclass names its handler."""

    handler: type[StubHandler]
    thread_name = "stub"

    def __init__(self, replies: Replies, judge_replies: Replies | None, host: str = "127.0.0.1", port: int = 0) -> None:
        check_replies(replies=replies, judge_replies=judge_replies)
        self.replies = replies
        self.judge_replies = judge_replies
        self.requests: list[RecordedRequest] = []
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._reply_index = itertools.count()
        self._judge_index = itertools.count()
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def root(self) -> str:
        """http://HOST:PORT of the running server."""
        if self._httpd is None:
            raise RuntimeError("server is not running; use it as a context manager")
        return f"http://{self._host}:{self._httpd.server_port}"

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        httpd = _Server((self._host, self._port), self.handler)
        httpd.stub = self
        self._httpd = httpd
        self._thread = threading.Thread(
            # A short poll interval makes stop() quick: many tests each start their own stub.
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.thread_name}:{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        # Close idle keep-alive connections too: their handler threads then exit, and clients see a
        # closed server instead of one that hangs.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self.requests.append((method, path, body))

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _next_reply(self, request: JSON, judging: bool = False) -> str:
        """The next scripted reply (the last repeats once the list runs out), judge calls counted apart."""
        replies = self.judge_replies if judging and self.judge_replies is not None else self.replies
        if callable(replies):
            return replies(request)
        with self._lock:
            index = next(self._judge_index if judging else self._reply_index)
        return replies[min(index, len(replies) - 1)]
