"""Faults around an ingest and a question, measured: a disk that fills up during an ingest, a read-only
index folder, a Chroma server killed and restarted while questions are asked through one open Index.

Each must give one line (what happened, where, what to do) and exit code 2 from `rag`, keep what was
indexed before answerable, and let the same command finish once the cause is gone. The disk and the
read-only folder are real mounts (a tmpfs, a read-only bind mount), so they need root; the server is a
real `chroma run`. Ollama dying mid-answer is a contract test (tests/integration/test_faults_real.py).
The hashing embedder keeps the runs short; what is measured does not depend on the embedder.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from rag.eval.reliability.report import Row, skipped

if TYPE_CHECKING:
    from rag.app.index import Index

DISK = "disk full"
READ_ONLY = "read-only index folder"
SERVER = "Chroma server killed"

SEEDS = Path(__file__).resolve().parents[3] / "seeds"
# A question the seeds answer with the hashing embedder and the extractive backend, from this article.
QUESTION = "What is happening in Myrnohrad?"
ANSWER_FILE = "003_0d5531b11436a070.txt"
KEPT = "nothing indexed before is lost"


# --- material --------------------------------------------------------------------------------------
def write_articles(folder: Path, n: int, seed: int = 7) -> Path:
    """`n` distinct plain-text articles of about 4 KB (random words: nothing the seeds' questions find)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(3000)]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + "." for _ in range(30)
        ]
        (folder / f"article_{i:04d}.txt").write_text(f"Report {i} on {words[i % len(words)]}\n\n" + " ".join(sentences))
    return folder


# --- mounts (root only) ----------------------------------------------------------------------------
def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def _unmount(mountpoint: Path) -> None:
    if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)  # busy: detach it anyway


def mount_problem() -> str | None:
    """Why this process cannot make the mounts these faults need (None: it can)."""
    if os.geteuid() != 0:
        return "needs root (a tmpfs and a read-only bind mount)"
    if shutil.which("mount") is None:
        return "no `mount` command"
    with tempfile.TemporaryDirectory() as folder:
        try:
            _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", folder)
        except (subprocess.CalledProcessError, OSError) as e:
            detail = getattr(e, "stderr", "") or str(e)
            return f"cannot mount a tmpfs here: {' '.join(str(detail).split())[:120]}"
        _unmount(Path(folder))
    return None


@contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at `mountpoint` (a disk that fills up), unmounted afterwards."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint))
    try:
        yield mountpoint
    finally:
        _unmount(mountpoint)


def resize(mountpoint: Path, size: str) -> None:
    """Give the tmpfs at `mountpoint` room (what freeing space does)."""
    _mount("-o", f"remount,size={size}", str(mountpoint))


@contextmanager
def read_only_view(source: Path, view: Path) -> Iterator[Path]:
    """`source` seen read-only at `view` (a bind mount), unmounted afterwards."""
    view.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(source), str(view))
    try:
        set_writable(view, False)
        yield view
    finally:
        _unmount(view)


def set_writable(view: Path, writable: bool) -> None:
    _mount("-o", f"remount,bind,{'rw' if writable else 'ro'}", str(view))


# --- a Chroma server -------------------------------------------------------------------------------
def chroma_command() -> str | None:
    """The `chroma` command of this interpreter's environment (or PATH's)."""
    return shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")


class ChromaServer:
    """`chroma run` on a free local port over `data`: start, kill -9, start again on the same data."""

    def __init__(self, data: Path, port: int | None = None) -> None:
        from rag.eval.reliability.suite import free_port

        exe = chroma_command()
        if exe is None:
            raise RuntimeError("the `chroma` command (from the chromadb package) is not installed")
        self.exe, self.data, self.port = exe, data, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        log = (self.data.parent / f"{self.data.name}.log").open("ab")
        cmd = [self.exe, "run", "--host", "127.0.0.1", "--port", str(self.port), "--path", str(self.data)]
        self._proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=0.5).status_code == 200:
                    return
            if self._proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self._proc.returncode} (log: {log.name})")
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"chroma run did not answer its heartbeat within {timeout:g} s")

    def kill(self) -> None:
        """SIGKILL: the server goes away without a word, as when it crashes or its machine dies."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=20)
        self._proc = None

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


# --- running `rag` ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def line(self) -> str:
        """What the user saw on stderr, on one line for the table."""
        return " ".join(self.err.split())[:400]

    @property
    def one_line(self) -> bool:
        """stderr is exactly one `rag CMD: error: ...` line (no traceback, no second line)."""
        lines = self.err.strip().splitlines()
        return len(lines) == 1 and ": error: " in lines[0] and "Traceback" not in self.err


def rag(logs: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120.0) -> Ran:
    """`rag ARGS` in a child process with the hashing embedder (and `env` settings)."""
    from rag.eval.reliability.suite import child_env, rag_command, run_measured

    logs = logs / f"{len(list(logs.glob('*'))) if logs.exists() else 0:02d}-{args[0]}"
    done = run_measured(rag_command(*args), child_env(RAG_EMBED__MODEL="hashing", **(env or {})), logs, timeout)
    return Ran(done.returncode, done.stdout, done.stderr)


def answers(ran: Ran) -> bool:
    """`rag ask` answered from the seed article that holds the answer."""
    return ran.code == 0 and ANSWER_FILE in ran.out


def counts(ran: Ran) -> dict[str, int]:
    """new / unchanged / failed from an ingest's summary line ("5 new, 0 updated, 0 unchanged, ...")."""
    first = ran.out.strip().splitlines()[0] if ran.out.strip() else ""
    out: dict[str, int] = {}
    for part in first.split(";")[0].split(","):
        number, _, name = part.strip().partition(" ")
        if number.isdigit():
            out[name] = int(number)
    return out


@contextmanager
def opened(index: Path) -> Iterator[Index]:
    """The index opened in this process (setting up, counting: no need to pay for a `rag` start), its
    Chroma client closed afterwards so nothing of it stays open on a mount that is about to go."""
    import rag as rag_api
    from rag.testing import HashingEmbedder

    idx = rag_api.open(index, embedder=HashingEmbedder())
    try:
        yield idx
    finally:
        idx.store.close()


def answered(index: Path) -> bool:
    """The seeds' question is answered from the article that holds the answer."""
    with opened(index) as idx:
        answer = idx.ask(QUESTION, backend="extractive")
        return any(c.passage.path.endswith(ANSWER_FILE) for c in answer.citations)


def seed(index: Path) -> int:
    """Ingest the seeds; the number of articles stored."""
    with opened(index) as idx:
        idx.ingest(SEEDS)
        return idx.store.article_count()


# --- (a) a disk that fills up ----------------------------------------------------------------------
def disk_full(workdir: Path, short: bool) -> list[Row]:
    n, size = (120, "2m") if short else (800, "4m")
    articles = write_articles(workdir / "articles", n)
    logs = workdir / "logs"
    rows: list[Row] = []
    with tmpfs(workdir / "disk", size) as disk:
        index = str(disk / "idx")
        seed(Path(index))
        full = rag(logs, "ingest", str(articles), "--index", index, "--quiet")
        clear = full.one_line and "no space left on the disk holding the index folder" in full.err
        rows += [
            Row(DISK, f"ingest of {n} articles into a {size} disk: exit code", str(full.code), ok=full.code == 2),
            Row(DISK, "what the user saw", "one line" if clear else "NOT one clear line", ok=clear, note=full.line),
        ]
        asked = rag(logs, "ask", QUESTION, "--backend", "extractive", "--index", index)
        fine = answers(asked) or (asked.code == 2 and asked.one_line and "no space left" in asked.err)
        seen = "answered" if answers(asked) else f"exit {asked.code}"
        rows.append(Row(DISK, "a question while the disk is full", seen, ok=fine, note=asked.line))
        resize(disk, "256m")
        after = answered(Path(index))
        rows.append(Row(DISK, "earlier articles answer once space is freed", _yes(after), ok=after))
        again = rag(logs, "ingest", str(articles), "--index", index, "--quiet")
        c = counts(again)
        done = again.code == 0 and c.get("failed", 1) == 0 and c.get("new", 0) + c.get("unchanged", 0) == n
        value = f"{c.get('new', 0)} new + {c.get('unchanged', 0)} unchanged of {n}"
        rows.append(Row(DISK, "the same ingest finishes once space is freed", value, ok=done, note=again.line))
        with opened(Path(index)) as idx:
            total = idx.store.article_count()
        rows.append(Row(DISK, "articles in the index afterwards", f"{total} / {n + 5}", ok=total == n + 5))
    return rows


# --- (b) a read-only index folder ------------------------------------------------------------------
def read_only(workdir: Path, short: bool) -> list[Row]:
    articles = write_articles(workdir / "articles", 20 if short else 100)
    logs = workdir / "logs"
    source = workdir / "writable"
    seed(source / "idx")
    rows: list[Row] = []
    with read_only_view(source, workdir / "read-only") as view:
        index = str(view / "idx")
        asked = rag(logs, "ask", QUESTION, "--backend", "extractive", "--index", index)
        clear = asked.code == 2 and asked.one_line and f"the index folder {index} is read-only" in asked.err
        seen = "answered" if answers(asked) else f"exit {asked.code}, " + ("one clear line" if clear else "NOT clear")
        rows.append(Row(READ_ONLY, "a question", seen, ok=answers(asked) or clear, note=asked.line))
        ingest = rag(logs, "ingest", str(articles), "--index", index, "--quiet")
        clear = ingest.code == 2 and ingest.one_line and "is read-only" in ingest.err
        seen = f"exit {ingest.code}, " + ("one clear line" if clear else "NOT clear")
        rows.append(Row(READ_ONLY, "an ingest", seen, ok=clear, note=ingest.line))
        set_writable(view, True)
        again = rag(logs, "ingest", str(articles), "--index", index, "--quiet")
        ok = again.code == 0 and counts(again).get("failed", 1) == 0 and answered(Path(index))
        rows.append(Row(READ_ONLY, "made writable: the same ingest finishes, questions answer", _yes(ok), ok=ok))
    return rows


# --- (c) a Chroma server killed and restarted while questions are asked -----------------------------
@dataclass
class Asked:
    """Questions asked in a loop through one open Index, by phase of the server's life."""

    answered: dict[str, int] = field(default_factory=lambda: {"before": 0, "down": 0, "after": 0})
    clear_errors: int = 0  # StoreUnavailable, one line, naming the server
    other_errors: list[str] = field(default_factory=list)
    first_after_s: float | None = None  # from the restart to the first answer


def server_killed(workdir: Path, short: bool) -> list[Row]:
    import rag as rag_api
    from rag.errors import StoreUnavailable
    from rag.testing import HashingEmbedder

    up_s, down_s, after_s = (2.0, 3.0, 3.0) if short else (5.0, 10.0, 10.0)
    logs = workdir / "logs"
    with ChromaServer(workdir / "chroma-data") as server:
        idx = rag_api.open(workdir / "local", embedder=HashingEmbedder(), chroma_url=server.url, collection="faults")
        idx.ingest(SEEDS)
        asked = Asked()
        phase = "before"
        restarted_at = 0.0
        stop = threading.Event()

        def ask_in_a_loop() -> None:
            while not stop.is_set():
                seen = phase
                try:
                    answer = idx.ask(QUESTION, backend="extractive")
                except StoreUnavailable as e:
                    ok = server.url in str(e) and "\n" not in str(e)
                    asked.clear_errors += ok
                    if not ok:
                        asked.other_errors.append(str(e)[:200])
                    time.sleep(0.05)
                    continue
                except Exception as e:  # anything else while the server is gone is what we measure
                    asked.other_errors.append(f"{type(e).__name__}: {e}"[:200])
                    time.sleep(0.05)
                    continue
                if any(c.passage.path.endswith(ANSWER_FILE) for c in answer.citations):
                    # a question begun while the server was starting again is answered by the restarted one
                    seen = "after" if seen == "restarting" else seen
                    asked.answered[seen] += 1
                    if seen == "after" and asked.first_after_s is None:
                        asked.first_after_s = max(0.0, time.monotonic() - restarted_at)

        loop = threading.Thread(target=ask_in_a_loop, daemon=True)
        loop.start()
        time.sleep(up_s)
        server.kill()
        phase = "down"
        env = {"RAG_CHROMA_URL": server.url, "RAG_COLLECTION": "faults"}
        cli = rag(logs, "ask", QUESTION, "--backend", "extractive", "--index", str(workdir / "local"), env=env)
        time.sleep(max(0.0, down_s - 2.5))
        phase = "restarting"
        server.start()
        restarted_at = time.monotonic()
        phase = "after"
        time.sleep(after_s)
        stop.set()
        loop.join(timeout=30)
    cli_clear = cli.code == 2 and cli.one_line and f"the Chroma server at {server.url}" in cli.err
    first = f"{asked.first_after_s:.2f} s" if asked.first_after_s is not None else "never"
    return [
        Row(SERVER, "answered before the kill", str(asked.answered["before"]), ok=asked.answered["before"] > 0),
        Row(SERVER, "answered while the server was down", str(asked.answered["down"])),
        Row(
            SERVER, "errors while down that were the one clear line", str(asked.clear_errors), ok=asked.clear_errors > 0
        ),
        Row(
            SERVER,
            "other errors (tracebacks, unclear lines)",
            str(len(asked.other_errors)),
            ok=not asked.other_errors,
            note="; ".join(asked.other_errors[:3]),
        ),
        Row(
            SERVER,
            "answered after the restart, same open Index",
            str(asked.answered["after"]),
            ok=asked.answered["after"] > 0,
            note=f"first answer {first} after the restart",
        ),
        Row(SERVER, "`rag ask` while the server is down", f"exit {cli.code}", ok=cli_clear, note=cli.line),
    ]


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


def run(workdir: Path, short: bool) -> list[Row]:
    """The three faults, each in its own folder under `workdir`."""
    rows: list[Row] = []
    problem = mount_problem()
    for name, scenario, needs_mounts in ((DISK, disk_full, True), (READ_ONLY, read_only, True)):
        if needs_mounts and problem is not None:
            rows.append(skipped(name, problem))
            continue
        folder = workdir / name.replace(" ", "-")
        folder.mkdir(parents=True, exist_ok=True)
        rows += scenario(folder, short)
    if chroma_command() is None:
        rows.append(skipped(SERVER, "the `chroma` command (from the chromadb package) is not installed"))
    else:
        folder = workdir / "server"
        folder.mkdir(parents=True, exist_ok=True)
        rows += server_killed(folder, short)
    return rows
