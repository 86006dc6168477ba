"""Drop the page furniture a plain-text scrape keeps: menus, share bars, player residue, footers, bios.

The text is read as paragraphs (a line, or hard-wrapped lines that continue in lower case) in three
regions: the head before the story's first sentence, the body, and the tail after its last one.

- Anywhere: lines that are unmistakably web chrome ("Share", "16x9 Image", "0:00 0:01:52", "Advertisement
  - story continues below"), a paragraph repeated word for word, and short lines that `LineStats` saw in
  `min_repeats` or more other articles (a site's menu and footer).
- Head: runs of three or more short lines (a navigation menu), keeping a final headline.
- Tail: read back from the end while paragraphs look like footer (short lines, legal or newsletter
  notices, author and outlet bios); dropped when at least one of them is certainly not story.

Recall matters more than precision: outside the tail a sentence (8+ words) or anything with a quotation
mark is never dropped for looking odd, and the tail stops at the first paragraph that reads like the story.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.atomic import write_text_atomically

# --- repeated lines across articles -------------------------------------------------------------

MAX_COUNTED_CHARS = 200  # longer lines are prose: never counted, which also bounds the table's size
_HAS_WORD = re.compile(r"[^\W\d_]{3}")
_EDGE_MARKS = " \t•·*|»>-–—_.,:;!?()[]'\"“”‘’«»#~"  # bullets and punctuation around a line's words


def line_key(line: str) -> str:
    """A line as compared across articles: case, spacing, bullets and edge punctuation do not matter.
    '' for lines without a word of three letters ("9:05 p.m.", "1."): the same time or number in many
    articles is chance, not furniture."""
    text = " ".join(unicodedata.normalize("NFKC", line).casefold().split()).strip(_EDGE_MARKS)
    return text if _HAS_WORD.search(text) else ""


def _hash(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


@dataclass
class LineStats:
    """How many distinct articles contain each short line (stored as hashes, so memory stays small)."""

    counts: dict[str, int] = field(default_factory=dict)  # line hash -> articles containing it
    seen: set[str] = field(default_factory=set)  # hashes of observed texts: the same text counts once

    def observe(self, text: str) -> None:
        """Count the short lines of one article (each once, however often it repeats them)."""
        digest = hashlib.blake2b(text.encode(errors="replace"), digest_size=16).hexdigest()
        if digest in self.seen:
            return
        self.seen.add(digest)
        keys = {line_key(line) for line in text.splitlines() if len(line) < MAX_COUNTED_CHARS}
        for key in keys - {""}:
            h = _hash(key)
            self.counts[h] = self.counts.get(h, 0) + 1

    def count(self, line: str) -> int:
        """Articles seen with this line (0 for long lines, which are not counted)."""
        if len(line) >= MAX_COUNTED_CHARS:
            return 0
        key = line_key(line)
        return self.counts.get(_hash(key), 0) if key else 0

    def is_repeated(self, line: str, min_repeats: int = 3) -> bool:
        """True when `min_repeats` or more articles contain this line: site furniture, not one story."""
        return self.count(line) >= min_repeats

    def save(self, path: str | Path) -> None:
        """Write as JSON, atomically (a crash leaves the old file, never half a new one)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(target, json.dumps({"version": 1, "counts": self.counts, "seen": sorted(self.seen)}))

    @classmethod
    def load(cls, path: str | Path) -> LineStats:
        """Read a saved table; a missing or unreadable file gives empty statistics (they only refine cleaning)."""
        try:
            data = json.loads(Path(path).read_text())
            counts = {str(k): int(v) for k, v in data["counts"].items()}
            return cls(counts, {str(s) for s in data["seen"]})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()


# --- what a line looks like ---------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")
_STOPS = set(".!?…:;")
# Sentence ends inside a paragraph, also where a scrape glued two together ("contest.For more news").
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’»)\]]*\s+(?=[\"“‘«(\[]?[A-Z0-9À-Þ])|(?<=[a-z][.!?])(?=[A-Z][a-z])")
_CLOSERS = "'\"”’»)] "
# Quotation marks of every style, and '' (NYT); a single quote counts when it opens a word, not as an
# apostrophe inside one ("Ukraine's").
_DOUBLE_QUOTE = re.compile(r"[\"“”«»„]|''")

_SENTENCE_WORDS = 8  # a line with a full stop and this many words is a sentence: kept unless in the tail
_PROSE_WORDS = 4  # fewer words with a full stop is a label ("Getty.", "FULL TEXT.")
_LONG_WORDS = 12  # this many words read as prose even without final punctuation
_SHORT_WORDS = 4  # menu items, section names, buttons
_NOTICE_FILLER_WORDS = 7
_CHROME_WORDS = 6  # web chrome phrases are never longer than this
_PLAYER_WORDS = 10  # "Your browser does not support the video tag."
_RUN_ON_WORDS = 20  # a paragraph this long is story even without final punctuation
_MENU_RUN = 3
_MENU_WORDS = 30  # a menu line or a credit is never longer
_EXACT_COUNT_CHARS = 200
_WRAP_WORDS = 5  # a hard-wrapped line is at least this long

# Buttons, labels and section names of news sites (en, sv, de, fr), matched against a whole short line.
_CHROME = re.compile(
    r"(?i)^(?:(?:share|copy|embed|print|email|e-mail|save|comment|like|follow|tweet|pin)(?: (?:this|link|"
    r"article|story|video|page|on \w+|us))?|comments?|\d+ comments?|advertisement|advert|ad|sponsored|"
    r"(?:play|watch|listen(?: to)?|pause|replay|mute|unmute)(?: (?:video|audio|now|live|this|the story))?|"
    r"full ?screen|close|menu|search|skip to (?:main )?content|skip navigation|accessibility links|"
    r"previous|next|previous next|prev|back to top|top|home|more|read more|see more|show more|load more|"
    r"read full (?:article|story)|continue reading|related|related (?:articles|stories|content|news|coverage|"
    r"topics)|recommended|recommended (?:stories|articles|for you)|you may also like|most (?:read|popular|"
    r"viewed|shared)|trending(?: now)?|top stories|breaking news|live|loading(?: \w+)?|image|photo|video|"
    r"audio|gallery|subscribe|subscribe now|sign in|sign up|log in|login|register|newsletter|newsletters|"
    r"all rights reserved|cookie settings|privacy policy|terms of (?:use|service)|site logo|logo|"
    r"facebook|twitter|instagram|linkedin|whatsapp|telegram|reddit|youtube|"
    r"dela|läs mer|läs också|annons|prenumerera|logga in|teilen|weiterlesen|anzeige|werbung|partager|"
    r"lire la suite|lire aussi|publicité)$"
)
# Media players and image widgets leave these whatever their language setting. Time rows ("0:00 0:01:52
# 0:00") and durations ("02:31", "1:02:31") go; a lone "12:30" may be a live blog's clock and stays.
_PLAYER = re.compile(
    r"(?i)^(?:\d+\s*[x×:]\s*\d+ (?:image|photo|video)|(?:\d{1,2}:)?\d{1,2}:\d{2}(?:\s+(?:\d{1,2}:)?\d{1,2}:\d{2})+"
    r"|0\d:\d\d|\d{1,2}:\d\d:\d\d"
    r"|no media source\b.*|.*\b(?:video|audio|media|content) (?:is )?(?:not |un)available\b.*"
    r"|your browser does not support\b.*|.*\benable javascript\b.*|javascript is (?:disabled|required)\b.*)$"
)
# Ads and link lists glued into the text; these need no length limit but never touch a quotation.
_PROMO = re.compile(
    r"(?i)^(?:advertisement(?:\s*[-–—:|]|$)|(?:sponsored|paid|promoted) content\b|related (?:stories|articles|"
    r"coverage|content|links|reading)\S|recommended (?:stories|articles|videos)\S)"
)
# A photo credit on its own line: "Getty.", "Bloomberg via Getty Images.", "AP Photo/Evan Vucci".
_CREDIT = re.compile(r"(?i)\b(?:getty|shutterstock|ap photo|afp|reuters|epa|associated press|photo credit)\b")
_CREDIT_SMALL_WORDS = {"via", "by", "for", "and", "photo", "photos", "image", "images", "credit"}
_MENU_SEPARATORS = re.compile(r"\s[|•·»]\s|\s/\s")

# Footer notices, strong enough on their own to mark the end of a story. Footer patterns are written in
# lower case with no leading \b and run on lower-cased text: re then skips ahead by first letter, which
# is several times faster; `_finds` checks the word boundary instead.
_FOOTER_CERTAIN = re.compile(
    r"©|\(c\) \d{4}|copyright (?:\d{4}|©|\(c\))|all rights reserved|contributed (?:reporting )?to this "
    r"(?:report|story|article)|click here|sign up (?:for|to) our|subscribe to our|"
    r"reprinted (?:with permission|courtesy)|cookie (?:policy|settings)|privacy (?:policy|notice)|"
    r"terms of (?:use|service)|undesirable organi[sz]ation|this (?:article|story|report) (?:was|has been|is) "
    r"(?:originally |first |automatically )?(?:published|updated|translated|adapted|produced|generated)|"
    r"alla rättigheter förbehållna|alle rechte vorbehalten|tous droits réservés"
)
# Credit and social lines: "Additional reporting by ...", "Follow Pam Key on Twitter @pamkeyNEN", "Twitter: @X".
_FOOTER_LINE = re.compile(
    r"(?:additional (?:sources|reporting)|adaptation|translation|translated by|edited by|editing by|"
    r"reporting by|written by|compiled by)\b|follow\b.{0,60}\bon (?:twitter|x|facebook|instagram|telegram)\b|"
    r"(?:twitter|x|instagram|facebook|telegram|e-?mail)\s*:\s*@?\S+$"
)
# Weaker signs: only count inside a tail that something certain already marks as footer.
_FOOTER_WEAK = re.compile(
    r"newsletters?\b|subscribe\b|sign up\b|please note\b|our (?:content|website|site|journalism|newsroom|"
    r"reporting|coverage)\b|contact(?:ing)? us\b|you could face\b|find out more\b|read more\b|learn more\b|"
    r"donate\b|support (?:our|independent)\b|follow us\b|foreign agent\b|prenumerera\b|nyhetsbrev\b"
)


def _finds(pattern: re.Pattern[str], low: str) -> int:
    """Matches of a footer pattern in lower-cased text that start a word."""
    return sum(1 for m in pattern.finditer(low) if not m.start() or not low[m.start() - 1].isalnum())


def _certain_footer(sentence: str) -> bool:
    low = sentence.lower()
    return bool(_FOOTER_LINE.match(low)) or _finds(_FOOTER_CERTAIN, low) > 0


# One-paragraph bios: "Mykyta Peretiatko is a multimedia journalist with RFE/RL's Central Newsroom."
_BIO = re.compile(
    r"^[A-ZÅÄÖÉ][\w.'’-]+(?: [A-ZÅÄÖÉ][\w.'’-]+){0,3} (?:is|was|has been|covers|writes|reports)\b.{0,120}?\b"
    r"(?:journalist|correspondent|reporter|editor|writer|columnist|contributor|producer|photographer|"
    r"photojournalist|anchor|host|intern|author|fellow|freelancer|network|service|newsroom|outlet|"
    r"news agency|broadcaster)s?\b"
)
_BIO_WORDS = 80
_NAME_LINE_WORDS = 6


@dataclass
class _Para:
    """One paragraph: its line numbers, its text, and the facts every rule looks at."""

    lines: list[int]
    text: str
    words: int = 0
    quoted: bool = False
    prose: bool = False  # sentence-like
    sentence: bool = False  # a full sentence of some length: never dropped outside the tail
    junk: bool = False  # web chrome wherever it stands
    repeated: bool = False  # in `min_repeats`+ articles of the collection
    card: bool = False  # part of a bio card: a name line, then a paragraph starting with that name

    @property
    def short(self) -> bool:
        return not self.prose and self.words <= _SHORT_WORDS

    # Footer signs are only asked of the few paragraphs at the end.
    @property
    def footer(self) -> bool:
        """A certain footer notice (copyright, legal warning, credits), and nothing but notices."""
        if self.words > _BIO_WORDS:
            return False
        sentences = _SENTENCE_END.split(self.text)
        return any(map(_certain_footer, sentences)) and all(map(_notice_like, sentences))

    @property
    def weak_footer(self) -> bool:
        """Reads like a notice to the reader; one such phrase in a sentence is too little to tell."""
        hits = _finds(_FOOTER_WEAK, self.text.lower())
        if not (hits >= 2 or (hits == 1 and not self.prose)):
            return False
        return all(map(_notice_like, _SENTENCE_END.split(self.text)))

    @property
    def bio(self) -> bool:
        """A one-paragraph bio ("X is a multimedia journalist with ...")."""
        return self.words <= _BIO_WORDS and bool(_BIO.match(self.text))


def _notice_like(sentence: str) -> bool:
    """A sentence of a notice: footer wording, or too short to be story ("Online:", "From THE BOOK by X.").
    A paragraph with one story sentence in it is story, whatever newsletter plug follows."""
    return (
        len(sentence.split()) < _NOTICE_FILLER_WORDS
        or _certain_footer(sentence)
        or _finds(_FOOTER_WEAK, sentence.lower()) > 0
    )


def _terminal(text: str) -> bool:
    """Ends like a sentence: final punctuation, perhaps inside closing quotes or brackets."""
    return text.rstrip(_CLOSERS)[-1:] in _STOPS


def _has_quote(text: str) -> bool:
    """A quotation, in any style; also the dash that opens direct speech in Swedish and other languages."""
    if _DOUBLE_QUOTE.search(text) or "‘" in text:
        return True
    return text.startswith(("'", "– ", "— ")) or " '" in text or "('" in text


def _count_words(text: str) -> int:
    # Exact counting only matters near the small thresholds; long paragraphs are split on spaces (fast).
    return len(_WORD.findall(text)) if len(text) < _EXACT_COUNT_CHARS else len(text.split())


def _paragraphs(lines: list[str]) -> list[_Para]:
    """Group non-empty lines; a line that goes on from the previous one (hard-wrapped text) joins it,
    so a wrapped sentence is judged as a whole."""
    paras: list[_Para] = []
    previous = ""
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            previous = ""
            continue
        if _continues(previous, line):
            paras[-1].lines.append(i)
            paras[-1].text += " " + line
        else:
            paras.append(_Para([i], line))
        previous = line
    return paras


def _continues(previous: str, line: str) -> bool:
    """Hard-wrapped prose: a line that goes on, in lower case, from a longish line with no final stop
    (menu items such as "site logo" after "All sites" stay apart)."""
    if not previous or not line[:1].islower() or _terminal(previous):
        return False
    return previous.endswith((",", "-", "—", "–")) or len(previous.split()) >= _WRAP_WORDS


def _bare(text: str) -> str:
    return text.strip(_EDGE_MARKS)


def _is_credit(text: str, words: list[str]) -> bool:
    """A credit alone: every word a name or a credit word. "Reuters reported." has a verb and stays."""
    return (
        len(words) <= _SHORT_WORDS + 1
        and bool(_CREDIT.search(text))
        and all(w[0].isupper() or w.lower() in _CREDIT_SMALL_WORDS for w in words)
    )


def _is_menu(text: str) -> bool:
    """Three or more short items between separators: "Home | World | Europe", "Politics • Economy • Sport"."""
    items = _MENU_SEPARATORS.split(text)
    return len(items) >= _MENU_RUN and all(len(_WORD.findall(i)) <= 3 for i in items) and not _terminal(text)


def _promo(text: str) -> bool:
    return bool(_PROMO.match(_bare(text)))


def _is_junk(p: _Para) -> bool:
    if not any(c.isalnum() for c in p.text):
        return True  # separators: "___", "* * *"
    if p.quoted:
        return False
    bare = _bare(p.text)
    if (p.words <= _CHROME_WORDS and _CHROME.match(bare)) or (p.words <= _PLAYER_WORDS and _PLAYER.match(bare)):
        return True
    if _promo(p.text):
        return True
    return p.words <= _MENU_WORDS and (_is_credit(p.text, _WORD.findall(p.text)) or _is_menu(p.text))


def _describe(paras: list[_Para], lines: LineStats | None, min_repeats: int) -> None:
    for p in paras:
        p.words = _count_words(p.text)
        p.quoted = _has_quote(p.text)
        terminal = _terminal(p.text)
        p.prose = (terminal and p.words >= _PROSE_WORDS) or p.words >= _LONG_WORDS
        # A long run-on paragraph is story too (a scrape lost its full stop); an ad or a glued link list
        # ("Related StoriesAfter Criticism, ...") is not, however long.
        long_enough = (terminal and p.words >= _SENTENCE_WORDS) or p.words >= _RUN_ON_WORDS
        p.sentence = long_enough and not _promo(p.text)
        p.junk = _is_junk(p)
        p.repeated = lines is not None and lines.is_repeated(p.text, min_repeats)


def _is_card(name: _Para, card: _Para) -> bool:
    """ "Current Time" then "Current Time is the Russian-language TV ...": an outlet or author card."""
    if not (1 <= name.words <= _NAME_LINE_WORDS and not name.prose and name.text[:1].isupper()):
        return False
    rest = card.text.removeprefix(name.text)
    return rest != card.text and card.words <= _BIO_WORDS and bool(re.match(r"(?:['’]s)?\s+\w", rest))


def _small_sentence(text: str) -> bool:
    """ "Pure propaganda." closing a column is story; "Getty.", "TOP STORIES." and "Declared 2016
    Presidential Candidates." are labels: a sentence has a final stop and a lower-case word after the first."""
    words = text.split()
    return text[-1:] in ".!?" and any(w[:1].islower() for w in words[1:])


def _body_start(paras: list[_Para]) -> int:
    """Index of the first paragraph that reads like the story (a sentence, or any quotation)."""
    for i, p in enumerate(paras):
        if not p.junk and (p.prose or p.quoted) and not p.repeated:
            return i
    return len(paras)


def _tail_start(paras: list[_Para], body_start: int) -> int:
    """Index where the footer begins (len(paras) when there is none).

    Walks back from the end over paragraphs that could be footer and stops at the first one that reads
    like the story. The walked-over part is footer only if something in it certainly is (web chrome, a
    legal or copyright notice, a bio card, a line repeated across the collection); otherwise a story that
    happens to end on a short line keeps it.
    """
    start, certain = len(paras), False
    for i in range(len(paras) - 1, body_start - 1, -1):
        p = paras[i]
        if i > 0 and _is_card(paras[i - 1], p):
            p.card = paras[i - 1].card = True
        anchor = p.junk or p.footer or p.card or p.repeated
        if p.quoted and not p.footer:
            break  # a quotation is story, unless a notice quotes a label ("an \"undesirable organization\"")
        if not (anchor or p.bio or p.weak_footer or (p.short and not _small_sentence(p.text))):
            break
        certain = certain or anchor
        start = i
    return start if certain else len(paras)


def _menu_runs(paras: list[_Para], end: int) -> set[int]:
    """Head paragraphs in runs of 3+ short lines (a menu). The last of a run stays when the story follows
    at once and it has 2+ words: a short headline ("Kyiv restores power") ends many menus."""
    drop: set[int] = set()
    run: list[int] = []
    for i in range(end + 1):
        if i < end and (paras[i].short or paras[i].junk):
            run.append(i)
            continue
        if len(run) >= _MENU_RUN:
            last = paras[run[-1]]
            if run[-1] == end - 1 and last.words >= 2 and not last.junk:
                run = run[:-1]
            drop.update(run)
        run = []
    return drop


def _dropped(paras: list[_Para], body: int, tail: int) -> set[int]:
    """Paragraph indexes to drop: the tail, head menus, chrome and repeated lines that are not sentences
    or quotations, and second copies."""
    drop = set(range(tail, len(paras))) | _menu_runs(paras, body)
    seen: set[str] = set()
    for i, p in enumerate(paras[:tail]):
        protected = p.sentence or p.quoted
        if (p.junk or p.repeated) and not protected:
            drop.add(i)
        elif p.words >= _SHORT_WORDS and p.text in seen:
            drop.add(i)  # the same paragraph again (an image caption twice): the first copy has it all
        seen.add(p.text)
    return drop


def strip_boilerplate(text: str, lines: LineStats | None = None, min_repeats: int = 3) -> str:
    """`text` without its boilerplate lines; paragraph breaks stay. With `lines` (counts over the
    collection) a short line found in `min_repeats` or more articles is boilerplate too."""
    all_lines = text.split("\n")
    paras = _paragraphs(all_lines)
    _describe(paras, lines, min_repeats)
    body = _body_start(paras)
    drop = _dropped(paras, body, _tail_start(paras, body))
    dropped_lines = {n for i in drop for n in paras[i].lines}
    kept = (line for n, line in enumerate(all_lines) if n not in dropped_lines)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
