"""`rag eval`: metrics, tables, and a whole run over a small data folder shaped like ../shared/eval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import rag.eval.common
from rag.config import Settings
from rag.eval import run_eval
from rag.eval.common import first_rank, format_table, rank_metrics
from rag.eval.polnear import speaker_word
from rag.eval.seeds import overlaps_evidence

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_rank_metrics_and_first_rank() -> None:
    assert first_rank(["x", "g", "g"], "g") == 2
    assert first_rank(["x"] * 10 + ["g"], "g") is None  # beyond the depth
    assert first_rank(["x", "h"], {"g", "h"}) == 2
    m = rank_metrics([1, 3, None, 7])
    assert m == {"recall@1": 0.25, "recall@5": 0.5, "recall@10": 0.75, "mrr@10": pytest.approx((1 + 1 / 3 + 1 / 7) / 4)}
    assert rank_metrics([])["mrr@10"] is None


def test_speaker_word_is_the_last_word_of_the_source() -> None:
    assert speaker_word("Donald Trump") == "trump"
    assert speaker_word("The New York Post") == "post"
    assert speaker_word("Clinton's campaign") == "campaign"
    assert speaker_word("O’Malley") == "o’malley"


def test_evidence_overlap_counts_half_an_evidence_string() -> None:
    ev = ["the brigade killed or wounded about 2,000 Russian soldiers"]
    assert overlaps_evidence("... the brigade killed or wounded about 2,000 Russian soldiers.", ev)
    assert overlaps_evidence("He said the brigade killed or wounded about two thousand.", ev)
    assert not overlaps_evidence("Nothing about soldiers here.", ev)


def test_format_table_is_markdown() -> None:
    out = format_table("T", ["a", "b"], [[1, 0.5], ["x", None]])
    assert out.splitlines()[2:] == ["| a | b     |", "|---|-------|", "| 1 | 0.500 |", "| x | -     |"]


# --- a whole run -----------------------------------------------------------------------------------

RTQA_PASSAGES = [
    ("p1", "2020-01-03", "CNN", "Protesters tried to storm the US embassy in Baghdad, Iraq, after airstrikes."),
    ("p2", "2020-01-03", "CNN", "Mariah Carey is the first artist with a number one hit in four different decades."),
    ("p3", "2020-01-10", "THE WEEK", "Sydney held its New Year fireworks despite a petition over the bushfires."),
    ("p4", "2020-01-10", "CNN", "Boeing will recommend simulator training for 737 Max pilots before flights resume."),
]  # fmt: skip
RTQA_QUESTIONS = [
    ("q1", "A US embassy in what country was attacked by protesters after airstrikes?", "Iraq", "p1", "test"),
    ("q2", "Which artist had number one hits in four different decades?", "Mariah Carey", "p2", "test"),
    ("q3", "Which city held fireworks despite a petition over bushfires?", "Sydney", "p3", "dev"),
    ("q4", "What training will Boeing recommend for 737 Max pilots?", "simulator", "p4", "dev"),
    ("q5", "Which passage is missing from the index?", "none", "p-not-ingested", "test"),
]  # fmt: skip
POLNEAR = {
    "a_2016-01-01_budget.txt": "Senator Jane Smith said the budget would cut taxes for working families. "
    "The vote is expected next week, according to aides.",
    "b_2016-01-02_wall.txt": "The governor told reporters that the wall would never be built. "
    "Critics disagreed, and the mayor claimed the plan was already funded.",
}


def make_data(root: Path) -> Path:
    data = root / "eval"
    shutil.copytree(SEEDS, root / "seeds")
    (data / "realtimeqa").mkdir(parents=True)
    (data / "polnear" / "articles").mkdir(parents=True)
    seeds_qa = [
        {"id": "s03", "type": "factoid", "question": "How many residents remain in Toretsk?", "answers": ["1,600"],
         "sources": ["004_6291d9374a122252.txt"], "evidence": ["around 1,600 residents remain"]},
        {"id": "s17", "type": "unanswerable", "question": "What is the capital of France?", "answers": [],
         "sources": [], "evidence": []},
    ]  # fmt: skip
    (data / "seeds_qa.jsonl").write_text("".join(json.dumps(q) + "\n" for q in seeds_qa))
    (data / "realtimeqa" / "passages.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "date": d, "source": s, "url": "", "text": t}) + "\n" for i, d, s, t in RTQA_PASSAGES
        )
    )
    (data / "realtimeqa" / "questions.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "date": "2020-01-03", "question": q, "answer": a, "passage_id": p, "split": sp}) + "\n"
            for i, q, a, p, sp in RTQA_QUESTIONS
        )
    )
    for name, text in POLNEAR.items():
        (data / "polnear" / "articles" / name).write_text(text)
    who = [
        {"id": "a:1", "split": "test", "article": "a_2016-01-01_budget.txt", "source": "Senator Jane Smith",
         "question": "Who said that the budget would cut taxes for working families?"},
        {"id": "b:1", "split": "test", "article": "b_2016-01-02_wall.txt", "source": "the mayor",
         "question": "Who said that the plan was already funded?"},
        {"id": "b:2", "split": "dev", "article": "b_2016-01-02_wall.txt", "source": "The governor",
         "question": "Who said that the wall would never be built?"},
    ]  # fmt: skip
    (data / "polnear" / "who_said.jsonl").write_text("".join(json.dumps(q) + "\n" for q in who))
    (data / "faithbench").mkdir()
    (data / "faithbench" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in FAITHBENCH))
    return data


# Two summaries of one source: one faithful, one with an unwanted (distorted) number.
_FB_SOURCE = "The film Harbour Lights earned $52,310,400 in cinemas on a budget of $30 million."
_FB_DETECTORS = {"gpt_4o": 1, "gpt-4-turbo": 0, "hhem-2.1": 0.7}
FAITHBENCH = [
    {"id": "f1", "split": "test", "summarizer": "Qwen/Qwen2.5-7B-Instruct", "source": _FB_SOURCE,
     "summary": "Harbour Lights earned over $52 million in cinemas on a budget of $30 million.",
     "annotations": [], "detectors": _FB_DETECTORS},
    {"id": "f2", "split": "test", "summarizer": "openai/gpt-4o", "source": _FB_SOURCE,
     "summary": "Harbour Lights earned $92 million in cinemas.",
     "annotations": [{"label": ["Unwanted", "Unwanted.Intrinsic"], "span": "$92 million", "start": 22, "end": 33}],
     "detectors": _FB_DETECTORS},
]  # fmt: skip


def test_run_eval_prints_a_table_per_set_writes_json_and_reuses_its_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], rag_env: None
) -> None:
    monkeypatch.setattr(rag.eval.common, "CACHE", tmp_path / "cache")
    data = make_data(tmp_path)
    settings = Settings(embed={"model": "hashing"})
    out = tmp_path / "results.json"
    assert run_eval(str(data), out=str(out), settings=settings) == 0
    printed = capsys.readouterr().out
    assert "seeds_qa (2 questions), backend=extractive" in printed
    assert "RealTimeQA test (3 questions)" in printed and "PolNeAR who_said test (2 questions)" in printed
    results = json.loads(out.read_text())
    assert results["split"] == "test" and results["backend"] == "extractive"
    rtqa = results["realtimeqa"]["table"]
    # The gold passage of q5 was never indexed: a miss, not a crash; q1 and q2 find theirs first.
    assert rtqa["n"] == 3 and rtqa["passages_indexed"] == 4 and rtqa["gold_not_stored_alone"] == 0
    assert rtqa["recall@1"] == pytest.approx(2 / 3) and rtqa["recall@10"] == pytest.approx(2 / 3)
    ranks = {q["id"]: q["rank"] for q in results["realtimeqa"]["questions"]}
    assert ranks == {"q1": 1, "q2": 1, "q5": None}
    answers = {q["id"]: q["answer_contains"] for q in results["realtimeqa"]["questions"]}
    assert answers["q1"] is True and answers["q5"] is False
    pn = results["polnear"]["table"]
    assert pn["n"] == 2 and pn["recall@1"] == 1.0
    named = {q["id"]: q["speaker_named"] for q in results["polnear"]["questions"]}
    assert named["a:1"] is True  # "Senator Jane Smith said the budget would cut taxes ..." is quoted
    assert results["seeds"]["table"]["unanswerable"]["abstain_when_unanswerable"] == 1.0
    # FaithBench: the faithful sentence kept, the distorted number removed; both balanced accuracies 1.
    assert "FaithBench test (2 summaries, 2 sentences" in printed
    fb = {j["id"]: j["verdict"] for j in results["faithbench"]["judged"]}
    assert fb["f1"] != "removed" and fb["f2"] == "removed"
    assert results["faithbench"]["summary_table"][0][1] == 1.0
    caches = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").iterdir())
    assert caches == ["polnear", "realtimeqa", "seeds"]

    # Second run, dev split, retrieval only: the cached indexes are reused (nothing re-ingested).
    stamps = {p: (p / "manifest.json").stat().st_mtime_ns for p in (tmp_path / "cache").iterdir()}
    assert run_eval(str(data), sets=("realtimeqa", "polnear"), split="dev", answers=False, settings=settings) == 0
    assert {p: (p / "manifest.json").stat().st_mtime_ns for p in stamps} == stamps
    printed = capsys.readouterr().out
    assert "RealTimeQA dev (2 questions)" in printed and "PolNeAR who_said dev (1 questions)" in printed


def test_tune_prints_the_grid_on_the_dev_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], rag_env: None
) -> None:
    monkeypatch.setattr(rag.eval.common, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(rag.eval, "ROOT", tmp_path)
    data = make_data(tmp_path)
    assert run_eval(str(data), sets=("realtimeqa",), tune=True, settings=Settings(embed={"model": "hashing"})) == 0
    printed = capsys.readouterr().out
    assert "RealTimeQA dev (2 questions): fusion settings" in printed
    assert "| dense only " in printed and "keyword only [function + question words]" in printed
    rows = json.loads((tmp_path / ".cache" / "eval-tuning.json").read_text())["realtimeqa"]
    assert len(rows) == 1 + 3 * (1 + 5 * 4 * 4 + 4 * 4)  # dense once; per stop list keyword alone + the grid


def test_missing_data_is_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_eval(str(tmp_path / "nowhere")) == 2
    assert "no eval data at" in capsys.readouterr().out
