"""`rag` command line, run in-process with the hashing embedder (RAG_EMBED__MODEL=hashing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.app.cli import main

pytestmark = pytest.mark.usefixtures("rag_env")

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
POKROVSK = "Who claims Pokrovsk has fallen?"


@pytest.fixture(autouse=True)
def hashing(monkeypatch: pytest.MonkeyPatch, rag_env: None) -> None:
    monkeypatch.setenv("RAG_EMBED__MODEL", "hashing")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_seeds_prints_five_new_then_five_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = str(tmp_path / "idx")
    code, out, _ = run(capsys, "ingest", str(SEEDS), "--index", index, "--quiet")
    assert code == 0
    assert out.startswith("5 new, 0 updated, 0 unchanged, 0 duplicate, 0 failed;")
    code, out, _ = run(capsys, "ingest", str(SEEDS), "--index", index, "--quiet")
    assert code == 0
    assert out.startswith("0 new, 0 updated, 5 unchanged, 0 duplicate, 0 failed;")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["identity"]["embedder"] == "hashing-v1"
    assert manifest["articles"] == 5


def test_ask_json_prints_one_object_with_the_stable_keys(
    seeded_index_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "ask", POKROVSK, "--index", str(seeded_index_path), "--backend", "extractive", "--json"
    )
    assert code == 0, err
    data = json.loads(out)  # exactly one JSON document: json.loads refuses trailing text
    assert isinstance(data, dict)
    assert {"question", "text", "abstained", "backend", "citations", "claims"} <= set(data)
    assert data["question"] == POKROVSK
    assert data["abstained"] is False
    assert data["backend"] == "extractive"
    assert isinstance(data["claims"], list)
    assert data["citations"]
    for c in data["citations"]:
        assert {"n", "path", "title", "source", "published", "quote", "start", "end"} <= set(c)
        assert isinstance(c["n"], int) and isinstance(c["start"], int) and isinstance(c["end"], int)
        assert c["end"] - c["start"] == len(c["quote"])
        assert f"[{c['n']}]" in data["text"]
    # A "who claims" question: the claimants, each quoted and cited, fill `claims`.
    mosiychuk = [c for c in data["claims"] if c["speaker"] == "Igor Mosiychuk"]
    assert mosiychuk and mosiychuk[0]["stance"] == "supports" and mosiychuk[0]["cue"] == "claimed"
    assert Path(mosiychuk[0]["path"]).name == "000_b89d6b79fc443941.txt"
    cited = next(c for c in data["citations"] if c["n"] == mosiychuk[0]["citation"])
    assert mosiychuk[0]["content"] in cited["quote"] and mosiychuk[0]["content"] in data["text"]
    assert {"speaker", "speaker_role", "cue", "content", "date", "stance", "citation", "source"} <= set(mosiychuk[0])
    assert data["source_note"].startswith("Sources: [1]")


def test_ask_plain_prints_answer_sources_and_backend(
    seeded_index_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "ask", POKROVSK, "--index", str(seeded_index_path), "--backend", "extractive")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Who claims Pokrovsk has fallen:"
    assert any("Mosiychuk" in line and line.rstrip().endswith("]") for line in lines)
    assert any(line.startswith("[1] ") for line in lines)
    assert any(line.startswith("[") and "000_b89d6b79fc443941.txt" in line for line in lines)
    assert any(line.startswith("Sources: [1]") and "undated" in line for line in lines)  # the seeds carry no dates
    assert lines[-1] == "answered by: extractive"


def test_ask_unanswerable_lists_closest_passages(seeded_index_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "ask", "What is the capital of France?", "--index", str(seeded_index_path), "--backend", "extractive"
    )
    assert code == 0
    assert "Closest passages:" in out and "  (1) " in out and "  (3) " in out
    assert "[1] " not in out  # no citations
    assert out.splitlines()[-1] == "answered by: extractive"


def test_ask_unanswerable_says_not_found(seeded_index_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "ask", "What is the capital of France?", "--index", str(seeded_index_path), "--backend", "extractive"
    )
    assert code == 0
    assert out.startswith("Not found in the indexed articles.")


def test_ask_empty_question_exits_2_with_one_line_error(
    seeded_index_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "ask", "", "--index", str(seeded_index_path), "--backend", "extractive")
    assert code == 2
    assert out == ""
    assert err == "rag ask: error: the question is empty\n"


def test_ask_on_empty_index_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ask", POKROVSK, "--index", str(tmp_path / "idx"), "--backend", "extractive", "--json")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("rag ask: error: ") and "has no articles" in err and "rag ingest" in err


def test_ingest_missing_path_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ingest", "/nonexistent", "--index", str(tmp_path / "idx"), "--quiet")
    assert code == 1  # nothing usable at all
    assert out.startswith("0 new, 0 updated, 0 unchanged, 0 duplicate, 1 failed;")
    assert "  failed: /nonexistent: no such file or folder" in out.splitlines()


def test_ingest_with_some_bad_files_exits_0_and_names_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.odt"
    bad.write_bytes(b"%PDF")
    code, out, _ = run(
        capsys, "ingest", str(SEEDS / "000_b89d6b79fc443941.txt"), str(bad), "--index", str(tmp_path / "idx"), "--quiet"
    )
    assert code == 0
    assert out.startswith("1 new, 0 updated, 0 unchanged, 0 duplicate, 1 failed;")
    assert f"  failed: {bad}: unsupported file type '.odt'" in out.splitlines()


def test_index_mismatch_is_a_one_line_error(
    seeded_index_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_CHUNK__MAX_CHARS", "500")
    code, out, err = run(capsys, "status", "--index", str(seeded_index_path))
    assert code == 2 and out == ""
    assert err.startswith("rag status: error: the index at ") and "rebuild" in err
    assert err.count("\n") == 1


def test_status_lists_the_backends(seeded_index_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--index", str(seeded_index_path))
    assert code == 0
    backends = out[out.index("backends:") :].splitlines()[1:]
    assert [line.split()[0] for line in backends[:4]] == ["ollama", "openai", "llamacpp", "extractive"]
    assert backends[0].split()[1] == "no"  # OLLAMA_HOST points at a closed port
    assert "ollama serve" in backends[0]
    assert backends[1].split()[1] == "no" and "RAG_LLM__OPENAI_BASE_URL" in backends[1]  # not configured
    assert backends[3].split()[1] == "yes"
    # No server answers and no GGUF file is configured: 'auto' answers extractively, never with SmolLM2.
    assert "default backend: auto (auto → extractive)" in out
    assert "articles: 5" in out
    assert "inputs:   5 files, 0 identical copies, 0 near-duplicates" in out


def test_status_json(seeded_index_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--index", str(seeded_index_path), "--json")
    assert code == 0
    data = json.loads(out)
    assert list(data["backends"]) == ["ollama", "openai", "llamacpp", "extractive"]
    assert data["auto_backend"] == "extractive"
    assert data["backends"]["extractive"]["available"] is True
    assert data["backends"]["ollama"]["available"] is False
    assert data["manifest"]["articles"] == 5
    assert data["ledger"] == {"files": 5, "articles": 5, "inputs_stored": 5}
    assert data["passages"] == data["manifest"]["passages"]


def test_unknown_backend_is_refused_by_argparse(seeded_index_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", POKROVSK, "--index", str(seeded_index_path), "--backend", "gpt4"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'gpt4'" in capsys.readouterr().err
