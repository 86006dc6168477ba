"""Claims of every stored article (rag/claims/attribution.py), extracted at ingest and kept next to the index.

An article id hashes its cleaned text, so an article's claims never go stale: a refresh extracts only
articles it has not seen and forgets removed ones. A new extractor version re-extracts everything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from rag.atomic import write_text_atomically
from rag.claims.attribution import EXTRACTOR_VERSION, ExtractedClaim, extract_claims

FILE_NAME = "claims.json"
log = logging.getLogger(__name__)


class ClaimIndex:
    """article id -> the claims in its text, in order."""

    def __init__(self, by_article: dict[str, list[ExtractedClaim]] | None = None) -> None:
        self._by_article = by_article or {}

    def of(self, article_id: str) -> list[ExtractedClaim]:
        return self._by_article.get(article_id, [])

    def article_ids(self) -> set[str]:
        return set(self._by_article)

    def __len__(self) -> int:
        return sum(len(c) for c in self._by_article.values())

    def refreshed(
        self, article_ids: Iterable[str], texts_of: Callable[[list[str]], dict[str, str]]
    ) -> tuple[ClaimIndex, bool]:
        """The index for exactly `article_ids`: kept claims, plus extraction for the articles not seen
        before (`texts_of(ids)` reads their text). Returns it and whether anything changed."""
        wanted = set(article_ids)
        kept = {aid: claims for aid, claims in self._by_article.items() if aid in wanted}
        missing = sorted(wanted - set(kept))
        for aid, text in (texts_of(missing) if missing else {}).items():
            try:
                kept[aid] = extract_claims(text)
            except Exception:  # a bug on one article must not stop ingest or questions: no claims for it
                log.exception("attribution extraction failed for article %s", aid)
                kept[aid] = []
        for aid in missing:
            kept.setdefault(aid, [])  # an article whose text could not be read has no claims
        changed = bool(missing) or len(kept) != len(self._by_article)
        return ClaimIndex(kept), changed

    @classmethod
    def load(cls, folder: Path) -> ClaimIndex:
        """The saved claims, or an empty index when there are none or they came from other rules."""
        try:
            raw = json.loads((folder / FILE_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if raw.get("version") != EXTRACTOR_VERSION:
            return cls()
        try:
            return cls({aid: [ExtractedClaim.from_json(c) for c in claims] for aid, claims in raw["articles"].items()})
        except (KeyError, TypeError):
            return cls()

    def save(self, folder: Path) -> None:
        """Written to a temporary file and renamed, so a reader never sees half a file."""
        folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": EXTRACTOR_VERSION,
            "articles": {aid: [c.to_json() for c in claims] for aid, claims in self._by_article.items()},
        }
        write_text_atomically(folder / FILE_NAME, json.dumps(payload, ensure_ascii=False))
