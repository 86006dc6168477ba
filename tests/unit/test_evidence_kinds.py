"""Abstention and evidence choice use one judgement (rag.answer.evidence): the four kinds of question that went
wrong (docs/answers.md, "Abstention and evidence choice"), with hand-made passages and with the seeds
indexed by the fakes (hashing embedder)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag.answer.compose import NOT_FOUND_TEXT, extractive_answer
from rag.answer.evidence import (
    MIN_COVERAGE,
    Evidence,
    language_credit,
    question_terms,
    quotation_bounds,
    rank_evidence,
    unknown_terms,
)
from rag.store.keyword import tokenize
from rag.types import Passage, ScoredPassage

pytestmark = pytest.mark.usefixtures("rag_env")


def scored(n: int, text: str, language: str = "en", similarity: float | None = 0.85) -> ScoredPassage:
    passage = Passage(
        id=f"art{n}:0",
        article_id=f"art{n}",
        text=text,
        start=0,
        end=len(text),
        path=f"/news/{n}.txt",
        title=f"Title {n}",
        source=f"Outlet {n}",
        published="2025-11-05",
        language=language,
    )
    return ScoredPassage(passage, 1.0 / n, dense_similarity=similarity)


def vocabulary(*passages: ScoredPassage) -> Callable[[str], bool]:
    """`known` for an index holding exactly these passages."""
    words = {w for sp in passages for w in tokenize(sp.passage.text)}
    return lambda term: term in words


def answer(question: str, *passages: ScoredPassage) -> tuple[list[Evidence], Any]:
    ps = list(passages)
    evidence = rank_evidence(question, ps, vocabulary(*ps))
    return evidence, extractive_answer(question, ps, evidence)


def best(evidence: list[Evidence]) -> float:
    return max((e.coverage for e in evidence), default=0.0)


# --- 1. a topic no article covers -----------------------------------------------------------------

WAR = [
    scored(1, "Ukraine's forces are losing ground near Pokrovsk this year, officials in Kyiv said."),
    scored(2, "The situation in eastern Ukraine has become increasingly difficult since the capture of Vuhledar."),
]


@pytest.mark.parametrize(
    "question",
    [
        "What was Ukraine's GDP growth in 2025?",
        "What is Ukraine's inflation rate this year?",
        "What is the unemployment rate in Ukraine?",
        "What did the IMF forecast for Ukraine's economy?",
    ],
)
def test_words_no_article_holds_count_as_missing(question: str) -> None:
    evidence, _ = answer(question, *WAR)
    assert best(evidence) < MIN_COVERAGE  # the pipeline abstains: 'Ukraine' alone is not the topic


def test_the_words_no_article_holds_are_named() -> None:
    assert unknown_terms("What was Ukraine's GDP growth in 2025?", vocabulary(*WAR)) == ["gdp", "growth"]


def test_a_broad_question_word_is_not_a_missing_topic() -> None:
    ps = [scored(1, "Russian forces are trying to storm Pokrovsk and neighboring Myrnohrad.")]
    evidence, _ = answer("What is happening in Myrnohrad?", *ps)
    assert best(evidence) == 1.0  # 'happening' says nothing about the articles


def test_an_off_topic_question_abstains_through_the_pipeline(seeded: Callable[..., Any]) -> None:
    a = seeded().ask("What was Ukraine's GDP growth in 2025?", backend="extractive")
    assert a.abstained and a.text == NOT_FOUND_TEXT
    assert "in no indexed article: gdp, growth" in a.abstain_reason


# --- 2. what a speaker said, asked in another language -----------------------------------------------

SWEDISH = (
    "Guvernören i Luhansk Serhiy Haidai säger att den ukrainska armén tagit full kontroll över byn Bilohorivka. "
    "Ryssland har ockuperat Luhansk sedan juli. "
    "Guvernör Haidai säger att ledarna för utbrytarna har börjat få panik, med rapporter om tvångsrekryteringar "
    "på gatan och blockering av mobil- och internettrafik."
)
ENGLISH = scored(2, "Russian forces have entered the eastern part of Toretsk, the Ukrainian military command said.")


def test_a_title_is_matched_as_a_cognate_across_languages() -> None:
    # 'Governor' is capitalised, so a name; 'Guvernör' is the same word in Swedish.
    evidence, a = answer("What does Governor Haidai say about forced recruitment?", scored(1, SWEDISH, "sv"), ENGLISH)
    assert best(evidence) >= MIN_COVERAGE and not a.abstained
    assert a.citations[0].passage.language == "sv"


def test_a_question_without_names_is_answered_from_cognates_and_the_embedder() -> None:
    question = "What did the governor say about blocking mobile and internet traffic?"
    evidence, a = answer(question, scored(1, SWEDISH, "sv", similarity=0.86), ENGLISH)
    assert best(evidence) >= MIN_COVERAGE
    assert "internettrafik" in a.text and a.citations[0].passage.language == "sv"


def test_unmatched_words_get_no_credit_when_the_embedder_puts_the_passage_far_away() -> None:
    assert language_credit(0.86, 0.86) == 1.0 and language_credit(0.80, 0.86) == 0.0
    question = "What is the unemployment rate in Ukraine?"  # 'Ukraine' = 'ukrainska' is all a Swedish text shares
    evidence, _ = answer(question, scored(1, SWEDISH, "sv", similarity=0.76), scored(2, ENGLISH.passage.text))
    assert best(evidence) < MIN_COVERAGE


def test_a_swedish_quotation_takes_the_sentence_naming_its_speaker() -> None:
    texts = ["Guvernör Haidai talade i helgen.", "– Steg för steg kommer vi att befria vårt land, säger han."]
    assert quotation_bounds(texts, 1) == (0, 1)


def test_a_speaker_tag_split_from_its_quotation_takes_it() -> None:
    texts = ["“Why isn't this crystal clear proof that Wells is too big to regulate?”", "Vitter demanded."]
    assert quotation_bounds(texts, 1) == (0, 1)
    assert quotation_bounds(["He left early.", "Vitter demanded."], 1) == (1, 1)


def test_what_a_named_speaker_said_prefers_the_quote_to_the_narrative() -> None:
    ps = [
        scored(
            1,
            "Massachusetts Sen. Elizabeth Warren grilled Wells Fargo CEO John Stumpf on Tuesday. "
            "“You should resign,” Warren told Stumpf.",
        )
    ]
    _, a = answer("What did Elizabeth Warren say to John Stumpf?", *ps)
    assert a.citations[0].quote == "“You should resign,” Warren told Stumpf."


# --- 3. a place under its former name ---------------------------------------------------------------

TORETSK = scored(1, "Toretsk was largely destroyed, and only some 1,600 residents remain in town.")
POKROVSK = scored(
    2,
    "According to Kyiv, the city Pokrovsk remains a priority for the Kremlin. "
    "The fighting resembles the longest battles of the war, notably Bakhmut in 2023.",
)


def test_a_former_name_is_not_answered_from_another_city() -> None:
    evidence, _ = answer("How many residents remain in Artemivsk?", TORETSK, POKROVSK)
    assert best(evidence) < MIN_COVERAGE  # Artemivsk is Bakhmut: neither Toretsk nor Pokrovsk


def test_a_former_name_finds_the_city_under_its_new_name() -> None:
    _, a = answer("How many residents remain in Dzerzhinsk?", TORETSK, POKROVSK)  # Dzerzhinsk = Toretsk
    assert "1,600" in a.text and [c.passage.article_id for c in a.citations] == ["art1"]
    _, a = answer("What happened in Artemivsk in 2023?", TORETSK, POKROVSK)
    assert a.text.startswith("The fighting resembles") and "Bakhmut in 2023" in a.text


def test_a_name_sharing_a_prefix_is_another_place() -> None:
    ps = [scored(1, "Russian units are clearing out surrounded Ukrainian units in Krasnokamensk.")]
    evidence, _ = answer("Who is clearing out surrounded units in Krasnoarmeysk?", *ps)  # Krasnoarmeysk = Pokrovsk
    assert best(evidence) < MIN_COVERAGE


def test_a_neighbouring_sentence_names_the_city_a_quote_is_about() -> None:
    ps = [scored(1, "Local residents in Dimitrov described a city under siege. The shelling left the city in ruins.")]
    evidence, _ = answer("Is the city of Mirnograd in ruins?", *ps)  # Dimitrov = Mirnograd = Myrnohrad
    ruins = next(e for e in evidence if "ruins" in e.text)
    assert ruins.coverage == 1.0


def test_question_names_of_several_words_are_one_term() -> None:
    terms = question_terms("What did Serhiy Haidai tell Elizabeth Warren about the Donetsk region?", lambda _: True)
    names = [(t.word, t.entity) for t in terms.terms if t.name]
    assert names == [("serhiy haidai", "Haidai"), ("elizabeth warren", None), ("donetsk region", "Donetsk Oblast")]


# --- 4. a question several articles answer ------------------------------------------------------------

MYRNOHRAD = [
    scored(1, "Attempting to storm Pokrovsk and neighboring Myrnohrad, Russian forces are trying to seize key roads."),
    scored(
        2, "Former parliamentarian Igor Mosiychuk said Mirnograd faced an operational encirclement.", similarity=0.84
    ),
    scored(3, "Russian forces expelled Ukrainian troops from 22 buildings in the city of Dimitrov.", similarity=0.83),
]


def test_a_broad_question_is_answered_from_each_article() -> None:
    _, a = answer("What is happening in Myrnohrad?", *MYRNOHRAD)
    assert [c.passage.article_id for c in a.citations] == ["art1", "art2", "art3"]
    assert a.text == " ".join(f"{c.quote} [{c.n}]" for c in a.citations)


def test_one_sentence_per_article_the_earliest_that_answers() -> None:
    first = "Russian forces are trying to storm Myrnohrad."
    ps = [scored(1, f"{first} Myrnohrad lies in ruins after months of shelling."), MYRNOHRAD[1]]
    _, a = answer("What is happening in Myrnohrad?", *ps)
    assert [c.quote for c in a.citations][:2] == [first, MYRNOHRAD[1].passage.text]


def test_an_article_far_below_the_best_is_left_out() -> None:
    ps = [MYRNOHRAD[0], scored(2, "Mirnograd was mentioned in a statement.", similarity=0.70)]
    _, a = answer("Are Russian forces trying to seize key roads near Myrnohrad?", *ps)
    assert [c.passage.article_id for c in a.citations] == ["art1"]


def test_a_broad_question_cites_several_seed_articles_through_the_pipeline(seeded: Callable[..., Any]) -> None:
    a = seeded().ask("What is happening in Myrnohrad?", backend="extractive")
    cited = {Path(c.passage.path).name for c in a.citations}
    assert len(cited) >= 2 and cited <= {
        "000_b89d6b79fc443941.txt",
        "001_c07de3d4340d629a.txt",
        "003_0d5531b11436a070.txt",
    }


# --- the kinds eval's scoring -------------------------------------------------------------------------


def test_kinds_eval_outcomes() -> None:
    from rag.eval.kinds import score, source_of, summarise
    from rag.types import Answer, Citation

    assert source_of("/data/realtimeqa.jsonl#p55d998b90122") == "p55d998b90122"
    assert source_of("/seeds/001_c07de3d4340d629a.txt") == "001_c07de3d4340d629a.txt"
    p1, p2 = (scored(n, "Myrnohrad.").passage for n in (1, 2))
    cite = [Citation(n=1, passage=p1, quote="Myrnohrad.", start=0, end=10)]
    both = [*cite, Citation(n=2, passage=p2, quote="Myrnohrad.", start=0, end=10)]
    broad = {
        "id": "b",
        "corpus": "seeds",
        "type": "broad",
        "answers": ["Myrnohrad"],
        "sources": ["1.txt", "2.txt"],
        "answerable": True,
    }
    assert score(broad, Answer(question="q", text="Myrnohrad. [1]", citations=cite)).outcome == "wrong article"
    right = score(broad, Answer(question="q", text="Myrnohrad. [1] Myrnohrad. [2]", citations=both))
    assert right.outcome == "answered right" and right.listed_cited == 2
    off = {"id": "o", "corpus": "news", "type": "offtopic", "answers": [], "sources": [], "answerable": False}
    assert score(off, Answer(question="q", text=NOT_FOUND_TEXT, abstained=True)).outcome == "abstained right"
    table = summarise([right])
    assert table["broad"]["answered right"] == 1 and table["broad"]["sources cited (broad)"] == 2.0
