"""Sparse BM25 over the chunks (bm25s), persisted beside each index generation.

Tokenisation is shared by indexing and querying: lowercase words, English stop words removed,
Snowball-stemmed when PyStemmer is installed, so "aims" matches "aim".
"""

from __future__ import annotations

import logging
from pathlib import Path

import bm25s
import numpy as np

from assistant.text import english_stemmer


def tokenize(texts: list[str]) -> list[list[str]]:
    """Word tokens as bm25s makes them, stop words removed, stemmed."""
    return bm25s.tokenize(  # type: ignore[return-value]
        texts, stopwords="en", stemmer=english_stemmer(), return_ids=False, show_progress=False
    )


class BM25Index:
    """A bm25s index whose document numbers are positions in the generation's chunk list."""

    def __init__(self, model: bm25s.BM25 | None, size: int):
        self.model = model
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> BM25Index:
        if not texts:
            return cls(None, 0)
        model = bm25s.BM25()
        model.index(tokenize(texts), show_progress=False)
        return cls(model, len(texts))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "size.txt").write_text(str(self.size))
        if self.model is not None:
            self.model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        size = int((folder / "size.txt").read_text())
        if size == 0:
            return cls(None, 0)
        logging.getLogger("bm25s").setLevel(logging.ERROR)
        model = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
        return cls(model, size)

    def search(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top `n` (position, score) pairs with a positive score, optionally masked."""
        if self.model is None or n <= 0:
            return []
        tokens = [t for t in tokenize([query])[0] if t in self.model.vocab_dict]
        if not tokens:
            return []
        scores = self.model.get_scores(tokens)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
