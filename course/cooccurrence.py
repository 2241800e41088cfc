"""Word-context co-occurrence counts: the raw material of count-based word embeddings.

The pipeline of the lecture (EDAN95, "Word Embeddings"): split a text into words (:func:`tokenize`),
keep the frequent ones (:func:`vocabulary`), count how often each word ``w_i`` has each context word
``c_j`` within a window of ``K`` words to its left or right (:func:`cooccurrence_counts`), weight the
counts with positive pointwise mutual information (:func:`positive_pmi`), and reduce the matrix with a
truncated SVD. :func:`sparse_cooccurrence_counts` does the counting for integer-encoded corpora too large
for a dense matrix.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

# A word is a run of letters (any alphabet, accents included); digits, apostrophes and punctuation split words.
_WORD = re.compile(r"[^\W\d_]+")


def tokenize(text: str) -> list[str]:
    """Lowercased words of ``text``: ``"Hamilcar's gardens!"`` -> ``['hamilcar', 's', 'gardens']``."""
    return _WORD.findall(text.lower())


def vocabulary(documents: Iterable[Sequence[str]], min_count: int = 1, max_size: int | None = None) -> list[str]:
    """Words of the tokenized ``documents``, most frequent first (ties alphabetical).

    Keeps the words seen at least ``min_count`` times, at most ``max_size`` of them.
    """
    if min_count < 1 or (max_size is not None and max_size < 1):
        raise ValueError(f"min_count={min_count}, max_size={max_size}: both must be at least 1")
    counts = Counter(word for document in _documents(documents) for word in document)
    ranked = sorted((word for word, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    return ranked[:max_size]


def cooccurrence_counts(
    documents: Iterable[Sequence[str]],
    words: Sequence[str],
    window: int = 2,
    contexts: Sequence[str] | None = None,
) -> np.ndarray:
    """The word-context matrix: ``C[i, j]`` = times ``contexts[j]`` occurs within ``window`` words of ``words[i]``.

    ``documents`` are lists of tokens (e.g. one per chapter); windows never cross a document's end. The
    window is symmetric (``window`` positions to the left and to the right, the word itself excluded) and
    counted in running text: a word outside the vocabulary still takes its position, it is just not
    counted. ``contexts`` defaults to ``words`` (a square, symmetric matrix). Returns int64 counts.
    """
    contexts = words if contexts is None else contexts
    word_ids = _index(words, "words")
    context_ids = _index(contexts, "contexts")
    rows, columns = len(word_ids), len(context_ids)
    pairs = [word * columns + context for word, context in _pairs(
        ((np.array([word_ids.get(t, -1) for t in document], dtype=np.int64),
          np.array([context_ids.get(t, -1) for t in document], dtype=np.int64)) for document in _documents(documents)),
        window)]
    flat = np.concatenate(pairs) if pairs else np.zeros(0, dtype=np.int64)
    return np.bincount(flat, minlength=rows * columns).astype(np.int64).reshape(rows, columns)


def sparse_cooccurrence_counts(sequences: Iterable[Sequence[int]], size: int, window: int = 2):
    """The word-context matrix of integer-encoded texts, as a sparse ``size x size`` matrix (SciPy CSR).

    For corpora too large for :func:`cooccurrence_counts`' dense matrix, e.g. 25,000 IMDB reviews over a
    10,000-word vocabulary. ``sequences`` hold word indices (e.g. ``imdb.load_data(num_words=size)``);
    the indices ``0 <= i < size`` are the words and contexts, a negative index takes its position without
    being counted. Same windows as :func:`cooccurrence_counts`: symmetric, ``window`` positions on each
    side, never across a sequence's end. Returns int64 counts.
    """
    from scipy import sparse

    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size={size!r}: the vocabulary needs at least one word")
    gap = np.full(max(window, 0), -1, dtype=np.int64)  # between texts: no window reaches across
    encoded = []
    for sequence in sequences:
        ids = np.asarray(sequence, dtype=np.int64)
        if ids.size and ids.max() >= size:
            raise ValueError(f"word index {int(ids.max())} is outside the vocabulary of {size} words (0 to {size - 1})")
        encoded += [ids, gap]
    flat = np.concatenate(encoded) if encoded else np.zeros(0, dtype=np.int64)
    counts = sparse.csr_matrix((size, size), dtype=np.int64)
    for word, context in _pairs([(flat, flat)], window):  # one pass per offset over the whole corpus
        counts = counts + sparse.csr_matrix((np.ones(len(word), dtype=np.int64), (word, context)), shape=(size, size))
    return counts


def _pairs(documents, window: int):
    """Yield (word ids, context ids) arrays of every co-occurrence within ``window``; -1 marks a non-word."""
    if window < 1:
        raise ValueError(f"window={window}: the context needs at least one word on each side")
    for w, c in documents:
        for offset in range(1, min(window, len(w) - 1) + 1):
            # Positions p and p + offset, seen from both ends: the word on the left with its right
            # context, and the word on the right with its left context.
            for word, context in ((w[:-offset], c[offset:]), (w[offset:], c[:-offset])):
                keep = (word >= 0) & (context >= 0)
                yield word[keep], context[keep]


def positive_pmi(counts):
    """Positive pointwise mutual information of a word-context count matrix (dense array or SciPy sparse).

    ``max(0, log2(N C(w, c) / (C(w) C(c))))`` with ``N``, ``C(w)``, ``C(c)`` the total, the row sums and the
    column sums of the matrix; 0 for pairs never seen. A sparse matrix gives a sparse (CSR) result.
    """
    from scipy import sparse

    if sparse.issparse(counts):
        counts = sparse.coo_matrix(counts, dtype=np.float64)
        rows = np.asarray(counts.sum(axis=1)).ravel()
        columns = np.asarray(counts.sum(axis=0)).ravel()
        keep = counts.data > 0
        i, j, n = counts.row[keep], counts.col[keep], counts.data[keep]
        pmi = np.maximum(np.log2(counts.sum() * n / (rows[i] * columns[j])), 0)
        result = sparse.csr_matrix((pmi, (i, j)), shape=counts.shape)
        result.eliminate_zeros()
        return result
    counts = np.asarray(counts, dtype=float)
    if (counts < 0).any():
        raise ValueError("counts must not be negative")
    total, rows, columns = counts.sum(), counts.sum(axis=1, keepdims=True), counts.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log2(total * counts / (rows * columns))
    return np.where(counts > 0, np.maximum(pmi, 0), 0.0)


def _index(items: Sequence[str], what: str) -> dict[str, int]:
    index = {item: i for i, item in enumerate(items)}
    if len(index) != len(items):
        raise ValueError(f"{what} contain duplicates")
    if not index:
        raise ValueError(f"{what} are empty")
    return index


def _documents(documents) -> list[Sequence[str]]:
    documents = list(documents)
    if any(isinstance(d, str) for d in documents):
        raise TypeError("give tokenized documents (lists of words), e.g. [tokenize(text) for text in texts]")
    return documents
