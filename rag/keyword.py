"""BM25 keyword index over passages (bm25s), persisted beside Chroma and rebuilt from it when stale."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import bm25s

from rag.ingest.clean import FUNCTION_WORDS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = set().union(*FUNCTION_WORDS.values())


def fold(word: str) -> str:
    """Lower-case and strip diacritics, so 'Zaporizhzhia' and 'Zaporižžja' meet half-way."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """Folded words without function words; numbers kept ('2,000' gives '2' and '000')."""
    return [w for w in (fold(m) for m in _WORD.findall(text)) if w not in _STOP]


class KeywordIndex:
    """BM25 over passage texts; `ids[i]` is the passage id of document i."""

    def __init__(self, ids: list[str], bm25: bm25s.BM25 | None) -> None:
        self.ids = ids
        self._bm25 = bm25
        self._prefixes: set[str] | None = None

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> KeywordIndex:
        if not ids:
            return cls([], None)
        bm25 = bm25s.BM25()
        # An empty token list breaks bm25s; a placeholder keeps document numbering aligned with ids.
        bm25.index([tokenize(t) or ["\u2205"] for t in texts], show_progress=False)
        return cls(list(ids), bm25)

    def knows(self, term: str) -> bool:
        """Does any passage contain this folded word (or one sharing its 5-letter prefix)?"""
        if self._bm25 is None:
            return False
        if self._prefixes is None:
            self._prefixes = {w[:5] for w in self._bm25.vocab_dict if len(w) >= 5}
        return term in self._bm25.vocab_dict or (len(term) >= 5 and term[:5] in self._prefixes)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Best `k` (passage id, BM25 score) pairs with a positive score."""
        tokens = [t for t in tokenize(query) if self._bm25 is not None and t in self._bm25.vocab_dict]
        if not tokens or self._bm25 is None:
            return []
        docs, scores = self._bm25.retrieve([tokens], k=min(k, len(self.ids)), show_progress=False)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def save(self, folder: Path, stamp: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(folder))
        tmp = folder / "ids.json.tmp"
        tmp.write_text(json.dumps({"stamp": stamp, "ids": self.ids}))
        tmp.replace(folder / "ids.json")  # written last: a half-saved index reads as stale, not as valid

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
        return cls(meta["ids"], bm25s.BM25.load(str(folder)))
