"""`assistant bench`: how fast ingestion and queries are as the corpus grows.

Synthetic corpora are made from the real corpus's sentences, shuffled and recombined into
documents with numbered sections, so vocabulary and lengths are realistic. Each size gets its own
temporary index; queries run in a fresh worker process per size so RSS and start-up are those of
a real process, not of this one.

Up to `--real-max` chunks the index is built with the real MiniLM encoder and ingestion
throughput is compared with the raw encoder on the same texts. Above it (100k chunks would take
~25 min to encode here), vectors are composed from the real model's vectors of the base
sentences (chunk = normalised mean of its sentences); every other part of the pipeline - loading,
cleaning, splitting, Chroma writes, BM25 - runs for real, and queries are embedded by the model.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.llm import free_port
from assistant.settings import Settings

QUERY_WORDS = 8


# ----------------------------------------------------------------------------- corpus
def base_sentences(settings: Settings) -> list[str]:
    """Sentences of the real corpus after cleaning (the material synthetic docs are made of)."""
    from assistant.blocks import layout
    from assistant.ingest import clean_blocks
    from assistant.loaders import LoadError, discover, load_blocks
    from assistant.text import sentence_spans

    paths, _ = discover(settings.corpus)
    out: list[str] = []
    for path in paths:
        try:
            doc = load_blocks(path)
        except LoadError:
            continue
        text, _placed = layout(clean_blocks(doc.blocks)[0])
        for s, e in sentence_spans(text):
            sentence = " ".join(text[s:e].split())
            if len(sentence) >= 40 and not re.match(r"^\d+(\.\d+)*\.?\s", sentence):
                out.append(sentence if sentence[-1] in ".!?:'’" else sentence + ".")
    return sorted(set(out))


def write_corpus(folder: Path, sentences: list[str], target_chunks: int, seed: int = 7) -> None:
    """Documents of ~40 chunks each, with numbered sections of 2-4 paragraphs."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_doc = 40
    for d in range(max(1, round(target_chunks / per_doc))):
        parts = [f"# Synthetic framework {d}\n"]
        for section in range(1, 11):
            parts.append(f"{section}. Section {rng.choice(sentences).split()[0]} {d}-{section}\n")
            for _ in range(rng.randint(2, 4)):
                parts.append(" ".join(rng.sample(sentences, rng.randint(3, 5))) + "\n")
        (folder / f"synthetic-{d:06d}.md").write_text("\n".join(parts), encoding="utf-8")


class ComposedEmbedder:
    """Vectors in MiniLM's space composed from the real model's sentence vectors.

    Texts are split into the base sentences they were made of; each known sentence has its real
    vector; a text's vector is their normalised mean. Unknown pieces are encoded for real.
    """

    name = "minilm:all-MiniLM-L6-v2"

    def __init__(self, real: Any, sentences: list[str]):
        self.real = real
        self.dim = real.dim
        vectors = real.encode(sentences)
        self.known = {s: v for s, v in zip(sentences, vectors, strict=True)}
        self._pattern = re.compile("|".join(re.escape(s) for s in sorted(sentences, key=len)[::-1]))

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        unknown: list[int] = []
        for i, text in enumerate(texts):
            flat = " ".join(text.split())
            found = [self.known[m.group()] for m in self._pattern.finditer(flat)]
            if found:
                v = np.mean(found, axis=0)
                out[i] = v / (np.linalg.norm(v) or 1.0)
            else:
                unknown.append(i)
        if unknown:
            out[unknown] = self.real.encode([texts[i] for i in unknown])
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.real.embed_query(text)


def queries(settings: Settings, sentences: list[str], n: int, seed: int = 11) -> list[str]:
    """Distinct queries: the shipped question sets first, then sentence fragments."""
    import yaml

    out: list[str] = []
    for path in sorted((settings.root / "evals" / "questions").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out += [q["question"] for q in data.get("questions", []) if not q.get("history")]
    rng = random.Random(seed)
    while len(set(out)) < n:
        words = rng.choice(sentences).split()
        start = rng.randint(0, max(0, len(words) - QUERY_WORDS))
        out.append(" ".join(words[start : start + QUERY_WORDS]))
    return list(dict.fromkeys(out))[:n]


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- worker
def worker(settings: Settings, query_file: Path) -> dict[str, Any]:
    """Runs in a fresh process: open the index, time every retriever and `ask`."""
    from assistant.answer import Assistant
    from assistant.bm25 import BM25Index
    from assistant.index import Index, _generation_dir, read_current

    qs = json.loads(query_file.read_text())
    result: dict[str, Any] = {"rss_mb_start": round(_rss_mb(), 1)}
    t0 = time.perf_counter()
    assistant = Assistant(settings)
    first = assistant.ask(qs[0])
    result["first_answer_in_process_s"] = round(time.perf_counter() - t0, 2)
    result["first_answer_refused"] = first.refused
    folder = _generation_dir(settings, read_current(settings)["generation"])  # type: ignore[index]
    t0 = time.perf_counter()
    BM25Index.load(folder / "bm25")
    result["bm25_load_s"] = round(time.perf_counter() - t0, 3)
    retriever = assistant.retriever
    index: Index = retriever.index
    result["chunks"] = len(index.chunks)
    for mode in ("dense", "bm25", "hybrid"):
        times = []
        for q in qs:
            retriever.embedder.embed_query(q)  # embedding is timed separately below
            t = time.perf_counter()
            retriever.search(q, k=5, retriever=mode)
            times.append((time.perf_counter() - t) * 1000)
        result[f"{mode}_p50_ms"] = round(_pct(times, 0.5), 2)
        result[f"{mode}_p95_ms"] = round(_pct(times, 0.95), 2)
    emb = []
    for q in qs:
        t = time.perf_counter()
        retriever.embedder.encode([q + " ?"])  # uncached query embedding
        emb.append((time.perf_counter() - t) * 1000)
    result["query_embed_p50_ms"] = round(_pct(emb, 0.5), 2)
    times = []
    for q in qs:
        t = time.perf_counter()
        assistant.ask(q)
        times.append((time.perf_counter() - t) * 1000)
    result["ask_p50_ms"] = round(_pct(times, 0.5), 2)
    result["ask_p95_ms"] = round(_pct(times, 0.95), 2)
    uncached = []
    for q in qs[:50]:
        q2 = q + " please"
        t = time.perf_counter()
        assistant.ask(q2)
        uncached.append((time.perf_counter() - t) * 1000)
    result["ask_uncached_p50_ms"] = round(_pct(uncached, 0.5), 2)
    result["ask_uncached_p95_ms"] = round(_pct(uncached, 0.95), 2)
    result["rss_mb"] = round(_rss_mb(), 1)
    return result


def _server_latency(settings: Settings, qs: list[str], embedder: Any) -> dict[str, float]:
    """Dense query latency against a `chroma run` server on the same data folder."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from assistant.index import read_current

    chroma = Path(sys.executable).with_name("chroma")
    port = free_port()
    proc = subprocess.Popen(
        [
            str(chroma),
            "run",
            "--path",
            str(settings.indexes / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        client = chromadb.HttpClient(
            host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False)
        )
        coll = client.get_collection(read_current(settings)["collection"])  # type: ignore[index]
        return _query_latency(coll, qs, embedder, "server_dense")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _embedded_latency(settings: Settings, qs: list[str], embedder: Any) -> dict[str, float]:
    from assistant.index import _collection, chroma_client, read_current

    coll = _collection(
        chroma_client(settings, fresh=True), read_current(settings)["collection"], "", create=False
    )  # type: ignore[index]
    return _query_latency(coll, qs, embedder, "embedded_dense")


def _query_latency(coll: Any, qs: list[str], embedder: Any, label: str) -> dict[str, float]:
    """p50/p95 of raw Chroma queries (top 30), query embedding excluded."""
    vectors = [embedder.embed_query(q) for q in qs]
    times = []
    for v in vectors:
        t = time.perf_counter()
        coll.query(query_embeddings=[v], n_results=30, include=["distances"])
        times.append((time.perf_counter() - t) * 1000)
    return {
        f"{label}_p50_ms": round(_pct(times, 0.5), 2),
        f"{label}_p95_ms": round(_pct(times, 0.95), 2),
    }


# ----------------------------------------------------------------------------- driver
def run_bench(
    settings: Settings,
    sizes: list[int],
    n_queries: int = 200,
    real_max: int = 10000,
    keep: bool = False,
    log: Any = print,
) -> dict[str, Any]:
    """Build each synthetic size, measure it, return the whole report."""
    from assistant.embeddings import get_embedder

    real = get_embedder(settings)
    sentences = base_sentences(settings)
    qs = queries(settings, sentences, n_queries)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "chunk_vectors": settings.chunk_vectors,
        "base_sentences": len(sentences),
        "queries": len(qs),
        "sizes": [],
    }
    composer: ComposedEmbedder | None = None
    root = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    try:
        for size in sizes:
            folder = root / f"s{size}"
            use_real = size <= real_max
            if not use_real and composer is None:
                composer = ComposedEmbedder(real, sentences)
            row, s, chunks = _build_size(
                settings, folder, sentences, size, real if use_real else composer, log
            )
            if use_real:
                row.update(_encoder_speed(s, real, row["ingest_chunks_per_s"], chunks))
            log(f"size {size}: querying in a fresh process")
            row.update(_query_process(settings, s, folder, qs))
            row.update(_embedded_latency(s, qs, real))
            row.update(_server_latency(s, qs, real))
            report["sizes"].append(row)
            log(json.dumps(row))
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return report


def _build_size(
    settings: Settings, folder: Path, sentences: list[str], size: int, embedder: Any, log: Any
) -> tuple[dict[str, Any], Settings, Sequence[Any]]:
    """Write a synthetic corpus of about `size` chunks and index it, timed."""
    from assistant.bm25 import BM25Index
    from assistant.index import Index, build_index, embed_text

    log(f"size {size}: writing corpus")
    write_corpus(folder / "corpus", sentences, size)
    s = settings.with_overrides(
        corpus_dir=folder / "corpus", index_dir=folder / "idx", trace=False, chroma_url=""
    )
    real = not isinstance(embedder, ComposedEmbedder)
    log(f"size {size}: building index ({'real encoder' if real else 'composed'})")
    t0 = time.perf_counter()
    build = build_index(s, embedder=embedder)
    build_s = time.perf_counter() - t0
    row: dict[str, Any] = {
        "size_target": size,
        "chunks": build.chunks_total,
        "encoder": "real" if real else "composed",
        "build_s": round(build_s, 1),
        "ingest_chunks_per_s": round(build.chunks_total / build_s, 1),
        "index_mb": round(_dir_size(s.indexes) / 1e6, 1),
    }
    chunks = Index.open(s).chunks
    texts = [embed_text(c) for c in chunks]
    t0 = time.perf_counter()
    BM25Index.build(texts)
    row["bm25_build_s"] = round(time.perf_counter() - t0, 2)
    return row, s, chunks


def _encoder_speed(
    s: Settings, real: Any, ingest_per_s: float, chunks: Sequence[Any]
) -> dict[str, Any]:
    """The fp32 encoder alone on 512 of the index's chunks: on their text once (`raw`, the
    issue's reference) and on what ingestion encodes for them (`same inputs`)."""
    from assistant.index import embed_text, encode_chunks

    sample = [chunks[i] for i in random.Random(3).sample(range(len(chunks)), min(512, len(chunks)))]
    t0 = time.perf_counter()
    real.encode([embed_text(c) for c in sample])
    raw = len(sample) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    encode_chunks(real, sample, s.chunk_vectors == "sentences")
    raw_same = len(sample) / (time.perf_counter() - t0)
    return {
        "raw_encoder_chunks_per_s": round(raw, 1),
        "raw_encoder_same_inputs_chunks_per_s": round(raw_same, 1),
        "ingest_vs_raw": round(ingest_per_s / raw, 3),
        "ingest_vs_raw_same_inputs": round(ingest_per_s / raw_same, 3),
    }


def _query_process(
    settings: Settings, s: Settings, folder: Path, qs: list[str], starts: int = 3
) -> dict[str, Any]:
    """Query timings from a fresh worker process, then launch-to-answer of `assistant ask`
    (median of `starts` fresh processes)."""
    import statistics

    qfile = folder / "queries.json"
    qfile.write_text(json.dumps(qs))
    env = dict(
        os.environ,
        ASSISTANT_ROOT=str(settings.root),
        ASSISTANT_CORPUS_DIR=str(s.corpus),
        ASSISTANT_INDEX_DIR=str(s.indexes),
        ASSISTANT_TRACE="false",
        ASSISTANT_CHROMA_URL="",
    )
    out = subprocess.run(
        [sys.executable, "-m", "assistant.bench", "--worker", str(qfile)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench worker failed: {out.stderr[-2000:]}")
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    times, ok = [], True
    for _ in range(starts):
        t0 = time.perf_counter()
        first = subprocess.run(
            [sys.executable, "-m", "assistant", "ask", qs[0], "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - t0)
        ok = ok and first.returncode == 0
    row["startup_first_answer_s"] = round(statistics.median(times), 2)
    row["startup_ok"] = ok
    return row


def cold_ask(settings: Settings, question: str, peer: str = "", runs: int = 5) -> dict[str, Any]:
    """Seconds from launch to printed answer of a fresh `assistant ask` on the configured
    index (the seed corpus under `make bench`), median of `runs`; with `peer`, a shell command
    answering the same question over the same documents is timed alternately with it, so both
    see the same machine load (issue 14 compares against cairn-assistant this way)."""
    import shlex
    import statistics

    def timed(argv: list[str]) -> float:
        t0 = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr[-500:]}")
        return time.perf_counter() - t0

    ours_cmd = [sys.executable, "-m", "assistant", "ask", question]
    peer_cmd = [*shlex.split(peer), question] if peer else []
    timed(ours_cmd)  # the first run after a build writes bytecode caches
    if peer_cmd:
        timed(peer_cmd)
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(timed(ours_cmd))
        if peer_cmd:
            theirs.append(timed(peer_cmd))
    row: dict[str, Any] = {
        "question": question,
        "runs": runs,
        "cold_ask_s": round(statistics.median(ours), 3),
        "cold_ask_min_s": round(min(ours), 3),
    }
    if theirs:
        row["peer"] = peer
        row["peer_cold_ask_s"] = round(statistics.median(theirs), 3)
        row["cold_ask_vs_peer"] = round(row["cold_ask_s"] / row["peer_cold_ask_s"], 2)
    return row


def pdf_pages_per_second(paths: list[Path], repeats: int = 3) -> list[dict[str, Any]]:
    """Layout-aware PDF loading speed (`assistant.loader_pdf`), best of `repeats`, per file.

    Issue 12 asks for >= 10 pages/s on a two-column document on this 2-core machine; `make
    bench` passes the suite's two-column long handbook (19 pages)."""
    from assistant.loaders import load_blocks

    rows = []
    for path in paths:
        best = math.inf
        doc = None
        for _ in range(repeats):
            t0 = time.perf_counter()
            doc = load_blocks(path)
            best = min(best, time.perf_counter() - t0)
        pages = (doc.pages if doc else 0) or 0
        rows.append(
            {
                "file": path.name,
                "pages": pages,
                "seconds": round(best, 3),
                "pages_per_s": round(pages / best, 1) if best else None,
            }
        )
    return rows


def plot(report: dict[str, Any], path: Path) -> None:
    """Latency against corpus size, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["sizes"]
    xs = [r["chunks"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label in (
        ("dense_p95_ms", "dense p95"),
        ("bm25_p95_ms", "BM25 p95"),
        ("hybrid_p95_ms", "hybrid p95"),
        ("ask_p95_ms", "ask (extractive) p95"),
        ("server_dense_p95_ms", "Chroma server dense p95"),
    ):
        ax.plot(xs, [r.get(key, 0) for r in rows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Query latency vs corpus size (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table_rows(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(metric, value per size) rows for the printed table."""
    keys = [
        "chunks",
        "encoder",
        "build_s",
        "ingest_chunks_per_s",
        "raw_encoder_chunks_per_s",
        "ingest_vs_raw",
        "raw_encoder_same_inputs_chunks_per_s",
        "ingest_vs_raw_same_inputs",
        "bm25_build_s",
        "bm25_load_s",
        "index_mb",
        "dense_p50_ms",
        "dense_p95_ms",
        "bm25_p50_ms",
        "bm25_p95_ms",
        "hybrid_p50_ms",
        "hybrid_p95_ms",
        "query_embed_p50_ms",
        "ask_p50_ms",
        "ask_p95_ms",
        "ask_uncached_p50_ms",
        "ask_uncached_p95_ms",
        "rss_mb",
        "startup_first_answer_s",
        "embedded_dense_p50_ms",
        "server_dense_p50_ms",
        "server_dense_p95_ms",
    ]
    return [(k, [str(r.get(k, "–")) for r in report["sizes"]]) for k in keys]


def main() -> None:
    """Worker entry point: `python -m assistant.bench --worker QUERIES.json`."""
    from assistant.settings import load_settings

    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(load_settings(), Path(sys.argv[2]))))
        return
    raise SystemExit("use `assistant bench`")


if __name__ == "__main__":
    main()
