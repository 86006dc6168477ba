"""Sources that disagree: both sides quoted with their own markers, and no disagreement invented."""

from __future__ import annotations

import re

import pytest

from rag.answer.compose import extractive_answer
from rag.answer.conflicts import find_conflict, status
from rag.answer.evidence import Evidence, rank_evidence
from rag.types import Answer, Passage, ScoredPassage

FALLEN = "Former lawmaker Igor Mosiychuk claimed that Ukrainian troops had lost control of Pokrovsk."
HOLDING = "The Ukrainian General Staff said its forces are still holding Pokrovsk despite heavy assaults."
FEWER = "Only 1,600 residents remain in Toretsk, the regional governor said."
MORE = "About 2,000 residents remain in Toretsk, the town's military administration said."


def scored(n: int, text: str, published: str = "2025-11-05", article: str = "") -> ScoredPassage:
    passage = Passage(
        id=f"art{n}:0",
        article_id=article or f"art{n}",
        text=text,
        start=0,
        end=len(text),
        path=f"/news/{n}.txt",
        title=f"Title {n}",
        source=f"Outlet {n}",
        published=published,
        language="en",
    )
    return ScoredPassage(passage, 1.0 / n)


def evidence_for(question: str, passages: list[ScoredPassage]) -> list[Evidence]:
    return rank_evidence(question, passages, known=lambda _: True)


def conflict(question: str, *passages: ScoredPassage) -> tuple[str, str] | None:
    ps = list(passages)
    found = find_conflict(question, evidence_for(question, ps), ps)
    return (found[0].text, found[1].text) if found else None


def assert_every_marker_quotes_its_passage(answer: Answer) -> None:
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)} == {c.n for c in answer.citations}
    for c in answer.citations:
        assert c.passage.text[c.start - c.passage.start : c.end - c.passage.start] == c.quote
        assert c.quote in answer.text


# --- status ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (FALLEN, "lost"),
        ("Pokrovsk has fallen, Mosiychuk said.", "lost"),
        ("Russian forces captured Pokrovsk on Monday.", "lost"),
        (HOLDING, "held"),
        ("Pokrovsk remains under Ukrainian control, the army said.", "held"),
        ("Ukrainian troops repelled another assault on Pokrovsk.", "held"),
        ("The army denied that Pokrovsk had fallen.", "held"),
        ("Pokrovsk has not fallen, the commander insisted.", "held"),
        # The cue is about another place, or there is no cue.
        ("Russian forces captured Vuhledar and are now advancing on Pokrovsk.", None),
        ("Residents of Pokrovsk queued for water on Monday.", None),
        # Reported and disputed in one sentence: no side.
        ("Moscow says Pokrovsk has fallen, but Ukrainian troops are still holding Pokrovsk.", None),
    ],
)
def test_status_of_a_place(sentence: str, expected: str | None) -> None:
    assert status(sentence, "pokrovsk") == expected


# --- find_conflict: disagreements ------------------------------------------------------------------


def test_fallen_against_holding_is_a_conflict() -> None:
    assert conflict("Has Pokrovsk fallen?", scored(1, FALLEN), scored(2, HOLDING)) == (FALLEN, HOLDING)


def test_different_numbers_of_the_same_thing_are_a_conflict() -> None:
    assert conflict("How many residents remain in Toretsk?", scored(1, FEWER), scored(2, MORE)) == (FEWER, MORE)


# --- find_conflict: no disagreement ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "first", "second"),
    [
        # Both say the same.
        ("Has Pokrovsk fallen?", FALLEN, "Pokrovsk has fallen, a Russian military blogger claimed."),
        # About different places.
        ("Has Pokrovsk fallen?", FALLEN, "The Ukrainian General Staff said its forces are still holding Kharkiv."),
        ("What is happening in Pokrovsk?", "Russian forces captured Vuhledar and are advancing on Pokrovsk.", HOLDING),
        # Numbers of different things, at different times, or one sentence holding both.
        ("How many residents remain in Toretsk?", FEWER, "About 2,000 soldiers remain in Toretsk, the army said."),
        ("How many residents remain in Toretsk?", FEWER, "Toretsk once had 30,000 residents, the census said."),
        ("How many residents remain in Toretsk?", FEWER, "Of 2,000 residents, 1,600 remain in Toretsk, they said."),
        ("How many residents remain in Toretsk?", FEWER, "About 2,000 residents remain in Kostiantynivka."),
        # No place in the question to anchor a disagreement.
        ("How many residents remain?", FEWER, MORE),
    ],
)
def test_no_conflict(question: str, first: str, second: str) -> None:
    assert conflict(question, scored(1, first), scored(2, second)) is None


def test_sentences_of_one_article_are_not_a_conflict() -> None:
    one = "art1"
    assert conflict("Has Pokrovsk fallen?", scored(1, FALLEN, article=one), scored(2, HOLDING, article=one)) is None


def test_reports_weeks_apart_are_news_not_disagreement() -> None:
    early, late = scored(1, HOLDING, published="2025-09-01"), scored(2, FALLEN, published="2025-11-05")
    assert conflict("Has Pokrovsk fallen?", early, late) is None
    undated = scored(1, HOLDING, published="")
    assert conflict("Has Pokrovsk fallen?", undated, late) == (HOLDING, FALLEN)


# --- extractive_answer --------------------------------------------------------------------------


def test_extractive_answer_quotes_both_sides_with_their_own_markers() -> None:
    question = "Has Pokrovsk fallen?"
    ps = [scored(1, FALLEN), scored(2, HOLDING)]
    answer = extractive_answer(question, ps, evidence_for(question, ps))
    assert answer.text == f"Sources disagree: [1] says “{FALLEN}”; [2] says “{HOLDING}”"
    assert [c.passage.article_id for c in answer.citations] == ["art1", "art2"]
    assert_every_marker_quotes_its_passage(answer)


def test_disagreement_takes_the_place_of_its_sides_and_other_evidence_follows() -> None:
    question = "How many residents remain in Toretsk?"
    extra = "Toretsk residents remain without water, the governor said."
    ps = [scored(1, f"{FEWER} {extra}"), scored(2, MORE)]
    answer = extractive_answer(question, ps, evidence_for(question, ps))
    assert answer.text == f"Sources disagree: [1] says “{FEWER}”; [2] says “{MORE}” {extra} [3]"
    assert_every_marker_quotes_its_passage(answer)


def test_extractive_answer_without_a_conflict_is_unchanged() -> None:
    question = "Has Pokrovsk fallen?"
    ps = [scored(1, FALLEN), scored(2, "Pokrovsk has fallen, a Russian military blogger claimed.")]
    answer = extractive_answer(question, ps, evidence_for(question, ps))
    assert "disagree" not in answer.text
    assert answer.text == " ".join(f"{c.quote} [{c.n}]" for c in answer.citations)
