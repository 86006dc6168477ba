"""rag.text.quantities: numbers as values however a news text writes them, and when a rounded number backs
an exact one (only where the claim says it is approximate)."""

from __future__ import annotations

import pytest

from rag.text.quantities import Quantity, quantities, same_quantity


def values(text: str) -> list[float]:
    return [q.value for q in quantities(text)]


def one(text: str) -> Quantity:
    found = quantities(text)
    assert len(found) == 1, f"{text!r} gave {found}"
    return found[0]


# --- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2,000", 2000),
        ("2 000", 2000),
        ("2\u202f000", 2000),
        ("two thousand", 2000),
        ("20,000", 20000),
        ("1.5", 1.5),
        ("15", 15),
        ("1,5", 1.5),  # a decimal comma
        ("six", 6),
        ("Six", 6),
        ("twenty-five", 25),
        ("twenty five", 25),
        ("fourth", 4),
        ("4th", 4),
        ("80%", 80),
        ("80 per cent", 80),
        ("$181 million", 181e6),
        ("$181m", 181e6),
        ("$ 181,674,817", 181_674_817),
        ("1.5 million", 1.5e6),
        ("$5m", 5e6),
        ("€2bn", 2e9),
        ("5 m", 5),  # metres, perhaps: no money sign, no scale
        ("dozen", 12),
    ],
)
def test_value(text: str, value: float) -> None:
    assert values(text) == [value]


@pytest.mark.parametrize(
    ("a", "b"),
    [("2,000", "2 000"), ("2,000", "two thousand"), ("fourth", "4th"), ("80%", "80 per cent"), ("1,5", "1.5")],
)
def test_equal_values(a: str, b: str) -> None:
    assert values(a) == values(b)


@pytest.mark.parametrize(("a", "b"), [("2,000", "20,000"), ("1.5", "15"), ("two thousand", "20,000"), ("$5m", "5 m")])
def test_different_values(a: str, b: str) -> None:
    assert values(a) != values(b)


def test_a_range_gives_two_numbers() -> None:
    assert values("between 10-15 people") == [10, 15]
    assert values("from 2013 to 2015") == [2013, 2015]


def test_numbers_in_a_sentence_keep_their_offsets_and_text() -> None:
    text = "Six people died and 2,000 fled on the fourth day."
    found = quantities(text)
    assert [q.value for q in found] == [6, 2000, 4]
    for q in found:
        assert text[q.start : q.end] == q.text


def test_text_without_numbers() -> None:
    assert quantities("At first, one of the largest parties won a second term.") == []
    assert quantities("") == []


# --- approximate ----------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["over", "about", "nearly", "more than", "around", "almost", "at least"])
def test_approximate_words_mark_the_number(word: str) -> None:
    assert one(f"{word} 2,000 people").approximate
    assert one(f"{word} $181 million").approximate


@pytest.mark.parametrize("text", ["2,000 people", "$181 million", "the 80% turnout", "exactly 15"])
def test_plain_numbers_are_exact(text: str) -> None:
    assert not one(text).approximate


# --- same_quantity --------------------------------------------------------------------------------


def test_same_value_backs_itself_however_written() -> None:
    assert same_quantity(one("two thousand"), one("2,000"))
    assert same_quantity(one("2 000"), one("2,000"))
    assert same_quantity(one("6"), one("six"))


def test_over_181_million_backs_the_exact_figure() -> None:
    assert same_quantity(one("over $181 million"), one("$181,674,817"))


def test_a_rounded_number_without_an_approximate_word_does_not() -> None:
    assert not same_quantity(one("$181 million"), one("$181,674,817"))


def test_about_2000_does_not_back_2500() -> None:
    assert not same_quantity(one("about 2,000"), one("2,500"))


def test_distorted_numbers_do_not_back_each_other() -> None:
    assert not same_quantity(one("20,000"), one("2,000"))
    assert not same_quantity(one("15"), one("1.5"))
    assert not same_quantity(one("about 20,000"), one("2,000"))


def test_the_approximate_word_must_be_on_the_claim() -> None:
    """The passage saying 'about 2,000' does not let a claim of exactly 2,100 through."""
    assert not same_quantity(one("2,100"), one("about 2,000"))
