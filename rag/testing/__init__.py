"""Fakes shipped with the package, for unit tests and demos: a deterministic embedder and a scripted LLM.

They implement the same seams as the real components, so a test that passes with them exercises the
real pipeline code around them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from llama_index.core.llms import (
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
)
from llama_index.core.llms.callbacks import llm_completion_callback
from pydantic import Field, PrivateAttr

from rag.store.embed import HashingEmbedder  # lives beside the real embedders: `embed.model = "hashing"`

__all__ = ["HashingEmbedder", "ScriptedLLM"]

Script = Sequence[str] | Callable[[str], str]


class ScriptedLLM(CustomLLM):
    """A llama-index LLM that answers from a script: a list of replies (the last repeats) or a function
    of the prompt. Every prompt it receives is kept in `prompts`, so tests can check what the model saw."""

    model_name: str = Field(default="scripted", description="Name reported as the backend's model.")
    context_window: int = Field(default=8192, description="Pretend context window.")
    _script: Any = PrivateAttr()
    _prompts: list[str] = PrivateAttr(default_factory=list)

    def __init__(self, script: Script, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._script = script

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=512, model_name=self.model_name)

    def _reply(self, prompt: str) -> str:
        self._prompts.append(prompt)
        if callable(self._script):
            return str(self._script(prompt))
        replies = list(self._script)
        return str(replies[min(len(self._prompts), len(replies)) - 1])

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._reply(prompt))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = self._reply(prompt)
        so_far = ""
        for piece in re.findall(r"\S+\s*", text):
            so_far += piece
            yield CompletionResponse(text=so_far, delta=piece)
