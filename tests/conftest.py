"""Shared fixtures: the seed articles, a hermetic environment, and indexes built with the fakes."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SEED_NAMES = sorted(p.name for p in SEEDS.glob("*.txt"))


@pytest.fixture
def seeds() -> Path:
    return SEEDS


@pytest.fixture
def rag_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RAG_* setting from the developer's shell, and no Ollama to find (a closed local port)."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")


def _llm_keyword() -> str:
    """The keyword `rag.open` takes an injected LLM under (`language_model`; `llm` in older code)."""
    import rag.app.index

    params = inspect.signature(rag.app.index.open_index).parameters
    return "language_model" if "language_model" in params else "llm"


def open_fake_index(path: Path, llm: Any = None, **settings: Any) -> Any:
    """`rag.open` with the hashing embedder and, when given, a scripted LLM."""
    import rag
    from rag.testing import HashingEmbedder

    kwargs: dict[str, Any] = {"embedder": HashingEmbedder(), **settings}
    if llm is not None:
        kwargs[_llm_keyword()] = llm
    return rag.open(path, **kwargs)


@pytest.fixture
def make_index() -> Callable[..., Any]:
    """Factory: `make_index(path, llm=ScriptedLLM([...]), chunk={...})`."""
    return open_fake_index


@pytest.fixture(scope="session")
def seeded_index_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the five seed articles (hashing embedder), built once. Open it, do not write to it."""
    path = tmp_path_factory.mktemp("seeded") / "idx"
    report = open_fake_index(path).ingest(SEEDS)
    assert len(report.new) == 5, report.summary()
    return path


@pytest.fixture
def seeded(seeded_index_path: Path) -> Callable[..., Any]:
    """Open the shared seed index (read only), optionally with a scripted LLM."""
    return lambda llm=None, **settings: open_fake_index(seeded_index_path, llm=llm, **settings)
