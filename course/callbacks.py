"""Keras callbacks shared by the notebooks (imports Keras, unlike the rest of ``course``)."""

from __future__ import annotations

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Record the wall-clock seconds of each training epoch in ``seconds``.

    An epoch's time runs from its start to its end, so it includes the validation pass when ``fit`` has
    validation data, and, for the first epoch of a new model, the tracing of the training graph. Compare
    models on later epochs, or fit once on a batch beforehand to trace.
    """

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start: float | None = None

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
