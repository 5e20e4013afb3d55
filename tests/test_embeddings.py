"""The two MiniLM backends give the same vectors; the fake embedder still ranks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import HashEmbeddings, MiniLMEmbeddings, OnnxMiniLMEmbeddings, SharedTexts

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
    numpy_pass = onnx.encode(TEXTS)  # a few texts before any session: the numpy forward pass
    assert onnx._session is None and onnx._numpy is not None
    onnx.session  # noqa: B018 - from now on onnxruntime encodes everything
    a, b = onnx.encode(TEXTS), torch_backend.encode(TEXTS)
    assert float(np.min(np.sum(a * numpy_pass, axis=1))) > 0.99999
    assert float(np.abs(a - numpy_pass).max()) < 1e-5
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.999
    # batching by length must not change any vector
    single = np.vstack([onnx.encode([t]) for t in TEXTS])
    assert float(np.min(np.sum(a * single, axis=1))) > 0.9999
    assert onnx.embed_query(TEXTS[0]) == onnx.embed_query(TEXTS[0])  # cached, identical


def test_hash_embedder_ranks_related_text_higher() -> None:
    emb = HashEmbeddings()
    q, near, far = emb.encode(
        ["equality duty aims", "the aims of the equality duty", "passport renewal abroad"]
    )
    assert float(q @ near) > float(q @ far)


def test_numpy_pass_serves_cold_questions_and_caches_aligned_weights(tmp_path: Path) -> None:
    """A cold process embeds its question without onnxruntime; the prepared weights are
    written once beside the ONNX file and memory-mapped by the next process."""
    import subprocess
    import sys

    from assistant.embeddings import default_model_path
    from assistant.minilm_numpy import NumpyMiniLM

    onnx_path = tmp_path / "onnx"  # exported here by the probe's embedder (needs torch)
    cache = tmp_path / "models"
    first = NumpyMiniLM(default_model_path(), cache_dir=cache)
    assert (cache / "minilm-numpy.npy").is_file() and (cache / "minilm-numpy.json").is_file()
    second = NumpyMiniLM(default_model_path(), cache_dir=cache)
    assert isinstance(second.w["encoder.layer.0.attention.self.query.weight"], np.memmap)
    np.testing.assert_array_equal(first.encode(TEXTS), second.encode(TEXTS))
    (cache / "minilm-numpy.json").write_text("{broken", encoding="utf-8")
    third = NumpyMiniLM(default_model_path(), cache_dir=cache)  # rebuilt, not misread
    np.testing.assert_array_equal(first.encode(TEXTS[:2]), third.encode(TEXTS[:2]))
    probe = (
        "import sys; from assistant.embeddings import OnnxMiniLMEmbeddings as E; "
        f"e = E({str(onnx_path / 'all-MiniLM-L6-v2.onnx')!r}); e.embed_query('equality duty'); "
        "print('onnxruntime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_shared_texts_encodes_each_distinct_text_once() -> None:
    class Counting(HashEmbeddings):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def encode(self, texts: list[str]) -> np.ndarray:
            self.seen += texts
            return super().encode(texts)

    inner = Counting()
    shared = SharedTexts(inner)
    first = shared.encode(["a duty", "an aim", "a duty"])
    second = shared.encode(["an aim", "a new text"])
    assert inner.seen == ["a duty", "an aim", "a new text"]
    reference = HashEmbeddings().encode(["a duty", "an aim", "a duty", "a new text"])
    assert np.allclose(first, reference[:3]) and np.allclose(second, reference[[1, 3]])
    assert shared.encode([]).shape == (0, inner.dim)
    assert (shared.name, shared.dim) == (inner.name, inner.dim)
