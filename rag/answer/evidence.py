"""Evidence sentences: the sentences of the retrieved passages that best answer the question, and
whether the passages answer it at all. One judgement decides both (docs/answers.md, "Abstention and
evidence choice"): a quote (a sentence widened to its whole quotation) is evidence when it and its
neighbours cover at least `min_coverage` of the question's terms, and the system abstains when none do.

The question's terms are its content words less question words, words of saying (rag.answer.support_checks:
they say who speaks, not what is asked) and words of a broad question ("happening", "latest"); adjacent
capitalised words ("Elizabeth Warren") and the words of one known entity ("Donetsk region") are one
term. Each is matched the way the support judgement matches a claim:
- a name (capitalised, or a place, person or organisation the alias table knows in any case) by a word,
  its stem, or any spelling the alias table lists (Artemivsk = Bakhmut, Dimitrov = Myrnohrad); a name
  held by some of its words only counts PARTIAL_NAME. A known town or region must be in the quote, or
  in a neighbour about the same place: a sentence about another city is no answer, however many of the
  other words it shares ("How many residents remain in Artemivsk?" is not answered from Toretsk);
- another word by its Snowball stem (PyStemmer) or its 5-letter prefix ('claims' ~ 'claimed');
- a word that occurs in no indexed article counts as missing: "GDP", "inflation" or "unemployment" in a
  collection of war reports is the sign the question is about something no article covers.
Across languages (a Swedish passage, an English question) names match as above, and other words only as
cognates (their folded stems share a 5-letter prefix or are 80% alike: 'control' ~ 'kontroll',
'governor' ~ 'guvernör'). Translation loses most words, so each unmatched word is credited by how close
the embedder puts the passage to the question, compared with the best retrieved passage (full credit
within XL_GAP_FULL of the best cosine, none beyond XL_GAP_NONE); an unmatched name is never credited, and
a window with no name or cognate at all is no evidence.

"What did X say" adds a term that only ranks: a quote holds it when it reports speech and names X.
Score, for ranking: the quote's own coverage mixed with its passage's embedding similarity.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher

from rag.answer.support import TermSet, content_terms
from rag.answer.support import names as capitalised_names
from rag.answer.support_checks import SAYING, UnitFacts, stemmer_for
from rag.answer.untrusted import is_instruction
from rag.store.keyword import fold
from rag.text.languages import FUNCTION_WORDS, detect_language, question_language
from rag.text.sentences import Span, split_sentences
from rag.text.variants import Variants
from rag.text.variants import fold as name_fold
from rag.types import Passage, ScoredPassage

# Ranking: weight of the sentence's own coverage against its passage's similarity, rescaled from
# e5's usual cosine range for related text (0.75 to 0.90) to 0..1.
LEXICAL_WEIGHT = 0.6
# A window answers the question when it covers this share of its terms (the default of the
# `retrieve.min_coverage` setting, calibrated on seeds_qa).
MIN_COVERAGE = 0.55
_SIM_LOW, _SIM_HIGH = 0.75, 0.90
# Across languages: cognates share this folded prefix or are this alike (difflib ratio), and an
# unmatched word is credited in full within XL_GAP_FULL of the best passage's cosine, not beyond
# XL_GAP_NONE (calibrated on the seeds' Swedish article: docs/answers.md).
COGNATE_PREFIX = 5
COGNATE_RATIO = 0.8
XL_GAP_FULL, XL_GAP_NONE = 0.01, 0.05
# A name of several words held by some of them only ("Warren" for "Elizabeth Warren") counts this much.
PARTIAL_NAME = 0.75


@functools.cache
def _variants() -> Variants:
    return Variants.load()


# The countries of the alias table.
COUNTRIES = frozenset({"Ukraine", "Russia", "Belarus"})


@functools.cache
def _places() -> frozenset[str]:
    return frozenset(e.canonical for e in _variants().entities if e.kind == "place") - COUNTRIES


@dataclass(frozen=True)
class Evidence:
    rank: int  # index of the passage in the retrieved list (0 = best)
    text: str
    start: int  # offsets in the article text
    end: int
    score: float
    coverage: float  # of the question's terms, by this sentence and its neighbours
    own: float = 0.0  # of the question's terms, by the quote itself


@dataclass(frozen=True)
class Term:
    """One thing the question asks a sentence to hold: a word, a name (of one or several words:
    "Elizabeth Warren", "Donetsk region"), or the question's verb of saying."""

    words: tuple[str, ...]  # folded
    stems: tuple[str, ...]  # folded Snowball stems, in the question's language
    name: bool = False  # a proper name (capitalised, or a known entity)
    entity: str | None = None  # canonical name, when the alias table knows it (a place: it must be in the window)
    # "What did X say": held by a quote that reports speech (a verb of saying, quotation marks) and names X.
    # It only ranks: whether the articles cover the question is for its other terms to say.
    speech: bool = False
    given: tuple[str, ...] = ()  # words of the name outside the known entity ("Serhiy" of "Serhiy Haidai")
    speaker: int | None = None  # of the speech term: the term naming who speaks ("Haidai" in "what did Haidai say")

    @property
    def word(self) -> str:
        return " ".join(self.words)

    @property
    def place(self) -> bool:
        """A town or region the alias table knows: it must be in the window. Not a person (who may be "the
        president" there) nor a country (context more often than the place asked about: "since the
        beginning of Russia's invasion")."""
        return self.entity is not None and self.entity in _places()

    @property
    def cognates(self) -> tuple[str, ...]:
        """The stems folded like names (rag.text.variants.fold), compared across languages."""
        return tuple(name_fold(s) for s in self.stems)


def _speaker(sequence: list[int | str | None]) -> int | None:
    """The group naming who speaks: next to a verb of saying, before it ("What did Haidai say") or after
    it, past function words ("Vad sa Haidai", "according to ISW")."""
    for k, item in enumerate(sequence):
        if item != "speech":
            continue
        before = sequence[k - 1] if k > 0 else None
        if isinstance(before, int):
            return before
        for after in sequence[k + 1 :]:
            if after != "skip":
                return after if isinstance(after, int) else None
    return None


@dataclass(frozen=True)
class QuestionTerms:
    terms: list[Term]  # what to look for, in question order
    language: str
    known: frozenset[str] = frozenset()  # the folded words that occur in some indexed article

    @property
    def names(self) -> list[Term]:
        return [t for t in self.terms if t.name]


# Words of a broad question that say nothing about the articles: "What is happening in Myrnohrad?".
# fmt: off
GENERIC = frozenset({
    "happen", "happens", "happened", "happening", "going", "goes", "go", "latest", "news", "update", "updates",
    "status", "know", "known", "tell", "mean", "means", "now", "currently", "recently", "today", "anything",
    "something", "thing", "things", "people", "doing", "done", "around", "regarding", "concerning",
    "hände", "händer", "händelser", "senaste", "nytt", "gör", "gjort",
})
# Words of saying, in questions and in sentences (rag.answer.support_checks' list and a few more).
SPEECH_WORDS = SAYING | frozenset({
    "sa", "konstaterar", "menar", "hävdar", "påstår", "demanded", "declared", "urged", "admitted", "denied",
})
# fmt: on
_TOKEN = re.compile(r"[^\W_]+")
# The detector's function words, and prepositions of the other languages questions come in.
_FUNCTION_WORDS = set().union(*FUNCTION_WORDS.values()) | {
    "über", "zur", "zum", "beim", "nach", "om", "till", "från", "hos", "mot", "efter", "inför",
}  # fmt: skip
_QUOTATION = re.compile(r'["“”«»‘]|^\s*[–—-]\s')


def question_terms(question: str, known: Callable[[str], bool]) -> QuestionTerms:
    """The terms of `question`; `known(term)`: does the folded word occur in some indexed article."""
    language = question_language(question)
    language = language if language != "und" else detect_language(question)
    stemmer = stemmer_for(language)
    wanted = set(content_terms(question))
    capitalised = set(capitalised_names(question))
    spans = _variants().find(question, any_case=True)
    # Runs of adjacent name words, and the words of one known entity, make one term.
    groups: list[tuple[list[str], list[str], bool]] = []  # folded words, as written, is a name
    sequence: list[int | str | None] = []  # per word: its group, "speech", "skip" (a function word) or None
    previous_end = -1
    for m in _TOKEN.finditer(question):
        raw, word = m.group(), fold(m.group())
        in_entity = any(s <= m.start() < e for s, e, _ in spans)
        keep = in_entity or (len(word) >= 2 and word in wanted and raw.lower() not in _FUNCTION_WORDS)
        if word in SPEECH_WORDS or not keep or word in GENERIC:
            sequence.append("speech" if word in SPEECH_WORDS else "skip" if raw.lower() in _FUNCTION_WORDS else None)
            previous_end = -1
            continue
        name = in_entity or word in capitalised
        adjacent = previous_end >= 0 and question[previous_end : m.start()].strip() in ("", "-")
        if name and adjacent and groups and groups[-1][2]:
            groups[-1][0].append(word)
            groups[-1][1].append(raw)
        else:
            groups.append(([word], [raw], name))
        sequence.append(len(groups) - 1)
        previous_end = m.end()
    terms: list[Term] = []
    term_of: dict[int, int] = {}  # group -> term
    for g, (words, raws, name) in enumerate(groups):
        same = next((k for k, t in enumerate(terms) if t.words == tuple(words)), None)
        if same is not None:
            term_of[g] = same
            continue
        text = " ".join(raws)
        found = _variants().find(text, any_case=True) if name else []
        entity = found[0][2] if found else None
        given = tuple(w for w in _TOKEN.findall(_cut(text, found)) if len(w) > 1)
        stems = tuple(fold(stemmer.stemWord(r.lower())) for r in raws)
        term_of[g] = len(terms)
        terms.append(Term(tuple(words), stems, name, entity, given=tuple(fold(w) for w in given)))
    speaker = _speaker(sequence)
    if speaker is not None:
        terms.append(Term((), (), speech=True, speaker=term_of[speaker]))
    return QuestionTerms(terms, language, frozenset(w for t in terms for w in t.words if known(w)))


def _cut(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` without the spans."""
    for start, end, _ in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    return text


@dataclass(frozen=True)
class _Sentence:
    """What one sentence (or several together) offers the question: the terms it holds, those of them it
    holds wholly (a name of several words may be there by one of them), and the places it names."""

    matched: frozenset[int]  # indices into QuestionTerms.terms
    entities: frozenset[str]
    whole: frozenset[int] = frozenset()
    speaks: bool = False  # reports speech: a verb of saying or quotation marks

    def __or__(self, other: _Sentence) -> _Sentence:
        return _Sentence(
            self.matched | other.matched,
            self.entities | other.entities,
            self.whole | other.whole,
            self.speaks or other.speaks,
        )


EMPTY = _Sentence(frozenset(), frozenset())


def _cognates(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < COGNATE_PREFIX:
        return False
    return a[:COGNATE_PREFIX] == b[:COGNATE_PREFIX] or SequenceMatcher(None, a, b).ratio() >= COGNATE_RATIO


def _holds(t: Term, text: str, facts: UnitFacts, plain: TermSet, cognates: set[str], other_language: bool) -> float:
    """1.0 when the sentence holds the term, PARTIAL_NAME when it holds a name of several words by some of
    them only ("Warren" for "Elizabeth Warren"), else 0.0."""
    if t.speech:
        return 0.0  # judged on the whole quote (window_coverage)
    if t.entity is not None and (t.place or t.entity in facts.entities):
        # A known place in one of its spellings, never by a shared prefix (Krasnoarmeysk is not
        # Krasnokamensk), or all its words written out.
        if not (t.entity in facts.entities or all(w in facts.words for w in t.words)):
            return 0.0
        return 1.0 if all(plain.has(w) for w in t.given) else PARTIAL_NAME
    found = [
        plain.has(w)
        or (len(s) >= 4 and s in facts.stems)
        or (other_language and any(_cognates(c, x) for x in cognates))
        for w, s, c in zip(t.words, t.stems, t.cognates, strict=True)
    ]
    return 1.0 if all(found) else PARTIAL_NAME if any(found) else 0.0


def _sentence(q: QuestionTerms, text: str, language: str, other_language: bool) -> _Sentence:
    if not text:
        return EMPTY
    facts = UnitFacts.of(text, language if language not in ("", "und") else None)
    plain = TermSet(text)
    cognates = {name_fold(s) for s in facts.stems if len(s) >= 3} if other_language else set()
    held = {i: _holds(t, text, facts, plain, cognates, other_language) for i, t in enumerate(q.terms)}
    speaks = bool(facts.words & SPEECH_WORDS) or bool(_QUOTATION.search(text))
    matched = frozenset(i for i, v in held.items() if v > 0)
    places = facts.entities & _places()
    return _Sentence(matched, places, frozenset(i for i, v in held.items() if v == 1), speaks)


def window_coverage(
    q: QuestionTerms,
    found: _Sentence,
    other_language: bool,
    credit: float,
    entities: frozenset[int],
    ranking: bool = False,
) -> float:
    """The share of the question's terms `found` holds (a name held by some of its words counts
    PARTIAL_NAME); 0.0 when a known place the question names is not among `entities`. Across languages
    unmatched words count `credit` each, and nothing matched at all counts 0. The speech term counts only
    when `ranking`: held when the quote reports speech and names the speaker."""
    terms = [(i, t) for i, t in enumerate(q.terms) if ranking or not t.speech]
    if not terms:
        return 0.0
    if any(t.place and i not in entities for i, t in terms):
        return 0.0
    held = sum(1.0 if i in found.whole else PARTIAL_NAME for i in found.matched)
    held += sum(1.0 for _, t in terms if t.speech and found.speaks and t.speaker in found.matched)
    if not other_language:
        return held / len(terms)
    if not found.matched:
        return 0.0
    unmatched_words = sum(1 for i, t in terms if i not in found.matched and not t.name and not t.speech)
    return (held + credit * unmatched_words) / len(terms)


def _elsewhere(q: QuestionTerms, sentence: _Sentence) -> bool:
    """Does the sentence name known places, none of those the question names (which names one)? Then it
    is about another place, and no context for a sentence about the one asked for."""
    asked = {t.entity for t in q.terms if t.place}
    return bool(asked) and bool(sentence.entities) and not sentence.entities & asked


def _entities_present(q: QuestionTerms, quoted: _Sentence, context: list[_Sentence]) -> frozenset[int]:
    """The question's known places a quote is about: those it names, and those a neighbouring sentence
    names when every other place of the quote is in that sentence too ("the city is in ruins" after a
    sentence on Dimitrov; not "... Kyiv ... Pokrovsk remains a priority" before one on Bakhmut)."""
    asked = {t.entity for t in q.terms if t.place}
    entity_terms = frozenset(i for i, t in enumerate(q.terms) if t.place)
    present = quoted.matched & entity_terms
    for s in context:
        if quoted.entities - asked <= s.entities:
            present |= s.matched & entity_terms
    return present


def language_credit(similarity: float | None, best: float | None) -> float:
    """How much an unmatched word of a passage in another language counts: 1 when the passage is within
    XL_GAP_FULL of the best retrieved passage's cosine, 0 beyond XL_GAP_NONE, linear between."""
    if similarity is None or best is None:
        return 0.0
    gap = best - similarity
    return min(1.0, max(0.0, (XL_GAP_NONE - gap) / (XL_GAP_NONE - XL_GAP_FULL)))


def _similarity_score(similarity: float | None) -> float:
    if similarity is None:
        return 0.0
    return min(1.0, max(0.0, (similarity - _SIM_LOW) / (_SIM_HIGH - _SIM_LOW)))


_DOUBLE_QUOTES = re.compile(r'["“”«»]')
# "...,' he said" / "...," she added": a quotation attributed to a pronoun, named in the sentence before.
# Swedish puts the verb first: "– Steg för steg ..., säger han."
_PRONOUN_SPEAKER = re.compile(
    r"(?:[,.!?][\"”’']|,)\s*(?:(he|she|they)\s+(said|added|says|adds|told|wrote|stated|continued)"
    r"|(säger|sa|sade|skriver|skrev|tillade|tillägger)\s+(han|hon|de))\b",
    re.I,
)


_SPEAKER_TAG = re.compile(
    r"^\s*(?:(?:Mr|Mrs|Ms|Dr|Sen|Rep)\.\s+)?(?:[A-Z][\w'’-]*\s+){1,3}"
    r"(?:said|says|added|asked|demanded|wrote|replied|continued|declared|insisted)\s*[.!]?\s*$"
)


def quotation_bounds(texts: list[str], i: int) -> tuple[int, int]:
    """Sentences to quote with sentence i so the quote stands on its own: a quotation split over
    sentences is kept whole, and "..., he said" takes the sentence before it, which names him."""
    first = last = i
    if len(_DOUBLE_QUOTES.findall(texts[i])) % 2:
        opens = texts[i].lstrip()[:1] in '"“«' and not re.search(r'["”»]\s*\S*\s*\w+ (said|added|says)', texts[i])
        if opens and i + 1 < len(texts):
            last = i + 1
        elif i > 0:
            first = i - 1
    if first == i and i > 0 and _PRONOUN_SPEAKER.search(texts[i]):
        first = i - 1
    # '“... too big to regulate?” Vitter demanded.': the tag split from its quotation by the "?".
    if first == i and i > 0 and _SPEAKER_TAG.match(texts[i]) and texts[i - 1].rstrip()[-1:] in "”\"’'":
        first = i - 1
    return first, last


def quotations(text: str, spans: list[Span], offset: int) -> list[Span]:
    """For each sentence span of `text` (which starts at `offset`), the span of its whole quotation."""
    texts = [text[s.start - offset : s.end - offset] for s in spans]
    bounds = (quotation_bounds(texts, i) for i in range(len(spans)))
    return [Span(spans[first].start, spans[last].end) for first, last in bounds]


_Context = tuple[str, int, list[Span], list[Span]]


def _context(p: Passage, article_text: Callable[[str], str | None], cache: dict[str, _Context]) -> _Context:
    """(text, its offset in the article, its sentences, their quotations) to quote from: the whole
    article when at hand, else the passage alone."""
    if p.article_id not in cache:
        full = article_text(p.article_id) or ""
        spans = split_sentences(full)
        cache[p.article_id] = (full, 0, spans, quotations(full, spans, 0))
    context = cache[p.article_id]
    if context[0][p.start : p.end] == p.text:
        return context
    spans = split_sentences(p.text, offset=p.start)
    return p.text, p.start, spans, quotations(p.text, spans, p.start)


def rank_evidence(
    question: str,
    passages: list[ScoredPassage],
    known: Callable[[str], bool],
    article_text: Callable[[str], str | None] = lambda _: None,
) -> list[Evidence]:
    """All sentences of `passages`, best first; sentences repeated by chunk overlap appear once.

    `known(term)` tells whether a word occurs anywhere in the index; `article_text(article_id)` gives
    the whole article, so a quote can reach past its passage's edge (None: stay inside the passage).
    """
    q = question_terms(question, known)
    seen: set[tuple[str, int]] = set()
    scored: list[Evidence] = []
    cache: dict[str, _Context] = {}
    best_similarity = max((sp.dense_similarity for sp in passages if sp.dense_similarity is not None), default=None)
    for rank, sp in enumerate(passages):
        p = sp.passage
        base, offset, spans, quotes = _context(p, article_text, cache)
        texts = [base[s.start - offset : s.end - offset] for s in spans]
        # An instruction to the model is never evidence, nor context that lifts a neighbour's coverage.
        injected = [is_instruction(t) for t in texts]
        texts = ["" if bad else t for t, bad in zip(texts, injected, strict=True)]
        other_language = q.language != "und" and p.language not in ("und", "", q.language)
        # Across languages a match on names alone is weaker evidence than a match on all words,
        # but still the best a word match can do there.
        weight = 0.5 + 0.5 * len(q.names) / len(q.terms) if other_language and q.terms else 1.0
        credit = language_credit(sp.dense_similarity, best_similarity) if other_language else 0.0
        sim = _similarity_score(sp.dense_similarity)
        inside = [i for i, s in enumerate(spans) if s.start >= p.start and s.end <= p.end]
        near = range(max(0, inside[0] - 1), min(len(spans), inside[-1] + 2)) if inside else range(0)
        found = {j: _sentence(q, texts[j], p.language, other_language) for j in near}
        for i in inside:
            span = spans[i]
            if (p.article_id, span.start) in seen:
                continue
            seen.add((p.article_id, span.start))
            start, end = quotes[i].start, quotes[i].end
            if any(injected) and any(b and start <= s.start < end for s, b in zip(spans, injected, strict=True)):
                continue  # the quote would carry the instruction into the answer
            # The quote (the sentence widened to its whole quotation) and the window around it.
            unit = [j for j in found if start <= spans[j].start and spans[j].end <= end] or [i]
            quoted = functools.reduce(operator.or_, (found[j] for j in unit), EMPTY)
            context = [j for j in (unit[0] - 1, unit[-1] + 1) if j in found and not _elsewhere(q, found[j])]
            window = functools.reduce(operator.or_, (found[j] for j in context), quoted)
            present = _entities_present(q, quoted, [found[j] for j in context])
            around = window_coverage(q, window, other_language, credit, present)
            # The quote's own share ranks it; one that fails the judgement ranks on similarity alone.
            own = window_coverage(q, quoted, other_language, credit, present, ranking=True) if around > 0 else 0.0
            score = LEXICAL_WEIGHT * own * weight + (1 - LEXICAL_WEIGHT) * sim
            scored.append(Evidence(rank, base[start - offset : end - offset], start, end, score, around, own))
    # Equal scores: the earlier quote, and of two starting together the longer (the whole quotation).
    scored.sort(key=lambda e: (-e.score, e.rank, e.start, e.start - e.end))
    return scored


def unknown_terms(question: str, known: Callable[[str], bool]) -> list[str]:
    """The question's terms that no indexed article holds in any spelling ("gdp", "inflation"): said when
    the system abstains, since they are usually why."""
    q = question_terms(question, known)
    return [t.word for t in q.terms if not t.speech and not any(w in q.known for w in t.words)]
