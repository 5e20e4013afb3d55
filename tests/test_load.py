"""Concurrent load on the real app: LOAD_CLIENTS (default 20) gradio_client chat clients ask a
mix of answerable, unanswerable and follow-up questions through `/ask` for LOAD_SECONDS
(default 60) against one in-process server over the real MiniLM index, on 127.0.0.1 only.

Zero errors are allowed and every answer must be well formed. Throughput and latency
percentiles are printed and written to test-artifacts/load.json.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port
from test_reliability_questions import check_answer

from assistant.settings import Settings

pytestmark = [pytest.mark.load, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "20"))

ANSWERABLE = [
    "What are the three aims of the public sector equality duty?",
    "Which protected characteristics are relevant to children and parents?",
    "How long does the full inspection of Cafcass take?",
    "How does Ofsted eliminate discrimination in Cafcass inspections?",
    "When will Ofsted carry out the full inspection of Cafcass?",
]
UNANSWERABLE = [
    "How do I renew my passport?",
    "What is the capital of France?",
    "How much does a school meal cost in Wales?",
]
FOLLOW_UPS = [
    (
        "What are the three aims of the public sector equality duty?",
        "eliminate discrimination, advance equality of opportunity and foster good relations [1]",
        "And how are they monitored?",
    ),
    (
        "When will Ofsted carry out the full inspection of Cafcass?",
        "Ofsted will carry out a full inspection of Cafcass [1]",
        "What will it look at?",
    ),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * q
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


@pytest.mark.timeout(int(SECONDS) + 240)
def test_concurrent_chat_clients(
    minilm_index: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from gradio_client import Client

    import ui.app
    from assistant.answer import Assistant
    from ui.app import create_app

    # the queue is sized on purpose: 20 waiting clients fit, answers are computed 4 at a time
    assert ui.app.QUEUE_MAX_SIZE >= CLIENTS and 1 <= ui.app.QUEUE_CONCURRENCY <= 8
    tmp = tmp_path_factory.mktemp("load")
    settings = replace(
        minilm_index,
        trace=True,
        trace_dir=tmp / "logs",
        feedback_path=tmp / "fb.jsonl",
        upload_dir=tmp / "uploads",
    )
    assistant = Assistant(settings)
    assistant.retriever.embedder.embed_query("warm up")
    demo = create_app(settings, assistant)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    # what a single client gets, to compare every answer under load against
    asks = [(q, "[]") for q in ANSWERABLE + UNANSWERABLE] + [
        (q, json.dumps([{"role": "user", "content": f}, {"role": "assistant", "content": r}]))
        for f, r, q in FOLLOW_UPS
    ]
    expected = {}
    for q, h in asks:
        single = assistant.ask(q, history=json.loads(h))
        expected[(q, h)] = (single.question, single.rewritten_query, single.answer)
    records: list[dict[str, Any]] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(CLIENTS + 1, timeout=180)

    def worker(i: int) -> None:
        rng = random.Random(i)
        client = Client(url, verbose=False)
        start_gate.wait()
        deadline = time.monotonic() + SECONDS
        for _ in range(100_000):  # bounded in count as well as time
            if time.monotonic() >= deadline:
                return
            question, history = rng.choice(asks)
            kind = (
                "follow-up"
                if history != "[]"
                else "unanswerable"
                if question in UNANSWERABLE
                else "answerable"
            )
            t0 = time.monotonic()
            error, mismatch = "", False
            try:
                result = client.predict(question, history, "extractive", api_name="/ask")
                try:
                    check_answer(result)
                    want_question, want_query, want_answer = expected[(question, history)]
                    # a request never sees another request's question or state
                    got = (result["question"], result["rewritten_query"])
                    if got != (want_question, want_query):
                        error = f"answer to another question: {question!r} -> {got!r}"
                    mismatch = result["answer"] != want_answer
                except AssertionError as exc:
                    error = f"malformed: {exc}"
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                result, error = None, f"{type(exc).__name__}: {exc}"
            latency = time.monotonic() - t0
            with lock:
                records.append(
                    {
                        "client": i,
                        "kind": kind,
                        "latency": latency,
                        "error": error,
                        "refused": bool(result and result.get("refused")),
                        "mismatch": mismatch and not error,
                    }
                )

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(CLIENTS)]
    trace = tmp / "logs" / "trace.jsonl"
    traced_before = len(trace.read_text(encoding="utf-8").splitlines())
    try:
        for t in threads:
            t.start()
        start_gate.wait()
        started = time.monotonic()
        for t in threads:
            t.join(timeout=SECONDS + 120)
        elapsed = time.monotonic() - started
        assert not any(t.is_alive() for t in threads), "a client hung"
    finally:
        demo.close()

    errors = [r for r in records if r["error"]]
    latencies = [r["latency"] for r in records if not r["error"]]
    by_kind = {
        k: sum(1 for r in records if r["kind"] == k)
        for k in ("answerable", "unanswerable", "follow-up")
    }
    summary = {
        "clients": CLIENTS,
        "seconds": SECONDS,
        "elapsed_s": round(elapsed, 1),
        "requests": len(records),
        "errors": len(errors),
        "throughput_rps": round(len(records) / elapsed, 2),
        "latency_p50_s": round(percentile(latencies, 0.50), 3),
        "latency_p95_s": round(percentile(latencies, 0.95), 3),
        "latency_max_s": round(max(latencies, default=0.0), 3),
        "latency_mean_s": round(statistics.fmean(latencies), 3) if latencies else 0.0,
        "by_kind": by_kind,
        "refused": sum(r["refused"] for r in records),
        "answers_differing_from_single_client": sum(r["mismatch"] for r in records),
        "queue_concurrency": ui.app.QUEUE_CONCURRENCY,
        "queue_max_size": ui.app.QUEUE_MAX_SIZE,
        "cpus": os.cpu_count(),
    }
    out = REPO / "test-artifacts" / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print("\nload:", json.dumps(summary))
    assert not errors, errors[:5]
    assert all(by_kind.values()), by_kind
    assert len(records) >= CLIENTS, summary
    # The pipeline is deterministic, so concurrency must not change answers. Allow a float-level
    # tie flip in very rare cases (threads share torch's pools), never a pattern.
    assert summary["answers_differing_from_single_client"] <= len(records) // 100, summary
    # the trace file has one whole JSON line per answer
    lines = trace.read_text(encoding="utf-8").splitlines()
    assert len(lines) - traced_before == len(records)
    for line in lines:
        json.loads(line)
