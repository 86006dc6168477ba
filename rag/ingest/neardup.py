"""Near-duplicate articles (syndicated wire copies, light edits): MinHash over word shingles, with LSH
to find candidates among everything stored, via datasketch (imported on first use: it pulls in scipy,
a quarter of a second that commands which never ingest should not pay)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datasketch import LeanMinHash, MinHash

NUM_PERM = 128
SHINGLE_WORDS = 5
# Below this many shingles two texts share too little to call one a copy of the other with confidence
# (short items such as quiz passages differ in a few words that carry the whole point).
MIN_SHINGLES = 40

SCHEME = "affine32"  # datasketch 2's default; stated, because stored signatures must be read back with it


@cache
def _template() -> MinHash:
    """Permutations made once and reused: making them is the slow part."""
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME)


def shingles(text: str) -> set[bytes]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}


def signature(text: str) -> LeanMinHash | None:
    """The MinHash of a text's word 5-shingles; None when the text is too short to judge."""
    grams = shingles(text)
    if len(grams) < MIN_SHINGLES:
        return None
    from datasketch import LeanMinHash, MinHash

    m = MinHash(num_perm=NUM_PERM, seed=1, permutations=_template().permutations, scheme=SCHEME)
    m.update_batch(list(grams))
    return LeanMinHash(m)


def to_bytes(sig: LeanMinHash | None) -> bytes:
    return b"" if sig is None else np.asarray(sig.hashvalues, dtype=np.uint64).tobytes()


def from_bytes(blob: bytes) -> LeanMinHash | None:
    from datasketch import LeanMinHash

    return LeanMinHash(seed=1, hashvalues=np.frombuffer(blob, dtype=np.uint64), scheme=SCHEME) if blob else None


@dataclass(frozen=True)
class Match:
    article_id: str
    similarity: float  # estimated Jaccard similarity of the shingle sets


class NearDuplicates:
    """Signatures of stored articles; `find` returns the most similar one above the threshold."""

    def __init__(self, threshold: float) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._sigs: dict[str, LeanMinHash] = {}

    def add(self, article_id: str, sig: LeanMinHash | None) -> None:
        if sig is not None and article_id not in self._sigs:
            self._lsh.insert(article_id, sig)
            self._sigs[article_id] = sig

    def remove(self, article_id: str) -> None:
        if self._sigs.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def find(self, sig: LeanMinHash | None, exclude: str = "") -> Match | None:
        """The most similar stored article above the threshold, other than `exclude` (a file's own
        previous version: an edited file replaces it rather than being called its duplicate)."""
        if sig is None:
            return None
        scored = [Match(k, float(sig.jaccard(self._sigs[k]))) for k in self._lsh.query(sig) if k != exclude]
        best = max(scored, key=lambda m: m.similarity, default=None)
        return best if best and best.similarity >= self.threshold else None
