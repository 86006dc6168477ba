"""Is a sentence supported by the passages it cites? One graded, calibrated judgement, used by citation
checking, `rag check` and the judge pass alike.

For a sentence and its cited passages:
1. Quote units: each passage's sentences, widened to a whole quotation ("…," he said takes the sentence
   naming him); units holding an instruction to a model are never evidence (rag.untrusted).
2. Up to MAX_UNITS units are chosen together, greedily: the one covering most of the sentence's words
   first (the *primary* quote), then the ones that add a missing name, number or word.
3. Hard checks over the chosen units (rag.support_checks): every number (normalised; rounded only
   where the sentence says it is approximate), every name (any spelling the alias table knows), the
   speaker of an attribution (named in the primary quote), negation and stance. A failure removes the
   sentence whatever else it has.
4. Soft evidence, combined into one score by a logistic model calibrated on FaithBench dev
   (`rag eval --sets faithbench --split dev --tune`; docs/answers.md): stemmed word coverage by the
   chosen units and by the primary one, coverage of the rarer words, word pairs in order, words the
   sentence adds.
5. Three outcomes: `verified` (one quote states it: the primary unit alone passes every hard check and
   holds nearly all of its words), `supported` (a faithful paraphrase of the quoted spans: score at least
   SUPPORTED_SCORE), `removed` (a hard check fails or the score is too low).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Literal

from rag.support_checks import ClaimFacts, UnitFacts, hard_failures, soft_features, stitched
from rag.types import Passage
from rag.untrusted import has_instruction

Verdict = Literal["verified", "supported", "removed"]
VERDICTS: tuple[Verdict, ...] = ("verified", "supported", "removed")

# At most this many quote units may support one sentence together (a real summary sentence combines
# two or three sentences of its source; more would let scattered words add up to anything).
MAX_UNITS = 3
# The units most relevant to the sentence on their own, among which the supporting set is sought.
CANDIDATES = 10

# Calibrated on FaithBench dev (rag/eval/faithbench.py --tune; docs/answers.md). The logistic model's
# weights over soft_features(), in that order, then the intercept.
WEIGHTS: tuple[float, ...] = (0.633, 0.708, 0.479, -0.086, -0.469, -0.995, -0.151)
INTERCEPT = 0.045
# score >= SUPPORTED_SCORE: supported (when not verified); below it: removed.
SUPPORTED_SCORE = 0.32
# Below this share of the sentence's words in its quotes, it is removed whatever the score: FaithBench
# holds only on-topic summaries, so its calibration alone would not learn that an unrelated sentence
# (on seeds: any sentence of another article) is unsupported.
MIN_COVERAGE = 0.0
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


def quote_units(passage: Passage, index: int = 0) -> list[QuoteUnit]:
    """The units of one passage (`index`: its position among the passages judged against)."""
    from rag.evidence import quotations
    from rag.ingest.chunk import split_sentences

    spans = quotations(passage.text, split_sentences(passage.text, offset=passage.start), passage.start)
    units = []
    for s in spans:
        text = passage.text[s.start - passage.start : s.end - passage.start]
        if text.strip() and not has_instruction(text):  # an instruction supports nothing
            units.append(QuoteUnit(index, text, s.start, s.end, UnitFacts.of(text)))
    return units


class SupportJudge:
    """Judges sentences against a fixed list of passages (their units are cut once)."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = list(passages)
        self.units = [quote_units(p, i) for i, p in enumerate(self.passages)]

    def judge(self, sentence: str, cited: Sequence[int] | None = None) -> Judgement:
        """`sentence` (no markers) against the passages at `cited` (0-based; None: all of them)."""
        chosen_from = range(len(self.passages)) if cited is None else [i for i in cited if 0 <= i < len(self.units)]
        units = [u for i in dict.fromkeys(chosen_from) for u in self.units[i]]
        claim = ClaimFacts.of(sentence)
        if not units:
            return Judgement(sentence, "removed", 0.0, ("nothing to check it against",), hard_failure=True)
        chosen = choose_units(claim, units)
        # Names and numbers may come from anywhere in the cited passages, but not from a sentence whose
        # other words the claim also takes mid-clause ("Russian forces" + "hold Kyiv").
        core = [u.facts for u in chosen]
        joinable = [u for u in units if u in chosen or not stitched(claim, [*core, u.facts])]
        failures = hard_failures(claim, core, [u.facts for u in joinable])
        context = frozenset().union(*(u.facts.stems for u in units))
        features = soft_features(claim, [u.facts for u in chosen], context)
        score = calibrated_score(features) if features[0] >= MIN_COVERAGE else 0.0
        quotes = tuple(QuotedSpan(u.passage, u.start, u.end, u.text) for u in chosen)
        quotes += tuple(QuotedSpan(u.passage, u.start, u.end, u.text) for u in _holding_the_rest(claim, chosen, joinable))
        f = tuple(features)
        if failures:
            return Judgement(sentence, "removed", 0.0, tuple(failures), quotes, hard_failure=True, features=f)
        if states(claim, chosen[0]):
            return Judgement(sentence, "verified", max(score, SUPPORTED_SCORE), (), quotes[:1], features=f)
        if score >= SUPPORTED_SCORE:
            return Judgement(sentence, "supported", score, ("a paraphrase of the quoted spans",), quotes, features=f)
        reason = f"too little of it is in the passage (score {score:.2f} < {SUPPORTED_SCORE})"
        return Judgement(sentence, "removed", score, (reason,), quotes, features=f)


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
            if size > 1 and (stitched(claim, facts) or not all(claim.gain([], f) > 0 for f in facts)):
                continue
            key = (not hard_failures(claim, facts), len(claim.covered(facts)), -size)
            if best is None or key > best[0]:
                best = (key, sorted(combo, key=lambda u: (-claim.coverage(u.facts), u.passage, u.start)))
    assert best is not None  # size 1 always yields a candidate
    return best[1]


def calibrated_score(features: Sequence[float]) -> float:
    import math

    z = INTERCEPT + sum(w * x for w, x in zip(WEIGHTS, features, strict=True))
    return 1.0 / (1.0 + math.exp(-z))
