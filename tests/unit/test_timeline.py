"""The timeline of a who-claims answer's claims: one point per claim, dated by the claim's own words or
its article's date, on its side, linked to its source card; in `to_json` and in the Markdown export."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from rag.answer.timeline import CLAIMS, OTHER_SIDE, claim_date, split_undated, timeline_points
from rag.app.export import answer_markdown
from rag.types import Answer, Citation, Claim, Passage


def _citation(n: int, published: str | None = "2025-11-05", source: str = "Example News") -> Citation:
    p = Passage(
        id=f"p{n}",
        article_id=f"a{n}",
        text=f"Passage {n}.",
        start=0,
        end=10,
        path=f"news/{n}.txt",
        title=f"Title {n}",
        source=source,
        published=published,
    )
    return Citation(n, p, f"Quote {n}.", 0, 8)


def _claim(n: int, speaker: str, stance: str, when: str | None = None, **kw: Any) -> Claim:
    c = kw.pop("citation", None) or _citation(n, **kw)
    return Claim(speaker, f"the words of {speaker},", c, "said", "", when, stance)


def _answer(claims: list[Claim]) -> Answer:
    return Answer(
        question="who claims Pokrovsk has fallen?",
        text="Who claims Pokrovsk has fallen:",
        citations=[c.citation for c in claims],
        claims=claims,
    )


@pytest.mark.parametrize(
    ("words", "published", "expected"),
    [
        ("November 4", "2025-11-05", date(2025, 11, 4)),
        ("Nov. 4", "2025-11-05", date(2025, 11, 4)),
        ("November 4, 2024", "2025-11-05", date(2024, 11, 4)),
        ("4 November 2025", None, date(2025, 11, 4)),
        ("2025-10-30", None, date(2025, 10, 30)),
        ("December 30", "2026-01-02", date(2025, 12, 30)),  # after the article: the year before
        ("Monday", "2025-11-05", date(2025, 11, 3)),  # 5 November 2025 is a Wednesday
        ("Wednesday", "2025-11-05", date(2025, 11, 5)),
        ("last Wednesday", "2025-11-05", date(2025, 10, 29)),
        ("earlier Monday", "2025-11-05T09:00:00", date(2025, 11, 3)),
        ("yesterday", "2025-11-05", date(2025, 11, 4)),
        ("last week", "2025-11-05", None),  # vague: no day
        ("November 4", None, None),  # no year to read it in
        ("Monday", None, None),
        ("February 30", "2025-03-01", None),
        (None, "2025-11-05", None),
    ],
)
def test_claim_dates_are_read_against_the_article_date(
    words: str | None, published: str | None, expected: date | None
) -> None:
    assert claim_date(words, date.fromisoformat(published[:10]) if published else None) == expected


def test_one_point_per_claim_dated_by_the_claim_or_else_its_article_oldest_first() -> None:
    answer = _answer(
        [
            _claim(1, "Igor Mosiychuk", "supports", "November 4"),
            _claim(2, "Unigolova", "supports", None, published="2025-11-03"),
            _claim(3, "Oleksiy Hetman", "counter", "last week", published="2025-11-06", source="RFE/RL"),
        ]
    )
    points = timeline_points(answer)
    assert [(p.n, p.date, p.date_from, p.stance) for p in points] == [
        (2, date(2025, 11, 3), "article", CLAIMS),
        (1, date(2025, 11, 4), "claim", CLAIMS),
        (3, date(2025, 11, 6), "article", OTHER_SIDE),  # "last week" names no day: the article's date
    ]
    hetman = points[2]
    assert hetman.speaker == "Oleksiy Hetman" and hetman.outlet == "RFE/RL" and hetman.date_text == "last week"
    assert hetman.claim == "the words of Oleksiy Hetman"  # trailing punctuation trimmed


def test_a_claim_with_no_date_at_all_is_kept_as_undated_last() -> None:
    answer = _answer(
        [
            _claim(1, "A", "supports", None, published=None),
            _claim(2, "B", "counter", "November 4", published="2025-11-05"),
            _claim(3, "C", "supports", "Monday", published=None),  # a weekday without an article date
        ]
    )
    points = timeline_points(answer)
    assert [p.n for p in points] == [2, 1, 3]
    dated, undated = split_undated(points)
    assert [p.n for p in dated] == [2]
    assert [(p.n, p.date, p.date_from) for p in undated] == [(1, None, ""), (3, None, "")]
    assert undated[1].date_text == "Monday"


def test_same_day_points_follow_their_source_cards_and_long_claims_are_shortened() -> None:
    long_claim = Claim("X", "word " * 80, _citation(2), "said", "", None, "supports")
    points = timeline_points(_answer([_claim(3, "Y", "counter"), long_claim, _claim(1, "Z", "supports")]))
    assert [p.n for p in points] == [1, 2, 3]
    assert points[1].claim.endswith(" …") and len(points[1].claim) <= 142


def test_an_ordinary_answer_has_no_timeline() -> None:
    answer = _answer([_claim(1, "Igor Mosiychuk", "", "November 4")])  # a claim behind an ordinary quote
    assert timeline_points(answer) == []
    assert answer.to_json()["timeline"] == []
    assert "Timeline of claims" not in answer_markdown(answer)


def test_to_json_carries_the_points_with_iso_dates() -> None:
    answer = _answer(
        [_claim(1, "Igor Mosiychuk", "supports", "November 4"), _claim(2, "B", "counter", None, published=None)]
    )
    answer.timeline = timeline_points(answer)
    data = json.loads(json.dumps(answer.to_json()))  # plain JSON, as `rag ask --json` prints it
    assert {"question", "text", "citations", "claims", "passages"} <= set(data)  # the existing keys stay
    assert data["timeline"] == [
        {
            "n": 1,
            "date": "2025-11-04",
            "date_from": "claim",
            "date_text": "November 4",
            "stance": "claims",
            "speaker": "Igor Mosiychuk",
            "speaker_role": "",
            "claim": "the words of Igor Mosiychuk",
            "outlet": "Example News",
        },
        {
            "n": 2,
            "date": None,
            "date_from": "",
            "date_text": "",
            "stance": "other side",
            "speaker": "B",
            "speaker_role": "",
            "claim": "the words of B",
            "outlet": "Example News",
        },
    ]


def test_markdown_export_has_the_timeline_table() -> None:
    answer = _answer(
        [
            _claim(1, "Igor Mosiychuk", "supports", "November 4", source="Kyiv | Post"),
            _claim(2, "Oleksiy Hetman", "counter", None),
            _claim(3, "Someone", "supports", None, published=None),
        ]
    )
    answer.timeline = timeline_points(answer)
    md = answer_markdown(answer)
    table = md[md.index("### Timeline of claims") :].splitlines()
    assert table[2] == "| date | stance | who | claim | source |"
    assert table[4] == "| 2025-11-04 | claims | Igor Mosiychuk | “the words of Igor Mosiychuk” | [1] Kyiv \\| Post |"
    assert table[5].startswith("| 2025-11-05 (article date) | other side | Oleksiy Hetman |")
    assert table[6].startswith("| undated | claims | Someone |")
    assert md.index("### Timeline of claims") < md.index("*Answered by")


def test_who_claims_answer_over_the_seeds_has_its_timeline(seeded: Callable[..., Any]) -> None:
    answer = seeded().ask("Who claims Pokrovsk has fallen?", backend="extractive")
    assert answer.timeline == timeline_points(answer) and len(answer.timeline) == len(answer.claims)
    mosiychuk = next(p for p in answer.timeline if p.speaker == "Igor Mosiychuk")
    assert mosiychuk.stance == CLAIMS and mosiychuk.date_text == "November 4"
    # The seed files carry no publication date, so "November 4" has no year: kept, undated, not dropped.
    assert mosiychuk.date is None and mosiychuk.date_from == ""
    assert any(p.stance == OTHER_SIDE for p in answer.timeline)
    assert {p.n for p in answer.timeline} <= {c.n for c in answer.citations}
