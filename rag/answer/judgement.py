"""Is a sentence supported by the passages it cites? One graded, calibrated judgement, used by citation
checking, `rag check` and the judge pass alike (rules and calibration: docs/answers.md).

For a sentence and its cited passages:
1. Quote units: each passage's sentences, widened to a whole quotation ("…," he said takes the sentence
   naming him); units holding an instruction to a model are never evidence (rag.answer.untrusted).
2. Up to MAX_UNITS units back it together: of the CANDIDATES most relevant units, the best set that is
   not stitched mid-clause and whose every unit adds a name, a number or MIN_OWN_WORDS words; the unit
   covering most of the sentence is the primary quote.
3. Hard checks (rag.answer.support_checks): every number (as a value; rounded only where the sentence says
   it is approximate), every name (any spelling the alias table knows), sought in every unit the
   sentence does not stitch onto the chosen ones; the speaker of an attribution, in the primary quote;
   negation and stance. A failure removes the sentence whatever else it has.
4. Soft evidence over the words other than names, combined by a logistic model calibrated on
   FaithBench dev (`rag eval --sets faithbench --split dev --tune`), read only when enough of those
   words are quoted (`enough_words`).
5. Three outcomes: `verified` (one quote states it), `supported` (a faithful paraphrase of the quoted
   spans: score at least SUPPORTED_SCORE), `removed` (a hard check fails, too few words are quoted, or
   the score is too low), each removal with its reasons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Literal

from rag.answer.evidence import quotations
from rag.answer.support_checks import ClaimFacts, UnitFacts, hard_failures, is_lead_in, soft_features, stitched
from rag.answer.untrusted import has_instruction
from rag.text.languages import detect_language
from rag.text.sentences import split_sentences
from rag.types import Passage

Verdict = Literal["verified", "supported", "removed"]
VERDICTS: tuple[Verdict, ...] = ("verified", "supported", "removed")

# At most this many quote units may support one sentence together (a real summary sentence combines
# two or three sentences of its source; more would let scattered words add up to anything).
MAX_UNITS = 3
# A unit joins a set only when it adds a name, a number or at least this many words of the sentence.
MIN_OWN_WORDS = 2
# The units most relevant to the sentence on their own, among which the supporting set is sought.
CANDIDATES = 10

# Calibrated on FaithBench dev (rag/eval/faithbench.py --tune; docs/answers.md). The logistic model's
# weights over soft_features(), in that order, then the intercept.
WEIGHTS: tuple[float, ...] = (0.336, 0.200, 0.518, -0.449, -0.629, -0.647)
INTERCEPT = 0.015
# score >= SUPPORTED_SCORE: supported (when not verified); below it: removed.
SUPPORTED_SCORE = 0.26
# Below this share of the sentence's words other than names in its quotes, it is removed whatever the
# score: "Kyiv has fallen" against "Kyiv is calm" has its name and nothing else. Without the floor the
# calibrated score kept sentences with no word in their quotes at all (docs/answers.md).
MIN_COVERAGE = 0.25
# The primary quote alone holds at least this share of the sentence's words: verified.
VERIFIED_COVERAGE = 0.9


@dataclass(frozen=True)
class QuotedSpan:
    """One quoted span of a cited passage: `passage` indexes the passages judged against."""

    passage: int
    start: int  # offsets in the article (the passage's own `start` based)
    end: int
    text: str


@dataclass(frozen=True)
class Judgement:
    sentence: str
    verdict: Verdict
    score: float  # calibrated chance that the quotes support the sentence, 0..1
    reasons: tuple[str, ...] = ()  # why it was removed or is only a paraphrase
    quotes: tuple[QuotedSpan, ...] = ()  # the primary quote first
    hard_failure: bool = False  # a hard check failed: nothing (a judge pass included) can raise it
    features: tuple[float, ...] = field(default=(), compare=False)  # soft_features() behind `score`

    @property
    def kept(self) -> bool:
        return self.verdict != "removed"

    @property
    def borderline(self) -> bool:
        """Kept, but only as a paraphrase: the sentences a judge pass reads."""
        return self.verdict == "supported"

    def lowered(self, verdict: Verdict, reason: str) -> Judgement:
        """The same judgement at `verdict` or below (never raised), with `reason` added."""
        if VERDICTS.index(verdict) <= VERDICTS.index(self.verdict):
            return self
        return replace(self, verdict=verdict, reasons=(*self.reasons, reason))

    def to_json(self, passage_ids: Sequence[str] | None = None) -> dict[str, object]:
        """The stable shape of `rag check --json`: quotes name their passage by `id` when ids are given."""
        quotes: list[dict[str, object]] = []
        for q in self.quotes:
            where: dict[str, object] = {"id": passage_ids[q.passage]} if passage_ids else {"passage": q.passage}
            quotes.append({**where, "start": q.start, "end": q.end, "text": q.text})
        return {
            "sentence": self.sentence,
            "verdict": self.verdict,
            "score": round(self.score, 4),
            "reasons": list(self.reasons),
            "quotes": quotes,
        }


@dataclass(frozen=True)
class QuoteUnit:
    """A sentence of a passage widened to its whole quotation, with its article offsets."""

    passage: int
    text: str
    start: int
    end: int
    facts: UnitFacts = field(compare=False)


def quote_units(passage: Passage, index: int = 0, language: str | None = None) -> list[QuoteUnit]:
    """The units of one passage (`index`: its position among the passages judged against), stemmed in
    `language` (default: the passage's)."""
    spans = quotations(passage.text, split_sentences(passage.text, offset=passage.start), passage.start)
    units = []
    for s in spans:
        text = passage.text[s.start - passage.start : s.end - passage.start]
        if text.strip() and not has_instruction(text):  # an instruction supports nothing
            facts = UnitFacts.of(text, language or (passage.language if passage.language not in ("", "und") else None))
            units.append(QuoteUnit(index, text, s.start, s.end, facts))
    return units


class SupportJudge:
    """Judges sentences against a fixed list of passages (their units are cut once)."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = list(passages)
        self.languages = [p.language if p.language not in ("", "und") else detect_language(p.text) for p in passages]
        self.units = [quote_units(p, i, lang) for i, (p, lang) in enumerate(zip(passages, self.languages, strict=True))]

    def judge(self, sentence: str, cited: Sequence[int] | None = None) -> Judgement:
        """`sentence` (no markers) against the passages at `cited` (0-based; None: all of them)."""
        chosen_from = range(len(self.passages)) if cited is None else [i for i in cited if 0 <= i < len(self.units)]
        units = [u for i in dict.fromkeys(chosen_from) for u in self.units[i]]
        if not units:
            return Judgement(sentence, "removed", 0.0, ("nothing to check it against",), hard_failure=True)
        if is_lead_in(sentence):
            return Judgement(
                sentence, "removed", 0.0, ("a lead-in, not a statement about the news",), hard_failure=True
            )
        language = next((self.languages[i] for i in chosen_from if self.languages[i] != "und"), None)
        claim = ClaimFacts.of(sentence, language).naming([u.facts for u in units])
        chosen = choose_units(claim, units)
        # Names and numbers may come from anywhere in the cited passages, but not from a sentence whose
        # other words the claim also takes mid-clause ("Russian forces" + "hold Kyiv").
        core = [u.facts for u in chosen]
        joinable = [u for u in units if u in chosen or not stitched(claim, [*core, u.facts])]
        failures = [_stitch_reason(claim, f, units) for f in hard_failures(claim, core, [u.facts for u in joinable])]
        context = frozenset().union(*(u.facts.stems for u in units))
        features = soft_features(claim, [u.facts for u in chosen], context)
        score = calibrated_score(features) if enough_words(claim, features[0]) else 0.0
        quotes = tuple(QuotedSpan(u.passage, u.start, u.end, u.text) for u in chosen)
        quotes += tuple(
            QuotedSpan(u.passage, u.start, u.end, u.text) for u in _holding_the_rest(claim, chosen, joinable)
        )
        f = tuple(features)
        if failures:
            return Judgement(sentence, "removed", 0.0, tuple(failures), quotes, hard_failure=True, features=f)
        if states(claim, chosen[0]):
            return Judgement(sentence, "verified", max(score, SUPPORTED_SCORE), (), quotes[:1], features=f)
        if score >= SUPPORTED_SCORE:
            return Judgement(sentence, "supported", score, ("a paraphrase of the quoted spans",), quotes, features=f)
        if not enough_words(claim, features[0]):
            n = claim.predicate_size
            reason = f"too few of its words are in the passage ({round(features[0] * n)} of {n})"
        else:
            reason = f"too little of it is in the passage (score {score:.2f} < {SUPPORTED_SCORE})"
        return Judgement(sentence, "removed", score, (reason,), quotes, features=f)


def enough_words(claim: ClaimFacts, coverage: float) -> bool:
    """At least MIN_COVERAGE of the words other than names are quoted, and for a short sentence all but
    one of three, all of two: "The council resigned" is not backed by "The city council met"."""
    n = claim.predicate_size
    needed = n if n <= 2 else n - 1 if n == 3 else 0
    return coverage >= MIN_COVERAGE and round(coverage * n) >= needed


def _stitch_reason(claim: ClaimFacts, failure: str, units: Sequence[QuoteUnit]) -> str:
    """A name the passage does give, but only in a sentence the claim would join mid-clause."""
    if not failure.startswith("name not in the passage"):
        return failure
    missing = claim.missing_names([u.facts for u in units])
    if missing:
        return failure
    return "it joins words of different sentences in one clause (" + failure.split(": ", 1)[1] + " is named elsewhere)"


def states(claim: ClaimFacts, unit: QuoteUnit) -> bool:
    """The unit alone passes every hard check and holds nearly all of the sentence's words."""
    return not hard_failures(claim, [unit.facts]) and claim.coverage(unit.facts) >= VERIFIED_COVERAGE


def _holding_the_rest(claim: ClaimFacts, chosen: list[QuoteUnit], units: Sequence[QuoteUnit]) -> list[QuoteUnit]:
    """Units that hold a name or number of the claim the chosen ones lack: quoted too, so the reader
    sees where each came from."""
    facts = [u.facts for u in chosen]
    wanted = len(claim.missing_names(facts)) + len(claim.missing_numbers(facts))
    extra: list[QuoteUnit] = []
    for u in units:
        if wanted == 0:
            break
        if u in chosen or u in extra:
            continue
        now = len(claim.missing_names([*facts, u.facts])) + len(claim.missing_numbers([*facts, u.facts]))
        if now < wanted:
            extra.append(u)
            facts.append(u.facts)
            wanted = now
    return extra


def choose_units(claim: ClaimFacts, units: Sequence[QuoteUnit]) -> list[QuoteUnit]:
    """The units that back the claim best together: of the CANDIDATES most relevant units, every set of
    at most MAX_UNITS that is not stitched mid-clause, ranked by (hard checks pass, words covered, fewer
    units); the one covering most words on its own first (the primary quote)."""
    ranked = sorted(units, key=lambda u: (-claim.gain([], u.facts), u.passage, u.start))[:CANDIDATES]
    best: tuple[tuple[bool, int, int], list[QuoteUnit]] | None = None
    for size in range(1, MAX_UNITS + 1):
        for combo in combinations(ranked, size):
            facts = [u.facts for u in combo]
            if size > 1 and (stitched(claim, facts) or not all(_earns_its_place(claim, facts, i) for i in range(size))):
                continue
            key = (not hard_failures(claim, facts), len(claim.covered(facts)), -size)
            if best is None or key > best[0]:
                best = (key, sorted(combo, key=lambda u: (-claim.coverage(u.facts), u.passage, u.start)))
    assert best is not None  # size 1 always yields a candidate
    return best[1]


def _earns_its_place(claim: ClaimFacts, facts: Sequence[UnitFacts], i: int) -> bool:
    """A unit of a set adds what the others lack: a name, a number, or at least MIN_OWN_WORDS words
    (single words scattered over three sentences add up to anything)."""
    others = [f for j, f in enumerate(facts) if j != i]
    if len(claim.missing_names(others)) > len(claim.missing_names(facts)):
        return True
    if len(claim.missing_numbers(others)) > len(claim.missing_numbers(facts)):
        return True
    return len(claim.covered(facts)) - len(claim.covered(others)) >= MIN_OWN_WORDS


def calibrated_score(features: Sequence[float]) -> float:
    z = INTERCEPT + sum(w * x for w, x in zip(WEIGHTS, features, strict=True))
    return 1.0 / (1.0 + math.exp(-z))
