""" "Who claims X?" questions: recognised in many phrasings and in follow-ups, answered with claimants
grouped by outlet and the other side apart, every quote verbatim and cited (hashing embedder)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag.answer.who import judge, parse_who_question, who_question_in
from rag.claims.attribution import extract_claims

POKROVSK = "Who claims Pokrovsk has fallen?"


@pytest.mark.parametrize(
    ("question", "proposition", "denials"),
    [
        (POKROVSK, "Pokrovsk has fallen", False),
        ("who said that Pokrovsk had fallen", "Pokrovsk had fallen", False),
        ("Who has claimed Pokrovsk fell?", "Pokrovsk fell", False),
        ("Which officials say Pokrovsk has fallen?", "Pokrovsk has fallen", False),
        ("Who told BBC News that they had lost everything?", "they had lost everything", False),
        ("Who denied that Pokrovsk has fallen?", "Pokrovsk has fallen", True),
        ("Pokrovsk has fallen, according to whom?", "Pokrovsk has fallen", False),
        ("Vem hävdar att Pokrovsk har fallit?", "Pokrovsk har fallit", False),
        ("Кто утверждает, что Покровск пал?", "Покровск пал", False),
    ],
)
def test_who_questions_are_recognised(question: str, proposition: str, denials: bool) -> None:
    asked = parse_who_question(question)
    assert asked is not None
    assert asked.proposition == proposition and asked.wants_denials is denials


@pytest.mark.parametrize(
    "question", ["Who is Serhiy Haidai?", "Who is the spokesperson for the Luhansk group?", "What did Hetman say?"]
)
def test_other_questions_are_not_who_claims_questions(question: str) -> None:
    assert parse_who_question(question) is None


def test_follow_up_takes_the_claim_from_the_chat_query() -> None:
    asked = who_question_in("who denied it?", f"{POKROVSK} who denied it?")
    assert asked is not None and asked.proposition == "Pokrovsk has fallen" and asked.wants_denials
    assert who_question_in("who denied it?", "who denied it?").proposition == "it"  # type: ignore[union-attr]


def _claim(text: str):  # type: ignore[no-untyped-def]
    return extract_claims(text, stances=False)[0]


def test_judge_sides() -> None:
    fallen = "Pokrovsk has fallen"
    lost = "Igor Mosiychuk claimed that Ukrainian troops had lost control of Pokrovsk."
    assert judge(fallen, _claim(lost), lost, lost) == ("supports", 1.0)
    nonsense = '"That is nonsense spread by Russian propaganda," Hetman added.'
    assert judge(fallen, _claim(nonsense), nonsense, "Pokrovsk: " + nonsense)[0] == "counter"  # type: ignore[index]
    # A goal is not a fall, even with a word that shares its first letters with "occupied".
    goal = '"The enemy\'s goal is to occupy Pokrovsk," Zelenskyy said.'
    assert judge(fallen, _claim(goal), goal, goal) is None
    # Nothing about the place asked of.
    kharkiv = "The governor said Kharkiv had lost power."
    assert judge(fallen, _claim(kharkiv), kharkiv, kharkiv) is None


def test_who_claims_answer_lists_claimants_and_the_other_side(seeded: Callable[..., Any]) -> None:
    idx = seeded()
    answer = idx.ask(POKROVSK, backend="extractive")
    assert not answer.abstained and answer.backend == "extractive"
    assert answer.text.splitlines()[0] == "Who claims Pokrovsk has fallen:"
    supports = {c.speaker: c for c in answer.claims if c.stance == "supports"}
    counter = {c.speaker: c for c in answer.claims if c.stance == "counter"}
    assert {"Igor Mosiychuk", "Unigolova"} <= set(supports)
    assert "Oleksiy Hetman" in counter
    mosiychuk = supports["Igor Mosiychuk"]
    assert mosiychuk.speaker_role == "a former member of the Verkhovna Rada" and mosiychuk.date == "November 4"
    assert "nonsense spread by Russian propaganda" in counter["Oleksiy Hetman"].content
    # The other side comes after the claimants, under its own heading.
    text = answer.text
    assert text.index("Unigolova") < text.index("The other side") < text.index("Oleksiy Hetman")
    for claim in answer.claims:
        c = claim.citation
        assert claim.content.rstrip(" ,;:") in c.quote  # the quote holds the claimed words
        assert c.passage.text[c.start - c.passage.start : c.end - c.passage.start] == c.quote
        assert idx.store.article_text(c.passage.article_id)[c.start : c.end] == c.quote
        assert f"“{claim.content.rstrip(' ,;:')}” [{c.n}]" in text
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert Path(mosiychuk.citation.passage.path).name == "000_b89d6b79fc443941.txt"


def test_follow_up_who_denied_it_lists_the_denials_first(seeded: Callable[..., Any]) -> None:
    chat = seeded().chat()
    chat.ask(POKROVSK, backend="extractive")
    answer = chat.ask("who denied it?", backend="extractive")
    assert answer.text.splitlines()[0] == "Who denied Pokrovsk has fallen:"
    assert answer.claims[0].stance == "counter"
    assert answer.text.index("Oleksiy Hetman") < answer.text.index("Igor Mosiychuk")


def test_who_question_with_no_fitting_claim_is_answered_the_ordinary_way(seeded: Callable[..., Any]) -> None:
    answer = seeded().ask("Who claims the moon is made of cheese?", backend="extractive")
    assert not answer.text.startswith("Who claims")
    assert all(c.stance == "" for c in answer.claims)


@pytest.mark.parametrize(
    "question",
    ["Who was told to leave Pokrovsk?", "Who is said to be in charge?", "Who said it?", "Who told you that?"],
)
def test_passive_and_empty_questions_are_not_claim_lists(question: str, seeded: Callable[..., Any]) -> None:
    asked = parse_who_question(question)
    answer = seeded().ask(question, backend="extractive")
    assert asked is None or not any(c.stance for c in answer.claims)


def test_russian_and_ukrainian_said() -> None:
    assert parse_who_question("Кто сказал, что Покровск пал?").proposition == "Покровск пал"  # type: ignore[union-attr]
    assert parse_who_question("Хто сказав, що Покровськ впав?").proposition == "Покровськ впав"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Ukraine lost three soldiers near Pokrovsk, the governor said.", None),
        ("Russian troops occupied three villages south of Pokrovsk, the ministry said.", None),
        ("The ministry said its forces had captured the city of Pokrovsk.", "supports"),
        ("The ministry said Russian forces have captured Pokrovsk, which now lies in ruins.", "supports"),
        ("Zelenskyy denounced the attack on Pokrovsk, his office said.", None),
    ],
)
def test_judge_needs_the_place_itself_taken(sentence: str, expected: str | None) -> None:
    claim = _claim(sentence)
    verdict = judge("Pokrovsk has fallen", claim, sentence, sentence)
    assert (verdict[0] if verdict else None) == expected
