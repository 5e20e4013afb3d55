"""The two MiniLM backends give the same vectors; the fake embedder still ranks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import HashEmbeddings, MiniLMEmbeddings, OnnxMiniLMEmbeddings

TEXTS = [
    "What are the three aims of the public sector equality duty?",
    "Inspectors will feed back on individual casework practice and thematic learning.",
    "PSED",
    "x " * 400,  # longer than the model's 256-token window: truncated the same way
]


@pytest.mark.slow
def test_onnx_backend_matches_sentence_transformers(tmp_path: Path) -> None:
    onnx = OnnxMiniLMEmbeddings(str(tmp_path / "minilm.onnx"))
    torch_backend = MiniLMEmbeddings()
    a, b = onnx.encode(TEXTS), torch_backend.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.999
    # batching by length must not change any vector
    single = np.vstack([onnx.encode([t]) for t in TEXTS])
    assert float(np.min(np.sum(a * single, axis=1))) > 0.9999
    assert onnx.embed_query(TEXTS[0]) == onnx.embed_query(TEXTS[0])  # cached, identical


def test_hash_embedder_ranks_related_text_higher() -> None:
    emb = HashEmbeddings()
    q, near, far = emb.encode(["equality duty aims", "the aims of the equality duty",
                               "passport renewal abroad"])
    assert float(q @ near) > float(q @ far)
