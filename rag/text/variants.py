"""Spelling variants of names in the news: Myrnohrad, Mirnograd, Dimitrov and Мирноград are one town.

A keyword index matches words exactly, so an article that says "Myrnohrad" is missed by a question
about "Mirnograd". Two tools close that gap:

* `fold` turns a name into a key on which transliterations of the same name collide (Ukrainian,
  Russian, German, Swedish, Polish systems; Cyrillic is transliterated first). It is general: it also
  works for names that are in no list. It is lossy on purpose, so it is only meant for names
  (capitalised words), never for running text: callers decide what a name is.
* `Variants` knows the names that folding alone cannot join (Pokrovsk = Krasnoarmeysk, Kyiv = Kiev,
  Toretsk = Dzerzhinsk) from `rag/text/data/aliases.tsv`, and finds them in questions (`expand`) and in
  passages (`find`), matching multi-word names before single words.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Entity", "Variants", "cyrillic_to_latin", "fold"]

KINDS = frozenset({"place", "person", "org"})
NEVER = "never"  # aliases.tsv kind for words that fold like a listed name but are not one (Ismail, Torres)

# --- Cyrillic to Latin ------------------------------------------------------------------------------

_CYRILLIC = re.compile("[\u0400-\u04ff]")
_CYRILLIC_WORD = re.compile("[\u0400-\u04ff]+(?:['’ʼ][\u0400-\u04ff]+)*")
_UK_ONLY = frozenset("єїіґЄЇІҐ'’ʼ")
_RU_ONLY = frozenset("ыэёъЫЭЁЪ")
_COMMON = {
    "а": "a", "б": "b", "в": "v", "д": "d", "ж": "zh", "з": "z", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh",
    "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ъ": "", "ў": "u", "ґ": "g", "і": "i",
}  # fmt: skip
# Ukrainian: the official 2010 system (є ї й ю я are ye yi y yu ya at the start of a word, ie i i iu ia after).
_UK_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_UK = {**_COMMON, "г": "h", "е": "e", "и": "y", "ы": "y", "э": "e", "ё": "io"}
_UK |= {"є": "ie", "ї": "i", "й": "i", "ю": "iu", "я": "ia"}
# Russian: the usual English system (е is ye at the start of a word and after a vowel).
_RU = {**_COMMON, "г": "g", "е": "e", "и": "i", "й": "y", "ы": "y", "э": "e", "ё": "yo", "ю": "yu", "я": "ya"}
_RU |= {"є": "ye", "ї": "yi"}
_RU_YE = re.compile("(?<![бвгджзйклмнпрстфхцчшщБВГДЖЗЙКЛМНПРСТФХЦЧШЩ])[еЕ]")


def _table(letters: dict[str, str]) -> dict[int, str]:
    """A str.translate table for lower- and upper-case letters (Ш -> Sh), apostrophes dropped."""
    table = {ord(k): v for k, v in letters.items()} | {ord(k.upper()): v.capitalize() for k, v in letters.items()}
    return table | {ord(q): "" for q in "'’ʼ"}


_UK_FIRST, _UK_REST, _RU_ALL = _table({**_UK, **_UK_INITIAL}), _table(_UK), _table(_RU)


def _latin_word(word: str) -> str:
    if any(ch in _UK_ONLY for ch in word) or not any(ch in _RU_ONLY for ch in word):
        text = word[0].translate(_UK_FIRST) + word[1:].translate(_UK_REST)
    else:
        text = _RU_YE.sub(lambda m: "ye" if m.group() == "е" else "Ye", word).translate(_RU_ALL)
    return text.upper() if len(word) > 1 and word.isupper() else text


def cyrillic_to_latin(text: str) -> str:
    """Ukrainian and Russian letters in Latin (Київ -> Kyiv, Мирноград -> Myrnohrad); other text unchanged.

    A word with і ї є ґ (or no Russian-only letter) is read as Ukrainian, else as Russian. The result is
    an ordinary English-style transliteration: `fold` then makes it meet the other spellings.
    """
    if not _CYRILLIC.search(text):
        return text
    return _CYRILLIC_WORD.sub(lambda m: _latin_word(m.group()), text)


# --- fold ------------------------------------------------------------------------------------------

# Letters that NFKD would only strip to a poorer form: Czech/Polish/Scandinavian spellings of Slavic sounds.
_LETTERS = str.maketrans({
    "č": "ch", "ć": "ch", "š": "sh", "ś": "s", "ž": "zh", "ż": "zh", "ź": "zh", "ł": "l", "ß": "ss",
    "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ı": "i",
})  # fmt: skip
_APOSTROPHES = str.maketrans(dict.fromkeys("'’‘ʼʹ`´"))
_NON_LETTERS = re.compile(r"[^a-zš ]+")
# One internal letter "š" stands for the hushing sibilants until the end, so that "shsh" collapses. The
# replacements run in this order (longest spelling first; "tj" is ч only after a vowel: Kostjantynivka).
_DIGRAPHS = (
    ("schtsch", "š"), ("shch", "š"), ("sjtj", "š"), ("szcz", "š"), ("tsch", "h"), ("sch", "š"), ("tch", "h"),
    ("zh", "š"), ("zj", "š"), ("sh", "š"), ("sj", "š"), ("sz", "š"), ("kh", "h"), ("ch", "h"), ("gh", "h"),
    ("cz", "h"), ("ts", "s"), ("tz", "s"), ("ck", "k"), ("ph", "f"), ("ou", "u"),
)  # fmt: skip
_TJ = re.compile("(?<![b-df-hj-np-tv-xz])tj")
_SINGLES = str.maketrans({"g": "h", "j": "i", "y": "i", "w": "v", "z": "s", "c": "k", "q": "k", "x": "ks"})
_VOWEL_RULES = (("ie", "e"), ("io", "e"), ("šia", "ša"), ("šiu", "šu"))
_DOUBLES = re.compile(r"(.)\1+")
_ENDINGS = re.compile(r"(?:ovo|evo|oe|aia)(?= |$)")
_ENDING = {"ovo": "ove", "evo": "eve", "oe": "e", "aia": "a"}
_ENDING_TAILS = tuple(_ENDING)


@functools.lru_cache(maxsize=1 << 16)
def fold(word: str) -> str:
    """A key on which spellings of one name collide: fold("Kharkiv") == fold("Charkiw") == fold("Харків").

    Meant for names only (it merges sounds freely, and ordinary words would collide too). The rules, in
    order (words separated by spaces or hyphens are folded one by one and joined with one space):

    1. Cyrillic is transliterated (`cyrillic_to_latin`); č š ž ż ł ß ... are spelt out (ch sh zh zh l ss);
       other diacritics are dropped (ö -> o), letters are lower-cased, apostrophes and soft signs removed.
    2. Consonant spellings, longest first: щ (shch, sch·tsch, sjtj, szcz), ш and ж (sh, sch, zh, sj, zj, sz)
       all become one hushing sound; ч (ch, tsch, tch, cz, and tj not after a consonant) and х/г (kh, ch, gh, h, g)
       all become h; ц (ts, tz, z) and з (z, German s) become s; ck -> k, ph -> f, ou -> u.
    3. Single letters: g -> h, j -> i, y -> i, w -> v, z -> s, c -> k, q -> k, x -> ks. So ya/ia/ja,
       yu/iu/ju, yi/ji/i and the -iy/-yy/-yi/-y/-yj endings meet.
    4. ii -> i; then ie and io become e (є, Russian е/ё after a consonant: Sievierodonetsk =
       Severodonetsk, Artyomovsk = Artemovsk), i between a hushing sound and a or u goes (Zaporizhzhia =
       Zaporizjzja); then every doubled letter collapses (ss -> s, Odessa = Odesa).
    5. Russian and Ukrainian word endings meet: -ovo/-evo -> -ove/-eve (Kurakhovo = Kurakhove), -oe/-oye
       -> -e (Pokrovskoye = Pokrovske), -aya/-aja -> -a (Novaya = Nova).
    6. The hushing sound is written "sh".

    Vowel differences between Ukrainian and Russian names (Kharkiv/Kharkov, Horlivka/Gorlovka) and renamings
    are not folded: `Variants` knows those.
    """
    if not word.isascii():
        if _CYRILLIC.search(word):
            word = cyrillic_to_latin(word)
        word = unicodedata.normalize("NFKD", word.lower().translate(_LETTERS))
        word = "".join(ch for ch in word if not unicodedata.combining(ch))
    word = word.lower().translate(_APOSTROPHES)
    if not word.isalpha():
        word = " ".join(_NON_LETTERS.sub(" ", word).split())
    if "tj" in word:
        word = _TJ.sub("h", word)
    for spelling, sound in _DIGRAPHS:
        if spelling in word:
            word = word.replace(spelling, sound)
    word = word.translate(_SINGLES)
    while "ii" in word:
        word = word.replace("ii", "i")
    for spelling, sound in _VOWEL_RULES:
        if spelling in word:
            word = word.replace(spelling, sound)
    word = _DOUBLES.sub(r"\1", word)
    if " " in word or word.endswith(_ENDING_TAILS):
        word = _ENDINGS.sub(lambda m: _ENDING[m.group()], word)
    return word.replace("š", "sh")


# --- names in text ---------------------------------------------------------------------------------

_TOKEN = re.compile("(?:[^\\W\\d_]|[\u0300-\u036f])+(?:['’ʼ](?:[^\\W\\d_]|[\u0300-\u036f])+)*")
_POSSESSIVE = ("'s", "’s", "ʼs", "'S", "’S", "ʼS")
_JOINERS = frozenset("-‐‑–")
# A folded key this short collides with too many words (Kiev and Kew both fold to "kev", Krim and Crim to
# "krim"): such a Latin-script name only matches one of its listed spellings, ignoring case and accents.
_SHORT = 4
# Light Cyrillic declension: an ending is dropped and the dictionary forms tried (Покровську -> Покровськ,
# Зеленського -> Зеленський, Одесі -> Одеса). Only used when the word as written is unknown.
_CYR_ENDINGS: tuple[str, ...] = ("ами", "ями", "ого", "ому", "ими", "ої", "ою", "ею", "ій", "ом", "ем", "ой", "ей")
_CYR_ENDINGS += ("ах", "ях", "і", "и", "ы", "а", "я", "у", "ю", "е", "ї")
_CYR_STEMS = ("", "ий", "ый", "а", "я", "ь", "и", "ы")


@dataclass(frozen=True, slots=True)
class Entity:
    """One place, person or organisation: `names[0]` is the canonical name, the rest its other spellings."""

    kind: str
    names: tuple[str, ...]

    @property
    def canonical(self) -> str:
        return self.names[0]


_Token = tuple[int, int, str]  # start, end, word: plain tuples, as every word of a passage is one


@dataclass(frozen=True, slots=True)
class _Match:
    start: int
    end: int
    entity: int
    surface: str


def _tokens(text: str) -> list[_Token]:
    """Words with their offsets; an English possessive ('s) is left out of the word."""
    out: list[_Token] = []
    for m in _TOKEN.finditer(text):
        word = m.group()
        if word.endswith(_POSSESSIVE) and len(word) > 2:
            out.append((m.start(), m.end() - 2, word[:-2]))
        else:
            out.append((m.start(), m.end(), word))
    return out


def _name_key(name: str) -> str:
    """The lookup key of a listed name: its words as `_tokens` reads text, each folded."""
    if name.isalpha():
        return fold(name)
    return " ".join(fold(word) for _, _, word in _tokens(name))


def _plain(word: str) -> str:
    """Lower case without accents or apostrophes: how a short name must be spelt to match."""
    word = unicodedata.normalize("NFKD", word.casefold()).translate(_APOSTROPHES)
    return "".join(ch for ch in word if not unicodedata.combining(ch))


def _acronym(word: str) -> bool:
    return 2 <= len(word) <= 5 and word.isupper() and word.isalpha()


def _joined(text: str, left: _Token, right: _Token) -> bool:
    """May two words be parts of one name? Only a space, a hyphen or "St. " may stand between them."""
    gap = text[left[1] : right[0]]
    if "\n\n" in gap:
        return False
    core = gap.strip()
    if core[:2].lower() in _POSSESSIVE:  # "Donetsk People's Republic": the 's was cut from the word
        core = core[2:].strip()
    return core == "" or (len(core) == 1 and core in _JOINERS) or (core == "." and len(left[2]) <= 3)


class Variants:
    """Known names and all their spellings, looked up by folded form.

    Built from `rag/text/data/aliases.tsv` (see its header). A folded spelling claimed by two entities is
    ambiguous: it is left out of the lookup and reported in `conflicts`, never resolved by guessing.
    All-capital short spellings (DPR, HUR) only match all-capital words, so "hur" (Swedish "how") stays a
    word, and a Latin-script name folding to at most four letters (Kyiv, Sumy) only matches its listed
    spellings. Words listed as "never" (Ismail, which folds like Izmail) never match. Loading the packaged
    file takes a few milliseconds and is cached.
    """

    def __init__(self, entities: Iterable[Entity], never: Iterable[str] = ()) -> None:
        self.entities: tuple[Entity, ...] = tuple(entities)
        self.conflicts: list[tuple[str, str, str]] = []  # (key, canonical, other canonical)
        self._keys: dict[str, int] = {}
        self._acronyms: dict[str, int] = {}
        self._lengths: dict[str, int] = {}  # first word's key -> most words of a name starting with it
        short: list[tuple[str, str, int]] = []  # (key, plain spelling, entity) of short Latin-script names
        for idx, entity in enumerate(self.entities):
            for name in entity.names:
                if _acronym(name):
                    table, key = self._acronyms, name
                else:
                    table, key = self._keys, _name_key(name)
                    if len(key) <= _SHORT and not _CYRILLIC.search(name):
                        short.append((key, _plain(name), idx))
                owner = table.setdefault(key, idx) if key else idx
                if owner != idx:  # ambiguous: marked -1 and dropped below
                    other = "?" if owner < 0 else self.entities[owner].canonical
                    self.conflicts.append((key, other, entity.canonical))
                    table[key] = -1
        for table in (self._acronyms, self._keys):
            for key in [k for k, v in table.items() if v < 0]:
                del table[key]
        self._short = {plain: idx for key, plain, idx in short if key in self._keys}  # see `_SHORT`
        never = list(never)
        self._never = {_plain(word) for word in never}
        self._never_keys = {fold(word) for word in never}
        for key in self._keys:
            words = key.split(" ")
            self._lengths[words[0]] = max(self._lengths.get(words[0], 1), len(words))

    @classmethod
    def load(cls, path: Path | str | None = None) -> Variants:
        """The names in `path`, or in the packaged `rag/text/data/aliases.tsv` (loaded once, then shared)."""
        if path is None:
            return _packaged()
        return cls(*parse(Path(path).read_text(encoding="utf-8")))

    def canonical(self, name: str) -> str | None:
        """The canonical name of `name` ("Mirnograd", "chasiv yar", "Київ"), or None if unknown."""
        idx = self._lookup(name.strip())
        return None if idx is None else self.entities[idx].canonical

    def variants(self, name: str) -> list[str]:
        """Every spelling of the entity `name` belongs to, canonical first; [] if unknown."""
        idx = self._lookup(name.strip())
        return [] if idx is None else list(self.entities[idx].names)

    def expand(self, text: str, *, cyrillic: bool = True) -> list[str]:
        """The other spellings of every known name in a question, to search for as well.

        Case-insensitive ("mirnograd" counts), diacritics-insensitive and Cyrillic-aware. Spellings already
        in the text are left out; `cyrillic=False` leaves out Cyrillic spellings too (a Latin-script corpus).
        """
        matches = self._scan(text, any_case=True)
        written = {m.surface.casefold() for m in matches}
        out: list[str] = []
        seen: set[str] = set()
        for m in matches:
            for name in self.entities[m.entity].names:
                if name.casefold() in written or name in seen or (not cyrillic and _CYRILLIC.search(name)):
                    continue
                seen.add(name)
                out.append(name)
        return out

    def alternatives(self, text: str, keep: Callable[[str], bool] = lambda _: True, per_name: int = 2) -> list[str]:
        """Up to `per_name` other Latin-script spellings of each known name in a question that are not
        mere transliteration variants of what is written (their fold differs): renamings and Russian
        forms, "Mirnograd" -> Dimitrov, "Kyiv" -> Kiev. Only spellings `keep` accepts are taken (the
        first of each fold). For the embedding side of search, which cannot know them."""
        out: list[str] = []
        for m in self._scan(text, any_case=True):
            keys = {fold(m.surface)}
            added = 0
            for name in self.entities[m.entity].names:
                key = fold(name)
                if added == per_name or _CYRILLIC.search(name) or key in keys or _acronym(name) or not keep(name):
                    continue
                keys.add(key)
                out.append(name)
                added += 1
        return list(dict.fromkeys(out))

    def find(self, text: str, *, any_case: bool = False) -> list[tuple[int, int, str]]:
        """(start, end, canonical name) of every known name in a passage, in order.

        A name must start with a capital letter here (passages are edited text: "Nova Kakhovka",
        "Donetsk region"), so ordinary words are never taken for names. `any_case=True` is for questions,
        which people type in lower case ("what about mirnograd?").
        """
        return [(m.start, m.end, self.entities[m.entity].canonical) for m in self._scan(text, any_case=any_case)]

    # -- internals --

    def _lookup(self, name: str) -> int | None:
        words = _tokens(name)
        if not words:
            return None
        if len(words) == 1:
            return self._single(words[0][2])
        return self._keys.get(" ".join(fold(word) for _, _, word in words))

    def _single(self, word: str) -> int | None:
        """One word: as an acronym, by folded form, then without a genitive s or a Cyrillic case ending."""
        if _acronym(word) and word in self._acronyms:
            return self._acronyms[word]
        for candidate in (word, *_fallbacks(word)):
            key = fold(candidate)
            if key in self._never_keys and _plain(candidate) in self._never:
                return None
            if len(key) <= _SHORT and not _CYRILLIC.search(candidate):
                idx = self._short.get(_plain(candidate))
            else:
                idx = self._keys.get(key)
            if idx is not None:
                return idx
        return None

    def _scan(self, text: str, *, any_case: bool) -> list[_Match]:
        words = _tokens(text)
        out: list[_Match] = []
        i = 0
        while i < len(words):
            first = words[i]
            if not any_case and not first[2][0].isupper():
                i += 1
                continue
            found = self._longest(text, words, i)
            if found is not None:
                n, idx = found
                last = words[i + n - 1]
                out.append(_Match(first[0], last[1], idx, text[first[0] : last[1]]))
                i += n
            else:
                i += 1
        return out

    def _longest(self, text: str, words: list[_Token], i: int) -> tuple[int, int] | None:
        """(number of words, entity) of the longest known name starting at word i."""
        first_key = fold(words[i][2])
        longest = min(self._lengths.get(first_key, 1), len(words) - i)
        for n in range(longest, 1, -1):
            if not all(_joined(text, words[j], words[j + 1]) for j in range(i, i + n - 1)):
                continue
            key = " ".join([first_key, *(fold(word) for _, _, word in words[i + 1 : i + n])])
            idx = self._keys.get(key)
            if idx is not None:
                return n, idx
        idx = self._single(words[i][2])
        return None if idx is None else (1, idx)


def _fallbacks(word: str) -> Iterator[str]:
    """Dictionary forms to try for an unknown word: Swedish/German genitive s, Cyrillic case endings."""
    if _CYRILLIC.search(word):
        low = word.lower()
        for ending in _CYR_ENDINGS:
            if low.endswith(ending) and len(word) - len(ending) >= 3:
                stem = word[: -len(ending)]
                for tail in _CYR_STEMS:
                    yield stem + tail
    elif len(word) >= 5 and word[0].isupper() and word.endswith("s") and not word.isupper():
        yield word[:-1]  # Kyivs, Charkivs, Putins


def parse(text: str) -> tuple[list[Entity], list[str]]:
    """Entities and never-words from aliases.tsv text (format in its header); '#' lines and blanks skipped."""
    entities: list[Entity] = []
    never: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        kind, names = fields[0], [f for f in fields[1:] if f]
        if kind == NEVER and names:
            never.extend(names)
        elif kind in KINDS and names:
            entities.append(Entity(kind, tuple(dict.fromkeys(names))))
        else:
            raise ValueError(f"aliases line {number}: expected kind (place|person|org|never), then names")
    return entities, never


def _packaged_text() -> str:
    return (importlib.resources.files("rag.text") / "data" / "aliases.tsv").read_text(encoding="utf-8")


@functools.cache
def _packaged() -> Variants:
    return Variants(*parse(_packaged_text()))


@functools.cache
def aliases_digest() -> str:
    """Short hash of the packaged alias list: what was indexed under its entity terms depends on it."""
    return hashlib.sha256(_packaged_text().encode()).hexdigest()[:8]
