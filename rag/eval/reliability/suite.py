"""Run the reliability scenarios and collect their rows; helpers the scenarios share (child processes
with a clean environment, their peak memory, free ports).

Every scenario module exposes `run(workdir: Path, short: bool) -> list[Row]`. A scenario that is
missing or raises becomes one failed row naming the error: the table is always printed.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.eval.reliability.report import Row

SCENARIOS = ("hostile", "kills", "faults", "load")
TITLES = {
    "hostile": "hostile files",
    "kills": "SIGKILL during ingest",
    "faults": "faults",
    "load": "UI load",
}
ROOT = Path(__file__).resolve().parents[3]
SEEDS = ROOT / "seeds"
SHARED_EVAL = ROOT.parent / "shared" / "eval"
SEEDS_QA = SHARED_EVAL / "seeds_qa.jsonl"
POLNEAR_ARTICLES = SHARED_EVAL / "polnear" / "articles"


# --- running the scenarios ------------------------------------------------------------------------------


def run_scenario(name: str, workdir: Path, short: bool) -> list[Row]:
    """One scenario's rows; an import error or exception is reported as a failed row, never raised."""
    title = TITLES.get(name, name)
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"rag.eval.reliability.{name}")
        scenario: Callable[[Path, bool], list[Row]] = module.run
        rows = list(scenario(folder, short))
    except Exception as e:  # a broken scenario must not hide the others' figures
        where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        return [Row(title, "scenario ran", "error", ok=False, note=f"{type(e).__name__}: {e}{at}")]
    rows.append(Row(title, "scenario time", f"{time.perf_counter() - started:.0f} s"))
    return rows


def run_all(workdir: Path, short: bool, only: Sequence[str] = SCENARIOS) -> list[Row]:
    rows: list[Row] = []
    for name in only:
        print(f"reliability: {name} ({'short' if short else 'full'}) ...", file=sys.stderr, flush=True)
        rows += run_scenario(name, workdir, short)
    return rows


# --- helpers for the scenarios ------------------------------------------------------------------------


def child_env(**settings: str) -> dict[str, str]:
    """The environment for a `rag` child process: none of the developer's RAG_* settings, no Ollama to
    find (a closed port), nothing that phones home; then `settings` (e.g. RAG_EMBED__MODEL="hashing")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        OLLAMA_HOST="http://127.0.0.1:9",
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        ANONYMIZED_TELEMETRY="False",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


def rag_command(*args: str) -> list[str]:
    """`rag ARGS` with this interpreter (the venv's), whatever PATH holds."""
    return [sys.executable, "-m", "rag.app.cli", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    """A process's resident memory (VmRSS) or its peak (VmHWM) in MB, from /proc; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass(frozen=True)
class Finished:
    """A child process that ran to its end (or was killed at the timeout)."""

    returncode: int
    seconds: float
    peak_mb: float  # the largest of VmHWM polled and the kernel's ru_maxrss at exit
    stdout: str
    stderr: str
    timed_out: bool


def run_measured(
    cmd: Sequence[str], env: Mapping[str, str], logs: Path, timeout: float, cwd: Path | None = None
) -> Finished:
    """Run `cmd` to its end, its output in files under `logs` (no pipe to fill up), timing it and
    measuring its peak memory: VmHWM polled from /proc, and the rusage of exactly this child
    (os.wait4), which covers the last moments before exit the polling may miss."""
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / "stdout.txt", logs / "stderr.txt"
    peak = 0.0
    started = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(cmd, env=dict(env), stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        done, killed = threading.Event(), threading.Event()

        def poll() -> None:
            nonlocal peak
            while not done.wait(0.1):
                peak = max(peak, rss_mb(proc.pid, "VmHWM") or 0.0)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()

        def expire() -> None:
            killed.set()
            _kill_quietly(proc.pid)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted: the child goes too
            _kill_quietly(proc.pid)
            proc.wait()
            raise
        finally:
            timer.cancel()
            done.set()
            poller.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # we reaped it: tell Popen
    seconds = time.perf_counter() - started
    peak = max(peak, usage.ru_maxrss / 1024)  # ru_maxrss is in KB on Linux
    return Finished(
        proc.returncode,
        seconds,
        peak,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        killed.is_set(),
    )


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.kill(pid, signal.SIGKILL)


def traceback_in(stderr: str) -> str:
    """The last line of a Python traceback in `stderr` ('' when there is none)."""
    if "Traceback (most recent call last)" not in stderr:
        return ""
    tail = stderr[stderr.rindex("Traceback (most recent call last)") :].strip().splitlines()
    return tail[-1][:200] if tail else "Traceback"
