"""Encodings that labs use after a lab has exercised them: one-hot labels.

The text-encoding lab has students write one-hot encoding themselves (the weather table, words and
characters); later labs import it from here instead of writing it again.
"""

from __future__ import annotations

import numpy as np


def one_hot(labels, num_classes: int = 10) -> np.ndarray:
    """A ``float32`` array of shape ``(N, num_classes)``: row ``n`` is 1 in column ``labels[n]``, 0 elsewhere.

    ``labels`` are integer class indices (any shape ``(N,)`` or ``(N, 1)``, as Keras's loaders return
    them); a label outside ``0 .. num_classes - 1`` or one that is not a whole number raises ``ValueError``.
    """
    values = np.asarray(labels)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"labels must be a vector of class indices, got an array of shape {values.shape}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if values.size and (not np.all(np.mod(values, 1) == 0) or values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"labels must be whole numbers in 0..{num_classes - 1}, got values from {values.min()} "
                         f"to {values.max()}")
    encoded = np.zeros((len(values), num_classes), dtype="float32")
    encoded[np.arange(len(values)), values.astype(int)] = 1.0
    return encoded
