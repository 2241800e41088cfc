"""Working with pretrained word vectors: embedding matrices, coverage, similarity and projections.

An *embeddings index* is a ``{word: vector}`` dictionary such as :func:`course.datasets.glove.load`
returns. A *vocabulary* is the list of words a tokenizer knows, in index order: ``vocabulary[i]`` is the
word the tokenizer encodes as ``i``, like ``keras.layers.TextVectorization.get_vocabulary()`` returns it
(``''`` for padding at 0, ``'[UNK]'`` at 1, then the words from the most to the least frequent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# Entries of a TextVectorization vocabulary that are not words: padding and out-of-vocabulary.
SPECIAL_TOKENS = ("", "[UNK]")


class OutOfVocabularyError(KeyError):
    """A word has no vector in the embeddings index."""

    def __str__(self):  # KeyError would print the message with quotes around it
        return str(self.args[0])


def vector(word: str, index: Mapping[str, np.ndarray]) -> np.ndarray:
    """The vector of ``word``; an :class:`OutOfVocabularyError` that says why when there is none."""
    try:
        return index[word]
    except KeyError:
        hint = " (words are lowercased in GloVe)" if word.lower() in index else ""
        raise OutOfVocabularyError(f"'{word}' is not among the {len(index):,} words of the embeddings index{hint}") from None


def embedding_matrix(vocabulary: Sequence[str], index: Mapping[str, np.ndarray], dim: int | None = None) -> np.ndarray:
    """Rows of pretrained vectors in the tokenizer's order: row ``i`` is the vector of ``vocabulary[i]``.

    Words without a vector (and the padding and ``[UNK]`` entries) get a row of zeros, as on the slides.
    """
    dim = dim or len(next(iter(index.values())))
    matrix = np.zeros((len(vocabulary), dim), dtype=np.float32)
    for i, word in enumerate(vocabulary):
        if word not in SPECIAL_TOKENS and word in index:
            matrix[i] = index[word]
    return matrix


@dataclass(frozen=True)
class Coverage:
    words: int  # vocabulary words (special tokens excluded)
    covered_words: int  # ... that have a pretrained vector
    tokens: int | None = None  # word tokens in the encoded texts (padding excluded), when given
    covered_tokens: int | None = None  # ... whose word has a pretrained vector
    missing: tuple[str, ...] = ()  # the most frequent words without a vector

    def __str__(self):
        text = f"{self.covered_words:,} of {self.words:,} vocabulary words ({self.covered_words / self.words:.1%}) have a vector"
        if self.tokens:
            text += f"; they make up {self.covered_tokens / self.tokens:.1%} of the {self.tokens:,} word tokens in the texts"
        if self.missing:
            text += f". Most frequent words without one: {', '.join(self.missing)}"
        return text


def coverage(vocabulary: Sequence[str], index: Mapping[str, np.ndarray], sequences=None, show: int = 10) -> Coverage:
    """How much of a vocabulary (and, given encoded ``sequences``, of the running text) has vectors."""
    has_vector = np.array([w not in SPECIAL_TOKENS and w in index for w in vocabulary], dtype=bool)
    words = [i for i, w in enumerate(vocabulary) if w not in SPECIAL_TOKENS]
    missing = tuple(vocabulary[i] for i in words if not has_vector[i])[:show]
    tokens = covered_tokens = None
    if sequences is not None:
        ids = np.asarray(sequences).ravel()
        ids = ids[ids != 0]  # padding is not text; [UNK] tokens count as uncovered text
        tokens, covered_tokens = int(ids.size), int(has_vector[ids].sum())
    return Coverage(len(words), int(has_vector.sum()), tokens, covered_tokens, missing)


def check_embedding_matrix(
    matrix: np.ndarray,
    vocabulary: Sequence[str],
    index: Mapping[str, np.ndarray],
    tokenize: Callable[[list[str]], np.ndarray],
) -> int:
    """Prove that the matrix row the model will look up for each word is that word's pretrained vector.

    For every word of ``vocabulary``, ``tokenize([word, ...])`` (e.g. a ``TextVectorization`` layer) gives
    the index the model sees (first column); the row of ``matrix`` at that index must equal the word's
    vector in ``index``, or be zero for a word without one. Raises ``AssertionError`` listing the first
    mismatches (a matrix shifted by one row fails on every word); returns the number of covered words checked.
    """
    matrix = np.asarray(matrix)
    words = [w for w in vocabulary if w not in SPECIAL_TOKENS]
    if matrix.shape[0] < len(vocabulary):
        raise AssertionError(f"the matrix has {matrix.shape[0]} rows for a vocabulary of {len(vocabulary)} entries")
    ids = np.asarray(tokenize(words))
    ids = ids[:, 0] if ids.ndim == 2 else ids
    problems, checked = [], 0
    for word, i in zip(words, ids.tolist()):
        expected = index.get(word)
        if expected is None:
            ok = not np.any(matrix[i])
        else:
            ok = np.array_equal(matrix[i], np.asarray(expected, dtype=matrix.dtype))
            checked += ok
        if not ok:
            problems.append(f"'{word}' -> index {i}: row {i} is not " + ("zero" if expected is None else "its vector"))
    if problems:
        raise AssertionError(f"{len(problems)} of {len(words)} words look up the wrong row, e.g. " + "; ".join(problems[:5]))
    return checked


def cosine_similarity(u, v) -> float:
    """The normalised dot product u.v / (|u| |v|): 1 for the same direction, 0 orthogonal, -1 opposite."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    norms = np.linalg.norm(u) * np.linalg.norm(v)
    if norms == 0:
        raise ValueError("cosine similarity is undefined for a zero vector")
    return float(u @ v / norms)


def _unit_rows(index: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    words = list(index)
    matrix = np.stack([index[w] for w in words]).astype(np.float32)
    return words, matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def nearest_neighbours(query, index: Mapping[str, np.ndarray], k: int = 5, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity with ``query`` (a word or a vector).

    A query word is left out of its own neighbours; an unknown word raises :class:`OutOfVocabularyError`.
    """
    exclude = set(exclude)
    if isinstance(query, str):
        exclude.add(query)
        query = vector(query, index)
    words, unit = _unit_rows(index)
    scores = unit @ (np.asarray(query, dtype=np.float32) / np.linalg.norm(query))
    result = []
    for i in np.argsort(-scores):
        if words[i] not in exclude:
            result.append((words[i], float(scores[i])))
            if len(result) == k:
                break
    return result


def analogy(a: str, b: str, c: str, index: Mapping[str, np.ndarray], k: int = 1) -> list[tuple[str, float]]:
    """``a`` is to ``b`` as ``c`` is to ...? The nearest words to b - a + c (the three inputs excluded)."""
    target = vector(b, index) - vector(a, index) + vector(c, index)
    return nearest_neighbours(target, index, k=k, exclude=(a, b, c))


def project_2d(words: Sequence[str], index: Mapping[str, np.ndarray]) -> np.ndarray:
    """Coordinates of the words' vectors on their first two principal components (PCA by SVD)."""
    matrix = np.stack([vector(w, index) for w in words]).astype(np.float64)
    centred = matrix - matrix.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :2] * s[:2]


def plot_word_groups(groups: Mapping[str, Sequence[str]], index: Mapping[str, np.ndarray], title: str | None = None):
    """Scatter word groups on a 2-D PCA projection, one colour per group; words without a vector are listed."""
    import matplotlib.pyplot as plt

    known = {name: [w for w in ws if w in index] for name, ws in groups.items()}
    skipped = [w for ws in groups.values() for w in ws if w not in index]
    words = [w for ws in known.values() for w in ws]
    points = dict(zip(words, project_2d(words, index)))
    fig, ax = plt.subplots(figsize=(7, 5.5))
    for name, ws in known.items():
        xy = np.array([points[w] for w in ws])
        ax.scatter(xy[:, 0], xy[:, 1], label=name)
        for w, (x, y) in zip(ws, xy):
            ax.annotate(w, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=9)
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title(title or "Word vectors projected on their first two principal components")
    if skipped:
        print("no vector (left out):", ", ".join(skipped))
    fig.tight_layout()
    plt.show()
    return fig


@dataclass(frozen=True)
class Agreement:
    overlap: np.ndarray  # per word: how many of its k nearest neighbours the two spaces share
    k: int
    chance: float  # the mean overlap expected of two unrelated spaces: k * k / (words - 1)
    spearman: float  # rank correlation of the cosine similarities of all word pairs

    def __str__(self):
        return (f"{self.overlap.mean():.2f} of the {self.k} nearest neighbours shared on average (chance "
                f"{self.chance:.2f}); Spearman correlation of all pairwise cosines {self.spearman:.3f}")


def agreement(vectors_a, vectors_b, k: int = 10) -> Agreement:
    """How far two embeddings of the same words agree: neighbourhoods (under cosine) and pairwise cosines.

    Row ``i`` of ``vectors_a`` and of ``vectors_b`` embed the same word (the spaces may differ in dimension).
    For each word, the overlap of its ``k`` nearest neighbours in each space (itself excluded); over all
    pairs of words, the Spearman correlation of their cosine similarities in the two spaces.
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(vectors_a, dtype=np.float64), np.asarray(vectors_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or len(a) != len(b):
        raise ValueError(f"expected two matrices with one row per word, the same words: got shapes {a.shape} and {b.shape}")
    if not 1 <= k < len(a):
        raise ValueError(f"k={k}: need 1 <= k < {len(a)} (the number of words)")
    similarities = []
    for vectors in (a, b):
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not norms.all():
            raise ValueError("cosine similarity is undefined for a zero vector: drop the words without a vector")
        unit = vectors / norms
        similarities.append(unit @ unit.T)
    pairs = np.triu_indices(len(a), k=1)
    rho = float(spearmanr(similarities[0][pairs], similarities[1][pairs]).statistic)
    tops = []
    for similar in similarities:
        similar = similar.copy()
        np.fill_diagonal(similar, -np.inf)
        tops.append(np.argsort(-similar, axis=1)[:, :k])
    overlap = np.array([len(set(x) & set(y)) for x, y in zip(*tops)])
    return Agreement(overlap, k, k * k / (len(a) - 1), rho)
