"""Sparse BM25 over the chunks, persisted beside each index generation.

bm25s builds the index (its eager scoring precomputes every term's per-document BM25 weight
into a CSC matrix) and writes it to the generation folder. Queries do not import bm25s: its
import pulls in scipy.sparse (~0.3 s of a cold `assistant ask`, issue 14), while a query only
needs to add up a few columns of that matrix. `BM25Index.load` therefore memory-maps the saved
arrays and scores with numpy, exactly as bm25s's own `get_scores` does (the same column sums in
the same order; `tests/test_retrieval.py` compares both on every query of a corpus).

Tokenisation is shared by indexing and querying: lowercase words, English stop words removed,
Snowball-stemmed when PyStemmer is installed, so "aims" matches "aim". The stop word list
bm25s used is saved with the index, so a query is tokenised as its index was.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from assistant.text import english_stemmer, stem_variants

TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default (scikit-learn's CountVectorizer)
STOPWORDS_FILE = "stopwords.json"


def bm25s_stopwords() -> list[str]:
    """bm25s's English stop words: the list its tokenizer removes with ``stopwords="en"``."""
    from bm25s.stopwords import STOPWORDS_EN

    return list(STOPWORDS_EN)


def tokenize(texts: list[str], stopwords: frozenset[str] | None = None) -> list[list[str]]:
    """Word tokens as ``bm25s.tokenize(stopwords="en", stemmer=...)`` makes them.

    Lower-cased `TOKEN_PATTERN` words, stop words dropped, then stemmed; the same steps in the
    same order as bm25s, written out so that queries need no bm25s import.
    """
    stop = stopwords if stopwords is not None else frozenset(bm25s_stopwords())
    stemmer = english_stemmer()
    out = []
    for text in texts:
        words = [w for w in TOKEN_PATTERN.findall(text.lower()) if w not in stop]
        out.append(stemmer.stemWords(words) if stemmer is not None and words else words)
    return out


class BM25Index:
    """BM25 weights as a CSC matrix (term -> postings), document numbers = chunk positions.

    `data[indptr[t]:indptr[t+1]]` are term t's precomputed weights for the documents
    `indices[indptr[t]:indptr[t+1]]`; a query's scores are the sum of its terms' columns.
    """

    def __init__(
        self,
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        vocab: dict[str, int],
        size: int,
        stopwords: frozenset[str],
    ):
        self.data = data
        self.indices = indices
        self.indptr = indptr
        self.vocab = vocab
        self.size = size
        self.stopwords = stopwords
        self._model: Any = None  # the bm25s model, between build and save only
        self._sorted_vocab: list[str] | None = None  # for `variants`, sorted on first use

    @classmethod
    def empty(cls) -> BM25Index:
        none = np.zeros(0, dtype=np.int32)
        return cls(np.zeros(0, dtype=np.float32), none, none, {}, 0, frozenset())

    @classmethod
    def build(cls, texts: list[str]) -> BM25Index:
        """Index `texts` with bm25s (imported here: only builds pay for scipy)."""
        if not texts:
            return cls.empty()
        import bm25s

        stopwords = frozenset(bm25s_stopwords())
        model = bm25s.BM25()
        model.index(tokenize(texts, stopwords), show_progress=False)
        scores = model.scores
        index = cls(
            np.asarray(scores["data"]),
            np.asarray(scores["indices"]),
            np.asarray(scores["indptr"]),
            dict(model.vocab_dict),
            len(texts),
            stopwords,
        )
        index._model = model
        return index

    def save(self, folder: Path) -> None:
        """bm25s's own files (so bm25s can still load them), the size and the stop words."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "size.txt").write_text(str(self.size))
        if self._model is not None:
            self._model.save(str(folder), show_progress=False)
        (folder / STOPWORDS_FILE).write_text(json.dumps(sorted(self.stopwords)))

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        """Memory-map a saved index: nothing is parsed but the vocabulary."""
        size = int((folder / "size.txt").read_text())
        if size == 0:
            return cls.empty()
        arrays = [
            np.load(folder / f"{k}.csc.index.npy", mmap_mode="r")
            for k in ("data", "indices", "indptr")
        ]
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        stop_file = folder / STOPWORDS_FILE
        stopwords = frozenset(
            json.loads(stop_file.read_text(encoding="utf-8"))
            if stop_file.is_file()
            else bm25s_stopwords()  # an index written before the list was saved
        )
        if len(arrays[2]) < 1 or int(arrays[2][-1]) != len(arrays[0]):
            raise ValueError(f"BM25 arrays in {folder} do not match")
        return cls(*arrays, vocab=vocab, size=size, stopwords=stopwords)

    def doc_freqs(self) -> dict[str, int]:
        """Documents containing each term (postings length), for IDF elsewhere."""
        ptr = self.indptr
        return {t: int(ptr[i + 1] - ptr[i]) for t, i in self.vocab.items() if i + 1 < len(ptr)}

    def postings(self, word: str) -> np.ndarray:
        """The document numbers (chunk positions) holding `word`, tokenised and stemmed as the
        index was; empty when it is not one indexed term."""
        tokens = tokenize([word], self.stopwords)[0]
        t = self.vocab.get(tokens[0], -1) if len(tokens) == 1 else -1
        if not 0 <= t < len(self.indptr) - 1:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self.indices[int(self.indptr[t]) : int(self.indptr[t + 1])])

    def scores(self, query: str, variants: bool = False) -> np.ndarray | None:
        """BM25 score of every document for `query`, or None when no term is indexed.

        With `variants`, a query term the index lacks scores as its indexed stem variants
        (`assistant.text.stem_variants`: "overrepresented" finds "overrepresentation"); without,
        the scores are exactly bm25s's.
        """
        tokens = tokenize([query], self.stopwords)[0]
        if variants:
            tokens = [v for t in tokens for v in ([t] if t in self.vocab else self.variants(t))]
        ids = [self.vocab[t] for t in tokens if t in self.vocab]
        ids = [i for i in ids if i + 1 < len(self.indptr)]
        if not ids:
            return None
        scores = np.zeros(self.size, dtype=np.float32)
        for t in ids:  # term by term, as bm25s adds them (float32 sums in the same order)
            start, end = int(self.indptr[t]), int(self.indptr[t + 1])
            scores[self.indices[start:end]] += self.data[start:end]
        return scores

    def variants(self, term: str) -> list[str]:
        """Indexed stems that stand in for `term` when the index lacks it."""
        if self._sorted_vocab is None:
            self._sorted_vocab = sorted(self.vocab)
        return stem_variants(term, self._sorted_vocab, self.vocab)

    def search(
        self, query: str, n: int, mask: np.ndarray | None = None, variants: bool = False
    ) -> list[tuple[int, float]]:
        """Top `n` (position, score) pairs with a positive score, optionally masked."""
        if self.size == 0 or n <= 0:
            return []
        scores = self.scores(query, variants)
        if scores is None:
            return []
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
