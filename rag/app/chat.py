"""A conversation over an index: history kept, follow-ups rewritten into standalone retrieval queries.

A follow-up ("and what about Myrnohrad?", "who denied it?") is rewritten by the language model when a
capable one answers (Ollama, or a model passed in), and by rule otherwise (the previous standalone query
joined with the follow-up). The model's rewrite is used only when it looks like a question about the
same things: one line, not too long, keeping the follow-up's names; anything else falls back to the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from rag.answer.prompts import render
from rag.app.stream import AnswerStream
from rag.store.keyword import fold
from rag.types import Answer

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from rag.search.filters import Filters

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
    if is_follow_up(question, history):
        return f"{history[-1]} {question}"
    return question


def is_follow_up(question: str, history: list[str]) -> bool:
    return bool(history) and (bool(_FOLLOW_UP.search(question)) or len(question.split()) <= 3)


MAX_REWRITE_CHARS = 400


def condense_with_model(llm: LLM, question: str, history: list[str]) -> str | None:
    """The model's standalone rewrite of a follow-up, or None when it is unusable (empty, several
    lines, too long, or dropping a name the follow-up used)."""
    from llama_index.core.llms import ChatMessage, MessageRole

    prompt = render("condense", history="\n".join(f"- {h}" for h in history[-4:]), question=question)
    reply = llm.chat([ChatMessage(role=MessageRole.USER, content=prompt)]).message.content or ""
    lines = [line.strip().strip('"“”').strip() for line in reply.strip().splitlines() if line.strip()]
    if len(lines) != 1 or not 3 <= len(lines[0]) <= MAX_REWRITE_CHARS:
        return None
    rewrite = re.sub(r"^(standalone|rewritten)( question)?:\s*", "", lines[0], flags=re.IGNORECASE)
    names = {fold(w) for w in re.findall(r"[^\W\d_]+", question)[1:] if w[:1].isupper()}
    if not names <= {fold(w) for w in re.findall(r"[^\W\d_]+", rewrite)}:
        return None
    return rewrite


class ChatIndex(Protocol):
    """What a conversation needs of an index (`rag.Index` is one): so Chat and Index need not import
    each other."""

    def validate_question(self, question: str) -> str: ...

    def ask_stream(
        self,
        question: str,
        backend: str | None = None,
        top_k: int | None = None,
        query: str | None = None,
        filters: Filters | None = None,
    ) -> AnswerStream: ...

    def condense_model(self, backend: str | None) -> LLM | None: ...


@dataclass
class Chat:
    """`chat = idx.chat(); chat.ask("who claims Pokrovsk has fallen?"); chat.ask("and Myrnohrad?")`"""

    index: ChatIndex
    turns: list[Answer] = field(default_factory=list)

    def ask_stream(
        self, question: str, backend: str | None = None, top_k: int | None = None, filters: Filters | None = None
    ) -> AnswerStream:
        q = self.index.validate_question(question)
        query = self.standalone(q, backend)
        stream = self.index.ask_stream(q, backend=backend, top_k=top_k, query=query, filters=filters)
        stream.on_answer(self.turns.append)
        return stream

    def ask(
        self, question: str, backend: str | None = None, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        return self.ask_stream(question, backend=backend, top_k=top_k, filters=filters).answer

    def standalone(self, question: str, backend: str | None = None) -> str:
        """The retrieval query for `question` in this conversation (the question itself when it is not
        a follow-up). A capable model rewrites follow-ups; the rule does otherwise, or if the model fails."""
        history = [a.query or a.question for a in self.turns]
        if not is_follow_up(question, history):
            return question
        llm = self.index.condense_model(backend)
        if llm is not None:
            try:
                rewrite = condense_with_model(llm, question, history)
            except Exception:  # a model server hiccup must not cost the question: use the rule
                rewrite = None
            if rewrite:
                return rewrite
        return condense(question, history)

    def to_markdown(self, title: str = "Conversation") -> str:
        """The conversation with its citations, for export."""
        from rag.app.export import conversation_markdown

        return conversation_markdown(self.turns, title)

    def reset(self) -> None:
        self.turns.clear()
