"""What the Keras-style text loaders (IMDB, Reuters) share: Keras's old tokenizer, the cache of their
word-rank arrays, and Keras's ``load_data`` transformations done on whole arrays at once.

A set of reviews or newswires is held as ``flat`` (every word rank, end to end) and ``lengths``
(words per text); lists of Python ints are only built at the end, as ``keras.datasets`` returns them.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

# The default filters of Keras's text_to_word_sequence (string.punctuation without the apostrophe, plus
# tab and newline): each becomes a space.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
# The IMDB and Reuters indexes were made with Python 2 byte strings, whose lower() changes ASCII only.
_TRANSLATION = str.maketrans(
    {**{c: " " for c in KERAS_FILTERS}, **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)}}
)


def keras_words(text: str) -> list[str]:
    """Keras's ``text_to_word_sequence`` with its default filters, lowercasing ASCII letters only."""
    return [word for word in text.translate(_TRANSLATION).split(" ") if word]


def check_int(name: str, value, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int{' or None' if optional else ''}, not {value!r}")


# --- cache ------------------------------------------------------------------------------------------


def load_cached(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cached ``.npz``, or None when it is missing or unreadable (then it is removed)."""
    try:
        with np.load(path) as stored:
            return {key: stored[key] for key in stored.files}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        path.unlink(missing_ok=True)
        return None


def save_atomically(target: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an ``.npz`` to a temporary file and rename it, so a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def pack(sequences: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """``(flat, lengths)`` of a list of rank lists."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    flat = np.fromiter((w for s in sequences for w in s), dtype=np.int32, count=int(lengths.sum()))
    return flat, lengths


# --- Keras's load_data steps on (flat, lengths) -------------------------------------------------------------


def starts(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)


def reorder(flat, lengths, order):
    """The sequences in the given order."""
    new_lengths = lengths[order]
    positions = np.repeat(starts(lengths)[order] - starts(new_lengths), new_lengths) + np.arange(new_lengths.sum())
    return flat[positions], new_lengths


def shift(flat, lengths, start_char, index_from):
    """``[start_char] + [w + index_from for w in x]`` for each sequence (no start when it is None)."""
    flat = flat.astype(np.int64) + index_from
    if start_char is None:
        return flat, lengths
    new_lengths = lengths + 1
    out = np.empty(len(flat) + len(lengths), dtype=np.int64)
    heads = starts(new_lengths)
    body = np.ones(len(out), dtype=bool)
    body[heads] = False
    out[heads], out[body] = start_char, flat
    return out, new_lengths


def shorter_than(maxlen, flat, lengths, labels):
    """Keras's ``remove_long_seq``: keep the sequences with fewer than ``maxlen`` items."""
    keep = lengths < maxlen
    return flat[np.repeat(keep, lengths)], lengths[keep], labels[keep]


def limit_vocabulary(flat, lengths, skip_top, num_words, oov_char):
    """Indices outside ``skip_top <= w < num_words`` become ``oov_char``, or are dropped when it is None."""
    inside = (flat >= skip_top) & (flat < num_words)
    if oov_char is not None:
        return np.where(inside, flat, oov_char), lengths
    kept_so_far = np.concatenate(([0], np.cumsum(inside)))
    ends = np.cumsum(lengths)
    return flat[inside], kept_so_far[ends] - kept_so_far[ends - lengths]


def as_lists(flat, lengths) -> np.ndarray:
    """A 1-D object array of Python lists of ints, built the way Keras builds it."""
    values = flat.tolist()
    ends = np.cumsum(lengths).tolist()
    return np.array([values[end - n : end] for end, n in zip(ends, lengths.tolist())], dtype="object")
