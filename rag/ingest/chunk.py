"""Sentence-aware chunking that keeps character offsets, so every citation can point into the article."""

from __future__ import annotations

from rag.text.sentences import Span, split_sentences
from rag.types import Article, Passage

__all__ = ["Span", "chunk_article", "split_sentences"]


def chunk_article(article: Article, max_chars: int, overlap_sentences: int) -> list[Passage]:
    """Pack whole sentences into passages of at most `max_chars` (a longer sentence stands alone)."""
    sentences = split_sentences(article.text)
    passages: list[Passage] = []
    i = 0
    while i < len(sentences):
        j = i + 1
        while j < len(sentences) and sentences[j].end - sentences[i].start <= max_chars:
            j += 1
        start, end = sentences[i].start, sentences[j - 1].end
        passages.append(
            Passage(
                id=f"{article.id}:{len(passages)}",
                article_id=article.id,
                text=article.text[start:end],
                start=start,
                end=end,
                path=article.path,
                title=article.title,
                source=article.source,
                url=article.url,
                published=article.published,
                language=article.language,
            )
        )
        if j >= len(sentences):
            break
        i = max(j - overlap_sentences, i + 1)
        if sentences[j].end - sentences[i].start > max_chars:
            i = j  # the next sentence is too long to share a passage with the overlap: no overlap-only passage
    return passages
