"""Shared fixtures: the repository root, a private copy of the seed corpus, fast settings with
the deterministic hash embedder, and one real-MiniLM index built once per session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

# Test configuration: nothing may reach a model hub, a telemetry endpoint or show progress bars.
for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_name, _value)

from assistant.settings import Settings, load_settings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
# Seconds each test file takes (`python tests/file_durations.py JUNIT.xml`, from a full run
# with `--junitxml`): the slowest files run first, so the two xdist workers finish together
# instead of one waiting on a long file handed out last (make test runs
# `--dist loadfile --no-loadscope-reorder`, which keeps this order).
FILE_DURATIONS = Path(__file__).with_name("file_durations.json")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order test files longest first (tests within a file keep their order)."""
    import json

    try:
        seconds = json.loads(FILE_DURATIONS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    items.sort(key=lambda item: -float(seconds.get(item.nodeid.split("::", 1)[0], 0.0)))


SEED_DIR = REPO_ROOT / "corpus"
NO_CONFIG = Path(os.devnull)  # an empty TOML file: shields tests from a local assistant.toml
EDI_ID = "cafcass-inspection-framework-edi-statement-2020"
NEWS_ID = "news-ofsted-announces-full-inspection-of-cafcass"
# The three PSED aims exactly as the seed EDI statement words them (its list, once re-joined).
SEED_PSED_AIMS = [
    "eliminate discrimination, harassment, victimisation and any other conduct that is "
    "prohibited by or under the Equality Act 2010",
    "advance equality of opportunity between persons who share a relevant protected "
    "characteristic and persons who do not share it",
    "foster good relations between persons who share a relevant protected characteristic "
    "and persons who do not share it",
]


def copy_seeds(target: Path) -> Path:
    """Copy the seed documents and their metadata sidecars into `target` (created)."""
    target.mkdir(parents=True, exist_ok=True)
    for pattern in ("*.txt", "*.meta.yaml"):
        for path in sorted(SEED_DIR.glob(pattern)):
            shutil.copy2(path, target / path.name)
    return target


def make_settings(root: Path, corpus: Path, index: Path, **overrides: object) -> Settings:
    """Settings that ignore the caller's environment and any assistant.toml in the root."""
    values: dict[str, object] = {
        "embedder": "hash",
        "corpus_dir": corpus,
        "index_dir": index,
        "trace": False,
    }
    values.update(overrides)
    return load_settings(root=root, config_file=NO_CONFIG, environ={}, **values)


def seed_index(base: Path, extra: dict[str, str] | None = None, **overrides: object) -> Settings:
    """A freshly built index over a copy of the seeds plus `extra` documents (file name ->
    text) under `base` (hash embedder unless `overrides` say otherwise)."""
    from assistant.index import build_index

    corpus = copy_seeds(base / "corpus")
    for name, text in (extra or {}).items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = make_settings(REPO_ROOT, corpus, base / "idx", **overrides)
    report = build_index(settings)
    assert report.changed and not report.errors, report
    return settings


def index_plus(settings: Settings, base: Path, name: str, text: str) -> Settings:
    """A copy of `settings`' corpus and index under `base` with one more document, indexed
    incrementally (only the new document is embedded)."""
    from assistant.index import build_index

    corpus = copy_seeds(base / "corpus")
    (corpus / name).write_text(text, encoding="utf-8")
    shutil.copytree(settings.indexes, base / "idx")
    extended = settings.with_overrides(corpus_dir=corpus, index_dir=base / "idx")
    report = build_index(extended)
    assert report.added == [Path(name).stem] and not report.errors, report
    return extended


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a CLI subprocess that points at `settings`' corpus, index and embedder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_ROOT=str(settings.root),
        ASSISTANT_CONFIG=str(NO_CONFIG),
        ASSISTANT_CORPUS_DIR=str(settings.corpus),
        ASSISTANT_INDEX_DIR=str(settings.indexes),
        ASSISTANT_EMBEDDER=settings.embedder,
        ASSISTANT_TRACE="false",
        PYTHONUNBUFFERED="1",
        COLUMNS="250",  # rich wraps at 80 columns without a terminal
    )
    if settings.chroma_url:
        env["ASSISTANT_CHROMA_URL"] = settings.chroma_url
    env.update(extra)
    return env


def ui_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings for a served app over a private seed copy: uploads, feedback and traces under
    `tmp`, the hash embedder (tests of the web server, not of answers)."""
    corpus = copy_seeds(tmp / "corpus")
    values: dict[str, Any] = {
        "upload_dir": corpus / "uploads",
        "feedback_path": tmp / "logs" / "feedback.jsonl",
        "trace_dir": tmp / "logs",
    }
    values.update(overrides)
    return make_settings(REPO_ROOT, corpus, tmp / "idx", **values)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the probe socket is closed again on return)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(settings: Settings, tmp_path: Path) -> tuple[subprocess.Popen, int, Path]:
    """`assistant serve` on a free loopback port in a subprocess (feedback under `tmp_path`),
    its output going to a log file: (process, port, log). The caller stops it."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    env = cli_env(settings, ASSISTANT_FEEDBACK_PATH=str(tmp_path / "fb.jsonl"))
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return proc, port, log


def wait_until_up(
    proc: subprocess.Popen, url: str, log: Path, what: str, timeout: float, interval: float = 0.5
) -> None:
    """Poll `url` until it answers 200; fail with `proc`'s log if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=5) as http:
        while True:
            if proc.poll() is not None:
                text = log.read_text("utf-8", errors="replace")
                pytest.fail(f"{what} exited ({proc.returncode}): {text}")
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                text = log.read_text("utf-8", errors="replace")[-2000:]
                pytest.fail(f"{what} not up in {timeout:.0f} s: {text}")
            time.sleep(interval)


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Terminate `proc`, killing it when it does not stop within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def assert_same_structure(source: Any, blocks: list[Any]) -> None:
    """The loaded blocks hold the authored source's structure: list items (text, nesting,
    marker, number) and lists, heading levels, quotes and table rows (DOCX and HTML tests)."""
    from evals.render import ListBlock, Quote, Table

    want = [
        (
            it.text,
            it.level,
            "number" if it.ordered else "bullet",
            f"{it.number}." if it.ordered else "",
        )
        for b in source.blocks
        if isinstance(b, ListBlock)
        for it in b.items
    ]
    assert [
        (i.text, i.level, i.marker, i.label) for b in blocks if b.kind == "list" for i in b.items
    ] == want
    assert sum(b.kind == "list" for b in blocks) == sum(
        isinstance(b, ListBlock) for b in source.blocks
    )
    assert [(b.level, b.text) for b in blocks if b.kind == "heading"] == [
        (b.level, b.text) for b in source.blocks if b.kind == "heading"
    ]
    assert [b.text for b in blocks if b.kind == "quote"] == [
        b.text for b in source.blocks if isinstance(b, Quote)
    ]
    assert [b.rows for b in blocks if b.kind == "table"] == [
        b.rows for b in source.blocks if isinstance(b, Table)
    ]


def python_exe() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    return copy_seeds(tmp_path / "corpus")


@pytest.fixture
def hash_settings(tmp_path: Path, seed_corpus: Path, repo_root: Path) -> Settings:
    return make_settings(repo_root, seed_corpus, tmp_path / "idx")


@pytest.fixture(scope="session")
def minilm_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One real-MiniLM index over a copy of the seeds, shared by every slow test."""
    yield seed_index(tmp_path_factory.mktemp("minilm"), embedder="minilm")
