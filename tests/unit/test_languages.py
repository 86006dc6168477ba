"""The question's language and the note an answer carries when its sources are in another one."""

from __future__ import annotations

import pytest

from rag.text.languages import language_note, question_language
from rag.types import Answer, Citation, Passage


@pytest.mark.parametrize(
    ("question", "code"),
    [
        ("Who claims Pokrovsk has fallen?", "en"),
        ("Hur många invånare finns kvar i Toretsk?", "sv"),  # Polish "i" too: question words decide
        ("Wer behauptet, dass Pokrovsk gefallen ist?", "de"),
        ("Хто стверджує, що Покровськ впав?", "uk"),
        ("Кто утверждает, что Покровск пал?", "ru"),
        ("Pokrovsk?", "und"),
    ],
)
def test_question_language(question: str, code: str) -> None:
    assert question_language(question) == code


def _answer(question: str, language: str) -> Answer:
    p = Passage(id="a:0", article_id="a", text="Only some 1,600 residents remain.", start=0, end=33, language=language)
    c = Citation(n=1, passage=p, quote=p.text, start=0, end=33)
    return Answer(question=question, text=f"{p.text} [1]", citations=[c])


def test_note_when_the_sources_are_in_another_language() -> None:
    note = language_note("Hur många invånare finns kvar i Toretsk?", _answer("", "en"))
    assert note.startswith("The question is in Swedish; the answer is in English, the language of the articles")
    assert note.endswith("Svaret citerar artiklarna på deras eget språk.")


@pytest.mark.parametrize(
    ("question", "language"),
    [("Hur många invånare finns kvar i Toretsk?", "sv"), ("How many residents remain?", "sv"), ("Pokrovsk?", "en")],
)
def test_no_note_when_asked_in_the_sources_language_or_in_english_or_unsure(question: str, language: str) -> None:
    assert language_note(question, _answer(question, language)) == ""


def test_no_note_without_citations() -> None:
    assert language_note("Hur många invånare finns kvar?", Answer(question="q", text="Not found.")) == ""
