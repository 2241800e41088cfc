"""Word-context co-occurrence counts: the raw material of count-based word embeddings.

The pipeline of the lecture (EDAN95, "Word Embeddings"): split a text into words (:func:`tokenize`),
keep the frequent ones (:func:`vocabulary`), count how often each word ``w_i`` has each context word
``c_j`` within a window of ``K`` words to its left or right (:func:`cooccurrence_counts`), weight the
counts with pointwise mutual information, and reduce the matrix with a truncated SVD. The notebooks
compute the PMI and the SVD themselves; this module only does the bookkeeping.
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
    if window < 1:
        raise ValueError(f"window={window}: the context needs at least one word on each side")
    contexts = words if contexts is None else contexts
    word_ids = _index(words, "words")
    context_ids = _index(contexts, "contexts")
    rows, columns = len(word_ids), len(context_ids)
    pairs = []  # flat indices i * columns + j, one per co-occurrence
    for document in _documents(documents):
        w = np.array([word_ids.get(token, -1) for token in document], dtype=np.int64)
        c = np.array([context_ids.get(token, -1) for token in document], dtype=np.int64)
        for offset in range(1, min(window, len(document) - 1) + 1):
            # Positions p and p + offset, seen from both ends: the word on the left with its right
            # context, and the word on the right with its left context.
            for word, context in ((w[:-offset], c[offset:]), (w[offset:], c[:-offset])):
                keep = (word >= 0) & (context >= 0)
                pairs.append(word[keep] * columns + context[keep])
    flat = np.concatenate(pairs) if pairs else np.zeros(0, dtype=np.int64)
    return np.bincount(flat, minlength=rows * columns).astype(np.int64).reshape(rows, columns)


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
