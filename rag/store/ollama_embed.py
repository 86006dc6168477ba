"""Embeddings from an Ollama server (`embed.model = "ollama:<model>"`): the wire protocol, the model
families' query and passage prefixes, and the probe `rag status` shows.

One `POST {host}/api/embed` per batch, `{"model", "input": [texts], "truncate": true}` ->
`{"model", "embeddings": [[...], ...]}` (Ollama's docs/api.md; the server L2-normalises, the client does
it again so a server that does not is harmless). What can go wrong leaves as one `EmbedderUnavailable`
line saying what to do: the server is not reachable, the model is not pulled (404 `model "x" not
found, try pulling it first`), or it is not an embedding model (501, or 400 on older engines, `this
model does not support embeddings`).

The Embedder itself (`OllamaEmbedder`) is in `embed.py`, beside the others; this module knows nothing
of it, so the two import in one direction only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from rag.config import EmbedSettings, normalise_ollama_host
from rag.errors import EmbedderUnavailable

PREFIX = "ollama:"  # embed.model = "ollama:<model>"
EXAMPLE_MODEL = "nomic-embed-text"  # what the messages suggest pulling
PROBE_TIMEOUT_S = 0.5  # `rag status` asks /api/tags this long at most (as the answer backends' probe)

_REPRESENT = "Represent this sentence for searching relevant passages: "


@dataclass(frozen=True)
class Prefixes:
    """Text put before a query and before a passage: the model was trained with them and retrieves
    worse without them."""

    query: str = ""
    passage: str = ""


# The model's base name (no namespace, no tag, lower case) -> its prefixes; the first pattern that
# matches from the start of the name wins. A model not listed gets none.
PREFIXES: tuple[tuple[str, Prefixes], ...] = (
    # nomic-embed-text v1, v1.5 and v2-moe: the task prefix is required, for queries and documents alike.
    (r"nomic-embed-text", Prefixes("search_query: ", "search_document: ")),
    # mixedbread's mxbai-embed-large: the retrieval instruction on queries, passages as they are.
    (r"mxbai-embed-large", Prefixes(_REPRESENT)),
    # Snowflake arctic-embed 2.0 (multilingual): "query: " on queries only.
    (r"snowflake-arctic-embed2", Prefixes("query: ")),
    # Snowflake arctic-embed 1.x (m, l, s, xs): the BGE-style instruction on queries only.
    (r"snowflake-arctic-embed", Prefixes(_REPRESENT)),
    # BAAI bge-m3: no instruction for dense retrieval.
    (r"bge-m3", Prefixes()),
    # BAAI bge-large / bge-base / bge-small (English v1.5): the instruction on short queries.
    (r"bge-(?:large|base|small)", Prefixes(_REPRESENT)),
    # intfloat e5-mistral-7b-instruct: an instruction on queries, documents as they are.
    (
        r"(?:.*[-_])?e5-mistral",
        Prefixes("Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "),
    ),
    # intfloat e5 and multilingual-e5 (often published as <user>/...-e5-...): "query: " / "passage: ".
    (r"(?:.*[-_])?(?:multilingual-)?e5(?:[-_.]|$)", Prefixes("query: ", "passage: ")),
    # Google EmbeddingGemma: its retrieval prompts.
    (r"embeddinggemma", Prefixes("task: search result | query: ", "title: none | text: ")),
    # Qwen3-Embedding: an instruction on queries, documents as they are.
    (
        r"qwen3-embedding",
        Prefixes("Instruct: Given a news search query, retrieve passages that answer the query\nQuery: "),
    ),
    # IBM granite-embedding, sentence-transformers all-minilm and paraphrase-multilingual: no prefixes.
    (r"granite-embedding", Prefixes()),
    (r"all-minilm", Prefixes()),
    (r"paraphrase-multilingual", Prefixes()),
)


def base_name(model: str) -> str:
    """`registry/namespace/model:tag` -> `model`, lower case (Ollama compares names case-insensitively)."""
    return model.strip().rsplit("/", 1)[-1].split(":", 1)[0].lower()


def qualified(model: str) -> str:
    """The name with its tag: a name without one means `:latest`, as in Ollama; lower case."""
    model = model.strip().lower()
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


def prefixes_for(model: str) -> Prefixes:
    name = base_name(model)
    return next((p for pattern, p in PREFIXES if re.match(pattern, name)), Prefixes())


def is_known_embedding_model(model: str) -> bool:
    """A family in the prefix table: an embedding model (for listing the pulled ones)."""
    name = base_name(model)
    return any(re.match(pattern, name) for pattern, _ in PREFIXES)


def model_of(setting: str) -> str:
    """`ollama:nomic-embed-text` -> `nomic-embed-text`."""
    return setting.strip()[len(PREFIX) :].strip()


def embedder_name(model: str) -> str:
    """What an index records: the model with its tag, so another model (or tag) is another embedder
    and its vectors never mix with these. The prefixes follow from the name."""
    return PREFIX + qualified(model)


Vectors = npt.NDArray[np.float32]


class OllamaEmbedClient:
    """Embeds texts (prefixes already applied) with `model` on the Ollama server at `host`, in batches of
    `batch_size` texts per request. Thread-safe (the threads of `rag serve` share it)."""

    def __init__(self, model: str, host: str, batch_size: int = 32, timeout_s: float = 120.0) -> None:
        self.model = model.strip()
        self.host = normalise_ollama_host(host)
        self.batch_size = max(1, batch_size)
        self.timeout_s = timeout_s
        self.dim = 0  # learned from the first response
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: EmbedSettings) -> OllamaEmbedClient:
        return cls(model_of(settings.model), settings.ollama_host, settings.batch_size, settings.ollama_timeout_s)

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_s)
            return self._client

    def embed(self, texts: Sequence[str]) -> Vectors:
        """(len(texts), dim) L2-normalised vectors, one request per batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        blocks = [self._request(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return np.vstack(blocks)

    def _request(self, inputs: list[str]) -> Vectors:
        where = f"the Ollama server at {self.host}"
        try:
            r = self.client.post(
                f"{self.host}/api/embed", json={"model": self.model, "input": inputs, "truncate": True}
            )
        except httpx.ConnectError as e:
            raise EmbedderUnavailable(
                f"{where} is not reachable for embeddings ({_brief(e)}): start it with `ollama serve` "
                "(or set RAG_EMBED__OLLAMA_HOST / OLLAMA_HOST to where it runs)"
            ) from e
        except httpx.TimeoutException as e:
            raise EmbedderUnavailable(
                f"{where} did not embed {len(inputs)} texts within {self.timeout_s:g} s ({_brief(e)}): "
                "try again, raise RAG_EMBED__OLLAMA_TIMEOUT_S or lower RAG_EMBED__BATCH_SIZE"
            ) from e
        except httpx.TransportError as e:
            raise EmbedderUnavailable(
                f"{where} went away while embedding ({_brief(e)}): start it again with `ollama serve`"
            ) from e
        if r.status_code != 200:
            raise self._refusal(r.status_code, _error_text(r))
        return self._vectors(r, len(inputs))

    def _refusal(self, status: int, error: str) -> EmbedderUnavailable:
        where = f"the Ollama server at {self.host}"
        if "support embeddings" in error.lower() or status == 501:
            return EmbedderUnavailable(
                f"'{self.model}' on {where} is not an embedding model ({error}): pull one and use it, e.g. "
                f"`ollama pull {EXAMPLE_MODEL}` and RAG_EMBED__MODEL={PREFIX}{EXAMPLE_MODEL} (in a new index)"
            )
        if status == 404 and error == "404 page not found":  # gin's answer for a route it does not have
            return EmbedderUnavailable(
                f"{where} has no /api/embed: update Ollama (0.3.4 or later has it), then try again"
            )
        if status == 404:
            return EmbedderUnavailable(
                f"embedding model '{self.model}' is not pulled on {where}: run `ollama pull {self.model}`"
            )
        return EmbedderUnavailable(
            f"{where} refused to embed with '{self.model}' (HTTP {status}: {error}): try again, "
            "or see the server's log (`ollama serve`)"
        )

    def _vectors(self, r: httpx.Response, expected: int) -> Vectors:
        try:
            rows = r.json()["embeddings"]
            vectors = np.asarray(rows, dtype=np.float32)
        except (ValueError, KeyError, TypeError) as e:
            raise EmbedderUnavailable(
                f"the Ollama server at {self.host} answered /api/embed with something other than embeddings "
                f"({_brief(e)}): is {self.host} an Ollama server (0.3.4 or later)?"
            ) from e
        if vectors.ndim != 2 or vectors.shape[0] != expected or vectors.shape[1] == 0:
            raise EmbedderUnavailable(
                f"the Ollama server at {self.host} returned {vectors.shape[0] if vectors.ndim else 0} embeddings "
                f"of shape {vectors.shape} for {expected} texts from '{self.model}': try again, or update Ollama"
            )
        if not np.isfinite(vectors).all():
            raise EmbedderUnavailable(f"'{self.model}' on {self.host} returned NaN or infinite embeddings")
        with self._lock:
            if self.dim == 0:
                self.dim = int(vectors.shape[1])
        if vectors.shape[1] != self.dim:
            raise EmbedderUnavailable(
                f"'{self.model}' on {self.host} returned {vectors.shape[1]} dimensions, earlier {self.dim}: "
                "was the model replaced (`ollama pull`) while this ran? Rebuild the index with one version"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.asarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _error_text(r: httpx.Response) -> str:
    """Ollama's `{"error": "..."}`, else the body (gin's plain-text 404), on one line."""
    try:
        body: Any = r.json()
    except ValueError:
        body = None
    text = body.get("error") if isinstance(body, dict) else None
    return " ".join(str(text or r.text or r.reason_phrase).split())[:200]


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- rag status ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OllamaEmbedStatus:
    available: bool
    detail: str  # what it would use, or why it cannot be used and how to fix that


def ollama_embed_status(settings: EmbedSettings, timeout: float = PROBE_TIMEOUT_S) -> OllamaEmbedStatus:
    """The Ollama embedding option: is the server up, is the configured model pulled and an embedding
    model (when `embed.model` names one), else which embedding models are pulled there."""
    host = normalise_ollama_host(settings.ollama_host)
    try:
        r = httpx.get(f"{host}/api/tags", timeout=timeout)
        r.raise_for_status()
        pulled = sorted({str(m.get("model") or m.get("name")) for m in r.json().get("models", [])} - {"None"})
    except (httpx.HTTPError, ValueError, AttributeError) as e:
        return OllamaEmbedStatus(
            False,
            f"Ollama is not reachable at {host} ({type(e).__name__}): start it with `ollama serve` "
            "(or set RAG_EMBED__OLLAMA_HOST / OLLAMA_HOST to where it runs)",
        )
    if not settings.model.startswith(PREFIX):
        embedding = [m for m in pulled if is_known_embedding_model(m)]
        if not embedding:
            return OllamaEmbedStatus(
                False,
                f"no embedding model pulled on {host}: `ollama pull {EXAMPLE_MODEL}`, then "
                f"RAG_EMBED__MODEL={PREFIX}{EXAMPLE_MODEL} (in a new index)",
            )
        return OllamaEmbedStatus(
            True,
            f"pulled on {host}: {', '.join(embedding)} (RAG_EMBED__MODEL={PREFIX}{base_name(embedding[0])}, "
            "in a new index)",
        )
    model = model_of(settings.model)
    if qualified(model) not in {qualified(m) for m in pulled}:
        return OllamaEmbedStatus(False, f"model '{model}' is not pulled on {host}: run `ollama pull {model}`")
    capabilities = _capabilities(host, model, timeout)
    if capabilities is not None and "embedding" not in capabilities:
        return OllamaEmbedStatus(
            False,
            f"'{model}' on {host} is not an embedding model (it can: {', '.join(capabilities) or 'nothing'}): "
            f"`ollama pull {EXAMPLE_MODEL}` and RAG_EMBED__MODEL={PREFIX}{EXAMPLE_MODEL} (in a new index)",
        )
    prefixes = prefixes_for(model)
    how = "with its query/passage prefixes" if prefixes.query or prefixes.passage else "no prefixes"
    return OllamaEmbedStatus(True, f"{qualified(model)} at {host} ({how})")


def _capabilities(host: str, model: str, timeout: float) -> list[str] | None:
    """What /api/show says the model can do (None: an older Ollama that does not say, or no answer)."""
    try:
        r = httpx.post(f"{host}/api/show", json={"model": model}, timeout=max(timeout, 2.0))
        r.raise_for_status()
        capabilities = r.json().get("capabilities")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    if not isinstance(capabilities, list):
        return None
    return [str(c) for c in capabilities]
