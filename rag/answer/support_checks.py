"""The facts of a sentence that a quote must back, and the checks behind rag.answer.judgement.

Hard checks (all-or-nothing, over the chosen quote units together):
- numbers, as values (rag.text.quantities): '2,000' = 'two thousand' ≠ '20,000'; a rounded number only
  where the sentence says it is approximate;
- names: every capitalised word after the first (and the first when a name or a verb of saying
  follows), found in any spelling the alias table knows, or sharing its stem;
- the speaker of an attribution ("Hetman said …", "according to Hetman"): named in the primary quote,
  the one that holds the most of what is said;
- negation and stance: "did not confirm" does not back "confirmed"; "denied" needs a denial.
Soft evidence (graded): Snowball-stemmed word coverage (PyStemmer, the quote's and the sentence's own
language), word pairs in order, and the words the sentence adds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import Stemmer

from rag.answer.support import names as capitalised_names
from rag.store.keyword import fold
from rag.text.languages import FUNCTION_WORDS, detect_language
from rag.text.quantities import COUNT_WORDS as _COUNT_WORDS
from rag.text.quantities import Quantity, quantities, same_quantity
from rag.text.variants import Variants

# A word, with a contraction's apostrophe kept ("didn't"); "we've", "it's" count as "we", "it".
_WORD = re.compile(r"[^\W_]+(?:['’](?:t\b)|(?<=n)['’]t\b)?", re.UNICODE)
# Words that carry no claim of their own: the function words language detection uses, and fuller lists
# for the two languages of the seeds (pronouns, auxiliaries, determiners, common adverbs).
_MORE_STOP = """
a an the this that these those it its it's they them their theirs he him his she her hers we us our you your
i me my mine who whom whose which what when where why how there here then than so such also too very just
be been being am is are was were do does did doing done have has had having will would shall should can
could may might must ought not no nor or and but if as at by for from in into of off on onto out over to up
upon with within without about above after again against all any both each few more most other some only own
same because before below between during further once through under until while every either neither one
ones another much many several whether yet though although however thus therefore s ve re ll d m t
och att det som en ett på är av för med till den har inte de om säger han hon hans hennes vi ni dem deras sin
sitt sina var vara varit blir blev bli kan ska skulle måste men eller så också när där här nu då efter under
"""
# fmt: off
_STOP = set().union(*FUNCTION_WORDS.values()) | set(_MORE_STOP.split())
# fmt: on
# Words of saying and reporting: they say who speaks, not what is claimed.
# fmt: off
SAYING = frozenset({  # public: rag.answer.evidence reads questions with it
    "said", "says", "say", "claimed", "claims", "claim", "told", "tells", "stated", "states", "wrote", "writes",
    "added", "adds", "argued", "argues", "reported", "reports", "announced", "announces", "noted", "notes",
    "insisted", "insists", "warned", "warns", "alleged", "alleges", "asserted", "asserts", "according",
    "explained", "explains", "suggested", "suggests", "believes", "believed", "thinks", "thought",
    "sade", "säger", "uppger", "uppgav", "enligt", "skriver", "skrev", "sagte", "sagt", "laut",
})
_NEGATION = frozenset({
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot", "n't", "isn't",
    "wasn't", "aren't", "weren't", "don't", "doesn't", "didn't", "won't", "wouldn't", "can't", "couldn't",
    "hasn't", "haven't", "hadn't", "shouldn't",
    "inte", "ej", "aldrig", "ingen", "inga", "inget", "utan", "nicht", "kein", "keine", "nie", "ohne",
})
_DENY = ("deni", "deny", "refut", "reject", "dismiss", "disput", "contradict", "förneka", "dementer", "bestreit",
         "leugn")
_CONFIRM = ("confirm", "acknowledg", "admit", "verifi", "bekräft", "medg", "bestätig")
# Words that open a clause or a phrase: where a sentence may switch from one quoted sentence to another.
_CONNECTORS = frozenset({
    "and", "but", "or", "while", "whereas", "which", "who", "whom", "whose", "where", "when", "after", "before",
    "as", "with", "including", "despite", "although", "though", "because", "since", "in", "on", "at", "of",
    "for", "against", "by", "from", "to", "into", "during", "than", "that", "also", "then", "its", "his", "her",
    "their", "och", "men", "som", "med", "efter", "för", "av", "på", "i", "und", "aber", "mit", "nach",
})
# fmt: on
_PREFIX = 5
_STEMMER_OF = {
    "en": "english", "sv": "swedish", "de": "german", "ru": "russian", "fr": "french", "es": "spanish",
    "it": "italian", "nl": "dutch", "da": "danish", "no": "norwegian", "fi": "finnish", "pt": "portuguese",
    "uk": "ukrainian", "pl": "polish",
}  # fmt: skip


@functools.cache
def stemmer_for(language: str) -> Stemmer.Stemmer:
    name = _STEMMER_OF.get(language, "english")
    return Stemmer.Stemmer(name if name in Stemmer.algorithms() else "english")


@functools.cache
def _variants() -> Variants:
    return Variants.load()


def _speech(word: str) -> bool:
    return word in SAYING


def _negation(word: str) -> bool:
    return word in _NEGATION or word.endswith(("n't", "n’t"))


# "No. 1", "no 5": a number, not a negation.
_NUMBER_SIGN = re.compile(r"\bno\.?(?=\s*\d)", re.IGNORECASE)


@dataclass(frozen=True)
class UnitFacts:
    """What a quote unit says, in the forms the checks compare."""

    text: str
    stems: frozenset[str]  # stemmed, folded content words
    words: frozenset[str]  # folded words, all of them
    entities: frozenset[str]  # canonical names of the known entities it mentions
    pairs: frozenset[tuple[str, str]]  # consecutive content stems
    numbers: tuple[Quantity, ...]
    negated: frozenset[str]  # stems within two words after a negation
    denies: bool
    confirms: bool
    prefixes: frozenset[str]  # first _PREFIX letters of its longer words, for names' other forms
    capitalised: frozenset[str]  # folded words written with a capital after its first word

    @classmethod
    def of(cls, text: str, language: str | None = None) -> UnitFacts:
        tokens, lowered, stems = _words(text, stemmer_for(language or detect_language(text)))
        content = [s for s, w in zip(stems, lowered, strict=True) if w not in _STOP and not w.isdigit()]
        negated: set[str] = set()
        for i, w in enumerate(lowered):
            # The word a negation denies: the next content word within two ("did not confirm", "was not
            # captured"), unless it only delays it ("will not be confirmed until Friday").
            after = lowered[i + 1 : i + 6]
            if _negation(w) and not {"until", "till", "before", "unless"} & set(after):
                negated.update(s for s, x in zip(stems[i + 1 : i + 3], after[:2], strict=False) if x not in _STOP)
        return cls(
            text=text,
            stems=frozenset(content),
            words=frozenset(fold(w) for w in lowered),
            entities=frozenset(e for _, _, e in _variants().find(text)),
            pairs=frozenset(pairwise(content)),
            numbers=tuple(quantities(text)),
            negated=frozenset(negated),
            denies=any(w.startswith(_DENY) for w in lowered),
            confirms=any(w.startswith(_CONFIRM) for w in lowered),
            prefixes=frozenset(fold(w)[:_PREFIX] for w in lowered if len(w) >= _PREFIX),
            capitalised=frozenset(fold(t) for t in tokens[1:] if t[:1].isupper()),
        )

    @property
    def has_negation(self) -> bool:
        return bool(self.negated) or any(_negation(w) for w in self.words)


@dataclass(frozen=True)
class Name:
    word: str  # folded
    stem: str
    entity: str | None  # canonical, when the alias table knows it


@dataclass(frozen=True)
class ClaimFacts:
    """What a sentence claims, in the forms the checks compare."""

    text: str
    words: tuple[str, ...]  # content stems in order, unique
    # Content stems in order, each with whether a clause may start there (punctuation or a connector
    # word since the previous content word): where support may pass from one quote to another.
    sequence: tuple[tuple[str, bool], ...]
    pairs: frozenset[tuple[str, str]]
    names: tuple[Name, ...]
    speakers: tuple[Name, ...]  # the names an attribution gives as the speaker
    # A capitalised first word that may be a name ("Ukrainian troops ..."): one when a passage writes it
    # with a capital mid-sentence (ClaimFacts.naming).
    first: Name | None
    numbers: tuple[Quantity, ...]
    negated: bool
    denies: bool
    confirms: bool

    @classmethod
    def of(cls, text: str, language: str | None = None) -> ClaimFacts:
        """`language`: the cited passages' language, used when the sentence is too short to tell its own."""
        detected = detect_language(text)
        language = language if detected == "und" and language else detected
        facts = UnitFacts.of(text, language)
        stemmer = stemmer_for(language)
        tokens, lowered, stems = _words(text, stemmer)
        content = [
            s for s, w in zip(stems, lowered, strict=True) if w not in _STOP and not w.isdigit() and not _speech(w)
        ]
        sequence = _sequence(_NUMBER_SIGN.sub("nr", text), stems, lowered)
        words = tuple(dict.fromkeys(content))
        entity_of = {fold(text[s:e]): c for s, e, c in _variants().find(text)}
        found = {fold(w) for w in capitalised_names(text)} - _STOP - _openers(text)
        # A place or person the alias table knows is a name wherever it stands ("Kyiv has fallen").
        found |= {w for span in entity_of for w in span.split()} - _STOP
        names = []
        for word in dict.fromkeys(fold(t) for t in tokens if fold(t) in found):
            names.append(Name(word, fold(stemmer.stemWord(word)), _entity(word, entity_of)))
        return cls(
            text=text,
            words=words,
            sequence=sequence,
            pairs=frozenset(pairwise(content)),
            names=tuple(names),
            speakers=tuple(n for n in names if n.word in _speaker_words(tokens)),
            first=_first_word(tokens, names, stemmer),
            numbers=facts.numbers,
            negated=any(_negation(w) for w in lowered),
            denies=facts.denies,
            confirms=facts.confirms,
        )

    @property
    def predicate_size(self) -> int:
        """How many of its words are not names (the soft evidence's words)."""
        names = {n.stem for n in self.names} | {n.word for n in self.names}
        return len([w for w in self.words if w not in names]) or len(self.words)

    def naming(self, units: Sequence[UnitFacts]) -> ClaimFacts:
        """The claim with its first word as a name when a passage writes it as one."""
        if self.first is None or not any(self.first.word in u.capitalised for u in units):
            return self
        return replace(self, names=(self.first, *self.names))

    # --- how much of it a set of units holds ------------------------------------------------------
    def covered(self, units: Sequence[UnitFacts]) -> list[str]:
        stems = set().union(*(u.stems for u in units)) if units else set()
        return [w for w in self.words if w in stems]

    def coverage(self, unit: UnitFacts) -> float:
        return len(self.covered([unit])) / len(self.words) if self.words else 1.0

    def missing_names(self, units: Sequence[UnitFacts]) -> list[Name]:
        return [n for n in self.names if not any(_has_name(u, n) for u in units)]

    def missing_numbers(self, units: Sequence[UnitFacts]) -> list[Quantity]:
        """Numbers no unit states. A small count in words ('two films') is left to the soft evidence:
        summaries count what their source lists without writing the number."""
        stated = [q for u in units for q in u.numbers]
        missing = [q for q in self.numbers if not any(same_quantity(q, s) for s in stated)]
        # ... unless the passage gives another small count: then "seven" against "six" is a distortion.
        counts = any(s.value <= 20 and not s.month for s in stated)
        return [q for q in missing if counts or not _small_word(q)]

    def gain(self, chosen: Sequence[UnitFacts], unit: UnitFacts) -> float:
        """What adding `unit` to `chosen` adds: words newly covered (as a share), plus a whole point for
        each missing name or number it holds."""
        before = set(self.covered(chosen))
        after = set(self.covered([*chosen, unit]))
        words = (len(after) - len(before)) / len(self.words) if self.words else 0.0
        names = len(self.missing_names(chosen)) - len(self.missing_names([*chosen, unit]))
        numbers = len(self.missing_numbers(chosen)) - len(self.missing_numbers([*chosen, unit]))
        return words + names + numbers


# A model's lead-in ("Here is a concise summary of the passage:", "Based on the articles, ...:",
# "Key points include:"): it states nothing about the news, so it is never shown as fact.
_LEAD_IN = re.compile(
    r"^\W*(?:here\s+(?:is|are)|here['’]s|below\s+(?:is|are)|based\s+(?:solely\s+)?on|in\s+summary|to\s+summari[sz]e|"
    r"(?:a\s+)?(?:concise\s+|brief\s+|short\s+)?summary\b|key\s+points|sure\b|certainly\b)",
    re.IGNORECASE,
)


def is_lead_in(text: str) -> bool:
    """True for a sentence that only introduces what follows (ends in a colon, or opens like "Here is
    a summary") and names no person, place, number or date."""
    if quantities(text) or any(w[:1].isupper() for w in re.findall(r"[^\W\d_]+", text)[1:]):
        return False
    return text.rstrip().endswith(":") or bool(_LEAD_IN.match(text))


def _small_word(q: Quantity) -> bool:
    """A count up to ten in words ('two films'); ordinals ('fourth') are always checked."""
    return q.value <= 10 and q.text.lower() in _COUNT_WORDS


def _openers(text: str) -> set[str]:
    """Capitalised words that open a sentence, a parenthesis or what follows a colon ('Note:',
    'Additionally,'): names only when a name follows them directly."""
    out = set()
    for m in re.finditer(r"(?:^|[:(\[\"“«—]\s*)([^\W\d_]+)(?=(\W*)(\S*))", text):
        follows = m.group(3).lower().strip(".,;:!?")
        if m.group(2).strip() or not (m.group(3)[:1].isupper() or follows in SAYING):
            out.add(fold(m.group(1)))
    return out


def _words(text: str, stemmer: Stemmer.Stemmer) -> tuple[list[str], list[str], list[str]]:
    """The words of `text` as written, lower-cased, and stemmed and folded ("No. 1" is no negation)."""
    tokens = [m.group(0) for m in _WORD.finditer(_NUMBER_SIGN.sub("nr", text))]
    lowered = [t.lower() for t in tokens]
    return tokens, lowered, [fold(s) for s in stemmer.stemWords(lowered)]


def _first_word(tokens: Sequence[str], names: Sequence[Name], stemmer: Stemmer.Stemmer) -> Name | None:
    if not tokens or not tokens[0][:1].isupper():
        return None
    word = fold(tokens[0])
    if word in _STOP or any(n.word == word for n in names):
        return None
    return Name(word, fold(stemmer.stemWord(word)), None)


def _sequence(text: str, stems: list[str], lowered: list[str]) -> tuple[tuple[str, bool], ...]:
    out: list[tuple[str, bool]] = []
    matches = list(_WORD.finditer(text))
    brk = True
    for i, (stem, w) in enumerate(zip(stems, lowered, strict=True)):
        if i and re.search(r"[,;:()\u2013\u2014\"“”]|\s-\s", text[matches[i - 1].end() : matches[i].start()]):
            brk = True
        if w in _CONNECTORS:
            brk = True
        elif w not in _STOP and not w.isdigit() and not _speech(w):
            out.append((stem, brk))
            brk = False
    return tuple(out)


def stitched(claim: ClaimFacts, units: Sequence[UnitFacts]) -> bool:
    """True when the units only cover the claim by switching quote mid-clause ("Russian forces" from
    one sentence, "hold Kyiv" from another): words of several sentences prove nothing together unless
    each sentence backs a clause or phrase of its own."""
    if len(units) < 2:
        return False
    names = {n.stem for n in claim.names} | {n.word for n in claim.names}
    possible: set[int] | None = None  # units that can own the latest word on some unbroken reading
    carried = False  # a clause break before a skipped name still opens the clause after it
    for stem, clause_starts in claim.sequence:
        if stem in names:
            carried = carried or clause_starts
            continue  # a name may come from the sentence that names what another one describes
        clause_starts, carried = clause_starts or carried, False
        owners = {i for i, u in enumerate(units) if stem in u.stems}
        if not owners:
            continue
        if possible is not None and not clause_starts:
            owners &= possible  # mid-clause, the same sentence must go on
            if not owners:
                return True
        possible = owners
    return False


def _entity(word: str, entity_of: dict[str, str]) -> str | None:
    for span, canonical in entity_of.items():
        if word in span.split():
            return canonical
    return None


def _has_name(unit: UnitFacts, name: Name) -> bool:
    return (
        name.word in unit.words
        or (name.entity is not None and name.entity in unit.entities)
        or (len(name.stem) >= 4 and name.stem in unit.stems)
        or (len(name.word) >= _PREFIX and name.word[:_PREFIX] in unit.prefixes)  # Belgian ~ Belgium
    )


# "Hetman said", "Oleksiy Hetman, a military expert, said", "according to Hetman", "Hetman's claim".
def _speaker_words(tokens: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for i, t in enumerate(tokens):
        w = t.lower()
        if w == "according" and i + 1 < len(tokens) and tokens[i + 1].lower() == "to":
            out.update(fold(x) for x in tokens[i + 2 : i + 5] if x[:1].isupper())
        elif w in SAYING and w != "according":
            j = i - 1
            while j >= 0 and tokens[j][:1].isupper() and i - j <= 3:
                out.add(fold(tokens[j]))
                j -= 1
    return out


def hard_failures(
    claim: ClaimFacts, units: Sequence[UnitFacts], passages: Sequence[UnitFacts] | None = None
) -> list[str]:
    """Why the units cannot back the claim, whatever its words: [] when every hard check passes.
    `units[0]` is the primary quote (the one a speaker must be named in). Numbers and names are sought
    in `passages` (every unit of the cited passages) when given: a summary sentence takes the name it
    needs from wherever its source gives it."""
    if not units:
        return ["no quote"]
    out = []
    numbers = claim.missing_numbers(passages or units)
    if numbers:
        out.append("number not in the passage: " + ", ".join(q.text for q in numbers))
    names = [n for n in claim.missing_names(passages or units) if n not in claim.speakers]
    if names:
        out.append("name not in the passage: " + ", ".join(n.word for n in names))
    speakers = [n for n in claim.speakers if not any(_has_name(u, n) for u in _speaking_units(claim, n, units))]
    if speakers:
        out.append("the passage does not attribute it to " + " ".join(n.word for n in speakers))
    if claim.negated and not any(u.has_negation or u.denies for u in units):
        out.append("the sentence negates what the passage states")
    elif not claim.negated and not claim.denies and any(set(claim.words) & u.negated for u in units[:1]):
        out.append("the passage negates what the sentence states")
    if claim.denies and not any(u.denies or u.has_negation for u in units):
        out.append("the passage reports no denial")
    if claim.confirms and not claim.negated and any(u.denies and not u.confirms for u in units[:1]):
        out.append("the passage reports a denial, not a confirmation")
    return out


def _speaking_units(claim: ClaimFacts, speaker: Name, units: Sequence[UnitFacts]) -> list[UnitFacts]:
    """The units that must name `speaker`: the primary quote, and any unit holding the first word of
    what the speaker is said to say ("Anna Berg said the decision ..." in a second quote is hers)."""
    names = {n.stem for n in claim.names} | {n.word for n in claim.names}
    stems = [stem for stem, _ in claim.sequence]
    at = next((i for i, stem in enumerate(stems) if stem in (speaker.stem, speaker.word)), None)
    if at is None:
        return list(units[:1])
    after = [w for w in stems[at + 1 :] if w not in names]
    before = [w for w in reversed(stems[:at]) if w not in names]
    said = (after or before)[:1]
    return [units[0], *(u for u in units[1:] if said and said[0] in u.stems)]


def soft_features(claim: ClaimFacts, units: Sequence[UnitFacts], context: frozenset[str]) -> list[float]:
    """The graded evidence rag.answer.judgement's calibrated score is computed from, each 0..1, over the
    sentence's words other than its names (the hard checks have the names; "Kyiv has fallen" against
    "Kyiv is calm" has nothing else):
    [coverage by the chosen units together, by the primary unit alone, word pairs in order, units used
     beyond the first (of two more), words the units lack (of 5), share of words found nowhere in the
     cited passages (new information, not a paraphrase of a neighbouring sentence)]. `context`: the
    stems of every unit of the cited passages. (The sentence's length and its number of covered words
    were tried as features too: both got weight 0 on dev.)"""
    names = {n.stem for n in claim.names} | {n.word for n in claim.names}
    words = [w for w in claim.words if w not in names] or list(claim.words)
    n = len(words) or 1
    stems = set().union(*(u.stems for u in units)) if units else set()
    covered = [w for w in words if w in stems]
    together = len(covered) / n
    primary = sum(w in units[0].stems for w in words) / n if units else 0.0
    all_pairs = set().union(*(u.pairs for u in units)) if units else set()
    pairs = len(claim.pairs & all_pairs) / len(claim.pairs) if claim.pairs else together
    extra = (len(units) - 1) / 2
    lacking = min(1.0, (len(words) - len(covered)) / 5)
    outside = sum(w not in context for w in words) / n
    return [together, primary, pairs, extra, lacking, outside]
