"""An answer as it is written: verified text pieces first, the whole Answer at the end. Its own module so
`Index` (which makes streams) and `Chat` (which reads them) need not import each other."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rag.types import Answer


class AnswerStream:
    """Iterate for text deltas as they are verified; `answer` holds the final Answer afterwards.

    >>> stream = idx.ask_stream("who claims Pokrovsk has fallen?")   # doctest: +SKIP
    >>> for piece in stream: print(piece, end="")                     # doctest: +SKIP
    >>> stream.answer.citations[0].quote                              # doctest: +SKIP
    """

    def __init__(self, events: Iterator[str | Answer]) -> None:
        self._events = events
        self._answer: Answer | None = None
        self._callbacks: list[Callable[[Answer], object]] = []

    def on_answer(self, callback: Callable[[Answer], object]) -> None:
        """Call `callback(answer)` once the final answer is known (a chat records its history so)."""
        self._callbacks.append(callback)

    def __iter__(self) -> Iterator[str]:
        for event in self._events:
            if isinstance(event, Answer):
                self._answer = event
                for callback in self._callbacks:
                    callback(event)
            else:
                yield event

    @property
    def answer(self) -> Answer:
        if self._answer is None:
            for _ in self:  # drain, so `answer` works without iterating first
                pass
        assert self._answer is not None
        return self._answer
