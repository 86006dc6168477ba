"""BM25 keyword index over passages (bm25s), persisted beside Chroma and rebuilt from it when stale.

Names are matched across spellings: every known place, person or organisation found in a passage
(`rag.text.variants`: Mirnograd, Dimitrov and Мирноград are all Myrnohrad) adds one entity term, and a
question naming it in any spelling searches for that term. One term per entity, not one per spelling,
so a name with many spellings does not outweigh the rest of the question.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.atomic import write_text_atomically
from rag.text.languages import FUNCTION_WORDS
from rag.text.variants import Variants, aliases_digest

if TYPE_CHECKING:
    from bm25s import BM25

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words too common to say what a passage is about: the function words language detection uses, plus
# question words, which every question has and few passages are about. Chosen on the dev splits against
# the smaller and larger lists (`rag eval --tune`).
QUESTION_WORDS = frozenset(
    ["what", "who", "whom", "whose", "which", "when", "where", "why", "how", "did", "does", "do"]
)
_STOP = set().union(*FUNCTION_WORDS.values()) | QUESTION_WORDS


def fold(word: str) -> str:
    """Lower-case and strip diacritics, so 'Zaporizhzhia' and 'Zaporižžja' meet half-way."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """Folded words without function words; numbers kept ('2,000' gives '2' and '000')."""
    return [w for w in (fold(m) for m in _WORD.findall(text)) if w not in _STOP]


def entity_term(canonical: str) -> str:
    """The BM25 term standing for every spelling of one entity (no word token can look like it)."""
    return "=" + fold(canonical).replace(" ", "_")


def _terms(text: str, names: list[tuple[int, int, str]]) -> list[str]:
    """Words outside the names, then one entity term per name: every spelling of a name counts the
    same, and a name written as the question writes it gets no extra weight."""
    if not names:
        return tokenize(text)
    words, i = [], 0
    for m in _WORD.finditer(text):
        while i < len(names) and names[i][1] <= m.start():
            i += 1
        if i < len(names) and names[i][0] <= m.start() < names[i][1]:
            continue  # part of a known name
        w = fold(m.group())
        if w not in _STOP:
            words.append(w)
    return words + [entity_term(canonical) for _, _, canonical in names]


def passage_terms(text: str, variants: Variants | None = None) -> list[str]:
    """What a passage is indexed under: its words, with each known name as one entity term."""
    return _terms(text, (variants or Variants.load()).find(text))


def query_terms(query: str, variants: Variants | None = None) -> list[str]:
    """What a question searches for, likewise; names count in any case here ("mirnograd" in a
    question; in passages a name must be capitalised)."""
    return _terms(query, (variants or Variants.load()).find(query, any_case=True))


def keyword_version() -> str:
    """Changes whenever the terms a passage is indexed under could change: a saved index built under
    another version is rebuilt (the alias list is part of it)."""
    return f"3-{aliases_digest()}"


class KeywordIndex:
    """BM25 over passage texts; `ids[i]` is the passage id of document i."""

    def __init__(self, ids: list[str], bm25: BM25 | None, name_words: set[str] | None = None) -> None:
        self.ids = ids
        self._bm25 = bm25
        # Folded words of the names found in passages ("chasiv", "yar"): indexed under entity terms, they
        # are not in the BM25 vocabulary, yet a question typing them names something the articles hold.
        self.name_words = name_words or set()
        self._prefixes: set[str] | None = None
        self._article_numbers: np.ndarray | None = None  # document -> article number, for filter masks
        self._article_index: dict[str, int] = {}

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> KeywordIndex:
        if not ids:
            return cls([], None)
        import bm25s  # a quarter of a second: only the paths that build or load an index pay it

        bm25 = bm25s.BM25()
        variants = Variants.load()
        corpus, name_words = [], set()
        for text in texts:
            names = variants.find(text)
            for start, end, _ in names:
                name_words.update(tokenize(text[start:end]))
            # An empty token list breaks bm25s; a placeholder keeps document numbering aligned with ids.
            corpus.append(_terms(text, names) or ["\u2205"])
        bm25.index(corpus, show_progress=False)
        return cls(list(ids), bm25, name_words)

    def knows(self, term: str) -> bool:
        """Does any passage contain this folded word (or one sharing its 5-letter prefix)? A known name
        counts in any spelling: passages are indexed under its entity term, not the words written."""
        if self._bm25 is None:
            return False
        vocab = self._bm25.vocab_dict
        if self._prefixes is None:
            self._prefixes = {w[:5] for w in vocab if len(w) >= 5}
        if term in vocab or term in self.name_words or (len(term) >= 5 and term[:5] in self._prefixes):
            return True
        names = Variants.load().find(term, any_case=True)
        return any(entity_term(canonical) in vocab for _, _, canonical in names)

    def search(self, query: str, k: int, allowed_articles: set[str] | None = None) -> list[tuple[str, float]]:
        """Best `k` (passage id, BM25 score) pairs with a positive score; with `allowed_articles`, only
        passages of those articles (a filter)."""
        if self._bm25 is None:
            return []
        tokens = [t for t in dict.fromkeys(query_terms(query)) if t in self._bm25.vocab_dict]
        if not tokens:
            return []
        mask = None if allowed_articles is None else self._mask(allowed_articles)
        docs, scores = self._bm25.retrieve(
            [tokens], k=min(k, len(self.ids)), show_progress=False, weight_mask=mask, n_threads=1
        )
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def _mask(self, allowed_articles: set[str]) -> np.ndarray:
        """1.0 for documents of the allowed articles, else 0.0 (bm25s weight mask)."""
        if self._article_numbers is None:
            numbers = [
                self._article_index.setdefault(pid.rsplit(":", 1)[0], len(self._article_index)) for pid in self.ids
            ]
            self._article_numbers = np.asarray(numbers, dtype=np.int64)
        wanted = [self._article_index[a] for a in allowed_articles if a in self._article_index]
        return np.isin(self._article_numbers, np.asarray(wanted, dtype=np.int64)).astype(np.float32)

    def save(self, folder: Path, stamp: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(folder))
        ids = {"stamp": stamp, "ids": self.ids, "name_words": sorted(self.name_words)}
        write_text_atomically(folder / "ids.json", json.dumps(ids))  # last: a half-saved index reads as stale

    @classmethod
    def load(cls, folder: Path, stamp: str) -> KeywordIndex | None:
        """The saved index if it was built for `stamp` (the store's current state), else None."""
        try:
            meta = json.loads((folder / "ids.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("stamp") != stamp:
            return None
        if not meta["ids"]:
            return cls([], None)
        import bm25s

        return cls(meta["ids"], bm25s.BM25.load(str(folder)), set(meta.get("name_words", [])))
