"""rag.faults on the exceptions the storage layers and servers really raise: each fault becomes one line
that says what happened, where and what to do; anything else (a bug) is left alone."""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from chromadb.errors import InternalError, NotFoundError

from rag.config import LLMSettings
from rag.errors import (
    AnswerInterrupted,
    BackendUnavailable,
    BadQuestion,
    DiskFull,
    IndexReadOnly,
    RagError,
    StoreUnavailable,
)
from rag.faults import Place, backend_fault, storage_fault, translated
from rag.testing.ollama_server import OllamaStubServer

KEPT = "nothing indexed before is lost"
# The messages chromadb 1.5's embedded store gave on a full tmpfs and on a read-only bind mount.
COMPACTION = "Error in compaction: Failed to apply logs to the metadata segment"
READONLY_DB = "error returned from database: (code: 8) attempt to write a readonly database"
FULL_DB = "Failed to resolve records for deletion: error returned from database: (code: 13) database or disk is full"


@pytest.fixture
def idx(tmp_path: Path) -> Path:
    folder = tmp_path / "idx"
    folder.mkdir()
    return folder


@pytest.fixture
def free(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Pretend the index's disk has this many bytes free."""
    return lambda n: monkeypatch.setattr("rag.faults.free_space", lambda folder: n)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raised(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except BaseException as e:
        return e
    raise AssertionError("nothing was raised")


def fault(exc: BaseException, place: Place, doing: Any = "ingest") -> RagError:
    err = storage_fault(exc, place, doing)
    assert err is not None, f"{type(exc).__name__}: {exc} was not recognised"
    assert "\n" not in str(err)
    return err


# --- full disk ------------------------------------------------------------------------------------
def test_sqlite_full_is_a_full_disk(idx: Path, free: Callable[[int], None]) -> None:
    db = sqlite3.connect(idx / "t.sqlite")
    db.execute("PRAGMA max_page_count = 4")  # SQLite's own SQLITE_FULL, without filling a real disk
    db.execute("CREATE TABLE t (x)")
    e = raised(lambda: [db.execute("INSERT INTO t VALUES (?)", ("x" * 4000,)) for _ in range(50)])
    assert isinstance(e, sqlite3.OperationalError) and e.sqlite_errorcode == sqlite3.SQLITE_FULL
    free(512 * 1024)
    err = fault(e, Place(idx))
    assert isinstance(err, DiskFull)
    assert str(err) == (
        f"no space left on the disk holding the index folder {idx} (512 KB free) while ingesting: "
        f"free space there and run the same command again; {KEPT}"
    )


def test_enospc_from_the_file_system_is_a_full_disk(idx: Path, free: Callable[[int], None]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")

    def write() -> None:
        with open("/dev/full", "w") as f:
            f.write("x")

    e = raised(write)
    assert isinstance(e, OSError) and e.errno == errno.ENOSPC
    free(2 * 2**30)  # the errno decides, whatever the folder's disk says
    err = fault(e, Place(idx), "ask")
    assert isinstance(err, DiskFull)
    assert str(err).endswith(f"while answering: free space there and ask again; {KEPT}")


def test_a_full_disk_elsewhere_is_named(idx: Path, tmp_path: Path) -> None:
    e = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "scratch" / "upload.tmp"))
    err = fault(e, Place(idx))
    assert str(err).startswith(f"no space left on the disk holding {tmp_path / 'scratch'} (")


def test_chroma_compaction_error_on_a_nearly_full_disk_is_a_full_disk(idx: Path, free: Callable[[int], None]) -> None:
    free(436 * 1024)
    err = fault(InternalError(COMPACTION), Place(idx))
    assert isinstance(err, DiskFull) and "(436 KB free) while ingesting" in str(err)
    assert isinstance(fault(InternalError(FULL_DB), Place(idx), "open"), DiskFull)


def test_chroma_error_with_room_to_spare_is_not_called_a_full_disk(idx: Path, free: Callable[[int], None]) -> None:
    free(50 * 2**30)
    assert storage_fault(InternalError(COMPACTION), Place(idx), "ingest") is None
    assert isinstance(fault(InternalError(FULL_DB), Place(idx)), DiskFull)  # SQLite's code says so


# --- read-only folder -----------------------------------------------------------------------------
def test_readonly_sqlite_is_a_read_only_index(idx: Path) -> None:
    sqlite3.connect(idx / "t.sqlite").execute("CREATE TABLE t (x)").connection.commit()
    db = sqlite3.connect(f"file:{idx / 't.sqlite'}?mode=ro", uri=True)
    e = raised(lambda: db.execute("INSERT INTO t VALUES (1)"))
    assert isinstance(e, sqlite3.OperationalError) and e.sqlite_errorcode == sqlite3.SQLITE_READONLY
    err = fault(e, Place(idx), "ingest")
    assert isinstance(err, IndexReadOnly)
    assert str(err) == (
        f"the index folder {idx} is read-only (permission denied): ingesting writes there; make it writable "
        f"(or pass --index with a writable folder) and run the same command again; {KEPT}"
    )


def test_chroma_readonly_database_on_open_says_how_to_ask_anyway(idx: Path) -> None:
    err = fault(InternalError(READONLY_DB), Place(idx), "open")
    assert isinstance(err, IndexReadOnly)
    assert str(err).startswith(f"the index folder {idx} is read-only (permission denied): rag writes there")
    assert str(err).endswith(f"(cp -r {idx} /tmp/index) and pass --index /tmp/index")


def test_erofs_names_the_read_only_file_system(idx: Path) -> None:
    e = OSError(errno.EROFS, os.strerror(errno.EROFS), str(idx / "manifest.json.tmp"))
    assert "(read-only file system): removing articles writes there" in str(fault(e, Place(idx), "remove"))


def test_permission_denied_on_an_input_file_is_not_the_index_fault(idx: Path, tmp_path: Path) -> None:
    outside = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "articles" / "a.txt"))
    assert storage_fault(outside, Place(idx), "ingest") is None
    inside = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(idx / "ledger.sqlite"))
    assert isinstance(storage_fault(inside, Place(idx), "ingest"), IndexReadOnly)


# --- Chroma server --------------------------------------------------------------------------------
def test_chroma_server_that_is_down(idx: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    e = raised(lambda: httpx.get(f"{url}/api/v2/heartbeat"))
    assert isinstance(e, httpx.ConnectError)
    err = fault(e, Place(idx, url), "ask")
    assert isinstance(err, StoreUnavailable)
    port = url.rsplit(":", 1)[1]
    assert str(err) == (
        f"the Chroma server at {url} is not reachable while answering (ConnectError: [Errno 111] Connection "
        f"refused): start it (chroma run --path <its data folder> --port {port}) and ask again; {KEPT}"
    )
    assert storage_fault(e, Place(idx), "ask") is None  # an embedded index has no server to blame


def test_chromadb_http_client_refused_at_open(idx: Path) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    url = f"http://127.0.0.1:{closed_port()}"
    port = int(url.rsplit(":", 1)[1])
    settings = ChromaSettings(anonymized_telemetry=False)
    expected = r"is not reachable while opening the index .* and run the same command again"
    with pytest.raises(StoreUnavailable, match=expected) as info, translated(Place(idx, url), "open"):
        chromadb.HttpClient(host="127.0.0.1", port=port, settings=settings)
    assert isinstance(info.value.__cause__, ValueError)  # chromadb's own wrapper of the ConnectError


def test_chroma_server_gone_mid_request(idx: Path) -> None:
    with OllamaStubServer(drop_after=1) as srv:  # any server that hangs up half-way will do
        url = srv.url
        body = {"model": "qwen2.5:7b", "messages": [{"role": "user", "content": "hi there you"}]}

        def read() -> None:
            with httpx.stream("POST", f"{url}/api/chat", json=body) as r:
                r.read()

        e = raised(read)
    assert isinstance(e, httpx.RemoteProtocolError)
    err = fault(e, Place(idx, url), "ingest")
    assert isinstance(err, StoreUnavailable)
    assert str(err).startswith(f"the Chroma server at {url} went away while ingesting (RemoteProtocolError: ")
    assert str(err).endswith(f"and run the same command again; {KEPT}")


def test_server_that_lost_the_collection(idx: Path) -> None:
    err = fault(NotFoundError("Collection [passages] does not exist"), Place(idx, "http://h:8000"), "ask")
    assert isinstance(err, StoreUnavailable) and "restarted on another data folder" in str(err)


# --- what is not a fault stays as it is -----------------------------------------------------------
def test_bugs_are_not_faults(idx: Path, free: Callable[[int], None]) -> None:
    free(100 * 1024)  # even on a nearly full disk, a bug is a bug
    for bug in (AttributeError("'RustBindingsAPI' object has no attribute 'bindings'"), KeyError("x"), ValueError()):
        assert storage_fault(bug, Place(idx), "ingest") is None
        with pytest.raises(type(bug)), translated(Place(idx), "ingest"):
            raise bug


def test_translated_passes_our_own_errors_and_chains_the_original(idx: Path) -> None:
    with pytest.raises(BadQuestion), translated(Place(idx), "ask"):
        raise BadQuestion("the question is empty")
    original = InternalError(READONLY_DB)
    with pytest.raises(IndexReadOnly) as info, translated(Place(idx), "open"):
        raise original
    assert info.value.__cause__ is original


# --- the LLM backend ------------------------------------------------------------------------------
def _llm(url: str) -> LLMSettings:
    return LLMSettings(ollama_host=url, ollama_model="qwen2.5:7b")


def test_ollama_dropping_the_stream_mid_answer() -> None:
    with OllamaStubServer(drop_after=3) as srv:
        url = srv.url
        body = {"model": "qwen2.5:7b", "messages": [{"role": "user", "content": "hi"}]}

        def read() -> None:
            with httpx.stream("POST", f"{url}/api/chat", json=body) as r:
                for _ in r.iter_lines():
                    pass

        e = raised(read)
    err = backend_fault("ollama", e, _llm(url), started=True)
    assert isinstance(err, AnswerInterrupted)
    assert str(err) == (
        f"the Ollama server at {url} stopped in the middle of the answer (RemoteProtocolError: peer closed "
        "connection without sending complete message body (incomplete chunked read)): start it again with "
        "`ollama serve` and ask again, or use the extractive backend (--backend extractive)"
    )
    before = backend_fault("ollama", e, _llm(url), started=False)
    assert type(before) is BackendUnavailable and "stopped before answering" in str(before)


def test_ollama_not_running_says_how_to_start_it() -> None:
    import ollama

    url = f"http://127.0.0.1:{closed_port()}"
    e = raised(lambda: ollama.Client(host=url).chat(model="qwen2.5:7b", messages=[], stream=False))
    assert type(e) is ConnectionError  # ollama-python's own, raised "from None" over httpx's
    err = backend_fault("ollama", e, _llm(url), started=False)
    assert str(err) == (
        f"the Ollama server at {url} is not reachable (ConnectError: [Errno 111] Connection refused): start it "
        "with `ollama serve` (or set OLLAMA_HOST to where it runs) and ask again, or use the extractive backend "
        "(--backend extractive)"
    )


def test_ollama_error_replies() -> None:
    import ollama

    with OllamaStubServer(fail_with=500) as srv:
        e = raised(lambda: ollama.Client(host=srv.url).chat(model="qwen2.5:7b", messages=[{"role": "user"}]))
        assert "answered with an error (HTTP 500: " in str(backend_fault("ollama", e, _llm(srv.url), False))
    with OllamaStubServer(models=["llama3"]) as srv:
        e = raised(lambda: ollama.Client(host=srv.url).chat(model="qwen2.5:7b", messages=[{"role": "user"}]))
        err = backend_fault("ollama", e, _llm(srv.url), False)
        assert str(err).startswith(f"model 'qwen2.5:7b' is not pulled on the Ollama server at {srv.url}: run `ollama")


def test_other_backends_name_themselves() -> None:
    err = backend_fault("llamacpp", RuntimeError("llama_decode returned -1"), LLMSettings(), started=True)
    assert isinstance(err, AnswerInterrupted)
    assert str(err) == (
        "the llamacpp backend failed in the middle of the answer (RuntimeError: llama_decode returned -1): "
        "ask again, or use the extractive backend (--backend extractive)"
    )


# --- the UI's status line -------------------------------------------------------------------------
def test_status_line_shows_the_fault_instead_of_failing() -> None:
    from rag.app.index import Index
    from rag.app.ui import status_line

    class Down:
        def status(self) -> dict[str, Any]:
            raise StoreUnavailable("the Chroma server at http://127.0.0.1:8000 is not reachable (...)")

    html = status_line(cast(Index, Down()))
    assert html.startswith('<div class="rag-status"><div class="rag-off">⚠️ the Chroma server at ')
