"""Real faults, each one line and exit code 2, nothing indexed before lost, the same command finishing the
job afterwards: a disk that fills up (a small tmpfs), a read-only index folder (a read-only bind mount), a
`chroma run` server killed in the middle of an ingest and of a question, and Ollama dying in the middle of
an answer (the local wire-format server). The mounts need root; the server needs the `chroma` command."""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import rag
from rag.app.cli import main
from rag.errors import StoreUnavailable
from rag.eval.reliability.faults import (
    ANSWER_FILE,
    QUESTION,
    ChromaServer,
    chroma_command,
    mount_problem,
    read_only_view,
    resize,
    set_writable,
    tmpfs,
    write_articles,
)
from rag.store.embed import Vectors
from rag.testing import HashingEmbedder
from rag.testing.ollama_server import OllamaStubServer

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("rag_env")]

SEEDS = Path(__file__).parents[2] / "seeds"
KEPT = "nothing indexed before is lost"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """`rag ARGS` in this process with the hashing embedder: exit code, stdout, stderr."""
    monkeypatch.setenv("RAG_EMBED__MODEL", "hashing")

    def run(*argv: str) -> Ran:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


@pytest.fixture
def mounts() -> None:
    problem = mount_problem()
    if problem is not None:
        pytest.skip(problem)


@contextlib.contextmanager
def forgotten(*indexes: Path) -> Iterator[None]:
    """Afterwards, stop the Chroma systems this process keeps for these folders (chromadb caches one per
    folder for the life of the process), so their mounts can go."""
    try:
        yield
    finally:
        from chromadb.api.shared_system_client import SharedSystemClient

        for index in indexes:
            system = SharedSystemClient._identifier_to_system.pop(str(index / "chroma"), None)
            SharedSystemClient._identifier_to_refcount.pop(str(index / "chroma"), None)
            if system is not None:
                with contextlib.suppress(Exception):
                    system.stop()


def counts(summary: str) -> dict[str, int]:
    first = summary.split(";")[0]
    return {name: int(n) for n, name in re.findall(r"(\d+) (new|updated|unchanged|duplicate|failed)", first)}


def test_a_full_disk_stops_the_ingest_in_one_line_and_the_same_command_finishes(
    tmp_path: Path, cli: Any, mounts: None
) -> None:
    articles = write_articles(tmp_path / "more", 120)
    with tmpfs(tmp_path / "disk", "2m") as disk, forgotten(disk / "idx"):
        index = str(disk / "idx")
        assert cli("ingest", str(SEEDS), "--index", index, "--quiet").code == 0

        full = cli("ingest", str(articles), "--index", index, "--quiet")
        where = f"no space left on the disk holding the index folder {re.escape(index)} \\(\\d+ KB free\\)"
        again = f"free space there and run the same command again; {KEPT}"
        assert full.code == 2
        assert re.fullmatch(f"rag ingest: error: {where} while ingesting: {again}\n", full.err), full.err
        # Chroma must apply its log before it reads: while the disk is full, a question gets the same line.
        asked = cli("ask", QUESTION, "--backend", "extractive", "--index", index)
        assert asked.code == 2
        assert re.fullmatch(f"rag ask: error: {where} while opening the index: {again}\n", asked.err), asked.err

        resize(disk, "64m")
        asked = cli("ask", QUESTION, "--backend", "extractive", "--index", index)
        assert asked.code == 0 and ANSWER_FILE in asked.out, asked.err
        rerun = cli("ingest", str(articles), "--index", index, "--quiet")
        c = counts(rerun.out)
        assert rerun.code == 0 and c["failed"] == 0 and c["new"] + c["unchanged"] == 120, rerun.out + rerun.err
        assert c["unchanged"] > 0  # what the first run stored was kept, not stored again
        status = cli("status", "--index", index, "--json")
        assert '"articles": 125' in status.out


def test_a_read_only_index_folder_is_one_line_and_a_copy_answers(tmp_path: Path, cli: Any, mounts: None) -> None:
    source = tmp_path / "writable"
    rag.open(source / "idx", embedder=HashingEmbedder()).ingest(SEEDS)
    articles = write_articles(tmp_path / "more", 10)
    view = tmp_path / "read-only"
    with read_only_view(source, view), forgotten(source / "idx", view / "idx", tmp_path / "copy"):
        index = str(view / "idx")
        line = (
            f"the index folder {index} is read-only (read-only file system): rag writes there even to answer "
            "questions (Chroma and the ingest ledger open their databases for writing); make it writable, or copy "
            f"it to a writable place (cp -r {index} /tmp/index) and pass --index /tmp/index\n"
        )
        asked = cli("ask", QUESTION, "--backend", "extractive", "--index", index)
        assert (asked.code, asked.err) == (2, f"rag ask: error: {line}")
        ingest = cli("ingest", str(articles), "--index", index, "--quiet")
        assert (ingest.code, ingest.err) == (2, f"rag ingest: error: {line}")

        shutil.copytree(index, tmp_path / "copy")  # what the line says to do
        copied = cli("ask", QUESTION, "--backend", "extractive", "--index", str(tmp_path / "copy"))
        assert copied.code == 0 and ANSWER_FILE in copied.out, copied.err

        set_writable(view, True)
        rerun = cli("ingest", str(articles), "--index", index, "--quiet")
        assert rerun.code == 0 and counts(rerun.out)["new"] == 10, rerun.err
        asked = cli("ask", QUESTION, "--backend", "extractive", "--index", index)
        assert asked.code == 0 and ANSWER_FILE in asked.out


class KillingEmbedder(HashingEmbedder):
    """Kills the Chroma server in the middle of the work: at a given batch of passages of an ingest (the
    earlier batches are stored), or when a question's query is embedded (after the question has read the
    keyword index from the server, before its vector search)."""

    def __init__(self, server: ChromaServer) -> None:
        self.server = server
        self.batches_left: int | None = None
        self.kill_at_query = False

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if self.batches_left is not None:
            self.batches_left -= 1
            if self.batches_left == 0:
                self.batches_left = None
                self.server.kill()
        return super().embed_passages(texts)

    def embed_query(self, text: str) -> Vectors:
        if self.kill_at_query:
            self.kill_at_query = False
            self.server.kill()
        return super().embed_query(text)


def cited(answer: rag.Answer) -> bool:
    return any(c.passage.path.endswith(ANSWER_FILE) for c in answer.citations)


def test_a_chroma_server_killed_mid_ingest_and_mid_question_comes_back_without_reopening(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if chroma_command() is None:
        pytest.skip("the `chroma` command (from the chromadb package) is not installed")
    articles = write_articles(tmp_path / "more", 40)  # about 160 passages: five batches
    with ChromaServer(tmp_path / "chroma-data") as server:
        url, port = server.url, server.port
        killer = KillingEmbedder(server)
        idx = rag.open(tmp_path / "local", embedder=killer, chroma_url=url, collection="faults")
        idx.ingest(SEEDS)

        killer.batches_left = 2
        with pytest.raises(StoreUnavailable) as died:
            idx.ingest(articles)
        gone = rf"the Chroma server at {url} (went away|is not reachable) while {{doing}} \((RemoteProtocolError|ConnectError): [^)]+\): start it( again)? \(chroma run --path <its data folder> --port {port}\) and {{again}}; {KEPT}"  # noqa: E501
        assert re.fullmatch(gone.format(doing="ingesting", again="run the same command again"), str(died.value))

        monkeypatch.setenv("RAG_CHROMA_URL", url)
        monkeypatch.setenv("RAG_COLLECTION", "faults")
        down = cli("ask", QUESTION, "--backend", "extractive", "--index", str(tmp_path / "local"))
        assert (down.code, down.err) == (
            2,
            f"rag ask: error: the Chroma server at {url} is not reachable while opening the index (ConnectError: "
            f"[Errno 111] Connection refused): start it (chroma run --path <its data folder> --port {port}) and run "
            f"the same command again; {KEPT}\n",
        )

        server.start()  # the same Index from here on: nothing is reopened
        report = idx.ingest(articles)
        assert not report.failed and len(report.new) + len(report.unchanged) == 40 and report.unchanged
        assert cited(idx.ask(QUESTION, backend="extractive"))

        killer.kill_at_query = True
        with pytest.raises(StoreUnavailable) as died:
            idx.ask(QUESTION, backend="extractive")
        assert re.fullmatch(gone.format(doing="answering", again="ask again"), str(died.value)), str(died.value)
        with pytest.raises(StoreUnavailable, match=r"is not reachable while answering"):
            idx.ask(QUESTION, backend="extractive")
        server.start()
        assert cited(idx.ask(QUESTION, backend="extractive"))
        assert idx.store.article_count() == 45


def _cite_then_more(request: dict[str, Any]) -> str:
    """Three sentences, each citing the passage about Pokrovsk (the server drops the stream in the second)."""
    prompt = request["messages"][-1]["content"]
    blocks = re.findall(r'<passage n="(\d+)"[^>]*>(.*?)</passage>', prompt, flags=re.S)
    n = next(num for num, text in blocks if "lost control of Pokrovsk" in text)
    return " ".join(
        [
            f"Igor Mosiychuk claimed that Ukrainian troops had already lost control of Pokrovsk [{n}].",
            f"He said that Ukrainian troops had already lost control of Pokrovsk [{n}].",
            f"Mosiychuk claimed Pokrovsk was lost [{n}].",
        ]
    )


@pytest.mark.contract
def test_ollama_dying_mid_answer_is_one_line_in_the_cli_and_a_marked_error_in_the_ui(
    seeded_index_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.app.ui import respond

    question = "Did Ukrainian troops lose control of Pokrovsk?"
    first = "Igor Mosiychuk claimed that Ukrainian troops had already lost control of Pokrovsk [1]."
    with OllamaStubServer(replies=_cite_then_more, drop_after=16) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        index = str(seeded_index_path)
        died = cli("ask", question, "--index", index, "--backend", "ollama")
        line = (
            f"the Ollama server at {srv.url} stopped in the middle of the answer (RemoteProtocolError: peer closed "
            "connection without sending complete message body (incomplete chunked read)): start it again with "
            "`ollama serve` and ask again, or use the extractive backend (--backend extractive)"
        )
        # The sentence verified before the drop stays on stdout; the error is a line of its own.
        assert (died.code, died.out, died.err) == (2, first + "\n", f"rag ask: error: {line}\n")
        extractive = cli("ask", question, "--index", index, "--backend", "extractive")
        assert extractive.code == 0 and "Mosiychuk" in extractive.out

        idx = rag.open(seeded_index_path, embedder=HashingEmbedder(), llm={"ollama_host": srv.url})
        *_, (messages, _, sources, session) = respond(idx, question, [], None, "ollama", 8)
        assert messages[-1]["content"].startswith("⚠️ **Could not answer:** the Ollama server at ")
        assert "stopped in the middle of the answer" in messages[-1]["content"] and "Traceback" not in sources

        srv.drop_after = None  # Ollama is back: the same session answers
        *_, (messages, _, sources, session) = respond(idx, question, [], session, "ollama", 8)
        assert "Mosiychuk" in messages[-1]["content"] and "answered by ollama" in messages[-1]["content"]
