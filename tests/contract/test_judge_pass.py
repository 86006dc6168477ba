"""The judge pass through llama-index's Ollama client against the local server that speaks Ollama's wire
format (rag.testing.ollama_server): the answer streams, then one non-streamed judge call with scripted
verdict lines decides the borderline sentences."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import rag
from rag.testing import HashingEmbedder, ScriptedLLM
from rag.testing.ollama_server import JUDGE_MARK, OllamaStubServer, is_judge_request
from rag.types import Answer

pytestmark = pytest.mark.contract
SEEDS = Path(__file__).parents[2] / "seeds"
QUESTION = "Did Ukrainian troops lose control of Pokrovsk?"
FACT = "lost control of Pokrovsk"  # in the seed passage every sentence below cites

# How the citation checker judges each against that passage (test_checker_verdicts_these_tests_assume):
VERIFIED = "Igor Mosiychuk claimed that Ukrainian troops had already lost control of Pokrovsk"
VERIFIED_2 = "Mosiychuk accused the Ukrainian leadership of misleading citizens about Pokrovsk"
BORDERLINE = "Igor Mosiychuk said Ukrainian soldiers had lost control of Pokrovsk"
BORDERLINE_2 = "Former lawmaker Mosiychuk said on November 4 that Ukraine had lost Pokrovsk"
HARD_FAILURE = "Igor Mosiychuk claimed on November 9 that Ukrainian troops had already lost control of Pokrovsk"
# A kept paraphrase is marked apart from a verified quote of the same passage (rag.answer.compose._Citer): after
# VERIFIED [1], BORDERLINE is shown with a marker of its own.


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("idx")
    rag.open(folder, embedder=HashingEmbedder()).ingest(SEEDS)
    return folder


def answer_citing(*sentences: str) -> Callable[[dict[str, Any]], str]:
    """The model's answer: `sentences`, each cited to the shown passage that holds FACT."""

    def reply(request: dict[str, Any]) -> str:
        prompt = request["messages"][-1]["content"]
        blocks = re.findall(r'<passage n="(\d+)"[^>]*>(.*?)</passage>', prompt, flags=re.S)
        n = next(num for num, text in blocks if FACT in text)
        return " ".join(f"{s} [{n}]." for s in sentences)

    return reply


def _open(folder: Path, url: str, **llm: object) -> rag.Index:
    return rag.open(folder, embedder=HashingEmbedder(), llm={"ollama_host": url, "ollama_model": "qwen2.5:7b", **llm})


def ask(folder: Path, srv: OllamaStubServer, **llm: object) -> tuple[list[str], Answer]:
    stream = _open(folder, srv.url, **llm).ask_stream(QUESTION, backend="ollama")
    pieces = list(stream)
    assert "".join(pieces) == stream.answer.text
    return pieces, stream.answer


def judged_sentences(srv: OllamaStubServer) -> list[str]:
    """The sentences the (one) judge call was asked about, in order."""
    [(_, path, body)] = srv.judge_requests
    assert path == "/api/chat" and body["stream"] is False
    return re.findall(r"<sentence>(.*?)\.</sentence>", body["messages"][-1]["content"])


def test_checker_verdicts_these_tests_assume(seeded: Path) -> None:
    every = (VERIFIED, VERIFIED_2, BORDERLINE, BORDERLINE_2, HARD_FAILURE)
    with OllamaStubServer(replies=answer_citing(*every), judge_replies=["1: yes\n2: yes"]) as srv:
        _, answer = ask(seeded, srv)
        assert judged_sentences(srv) == [BORDERLINE, BORDERLINE_2]  # the borderline ones, and only they
    assert [r.sentence for r in answer.removed] == [f"{HARD_FAILURE} [1]."]
    assert answer.removed[0].reasons == ("number not in the passage: 9",)


def test_auto_is_on_for_ollama_and_a_verdict_of_no_removes_the_sentence(seeded: Path) -> None:
    with OllamaStubServer(replies=answer_citing(VERIFIED, BORDERLINE), judge_replies=["1: no"]) as srv:
        pieces, answer = ask(seeded, srv)
        assert judged_sentences(srv) == [BORDERLINE]
        assert len(srv.answer_requests) == 1
    assert pieces == [f"{VERIFIED} [1]."]
    assert [r.sentence for r in answer.removed] == [f"{BORDERLINE} [1]."]
    assert answer.removed[0].reasons[-1] == "the writing model's judge pass: the quotes do not state it"
    assert answer.timings["judge_sentences"] == 1 and answer.timings["judge_lowered"] == 1
    assert 0 < answer.timings["judge_s"] < answer.timings["answer_s"]
    assert answer.judge_note == "" and answer.to_json()["timings"]["judge_lowered"] == 1


def test_yes_keeps_the_borderline_sentence(seeded: Path) -> None:
    with OllamaStubServer(replies=answer_citing(VERIFIED, BORDERLINE), judge_replies=["1: yes"]) as srv:
        _, answer = ask(seeded, srv)
    assert answer.text == f"{VERIFIED} [1]. {BORDERLINE} [2]."
    assert answer.removed == [] and answer.timings["judge_lowered"] == 0


def test_partly_removes_the_borderline_sentence(seeded: Path) -> None:
    reply = answer_citing(VERIFIED, BORDERLINE, BORDERLINE_2)
    with OllamaStubServer(replies=reply, judge_replies=["1: yes\n2: partly"]) as srv:
        _, answer = ask(seeded, srv)
    assert answer.text == f"{VERIFIED} [1]. {BORDERLINE} [2]."
    assert answer.removed[0].sentence == f"{BORDERLINE_2} [1]."
    assert answer.removed[0].reasons[-1] == "the writing model's judge pass: the quotes state only part of it"


def test_a_verified_sentence_is_never_sent_to_the_judge(seeded: Path) -> None:
    with OllamaStubServer(replies=answer_citing(VERIFIED, VERIFIED_2), judge_replies=["1: no\n2: no"]) as srv:
        _, answer = ask(seeded, srv)
        assert srv.judge_requests == []  # nothing borderline: no judge call at all
    assert answer.text.count("Mosiychuk") == 2 and answer.timings["judge_s"] == 0.0


def test_yes_never_raises_a_hard_failure(seeded: Path) -> None:
    reply = answer_citing(VERIFIED, HARD_FAILURE, BORDERLINE)
    with OllamaStubServer(replies=reply, judge_replies=["1: yes\n2: yes\n3: yes"]) as srv:
        _, answer = ask(seeded, srv)
        assert judged_sentences(srv) == [BORDERLINE]
    assert "November 9" not in answer.text
    assert answer.text == f"{VERIFIED} [1]. {BORDERLINE} [2]."


def test_a_garbled_reply_keeps_the_checkers_verdicts(seeded: Path) -> None:
    reply = answer_citing(VERIFIED, BORDERLINE)
    with OllamaStubServer(replies=reply, judge_replies=["Both sentences are\nfine, I think.\n\n**Verdict**"]) as srv:
        _, answer = ask(seeded, srv)
    assert answer.text == f"{VERIFIED} [1]. {BORDERLINE} [2]."
    assert "no readable verdict for 1 of 1" in answer.judge_note


def test_a_judge_error_or_timeout_keeps_the_answer_and_notes_it(seeded: Path) -> None:
    reply = answer_citing(VERIFIED, BORDERLINE)
    with OllamaStubServer(replies=reply, judge_replies=["1: no"], judge_fail_with=500) as srv:
        _, failed = ask(seeded, srv)
    assert failed.text == f"{VERIFIED} [1]. {BORDERLINE} [2]."
    assert failed.judge_note.startswith("the judge pass failed (ResponseError")
    with OllamaStubServer(replies=reply, judge_replies=["1: no"], judge_delay_s=2.0) as srv:
        _, slow = ask(seeded, srv, ollama_timeout_s=0.5)
    assert slow.text == failed.text
    assert "Timeout" in slow.judge_note and slow.timings["judge_s"] < 2.0


def test_off_setting_sends_nothing_to_the_judge(seeded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_LLM__JUDGE_PASS", "off")
    with OllamaStubServer(replies=answer_citing(VERIFIED, BORDERLINE), judge_replies=["1: no"]) as srv:
        _, answer = ask(seeded, srv)
        assert srv.judge_requests == []
    assert answer.text == f"{VERIFIED} [1]. {BORDERLINE} [2]." and "judge_s" not in answer.timings


def test_off_by_default_for_the_llamacpp_backend(seeded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled model is not loaded: a scripted one stands in for llama.cpp where the backend is made."""

    def scripted(answer: str) -> ScriptedLLM:
        return ScriptedLLM(lambda prompt: "1: no" if JUDGE_MARK in prompt else answer)

    for setting, calls in (("auto", 1), ("on", 2)):
        llm = scripted(f"{VERIFIED} [1]. {BORDERLINE} [1].")
        monkeypatch.setattr("rag.app.index.make_llm", lambda backend, settings, llm=llm: llm)
        monkeypatch.setattr("rag.app.index.resolve_backend", lambda settings, requested=None: "llamacpp")
        idx = rag.open(seeded, embedder=HashingEmbedder(), llm={"judge_pass": setting})
        answer = idx.ask(QUESTION, backend="llamacpp")
        assert answer.backend == "llamacpp" and len(llm.prompts) == calls, setting
        assert ("Ukrainian soldiers" in answer.text) is (setting == "auto")


def test_streamed_order_verified_at_once_the_rest_after_the_judge(seeded: Path) -> None:
    reply = answer_citing(VERIFIED, BORDERLINE_2, VERIFIED_2, BORDERLINE)
    with OllamaStubServer(replies=reply, judge_replies=["1: no\n2: yes"], delay_s=0.002) as srv:
        stream = _open(seeded, srv.url).ask_stream(QUESTION, backend="ollama")
        pieces = iter(stream)
        first = next(pieces)
        assert srv.judge_requests == []  # the verified sentence was shown while the model was writing
        rest = list(pieces)
        assert judged_sentences(srv) == [BORDERLINE_2, BORDERLINE]
    # From the first borderline sentence on, everything waited for the judge, then came in the model's order.
    assert [first, *rest] == [f"{VERIFIED} [1].", f" {VERIFIED_2} [2].", f" {BORDERLINE} [3]."]
    assert stream.answer.text == "".join([first, *rest])


def test_the_server_tells_judge_calls_from_answers() -> None:
    judge = {"model": "qwen2.5:7b", "messages": [{"role": "user", "content": f"... {JUDGE_MARK} ..."}], "stream": False}
    answer = {"model": "qwen2.5:7b", "messages": [{"role": "user", "content": "Question: ..."}], "stream": False}
    assert is_judge_request(judge) and not is_judge_request(answer) and not is_judge_request(None)
    with OllamaStubServer(replies=["answer"], judge_replies=["1: yes"]) as srv:
        got = [httpx.post(f"{srv.url}/api/chat", json=b).json()["message"]["content"] for b in (answer, judge, answer)]
        assert got == ["answer", "1: yes", "answer"]
        assert len(srv.judge_requests) == 1 and len(srv.answer_requests) == 2
    with OllamaStubServer(replies=["same"]) as srv:  # without judge_replies a judge call is any other call
        assert httpx.post(f"{srv.url}/api/chat", json=judge).json()["message"]["content"] == "same"
