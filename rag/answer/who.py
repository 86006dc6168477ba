""" "Who claims X?" answered from the claims extracted at ingest: the claimants with role, date, exact
quote and citation, grouped by outlet, and the other side (denials, counter-claims) listed apart.

The list is built by code from verbatim spans, so every quote is exact and every marker points at the
sentence that attributes the words to that speaker. When no extracted claim fits, the caller answers
the ordinary way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.answer.compose import spoken_date
from rag.answer.support import TermSet, content_terms, coverage
from rag.answer.timeline import timeline_points
from rag.claims.attribution import ExtractedClaim
from rag.store.keyword import fold
from rag.types import Answer, Citation, Claim, Passage, ScoredPassage

# --- recognising the question ---------------------------------------------------------------------
_CUES = (
    r"claim(?:s|ed|ing)?|say(?:s|ing)?|said|stat(?:es|ed|ing)|argu(?:es|ed|ing)|assert(?:s|ed)?|report(?:s|ed)?|"
    r"den(?:y|ies|ied|ying)|disput(?:es|ed)|reject(?:s|ed)|refut(?:es|ed)|believ(?:es|ed)|think(?:s)?|thought|"
    r"warn(?:s|ed)?|predict(?:s|ed)?|alleg(?:es|ed)|insist(?:s|ed)?|told|tell(?:s)?|call(?:s|ed)|describ(?:es|ed)|"
    r"wr(?:ote|ites)|suggest(?:s|ed)|confirm(?:s|ed)|admit(?:s|ted)|accus(?:es|ed)|blam(?:es|ed)|announc(?:es|ed)|"
    r"maintain(?:s|ed)|contend(?:s|ed)|tweet(?:s|ed)|post(?:s|ed)"
)
_GROUP = r"(?:officials?|people|sources?|experts?|analysts?|politicians?|outlets?|media|leaders?|countries|" \
         r"governments?|journalists?|newspapers?|sides?|parties|groups?)"  # fmt: skip
_WHO = [
    re.compile(
        # "who is claiming" yes, "who was told to leave" no: after a form of "to be", only an -ing cue.
        r"^\s*(?:and\s+|so\s+|but\s+)?who(?:\s+else)?\s+(?:(?:has|have|had|did|does)\s+|(?=(?:is|are|was|were)\s+\w+ing\b)"
        r"(?:is|are|was|were)\s+)?(?:publicly\s+|also\s+|first\s+|actually\s+)?(" + _CUES + r")\b\s*(.*)$",
        re.IGNORECASE | re.DOTALL,
    ),
    re.compile(
        r"^\s*(?:and\s+)?(?:which|what)\s+" + _GROUP + r"\s+(?:have\s+|has\s+|are\s+|is\s+)?(" + _CUES + r")\b\s*(.*)$",
        re.IGNORECASE | re.DOTALL,
    ),
    # Swedish, German, Ukrainian, Russian: "vem hävdar att ...", "wer behauptet, dass ...".
    re.compile(
        r"^\s*(?:vem|vilka|wer|хто|кто)\s+(hävdar|säger|sa|sade|påstår|menar|förnekar|behauptet|sagt|sagte|"
        r"bestreitet|meint|стверджує|каже|сказав|сказала|заявив|заявила|заявляє|заперечує|утверждает|говорит|"
        r"сказал|сказала|заявил|заявила|заявляет|отрицает)(?![\w])\s*(.*)$",
        re.IGNORECASE | re.DOTALL,
    ),
]
_ACCORDING_TO_WHOM = re.compile(r"according to whom\b", re.IGNORECASE)
_DENY_CUE = re.compile(r"^(den|disput|reject|refut|förnekar|bestreitet|заперечує|отрицает)", re.IGNORECASE)
_PRONOUN_ONLY = {"", "it", "that", "this", "so", "the same", "them", "otherwise", "the opposite"}


@dataclass(frozen=True)
class WhoQuestion:
    proposition: str  # what is claimed: "Pokrovsk has fallen"
    cue: str  # the question's verb: "claims", "denied"
    wants_denials: bool  # "who denied it?": the other side is what is asked for


def _clean(proposition: str) -> str:
    p = re.sub(r"^[,:]\s*", "", proposition.strip().rstrip("?.!, "))
    # "told BBC News that they had lost everything": the addressee goes, the reported clause stays.
    m = re.match(r"^(?:[^,]{0,60}?\s)?(?:that|att|dass|що|что)\s+(.*)$", p, re.IGNORECASE | re.DOTALL)
    if m:
        p = m.group(1)
    return re.sub(r"^[,:]\s*", "", p).strip()


def parse_who_question(question: str) -> WhoQuestion | None:
    """The claim a "who claims / who said / which officials deny ..." question asks about, or None when
    the question asks something else ("who is Serhiy Haidai?")."""
    text = question.strip()
    m = _ACCORDING_TO_WHOM.search(text)
    if m:
        return WhoQuestion(_clean(_ACCORDING_TO_WHOM.sub("", text)), "according to", False)
    for pattern in _WHO:
        m = pattern.match(text)
        if m:
            cue = m.group(1)
            return WhoQuestion(_clean(m.group(2)), cue, bool(_DENY_CUE.match(cue)))
    return None


def who_question_in(question: str, query: str) -> WhoQuestion | None:
    """The who-question of a turn. A follow-up ("who denied it?") takes the claim from the standalone
    query the chat rewrote it into ("who claims Pokrovsk has fallen? who denied it?")."""
    asked = parse_who_question(question)
    if asked is None or asked.proposition.lower() not in _PRONOUN_ONLY or query == question:
        return asked
    for part in re.split(r"(?<=[?.!])\s+", query):
        earlier = parse_who_question(part)
        if earlier and earlier.proposition.lower() not in _PRONOUN_ONLY:
            return WhoQuestion(earlier.proposition, asked.cue, asked.wants_denials)
    return asked


# --- judging claims -------------------------------------------------------------------------------
# A place changing hands: "has fallen" is claimed in many words.
# Completed or imminent loss only: "the goal is to occupy" and "efforts to capture" claim no fall.
_CAPTURE = {"fallen", "fell", "captured", "taken", "took", "seized", "occupied", "lost", "lose", "losing",
            "loss", "controlling", "controlled", "encircled", "surrounded", "overrun", "liberated",
            "collapsed", "falls"}  # fmt: skip
# Words of a proposition that say nothing about its content ("they had lost everything").
_FILLER = {
    "they",
    "he",
    "she",
    "it",
    "we",
    "i",
    "you",
    "had",
    "has",
    "have",
    "been",
    "be",
    "was",
    "were",
    "is",
    "are",
    "will",
    "would",
    "could",
    "the",
    "a",
    "an",
    "that",
    "there",
    "their",
    "his",
    "her",
    "its",
}
_DOUBTING_CUE = re.compile(r"^(doubt|question|disput|den(?:y|ies|ied|ying)$|reject|dismiss|refut|rebut)", re.IGNORECASE)
# "near Pokrovsk", "south of Pokrovsk": a claim about somewhere else.
_NEARBY = {"near", "outside", "around", "towards", "toward", "beyond"}
_DIRECTIONS = {"north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest", "outskirts",
               "suburbs", "edge", "approaches"}  # fmt: skip
# The other side of a capture claim: still held, still fought over.
_CONTESTED = re.compile(
    r"\b(hold(?:s|ing)?|held|repel\w*|difficult|resist\w*|counter-?attack\w*|"
    r"remains? under (?:ukrainian |our )?control|not (?:fallen|captured|lost))\b",
    re.IGNORECASE,
)
# Words that reject what others said.
_REFUTES = re.compile(
    r"\b(nonsense|propaganda|false|fake|untrue|rumou?rs?|myth|baseless|unfounded|fabricat\w*|"
    r"disinformation|misinformation|not true|no truth|exaggerat\w*|den(?:y|ies|ied)|debunk\w*|absurd)\b",
    re.IGNORECASE,
)
MIN_COUNTER_RELEVANCE = 0.3  # the same for the other side of a claim that is not about a place falling
MIN_RELEVANCE = 0.6  # share of the claim's words (beyond its names) a claimant's sentence must hold
MAX_CLAIMANTS = 6
MAX_OTHER_SIDE = 4


@dataclass(frozen=True)
class _Judged:
    claim: ExtractedClaim
    passage: Passage  # the stored passage holding the claim: what its citation quotes
    stance: str  # "supports" or "counter"
    score: float

    @property
    def article_id(self) -> str:
        return self.passage.article_id


def _name_terms(proposition: str) -> list[str]:
    return list(dict.fromkeys(fold(w) for w in re.findall(r"[^\W\d_]+", proposition) if w[:1].isupper()))


def _has(terms: TermSet, term: str, capture: bool) -> bool:
    if capture and term in _CAPTURE:  # exact words: a shared prefix makes "occupied" of "occupy"
        return any(t in terms.exact for t in _CAPTURE)
    return terms.has(term)


def judge(proposition: str, claim: ExtractedClaim, sentence: str, context: str) -> tuple[str, float] | None:
    """("supports" | "counter", score) when `claim` (whose sentences are `sentence`, inside the passage
    `context`) takes a side on `proposition`; None when it is about something else."""
    names = _name_terms(proposition)
    # Names may be anywhere around the claim; the claim itself must say what is asked, not the clause
    # next to it ("Ukraine vowed to defend it, while Russian forces claimed to have encircled it").
    own, around, said = TermSet(sentence), TermSet(context), TermSet(claim.content)
    if names and not all(own.has(n) or around.has(n) for n in names):
        return None
    predicate = [t for t in content_terms(proposition) if t not in names and t not in _FILLER]
    if not predicate and not names:
        return None  # "who said it?" with nothing to go on: no claim fits more than another
    capture = bool(names) and any(t in _CAPTURE for t in predicate)  # a place changing hands
    found = sum(_has(said, t, capture) for t in predicate)
    score = found / len(predicate) if predicate else (1.0 if all(own.has(n) for n in names) else 0.0)
    content = claim.content
    doubting = claim.denial or _DOUBTING_CUE.match(claim.cue) is not None
    # The other side must be about the same thing: for a place said to have fallen, any statement
    # around it that it holds or that the claim is false; otherwise one sharing the claim's words.
    on_topic = capture or score >= MIN_COUNTER_RELEVANCE
    if on_topic and (doubting or _REFUTES.search(content) or (capture and _CONTESTED.search(content))):
        return "counter", score + (1.0 if _REFUTES.search(content) else 0.0)  # outright denials first
    # A claimant says it of the place itself: "troops had lost control of Pokrovsk", not "we are losing
    # one city after another" or "captured dozens of buildings" in a story about Pokrovsk.
    named = _place_taken(claim.content, names) if capture else (not names or any(own.has(n) for n in names))
    if score >= MIN_RELEVANCE and named:
        return "supports", score
    return None


def _place_taken(content: str, names: list[str]) -> bool:
    """A word of losing a place within six words of the place itself, which is not merely "near" it:
    "lost control of Pokrovsk" yes; "lost three soldiers near Pokrovsk" no."""
    words = [fold(w) for w in re.findall(r"[^\W_]+", content)]
    places = [i for i, w in enumerate(words) if any(w == n or (len(n) >= 5 and w.startswith(n[:5])) for n in names)]
    taken = [i for i, w in enumerate(words) if w in _CAPTURE]
    return any(
        abs(i - j) <= 6
        and not (i > 0 and words[i - 1] in _NEARBY)
        and not (i > 1 and words[i - 1] == "of" and words[i - 2] in _DIRECTIONS)
        for i in places
        for j in taken
    )


# --- building the answer --------------------------------------------------------------------------
def _passage_for(claim: ExtractedClaim, passages: list[Passage]) -> Passage | None:
    """The stored passage holding most of the claim's content."""
    best, overlap = None, 0
    for p in passages:
        o = min(p.end, claim.content_end) - max(p.start, claim.content_start)
        if o > overlap:
            best, overlap = p, o
    return best


def _entry(claim: ExtractedClaim, n: int) -> str:
    """'- Igor Mosiychuk (a former member of the Verkhovna Rada), November 4, claimed: “…” [1]'"""
    who = claim.speaker + (f" ({claim.speaker_role})" if claim.speaker_role else "")
    when = f", {claim.date}," if claim.date else ""
    cue = claim.cue if claim.cue not in (":", "―") else "said"
    return f"- {who}{when} {cue.lower()}: “{claim.content.rstrip(' ,;:')}” [{n}]"


def who_answer(
    question: str,
    asked: WhoQuestion,
    passages: list[ScoredPassage],
    claims_of: Callable[[str], list[ExtractedClaim]],
    passages_of: Callable[[str], list[Passage]],
    article_text: Callable[[str], str | None],
) -> Answer | None:
    """The claimants and the other side, from the claims of the retrieved articles; None when no claim
    in them takes a side on what is asked."""
    articles = list(dict.fromkeys(sp.passage.article_id for sp in passages))
    texts: dict[str, str] = {}
    judged = _judged_claims(asked, articles, claims_of, passages_of, article_text, texts)
    if not any(j.stance == "supports" for j in judged) and not (asked.wants_denials and judged):
        return None
    order = {aid: i for i, aid in enumerate(articles)}
    supports = _best_per_speaker(judged, "supports", MAX_CLAIMANTS, order)
    speakers = {(j.article_id, j.claim.speaker) for j in supports}
    # A speaker already among the claimants is not also "the other side" in the same article.
    counter = [
        j
        for j in _best_per_speaker(judged, "counter", MAX_OTHER_SIDE + len(speakers), order)
        if (j.article_id, j.claim.speaker) not in speakers
    ][:MAX_OTHER_SIDE]
    text, citations, listed = _claims_text(asked, supports, counter, texts)
    answer = Answer(
        question=question, text=text, citations=citations, claims=listed, backend="extractive", passages=passages
    )
    answer.timeline = timeline_points(answer)  # the claims by date and side, for the chart and --json
    return answer


def _judged_claims(
    asked: WhoQuestion,
    articles: list[str],
    claims_of: Callable[[str], list[ExtractedClaim]],
    passages_of: Callable[[str], list[Passage]],
    article_text: Callable[[str], str | None],
    texts: dict[str, str],
) -> list[_Judged]:
    """Every claim of the articles that takes a side on the asked proposition, with its passage, stance
    and score. Fills `texts` with the text of each article that has claims."""
    judged: list[_Judged] = []
    asked_terms = TermSet(asked.proposition)
    for aid in articles:
        claims = [c for c in claims_of(aid) if c.kind != "stance"]
        if not claims:
            continue
        texts[aid] = article_text(aid) or ""
        stored = passages_of(aid)
        for c in claims:
            p = _passage_for(c, stored)
            if p is None:
                continue
            # The passage and the headline tell what a claim is about ("the city" in a story on Pokrovsk).
            verdict = judge(asked.proposition, c, texts[aid][c.start : c.end], f"{p.title}\n{p.text}")
            if verdict:
                # Among equally fitting claims, the one that says little else ranks first.
                stance, score = verdict
                judged.append(_Judged(c, p, stance, score + 0.25 * coverage(content_terms(c.content), asked_terms)))
    return judged


def _best_per_speaker(judged: list[_Judged], stance: str, limit: int, order: dict[str, int]) -> list[_Judged]:
    """The best claim of each (article, speaker) taking `stance`, best first (then article order, then
    position), at most `limit`."""
    best: dict[tuple[str, str], _Judged] = {}
    for j in judged:
        if j.stance == stance:
            key = (j.article_id, j.claim.speaker)
            if key not in best or j.score > best[key].score:
                best[key] = j
    ranked = sorted(best.values(), key=lambda j: (-j.score, order[j.article_id], j.claim.start))
    return ranked[:limit]


def _claims_text(
    asked: WhoQuestion, supports: list[_Judged], counter: list[_Judged], texts: dict[str, str]
) -> tuple[str, list[Citation], list[Claim]]:
    """The answer's text (a header per side, then outlet, date and one line per claim), its citations
    numbered in that order, and the claims listed."""
    citations: list[Citation] = []
    listed: list[Claim] = []
    lines: list[str] = []
    asked_line = f"Who {asked.cue.lower()} {asked.proposition}:" if asked.proposition else ""
    groups = [("supports", supports), ("counter", counter)]
    headers = {"supports": asked_line or "Claimed by:", "counter": "The other side (denials and counter-claims):"}
    if asked.wants_denials:  # "who denied it?": the denials are the answer, the claim they deny follows
        groups.reverse()
        headers = {"counter": asked_line or "Denied by:", "supports": "The claim they dispute, made by:"}
    if asked.wants_denials and not counter:
        lines.append("No denial or counter-claim was found in the retrieved articles.")
    for stance, group in groups:
        if not group:
            continue
        lines.append(headers[stance])
        for outlet, items in _by_outlet(group):
            first = items[0].passage
            lines.append(f"{outlet}" + (f", {spoken_date(first.published)}" if first.published else "") + ":")
            for j in items:
                citation = _claim_citation(j, len(citations) + 1, texts[j.article_id])
                citations.append(citation)
                listed.append(as_claim(j.claim, citation, stance))
                lines.append(_entry(j.claim, citation.n))
    return "\n".join(lines), citations, listed


def _by_outlet(group: list[_Judged]) -> list[tuple[str, list[_Judged]]]:
    """Claims grouped under their outlet's name (shown shortened past 60 characters), in order."""
    by_outlet: dict[str, list[_Judged]] = {}
    for j in group:
        by_outlet.setdefault(j.passage.source or j.passage.title or j.passage.path, []).append(j)
    return [(_short(outlet), items) for outlet, items in by_outlet.items()]


def _short(outlet: str) -> str:
    return outlet[:57].rsplit(" ", 1)[0] + "…" if len(outlet) > 60 else outlet


def _claim_citation(j: _Judged, n: int, text: str) -> Citation:
    """Citation `n` quoting the claim, clipped to its passage."""
    p = j.passage
    start, end = max(j.claim.start, p.start), min(j.claim.end, p.end)
    return Citation(n=n, passage=p, quote=text[start:end], start=start, end=end)


def claims_behind(citations: list[Citation], claims_of: Callable[[str], list[ExtractedClaim]]) -> list[Claim]:
    """The extracted claims an ordinary answer quotes: who said each cited sentence, when known."""
    return [
        as_claim(x, c)
        for c in citations
        for x in claims_of(c.passage.article_id)
        if x.kind != "stance" and x.content_start < c.end and c.start < x.content_end
    ]


def as_claim(x: ExtractedClaim, citation: Citation, stance: str = "") -> Claim:
    """An extracted claim as the Answer carries it, cited by `citation`."""
    return Claim(
        speaker=x.speaker,
        content=x.content,
        citation=citation,
        cue=x.cue,
        speaker_role=x.speaker_role,
        date=x.date,
        stance=stance,
    )
