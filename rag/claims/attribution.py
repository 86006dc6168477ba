"""Who said what: attribution claims extracted from article text by rules.

A claim is (speaker, role, cue, content, date) with exact character spans in the article. Handled:
- indirect speech: "Igor Mosiychuk claimed on November 4 that Ukrainian troops had lost control";
- direct speech before or after the cue: '"That's nonsense," Hetman added.' / 'He said: "We hold."',
  quotations spanning several sentences included;
- inverted order: "..., said Trump." / "Pokrovsk is surrounded, the governor said.";
- "according to X", participles ("..., adding that ..."), "X: ..." headlines;
- pronoun speakers ("he added") resolved to the nearest named speaker before them, and surnames
  ("Hetman added") to the full name used earlier ("Ukrainian military expert Oleksiy Hetman").

Why rules and not a parser: spaCy's official English models are not published on PyPI (only
unofficial re-uploads are), nothing may be downloaded at run time, and articles come in several
languages. The rules take 20 to 50 ms per article, a small part of ingest (embedding takes longer).
Measured on PolNeAR (see docs/attribution.md and `rag eval --sets polnear`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

from rag.text.sentences import Span, split_sentences

# Shortest content kept, in characters ("to comment" is a claim; "it" is not).
_MIN_CONTENT = 6
# Characters before a cue searched for its speaker.
LEFT_WINDOW = 300
# Longest quotation looked for (news quotes run to a paragraph or two).
MAX_QUOTE_CHARS = 3000
# Longer "sentences" (lists, text without full stops) are cut in pieces this long.
MAX_SENTENCE_CHARS = 1500
# Bump when the rules change: stored claims are re-extracted.
EXTRACTOR_VERSION = "4"


@dataclass(frozen=True)
class ExtractedClaim:
    """One attribution in an article; offsets are into the article text."""

    speaker: str  # resolved: full name for a surname or pronoun when known, else the mention
    speaker_mention: str  # the words in the text ("he", "Hetman"); "" when implied ("..., adding that")
    speaker_role: str
    cue: str
    content: str
    date: str | None
    kind: str  # "direct" (quoted), "indirect", "according to", "colon"
    denial: bool  # the cue denies or rejects ("denied", "dismissed")
    speaker_start: int
    speaker_end: int
    cue_start: int
    cue_end: int
    content_start: int
    content_end: int
    start: int  # the sentence(s) holding the claim: what a citation quotes
    end: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ExtractedClaim:
        return cls(**d)


# --- cue words ------------------------------------------------------------------------------------
_IRREGULAR = {
    "say": ["say", "says", "said", "saying"],
    "tell": ["tell", "tells", "told", "telling"],
    "write": ["write", "writes", "wrote", "written", "writing"],
    "think": ["think", "thinks", "thought", "thinking"],
    "find": ["find", "finds", "found", "finding"],
    "show": ["show", "shows", "showed", "shown", "showing"],
    "hold": ["holds", "held"],
    "learn": ["learned", "learnt", "has learned"],
    "put": ["put it"],
    "know": ["know", "knows", "knew"],
    "feel": ["feel", "feels", "felt"],
    "see": ["see", "sees", "saw"],
    "hear": ["hear", "hears", "heard"],
    "point to": ["point to", "points to", "pointed to", "pointing to"],
    "speak of": ["spoke of", "speaks of", "speak of"],
}
# Lemmas whose forms are regular (s / ed / ing, with the usual spelling changes).
_REGULAR = [
    "claim",
    "state",
    "add",
    "note",
    "announce",
    "report",
    "argue",
    "insist",
    "warn",
    "explain",
    "confirm",
    "deny",
    "reject",
    "dismiss",
    "acknowledge",
    "admit",
    "accuse",
    "describe",
    "suggest",
    "predict",
    "promise",
    "vow",
    "pledge",
    "believe",
    "reveal",
    "indicate",
    "estimate",
    "assert",
    "allege",
    "contend",
    "maintain",
    "declare",
    "tweet",
    "post",
    "reply",
    "respond",
    "ask",
    "question",
    "recall",
    "agree",
    "complain",
    "criticize",
    "criticise",
    "praise",
    "blast",
    "slam",
    "attack",
    "urge",
    "demand",
    "propose",
    "stress",
    "emphasize",
    "emphasise",
    "conclude",
    "concede",
    "observe",
    "comment",
    "remark",
    "testify",
    "worry",
    "fear",
    "hope",
    "want",
    "plan",
    "expect",
    "doubt",
    "echo",
    "mention",
    "cite",
    "boast",
    "joke",
    "charge",
    "counter",
    "retort",
    "speculate",
    "hint",
    "imply",
    "recount",
    "tout",
    "defend",
    "dispute",
    "refute",
    "repeat",
    "reiterate",
    "caution",
    "lament",
    "assure",
    "advise",
    "confess",
    "brag",
    "call",
    "inform",
    "blame",
    "threaten",
    "oppose",
    "support",
    "decline",
    "signal",
    "recommend",
    "celebrate",
    "applaud",
    "condemn",
    "denounce",
    "decry",
    "mock",
    "ridicule",
    "rebut",
    "continue",
    "decide",
    "offer",
    "discuss",
    "refuse",
    "liken",
    "intend",
    "prefer",
    "welcome",
    "endorse",
    "consider",
    "regard",
    "view",
    "recognize",
    "realize",
    "suspect",
    "wonder",
    "project",
    "envision",
    "favor",
    "grill",
    "press",
    "lambaste",
    "request",
    "pitch",
    "outline",
    "detail",
    "highlight",
    "underscore",
    "assess",
    "label",
    "dub",
    "characterize",
]
# Cues that can follow their speaker ('"...," said Trump') or be coordinated ("... and said that").
_SPEECH = {
    "say",
    "add",
    "write",
    "tell",
    "ask",
    "reply",
    "respond",
    "continue",
    "note",
    "explain",
    "declare",
    "insist",
    "argue",
    "claim",
    "warn",
    "tweet",
    "state",
    "announce",
    "conclude",
    "recall",
    "comment",
    "predict",
    "acknowledge",
    "admit",
    "deny",
    "report",
    "confirm",
    "suggest",
    "observe",
    "remark",
}
_DENIAL = {"deny", "reject", "dismiss", "refute", "dispute", "rebut"}
# Cues that open a participle clause continuing the sentence's speaker: "..., adding that ...".
_PARTICIPLES = {"adding", "saying", "noting", "arguing", "claiming", "insisting", "warning", "explaining",
                "stating", "telling", "writing", "suggesting", "citing", "calling", "asking", "promising",
                "accusing", "describing", "stressing", "emphasizing", "predicting", "acknowledging",
                "vowing", "pledging", "urging", "denying", "dismissing", "rejecting", "declaring"}  # fmt: skip


def _forms(lemma: str) -> list[str]:
    if lemma.endswith("e"):
        return [lemma, lemma + "s", lemma + "d", lemma[:-1] + "ing"]
    if lemma.endswith("y") and lemma[-2] not in "aeiou":
        return [lemma, lemma[:-1] + "ies", lemma[:-1] + "ied", lemma + "ing"]
    if lemma.endswith(("sh", "ch", "ss", "x")) or lemma in ("echo",):
        return [lemma, lemma + "es", lemma + "ed", lemma + "ing"]
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", lemma) or lemma in ("slam", "plan"):
        return [lemma, lemma + "s", lemma + lemma[-1] + "ed", lemma + lemma[-1] + "ing"]
    return [lemma, lemma + "s", lemma + "ed", lemma + "ing"]


_LEMMA_OF: dict[str, str] = {}
for _lemma, _fs in _IRREGULAR.items():
    for _f in _fs:
        _LEMMA_OF[_f] = _lemma
for _lemma in _REGULAR:
    for _f in _forms(_lemma):
        _LEMMA_OF.setdefault(_f, _lemma)
_LEMMA_OF["put it"] = "say"
# Auxiliaries and adverbs that sit between a speaker and the cue ("has also said").
_AUX_WORDS = {"has", "have", "had", "will", "would", "could", "may", "might", "also", "later", "then",
              "previously", "repeatedly", "publicly", "reportedly", "earlier", "once", "again", "first",
              "long", "since", "is", "are", "was", "were", "been", "not", "n't", "never", "already"}  # fmt: skip
_AUX = r"(?:(?:" + "|".join(sorted(_AUX_WORDS, key=len, reverse=True)) + r")\s+)*"
_CUE = re.compile(
    r"(?<![\w’'-])(" + "|".join(sorted((re.escape(f) for f in _LEMMA_OF), key=len, reverse=True)) + r")(?![\w’'-])",
    re.IGNORECASE,
)
# Any past-tense or present verb opening a "that" clause is a cue too ("ruled that", "acknowledges that").
_THAT_VERB = re.compile(r"(?<![\w’'-])([a-z]{3,}(?:ed|es|s))(?=\s+that\s)")
_ACCORDING = re.compile(r"\b(according to|citing|per)\s+", re.IGNORECASE)

# --- speaker phrases ------------------------------------------------------------------------------
_PRONOUNS = {"he", "she", "they", "i", "we"}
_DETERMINERS = {"the", "a", "an", "some", "many", "most", "several", "other", "two", "three", "few", "both",
                "one", "another", "his", "her", "their", "its", "our", "senior", "top", "all"}  # fmt: skip
# Words that cannot end a speaker phrase or sit inside one (the phrase would be a clause, not a subject).
_NOT_IN_SPEAKER = {"that", "which", "what", "it", "this", "there", "to", "of", "in", "on", "for", "with", "by",
                   "from", "as", "at", "and", "or", "but", "if", "than", "is", "are", "was", "were", "be",
                   "been", "not", "no", "who", "when", "where", "how", "why", "you", "me", "us", "him",
                   "them", "these", "those", "has", "have", "had", "do", "does", "did", "will", "would",
                   "can", "could", "should", "may", "might", "must", "so", "about", "into", "after",
                   "before", "over", "under", "because", "while", "once", "just", "only", "then",
                   "also", "even", "still", "here", "now", "today", "yesterday", "please"}  # fmt: skip
_POSSESSIVE_ADJ = {"her", "his", "their", "its", "our", "recent", "new", "latest", "previous", "earlier", "such"}
_IN_SPEAKER_OK = {"of", "for", "and", "at", "the", "on", "to", "in", "by"}  # inside a name: "Secretary of State ..."
_CLAUSE_WORDS = {"and", "but", "while", "as", "because", "although", "though", "since", "when", "where",
                 "after", "before", "if", "so", "that", "which", "who", "whom", "whose", "what", "than",
                 "whereas", "until", "unless", "once", "yet", "or", "nor", "then", "said", "says"}  # fmt: skip
_TITLES = {"president", "minister", "prime", "secretary", "senator", "sen", "rep", "representative", "gov",
           "governor", "general", "gen", "mayor", "chancellor", "commander", "colonel", "col", "judge",
           "director", "chairman", "chairwoman", "chair", "speaker", "ambassador", "spokesman",
           "spokeswoman", "spokesperson", "chief", "head", "leader", "adviser", "advisor", "analyst",
           "expert", "official", "officer", "deputy", "candidate", "nominee", "founder", "ceo", "editor",
           "correspondent", "reporter", "professor", "lt", "sgt", "captain", "capt",
           "lieutenant", "major", "admiral", "adm", "vice", "attorney", "lawmaker", "member", "soldier",
           "commentator", "blogger", "economist", "researcher", "strategist", "pollster", "aide",
           "manager", "chairperson", "parliamentarian", "mp", "people's", "gov.", "sen.",
           "rep.", "gen.", "col.", "lt."}  # fmt: skip
_HONORIFICS = {"mr", "mrs", "ms", "dr", "mr.", "mrs.", "ms.", "dr."}

_WORD = re.compile(r"[^\s,;:()\[\]\"“”‘’«»—–]+")


def _words(text: str, offset: int = 0) -> list[tuple[str, int, int]]:
    return [(m.group(0).strip(".'’"), offset + m.start(), offset + m.end()) for m in _WORD.finditer(text)]


def _capitalised(word: str) -> bool:
    return word[:1].isupper() or (word[:1].isdigit() and len(word) > 1 and word[1:2].isupper())


_TIME_PREPOSITIONS = {"on", "in", "at", "during", "via", "through", "last", "this", "earlier", "late"}
_WHEN_WORDS = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march",
    "april", "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "telegram", "twitter", "x", "facebook",
    "instagram", "tv", "television", "radio", "morning", "afternoon", "evening", "night", "week", "month", "year",
    "a", "an", "his", "her", "their", "its", "an interview", "the", "wednesday's", "monday's",
}  # fmt: skip


def _speaker_phrase(text: str, offset: int) -> tuple[str, int, int] | None:
    """The subject phrase that ends `text` (the words right before a cue), or None when those words
    are not a plausible speaker. Returns (phrase, start, end) in article offsets."""
    words = _words(text, offset)
    # Trailing auxiliaries and adverbs ("has also", "reportedly") belong to the verb.
    while words and (
        words[-1][0].lower() in _AUX_WORDS or (words[-1][0].lower().endswith("ly") and not _capitalised(words[-1][0]))
    ):
        words.pop()
    if not words:
        return None
    # Walk back from the end to the start of the phrase: stop at clause words.
    start = len(words)
    for i in range(len(words) - 1, -1, -1):
        w = words[i][0]
        lw = w.lower()
        if lw in _CLAUSE_WORDS and not (
            lw == "and"
            and i > 0
            and _capitalised(words[i - 1][0])
            and i + 1 < len(words)
            and _capitalised(words[i + 1][0])
        ):
            break
        start = i
        if len(words) - start >= 9 and not (
            i == 0 and text[: words[0][1] - offset].strip() == "" and len(words) <= 16 and _capitalised(words[0][0])
        ):
            # "In a March 2016 meeting with the editorial board of the Post Trump said": the name at the end.
            start = len(words)
            while start > 0 and _capitalised(words[start - 1][0]) and len(words) - start < 4:
                start -= 1
            break
    phrase = words[start:]
    # "Zelenskyy on Monday said", "Pushilin on Telegram wrote": the time or medium is not the speaker.
    for k in range(1, len(phrase) - 1):
        if phrase[k][0].lower() in _TIME_PREPOSITIONS and phrase[k + 1][0].lower().strip(".") in _WHEN_WORDS:
            phrase = phrase[:k]
            break
    if not phrase:
        return None
    whole_subject = len(phrase) >= 9
    first, last = phrase[0][0], phrase[-1][0]
    lf, ll = first.lower(), last.lower()
    if (ll in _NOT_IN_SPEAKER and ll not in _PRONOUNS) or ll in _DETERMINERS or ll in _POSSESSIVE_ADJ:
        return None
    if not _capitalised(last) and ll.endswith("ed"):
        return None  # "Ivanova expressed hope": a verb, not a speaker
    if not whole_subject and any(w.lower() in _NOT_IN_SPEAKER - _IN_SPEAKER_OK for w, _, _ in phrase[1:]):
        return None
    if len(phrase) == 1 and lf in _PRONOUNS:
        pass
    elif not (
        _capitalised(first)
        or lf in _DETERMINERS
        or lf in _TITLES
        or len(phrase) <= 3
        or (len(phrase) <= 6 and (ll.endswith("s") or ll in _TITLES))  # "elected officials from both parties"
    ):
        return None
    if lf in _NOT_IN_SPEAKER and lf not in _PRONOUNS:
        return None
    return text[phrase[0][1] - offset : phrase[-1][2] - offset], phrase[0][1], phrase[-1][2]


_NOT_SPEAKER_LABELS = {
    "update",
    "note",
    "editor's note",
    "watch",
    "read more",
    "photo",
    "related",
    "source",
    "sources",
    "video",
    "advertisement",
    "correction",
    "clarification",
    "see also",
    "also",
}


_PHRASE_WORD = r"[\w.'’/&-]++"
_STOP = r"(?:on|in|at|during|to|after|before|who|when|that|as|while|last|this|earlier|told|from|via|through)"


def _following_phrase(
    text: str, offset: int, max_words: int = 8, any_case: bool = False
) -> tuple[str, int, int] | None:
    """The speaker phrase that starts `text` ("said [Donald Trump], the nominee."): up to the first
    comma, full stop or clause word."""
    # Whole words only (possessive: no backtracking inside a word), and a stop word ends the phrase:
    # "said Donald Trump on Monday" names Donald Trump.
    m = re.match(
        r"\s*((?:(?:Mr|Mrs|Ms|Dr|Sen|Rep|Gov|Gen|Lt|Col|Prof|St)\.\s)?"
        + _PHRASE_WORD
        + r"(?:\s+(?!"
        + _STOP
        + r"\b)"
        + _PHRASE_WORD
        + r"){0,"
        + str(max_words - 1)
        + r"})(?=\s*[,.;:!?\"”’()—–]|\s+"
        + _STOP
        + r"\b|\s*$)",
        text,
    )
    if not m or not m.group(1).strip():
        return None
    phrase = m.group(1).strip().rstrip(".")
    words = phrase.split()
    if not words:
        return None
    if not (any_case or any(_capitalised(w) for w in words[:3]) or words[0].lower() in _DETERMINERS | _PRONOUNS):
        return None
    if any(w.lower() in _NOT_IN_SPEAKER - _IN_SPEAKER_OK for w in words):
        return None
    start = offset + m.start(1)
    return phrase, start, start + len(phrase)


_BODIES = {"staff", "ministry", "office", "department", "command", "committee", "council", "service",
           "administration", "agency", "court", "party", "army", "forces", "police", "government", "campaign",
           "commission", "secretariat", "bureau", "directorate", "headquarters", "assembly", "parliament"}  # fmt: skip


def split_role(phrase: str) -> tuple[str, str]:
    """'Ukrainian military expert Oleksiy Hetman' -> ('Oleksiy Hetman', 'Ukrainian military expert').
    The name is the run of capitalised words after the last title or lower-case word."""
    words = phrase.split()
    if len(words) > 1 and words[0] in ("The", "the"):
        words = words[1:]  # "The Russian Defense Ministry" is the Russian Defense Ministry
    cut = 0
    for i, w in enumerate(words):
        lw = w.lower().strip(",")
        if lw in _TITLES or (not _capitalised(w) and lw not in _HONORIFICS):
            cut = i + 1
    if cut > 1 and words[cut - 1].lower() in ("of", "for", "at", "in", "to"):
        # "People's Deputy of Ukraine Maryana Bezugla": the place belongs to the title; with no
        # person's name after it, it is an organisation ("the Russian Ministry of Defense").
        if len(words) - cut < 3:
            return " ".join(words), ""
        cut = len(words) - 2
    if cut and len(words) - cut == 1 and words[-1].lower() in _BODIES:
        return " ".join(words), ""  # "Ukraine's General Staff" is a body, not a general named Staff
    # Honorifics stay with the name; "Mr. Obama" keeps its "Mr.".
    name, role = " ".join(words[cut:]), " ".join(words[:cut])
    if not name:
        return phrase, ""
    if role.lower() in _DETERMINERS:
        role = ""
    return name, role


def _appositive(text: str) -> str:
    """', a former member of the Verkhovna Rada,' right after a name -> the role, else ''."""
    m = re.match(r"\s*,\s+((?:an?|the|\w+(?:'s|’s))\s[^,;:\"“”]{2,90}?|[a-z][^,;:\"“”]{2,80}?),", text)
    if not m:
        return ""
    role = m.group(1).strip()
    if re.search(r"\b(said|says|told|who|which|that|has|have|had|is|are|was|were|will|been)\b", role):
        return ""
    return role


# --- quotations -----------------------------------------------------------------------------------
_OPEN = {"“": "”", '"': '"', "«": "»", "‘": "’", "'": "'"}


def quotation_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the text inside quotation marks (marks excluded), within one paragraph each. Straight
    quotes open after a space or line start; ’ and ' close only before a space or punctuation, so
    apostrophes ("Ukraine's", "We’ve") never close a quotation."""
    spans: list[tuple[int, int]] = []
    # Two apostrophes as quotation marks (''It will be first-order business,'' he said): paired first,
    # then blanked so the single-mark pass does not see them.
    doubled = [m.start() for m in re.finditer(r"''", text)]
    for a, b in zip(doubled[::2], doubled[1::2], strict=False):
        if "\n\n" not in text[a:b]:
            spans.append((a + 2, b))
    if doubled:
        text = text.replace("''", "  ")
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _OPEN and (i == 0 or not text[i - 1].isalnum()) and i + 1 < n and not text[i + 1].isspace():
            close = _OPEN[c]
            j = i + 1
            limit = min(n, i + MAX_QUOTE_CHARS)  # an unclosed mark does not scan the rest of the article
            while j < limit:
                d = text[j]
                if d == "\n" and text[j : j + 2] == "\n\n":
                    break
                if (
                    d == close
                    and (close in '”»"' or j + 1 == n or not text[j + 1].isalnum())
                    and (close not in "'’" or not text[j - 1].isspace())
                ):
                    break
                j += 1
            if j < limit and text[j] == close and j - i > 2:
                spans.append((i + 1, j))
                i = j + 1
                continue
        i += 1
    return sorted(spans)


# --- dates ----------------------------------------------------------------------------------------
_MONTHS = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Mar\.|Apr\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)
_DAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_DATE = re.compile(
    rf"\b(?:on\s+)?((?:{_MONTHS}\s+\d{{1,2}}(?:,\s+\d{{4}})?)|(?:\d{{1,2}}\s+{_MONTHS}(?:\s+\d{{4}})?)|"
    rf"(?:(?:earlier|late|last|on|this)\s+)?{_DAYS}(?:\s+(?:morning|afternoon|evening|night))?|"
    r"yesterday|last\s+(?:week|month|year)|earlier\s+this\s+(?:week|month|year))\b"
)


def _date_in(text: str) -> str | None:
    m = _DATE.search(text)
    return m.group(1) if m else None


# --- extraction -----------------------------------------------------------------------------------
def _sentences(text: str) -> list[Span]:
    """Sentence spans, where a 'sentence' starting in lower case is glued to the one before: the
    splitter cut after an abbreviation it does not know ("Graham (R-S.C.) told ...")."""
    out: list[Span] = []
    for span in split_sentences(text):
        if out and text[span.start : span.start + 1].islower() and "\n" not in text[out[-1].end : span.start]:
            out[-1] = Span(out[-1].start, span.end)
        else:
            out.append(span)
    return [piece for span in out for piece in _bounded(text, span)]


def _bounded(text: str, span: Span) -> list[Span]:
    """A 'sentence' longer than MAX_SENTENCE_CHARS (a list, a page without full stops) in pieces cut at
    a comma or space, so the work per cue stays bounded."""
    pieces = []
    start = span.start
    while span.end - start > MAX_SENTENCE_CHARS:
        window = text[start : start + MAX_SENTENCE_CHARS]
        cut = max(window.rfind(", "), window.rfind(" "))
        end = start + (cut + 1 if cut > MAX_SENTENCE_CHARS // 2 else MAX_SENTENCE_CHARS)
        pieces.append(Span(start, end))
        start = end
    pieces.append(Span(start, span.end))
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past spaces, punctuation and a leading 'that'."""
    while start < end and (text[start].isspace() or text[start] in ",:;—–-"):
        start += 1
    m = re.match(r"that\s+", text[start:end])
    if m:
        start += m.end()
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:—–-."):
        end -= 1
    # A quotation cut at its closing comma ('as "difficult,"') gets its closing mark back.
    if sum(text[start:end].count(q) for q in '"“') % 2:
        m = re.match(r"[,.]?[\"”]", text[end : end + 2])
        if m:
            end += m.end()
    return start, end


class _Article:
    def __init__(self, text: str) -> None:
        self.text = text
        self.sentences = _sentences(text)
        self.quotes = quotation_spans(text)
        self._starts = [s.start for s in self.sentences]
        self._quote_starts = [q[0] for q in self.quotes]
        self.antecedents: dict[int, str] = {}  # start of a relative pronoun speaker -> what it refers to

    def sentence_index(self, pos: int) -> int:
        """The sentence holding `pos` (or the last before it)."""
        return max(0, min(bisect_right(self._starts, pos) - 1, len(self.sentences) - 1))

    def in_quote(self, pos: int) -> bool:
        i = bisect_right(self._quote_starts, pos) - 1
        return i >= 0 and self.quotes[i][0] <= pos < self.quotes[i][1]

    def quote_ending_near(self, pos: int, not_before: int = 0) -> tuple[int, int] | None:
        """A quotation closing just before `pos` (only punctuation and spaces between), and after
        `not_before` (the start of the sentence holding `pos`)."""
        for qs, qe in reversed(self.quotes):
            if qe <= pos:
                # '"How many times ...?" Clinton said.': the splitter ends a sentence at ?" or !".
                ends_sentence = self.text[qe - 1 : qe] in "?!" and qe + 3 >= not_before
                if qe <= not_before and not ends_sentence:
                    return None
                gap = self.text[qe + 1 : pos]
                if len(gap) <= 3 and not re.search(r"\w", gap):
                    return qs, qe
                return None
        return None

    def quote_starting_near(self, pos: int, not_after: int | None = None) -> tuple[int, int] | None:
        """A quotation opening just after `pos`, and before `not_after` (the end of its sentence)."""
        for qs, qe in self.quotes:
            if qs >= pos:
                if not_after is not None and qs >= not_after:
                    return None
                gap = self.text[pos : qs - 1]
                if len(gap) <= 3 and not re.search(r"\w", gap):
                    return qs, qe
                return None
        return None


def _content_after(art: _Article, cue_end: int, sentence_end: int, lemma: str) -> tuple[int, int]:
    text = art.text
    q = art.quote_starting_near(cue_end, sentence_end)
    if q:
        return q
    rest = text[cue_end:sentence_end]
    # "told RFE/RL that ...": skip the addressee up to "that".
    if lemma in ("tell", "inform", "assure", "warn", "urge", "ask", "advise", "remind"):
        m = re.match(r"[^,.;]{0,60}?\bthat\b", rest)
        if m:
            return _trim(text, cue_end + m.end(), sentence_end)
    # "said on Monday that ...", "said in a statement that ..."
    m = re.match(r"\s*(?:(?:on|in|at|during|earlier|late|last|this|to|after)\b[^,.;\"“]{0,50}?\s)?that\s", rest)
    if m:
        return _trim(text, cue_end + m.end(), sentence_end)
    # Stop at a participle or a second attribution: "..., adding that" / "..., he said".
    cut = re.search(
        r"(?:,[\"”’']?|[\"”’'],)\s+(?:(?:" + "|".join(_PARTICIPLES) + r")\b|(?:he|she|they)\s+(?:said|added)\b)", rest
    )
    end = cue_end + cut.start() if cut else sentence_end
    return _trim(text, cue_end, end)


def _resolve(mention: str, history: list[tuple[str, str]]) -> tuple[str, str]:
    """(speaker, role) for a mention: a pronoun takes the nearest named speaker before it; a single word
    (surname, first name) the nearest earlier speaker whose name holds it."""
    lm = mention.lower()
    if lm in _PRONOUNS:
        # "he"/"she" take the nearest named person; "they" the nearest speaker of any kind ("one
        # defense analyst ... they requested anonymity").
        for name, role in reversed(history):
            if name.lower() not in _PRONOUNS and (lm == "they" or _capitalised(name)):
                return name, role
        return mention, ""
    bare = [w for w in mention.split() if w.lower().strip(".") not in _HONORIFICS]
    if len(bare) == 1:
        for name, role in reversed(history):
            if bare[0] in name.split():
                return name, role
    return mention, ""


# (mention, its start, its end, cue, cue start, cue end, content start, content end, kind)
_Raw = tuple[str, int, int, str, int, int, int, int, str]


def _claims_in(art: _Article) -> Iterator[_Raw]:
    """Raw attributions: (mention, m_start, m_end, cue, c_start, c_end, content_start, content_end, kind)."""
    for sent in art.sentences:
        yield from _according_to(art, sent)
        yield from _labelled(art, sent)
        yield from _signed_quotes(art, sent)
        yield from _cued(art, sent)


def _according_to(art: _Article, sent: Span) -> Iterator[_Raw]:
    """ "according to X" / "per X": the content is the longer side of the sentence around it."""
    text, s_text = art.text, art.text[sent.start : sent.end]
    for m in _ACCORDING.finditer(s_text):
        if m.group(1).lower() == "per" and not re.match(r"[A-Z]", s_text[m.end() :]):
            continue
        phrase = _following_phrase(s_text[m.end() :], sent.start + m.end(), max_words=20, any_case=True)
        if not phrase:
            continue
        cue_s, cue_e = sent.start + m.start(1), sent.start + m.end(1)
        before = _trim(text, sent.start, cue_s)
        following = _trim(text, phrase[2], sent.end)
        cs, ce = before if before[1] - before[0] >= following[1] - following[0] else following
        if ce - cs >= _MIN_CONTENT:
            yield phrase[0], phrase[1], phrase[2], m.group(1), cue_s, cue_e, cs, ce, "according to"


def _labelled(art: _Article, sent: Span) -> Iterator[_Raw]:
    """Headlines and transcripts: "Poll: Wealthy voters ...", "PENCE: Well, look, ...",
    "A lesson from Loretta Lynch: 'Be the voice ...'"."""
    text, s_text = art.text, art.text[sent.start : sent.end]
    m = re.match(
        r"[\"“]?\s*([A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3}|[A-Z][^:.!?\"“”]{2,60}?(?=:\s*[\"“‘']))"
        r"\s*:\s+(\S)",
        s_text,
    )
    if not m or m.group(1).lower() in _NOT_SPEAKER_LABELS or _CUE.search(m.group(1)):
        return
    label_s = sent.start + m.start(1)
    quoted = art.quote_starting_near(sent.start + m.end(1) + 1)
    if quoted:
        cs, ce = quoted
    else:
        # A transcript turn runs to the end of its paragraph.
        end = sent.end
        if m.group(1).isupper():
            para = text.find("\n", sent.end)
            end = len(text) if para < 0 else para
        cs, ce = _trim(text, sent.start + m.start(2), end)
    if ce - cs >= _MIN_CONTENT:
        colon = sent.start + m.end(1)
        yield m.group(1), label_s, label_s + len(m.group(1)), ":", colon, colon + 1, cs, ce, "colon"


def _signed_quotes(art: _Article, sent: Span) -> Iterator[_Raw]:
    """Reader quotes and embedded posts: '"...." ― Esther Tapia'."""
    s_text = art.text[sent.start : sent.end]
    for m in re.finditer(r"[”\"]\s*[―—]\s*([A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3})", s_text):
        end_quote = art.quote_ending_near(sent.start + m.start() + 1)
        if end_quote:
            name_s = sent.start + m.start(1)
            yield (m.group(1), name_s, name_s + len(m.group(1)), "―", name_s - 2, name_s - 1, *end_quote, "direct")


_Phrase = tuple[str, int, int]  # (words, start, end) of a speaker mention


@dataclass
class _Cue:
    """One speech or thinking verb of a sentence, with the words before it (at most LEFT_WINDOW
    characters: a speaker is never further away, and every search stays linear; parentheticals such
    as "Sen. Lindsey Graham (R-S.C.) told" blanked, offsets kept)."""

    sent: Span
    word: str
    lemma: str
    start: int
    end: int
    left: str
    left_start: int
    after: str  # the 24 characters after the cue


def _cues_of(art: _Article, sent: Span) -> Iterator[_Cue]:
    """The sentence's cue verbs in order, without those that report nothing: "continued" away from a
    quotation, or a cue word inside a quotation (quoted speech, not attribution)."""
    text, s_text = art.text, art.text[sent.start : sent.end]
    cues = {m.start(1): m for m in _CUE.finditer(s_text)}
    for m in _THAT_VERB.finditer(s_text):
        cues.setdefault(m.start(1), m)
    for _, m in sorted(cues.items()):
        cue = m.group(1)
        lemma = _LEMMA_OF.get(cue.lower(), "")
        cue_s, cue_e = sent.start + m.start(1), sent.start + m.end(1)
        if (
            lemma == "continue"
            and not re.match(r"\s*[:,]?\s*[\"“‘']", text[cue_e : cue_e + 4])
            and not re.search(r"[\"”’']\s*(?:\w+\s+){0,3}$", text[sent.start : cue_s])
        ):
            continue
        if art.in_quote(cue_s):
            continue
        left_start = max(sent.start, cue_s - LEFT_WINDOW)
        left = re.sub(r"\([^()]{0,40}\)", lambda p: " " * len(p.group(0)), text[left_start:cue_s])
        yield _Cue(sent, cue, lemma, cue_s, cue_e, left, left_start, text[cue_e : cue_e + 24])


def _cued(art: _Article, sent: Span) -> Iterator[_Raw]:
    """Claims around cue verbs: a participle continuing the last speaker, an inverted "..., said X",
    or a subject before the cue. The last speaker found carries over to the next cue."""
    last_speaker: _Phrase | None = None
    for c in _cues_of(art, sent):
        coordinated = re.search(r"\s(?:and|but)\s+" + _AUX + r"$", c.left) and c.lemma in _SPEECH
        if (c.word.lower() in _PARTICIPLES and re.search(r",\s*$", c.left)) or coordinated:
            yield from _continuing(art, c, last_speaker)
            continue
        inverted = _inverted(art, c)
        if inverted is not None:
            raw, speaker = inverted
            if raw is not None:
                yield raw
                last_speaker = speaker
            continue
        raws = list(_subject_before(art, c))
        if raws:
            yield from raws
            last_speaker = (raws[0][0], raws[0][1], raws[0][2])


def _continuing(art: _Article, c: _Cue, last_speaker: _Phrase | None) -> Iterator[_Raw]:
    """Participle continuing the sentence's speaker: "..., adding that ..."."""
    speaker = last_speaker
    if speaker is None:
        lead = re.split(r"\s+(?:has|have|had|is|was|were|are|and|but)\b|\s+[a-z]+(?:ed|s)\b", c.left)[0]
        last_comma = lead.rfind(",")  # "Meanwhile, the Russian Defense Ministry"
        speaker = _speaker_phrase(lead[last_comma + 1 :], c.left_start + last_comma + 1)
    if speaker:
        cs, ce = _content_after(art, c.end, c.sent.end, c.lemma)
        if ce - cs >= _MIN_CONTENT:
            yield speaker[0], speaker[1], speaker[2], c.word, c.start, c.end, cs, ce, "indirect"


def _inverted(art: _Article, c: _Cue) -> tuple[_Raw | None, _Phrase] | None:
    """'"...," said Trump.' / '"...," Trump said.' / '..., said the governor.': None when the cue is not
    inverted; else the claim (None when its content is too short) and its speaker."""
    text, left = art.text, c.left
    stripped_left = re.sub(_AUX + r"$", "", left) if left.strip() else left
    inverted = not stripped_left.strip() or re.search(r"[,\"”’']\s*$", stripped_left)
    if not inverted or _name_with_appositive(left, c.left_start):
        return None
    phrase = _following_phrase(text[c.end : c.sent.end], c.end)
    if not phrase or c.lemma not in _SPEECH:
        return None
    qb = art.quote_ending_near(c.start) or art.quote_ending_near(len(text[: c.start].rstrip(" ,")))
    if qb:
        (cs, ce), kind = qb, "direct"
    else:
        (cs, ce), kind = _trim(text, c.sent.start, c.start), "indirect"
    if ce - cs < _MIN_CONTENT:
        return None, phrase
    return (phrase[0], phrase[1], phrase[2], c.word, c.start, c.end, cs, ce, kind), phrase


def _subject(art: _Article, c: _Cue) -> _Phrase | None:
    """The speaker written before the cue: the noun phrase ending the words before it, "who" standing
    for the noun phrase before it, or "NAME, ROLE," / "ROLE, NAME,"."""
    left, left_start = c.left, c.left_start
    head = re.split(r"[,;:()\"“”«»—–]|['‘’](?=\s|$)|(?<=\s)['‘’]", left)
    tail = head[-1] if head else ""
    tail_start = left_start + len(left) - len(tail)
    phrase = _speaker_phrase(tail, tail_start)
    relative = re.search(r",?\s*\b(who|which|that)\s+" + _AUX + r"$", left)
    if phrase is None and relative:
        # "reports from former parliamentarian Igor Mosiychuk, who claimed ...": the mention is
        # "who" (as annotators mark it), the speaker the noun phrase it refers to.
        antecedent = _noun_phrase_before(left[: relative.start()], left_start)
        if antecedent:
            phrase = (relative.group(1), left_start + relative.start(1), left_start + relative.end(1))
            art.antecedents[phrase[1]] = antecedent[0]
    if phrase is None and not tail.strip():
        phrase = _name_with_appositive(left, left_start)
    if phrase is None:
        return None
    return art.text[phrase[1] : phrase[2]], phrase[1], phrase[2]  # the article's words, not the blanked


def _reports_nothing(c: _Cue) -> bool:
    """A subject + cue that is no claim: negated ("has not commented"), passive ("was declared an
    undesirable organization"), a gerund ("reporting from"), or a noun ("The claims come from ...")."""
    trailing = re.search(r"(?:^|\s)(" + _AUX + r")$", c.left)
    aux = (trailing.group(1) if trailing else "").lower().split()
    if any(w in ("not", "n't", "never") for w in aux):
        return True
    progressive = bool(set(aux) & {"is", "are", "was", "were", "been"})
    if "being" in aux or progressive != c.word.lower().endswith("ing"):
        return True
    return c.word.lower() in _NOUN_FORMS and bool(re.match(_NOT_A_VERB_NEXT, c.after))


def _subject_before(art: _Article, c: _Cue) -> Iterator[_Raw]:
    """A subject before the cue, and the content: a quotation closing right before the speaker
    ("'...,' she wrote") or opening after the cue, else the clause after (or before) it. A direct quote
    runs on through the quotations that continue it."""
    phrase = _subject(art, c)
    if phrase is None or _reports_nothing(c):
        return
    content = _subject_content(art, c, phrase)
    if content is None:
        return
    (cs, ce), kind, quote = content
    if (ce - cs < _MIN_CONTENT and kind != "direct") or ce <= cs:
        return
    yield phrase[0], phrase[1], phrase[2], c.word, c.start, c.end, cs, ce, kind
    if kind == "direct" and quote:
        for more in _continuations(art, c.sent, max(c.end, phrase[2])):
            yield phrase[0], phrase[1], phrase[2], c.word, c.start, c.end, *more, "direct"


def _subject_content(
    art: _Article, c: _Cue, phrase: _Phrase
) -> tuple[tuple[int, int], str, tuple[int, int] | None] | None:
    """((start, end), kind, the quotation before the speaker if that is the content) of a subject-cue
    claim; None when the cue turns out to be a noun at a clause end."""
    text, sent = art.text, c.sent
    quote = art.quote_ending_near(phrase[1], sent.start)
    if quote:
        return quote, "direct", quote
    opening = art.quote_starting_near(c.end, sent.end)
    if opening:
        return opening, "direct", None
    rest = text[c.end : sent.end]
    short_tail = re.fullmatch(r"(?:\s+(?!that\b)[\w.'’/-]+){0,6}\s*[.!?]?[\"”’']?\s*", rest)
    comma_before = re.search(r",\s*$", text[sent.start : phrase[1]]) is not None
    if re.match(r"\s*[,.;)]", c.after) or (short_tail and comma_before):
        # "Pokrovsk is surrounded, the governor said." : the clause before the speaker;
        # "Back in Virginia, Mr. Clarke said, he decided ...": the longer side.
        comma_after = c.after.lstrip().startswith(",")
        if c.lemma not in _SPEECH or not (comma_before or comma_after):
            return None  # a noun at a clause end ("former Soviet states,")
        cs, ce = _trim(text, sent.start, phrase[1])
        if comma_after:
            a_s, a_e = _trim(text, c.end, sent.end)
            if a_e - a_s > ce - cs:
                cs, ce = a_s, a_e
    else:
        cs, ce = _content_after(art, c.end, sent.end, c.lemma)
    return (cs, ce), "direct" if (cs, ce) == art.quote_starting_near(c.end, sent.end) else "indirect", None


def _name_with_appositive(left: str, offset: int) -> tuple[str, int, int] | None:
    """The speaker of "NAME, ROLE, said" or "ROLE, NAME, said" ("Mosiychuk, a former member of the
    Verkhovna Rada, accused"; "The state's campaign chairman, Phil Lovas, said"; "Quina Jones, 25, said")."""
    m = re.search(
        r"([^,;:\"“”-]{2,80}?)\s*(?:,|\s--?|\s—)\s+([^,;\"“”]{1,90}?)(?:,\s+[^,;\"“”]{1,90})?(?:,|\s--?|\s—)\s*"
        + _AUX
        + r"$",
        left,
    )
    if not m:
        return None
    first = _speaker_phrase(m.group(1), offset + m.start(1))
    second = m.group(2).strip()
    if not second or second.split()[0].lower() in _CLAUSE_WORDS - {"who", "whose", "which"}:
        return None  # "..., and the meeting deteriorated from there, said": a clause, not an appositive
    if re.fullmatch(r"(?:[A-Z][\w.'’-]*\s?){1,4}", second) and first is not None:
        start = offset + m.start(2) + (len(m.group(2)) - len(m.group(2).lstrip()))
        return second, start, start + len(second)
    if first is not None and _capitalised(first[0].split()[-1]):
        return first
    return None


# Cue forms that are also nouns ("the claims", "a report"): a verb does not come right after them.
_NOUN_FORMS = {f for lemma in ("claim", "report", "comment", "state", "demand", "hope", "note", "plan", "fear",
                               "charge", "doubt", "call", "attack", "support", "want", "question", "echo",
                               "post", "tweet", "promise", "warn", "estimate", "find", "show", "statement",
                               "concern", "blame", "pledge", "vow", "remark", "reply", "response", "praise")
               for f in (lemma, lemma + "s", lemma + "es")}  # fmt: skip
_NOT_A_VERB_NEXT = re.compile(
    r"\s+(?:has|have|had|is|are|was|were|come|came|comes|by|from|of|for|in|on|and|will|would|could|can|may|"
    r"might|should|made|were|about|against)\b"
)


def _continuations(art: _Article, sent: Span, after: int) -> list[tuple[int, int]]:
    """Quotations that continue one already attributed: the second half of a split quote
    ('"...," Mr. Obama said, "is that ..."') and following sentences that are nothing but a quotation
    ('"...," she said. "We have no context ..."'), up to the next attribution."""
    out = []
    second = art.quote_starting_near(after, sent.end)
    if second and second[0] < sent.end:
        out.append(second)
    i = art.sentence_index(sent.start) + 1
    while i < len(art.sentences) and len(out) < 4:
        nxt = art.sentences[i]
        q = art.quote_starting_near(nxt.start, nxt.end)
        if not q or q[0] > nxt.start + 1 or art.text[q[1] + 1 : nxt.end].strip(" .,!?”\"'’"):
            break
        out.append(q)
        i += 1
        if q[1] >= nxt.end:
            i = art.sentence_index(q[1]) + 1
    return out


def _noun_phrase_before(text: str, offset: int) -> tuple[str, int, int] | None:
    """The noun phrase ending `text`: its capitalised run plus up to four descriptor words before it
    ("former parliamentarian Igor Mosiychuk" out of "... reports from former parliamentarian Igor Mosiychuk")."""
    words = _words(text, offset)
    i = len(words)
    while i > 0 and _capitalised(words[i - 1][0]):
        i -= 1
    if i == len(words):
        # No name: "the study -- which notes that": a determiner and up to three words.
        tail = words[-4:]
        for k, w in enumerate(tail):
            if w[0].lower() in _DETERMINERS and all(x[0].lower() not in _NOT_IN_SPEAKER for x in tail[k + 1 :]):
                start, end = tail[k][1], tail[-1][2]
                return text[start - offset : end - offset], start, end
        return None
    j = i
    while j > 0 and i - j < 4 and words[j - 1][0].lower() not in _NOT_IN_SPEAKER | _CLAUSE_WORDS | {"reports"}:
        j -= 1
    start, end = words[j][1], words[-1][2]
    return text[start - offset : end - offset], start, end


_BE_HAVE = {"is", "was", "has", "does", "seems", "appears", "remains", "gets", "goes", "becomes", "comes",
            "needs", "makes", "takes", "gives", "puts", "uses", "runs", "helps", "tries", "lives", "works",
            "happens"}  # fmt: skip


def _stances(art: _Article, speakers: set[str], taken: set[tuple[int, int]]) -> Iterator[_Raw]:
    """Positions people take, for PolNeAR's broad sense of attribution: a known speaker of this article
    (or he / she) followed by a verb outside the cue list ("Trump refuses to make public his returns",
    "he blasted the American media"). Reported as kind "stance", which answers do not quote as claims."""
    if not speakers:
        return
    names = "|".join(sorted((re.escape(w) for w in speakers), key=len, reverse=True))
    pattern = re.compile(
        r"\b(" + names + r"|[Hh]e|[Ss]he)\s+(?:(?:has|have|had|also|openly|repeatedly|publicly|never|often|"
        r"again|long|since)\s+)*([a-z][a-z-]{2,}(?:s|ed))\b"
    )
    for sent in art.sentences:
        s_text = art.text[sent.start : sent.end]
        for m in pattern.finditer(s_text):
            verb = m.group(2)
            cue_s = sent.start + m.start(2)
            if (
                verb in _LEMMA_OF
                or verb in _BE_HAVE
                or verb.endswith("ss")
                or any(qs <= cue_s < qe for qs, qe in art.quotes)
            ):
                continue
            cs, ce = _content_after(art, sent.start + m.end(2), sent.end, "")
            if ce - cs < _MIN_CONTENT or (cs, ce) in taken:
                continue
            ms = sent.start + m.start(1)
            yield m.group(1), ms, ms + len(m.group(1)), verb, cue_s, cue_s + len(verb), cs, ce, "stance"


def _cut_at_next_speaker(claim: ExtractedClaim, starts: list[int], text: str) -> ExtractedClaim:
    """End an indirect claim where a clause with another attribution begins: "Ukraine vowed to launch a
    defensive operation, while Russian forces claimed to have encircled ..." is two claims."""
    if claim.kind not in ("indirect", "according to"):
        return claim
    for i in range(bisect_right(starts, claim.content_start), len(starts)):
        at = starts[i]
        if at >= claim.content_end:
            break
        lead = re.search(r"(?:,?\s+(?:while|as|but|whereas|and)|;)\s+$", text[max(claim.content_start, at - 30) : at])
        if lead:
            end = at - (len(text[max(claim.content_start, at - 30) : at]) - lead.start())
            if end - claim.content_start >= _MIN_CONTENT:
                return replace(claim, content=text[claim.content_start : end], content_end=end)
    return claim


def extract_claims(text: str, stances: bool = True) -> list[ExtractedClaim]:
    """Every attribution the rules find in an article's text, in order of appearance. `stances`: also
    positions taken without a speech verb (kind "stance")."""
    art = _Article(text)
    history: list[tuple[str, str]] = []
    roles: dict[str, str] = {}
    out: list[ExtractedClaim] = []
    seen: set[tuple[int, int, int]] = set()
    raw = list(_claims_in(art))
    if stances:
        # Surnames and one-word names of this article's speakers ("Trump", "Clarke"), not the first
        # words of names, which are often adjectives elsewhere ("European", "Democratic").
        known = {split_role(r[0])[0].split()[-1] for r in raw}
        known = {w for w in known if _capitalised(w) and len(w) > 2 and w.isalpha()}
        raw += list(_stances(art, known - {"The", "He", "She", "They", "It"}, {(r[6], r[7]) for r in raw}))
        raw.sort(key=lambda r: r[4])
    for mention, ms, me, cue, cs_, ce_, content_s, content_e, kind in raw:
        # The same words found twice for the same mention are one claim; for two mentions (a nested
        # "X said Y claimed ..."), the rules cannot tell which is right, so both are kept.
        if (content_s, content_e, ms) in seen:
            continue
        seen.add((content_s, content_e, ms))
        name, role = split_role(art.antecedents.get(ms, mention))
        bare_name = not role and len([w for w in name.split() if w.lower().strip(".") not in _HONORIFICS]) == 1
        role = role or _appositive(text[me : me + 120])
        if mention.lower() in _PRONOUNS or bare_name:
            resolved, known_role = _resolve(name, history)
            if resolved != name:
                name, role = resolved, role or known_role
        role = role or roles.get(name, "")
        if role and len(role) > len(roles.get(name, "")):
            roles[name] = role
        history.append((name, roles.get(name, role)))
        first = min(ms, cs_, content_s)
        last = max(me, ce_, content_e)
        s0 = art.sentences[art.sentence_index(first)].start if art.sentences else first
        s1 = art.sentences[art.sentence_index(max(first, last - 1))].end if art.sentences else last
        lemma = _LEMMA_OF.get(cue.lower(), "")
        out.append(
            ExtractedClaim(
                speaker=name,
                speaker_mention=mention,
                speaker_role=roles.get(name, role),
                cue=cue,
                content=text[content_s:content_e],
                date=_date_in(text[s0:s1]),
                kind=kind,
                denial=lemma in _DENIAL,
                speaker_start=ms,
                speaker_end=me,
                cue_start=cs_,
                cue_end=ce_,
                content_start=content_s,
                content_end=content_e,
                start=s0,
                end=max(s1, content_e),
            )
        )
    # Each speaker with the fullest role the article gives them anywhere.
    out = [replace(c, speaker_role=roles.get(c.speaker, c.speaker_role)) for c in out]
    starts = sorted(c.speaker_start for c in out)
    out = [_cut_at_next_speaker(c, starts, text) for c in out]
    out.sort(key=lambda c: (c.start, c.cue_start))
    return out
