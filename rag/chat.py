"""A conversation over an index: history kept, follow-ups rewritten into standalone retrieval queries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.types import Answer

if TYPE_CHECKING:
    from rag.filters import Filters
    from rag.pipeline import AnswerStream, Index

# A follow-up leans on what came before: it opens with a connective, points back with a pronoun, or is
# too short to stand alone ("and Myrnohrad?").
_FOLLOW_UP = re.compile(
    r"^(and|but|also|what about|how about|and what about|why|so)\b"
    r"|\b(he|she|they|it|that|this|those|him|her|them|his|its|their)\b",
    re.IGNORECASE,
)


def condense(question: str, history: list[str]) -> str:
    """The retrieval query for `question`: itself, or joined with the previous standalone query when it
    reads as a follow-up. Rule-based, so it works with every backend."""
    if not history:
        return question
    if _FOLLOW_UP.search(question) or len(question.split()) <= 3:
        return f"{history[-1]} {question}"
    return question


@dataclass
class Chat:
    """`chat = idx.chat(); chat.ask("who claims Pokrovsk has fallen?"); chat.ask("and Myrnohrad?")`"""

    index: Index
    turns: list[Answer] = field(default_factory=list)

    def ask_stream(
        self, question: str, backend: str | None = None, top_k: int | None = None, filters: Filters | None = None
    ) -> AnswerStream:
        q = self.index.validate_question(question)
        query = condense(q, [a.query or a.question for a in self.turns])
        stream = self.index.ask_stream(q, backend=backend, top_k=top_k, query=query, filters=filters)
        stream.on_answer(self.turns.append)
        return stream

    def ask(
        self, question: str, backend: str | None = None, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        return self.ask_stream(question, backend=backend, top_k=top_k, filters=filters).answer

    def reset(self) -> None:
        self.turns.clear()
