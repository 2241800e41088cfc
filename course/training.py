"""Training switches that depend on the machine: mixed precision, and pretrained weights offline.

``enable_mixed_precision()`` turns on Keras's ``mixed_float16`` policy only when Keras trains on a GPU:
there, float16 matrix units (tensor cores) roughly double throughput; on a CPU, float16 compute is
emulated and slower, so the policy stays ``float32``.

``pretrained_weights_problem(fname, origin)`` tells a notebook whether Keras can load pretrained
weights (already cached, or the host answers) and, if not, why: optional cells then skip cleanly
instead of failing offline.

``score_builder(build, ...)`` is how a lab's hidden test measures a model *builder* handed in by a
student: a fresh model, trained from a fixed seed for a fixed number of epochs on data the test loaded
itself, scored on held-out data. Thresholds are set by running the seed model through the same function.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse


def gpu_names() -> list[str]:
    """The GPUs the Keras backend will train on (empty on a CPU-only machine)."""
    import keras

    from course.runtime import _accelerators

    return _accelerators(keras.backend.backend())


def hardware_summary() -> str:
    """The hardware that timings are measured on, in words: GPU names, or the CPU model and cores."""
    gpus = gpu_names()
    if gpus:
        return ", ".join(gpus)
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        model = f"{names[0]}, " if names else ""
    return f"CPU only ({model}{os.cpu_count()} cores available)"


def enable_mixed_precision(gpus: list[str] | None = None) -> str:
    """Set Keras's global dtype policy: ``mixed_float16`` with a GPU, ``float32`` without; return it.

    Call it before building the models that should use it. Under ``mixed_float16`` layers compute in
    float16 and keep float32 weights; give the last layer ``dtype="float32"`` so that the softmax and
    the loss stay in float32. ``Model.compile`` then wraps the optimizer in loss scaling by itself.
    """
    import keras

    policy = "mixed_float16" if (gpu_names() if gpus is None else gpus) else "float32"
    keras.config.set_dtype_policy(policy)
    return policy


def keras_cache_dir() -> Path:
    """Where ``keras.utils.get_file`` keeps downloads (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def pretrained_weights_problem(fname: str, origin: str, timeout: float = 3.0) -> str | None:
    """``None`` when Keras can load the weights file ``fname``, else the reason it cannot.

    The weights are usable when ``keras.utils.get_file`` finds them in its cache (``models/``) or
    when the host of ``origin`` accepts a connection within ``timeout`` seconds.
    """
    cached = keras_cache_dir() / "models" / fname
    if cached.is_file():
        return None
    url = urlparse(origin)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError as exc:
        return (
            f"the pretrained weights {fname} are not in {cached.parent} and {url.hostname} cannot be "
            f"reached ({exc.__class__.__name__}: {exc}); download {origin} into {cached.parent} to run this offline"
        )
    return None


def score_builder(build, x_train, y_train, x_test, y_test, *, epochs: int, batch_size: int, seed: int) -> float:
    """Test accuracy of a fresh model from ``build()`` trained for ``epochs`` epochs, from ``seed``.

    ``build`` takes no argument and returns a new *compiled* Keras model (its choice of optimizer, loss,
    regularisation); the model is fitted without validation data or callbacks, and its predictions are
    compared with ``y_test``: one sigmoid output is read as ``> 0.5``, several outputs by their argmax.
    """
    import keras
    import numpy as np

    if isinstance(build, keras.Model) or not callable(build):
        raise TypeError(f"expected a function that builds a model, got {type(build).__name__}")
    keras.utils.set_random_seed(seed)
    model = build()
    if not isinstance(model, keras.Model):
        raise TypeError(f"the builder must return a keras.Model, got {type(model).__name__}")
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ValueError("the builder must return a compiled model: call model.compile(optimizer=..., loss=...)")
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    scores = np.asarray(model.predict(x_test, batch_size=512, verbose=0), dtype="float64")
    predicted = (scores[:, 0] > 0.5).astype(int) if scores.shape[-1] == 1 else scores.argmax(axis=-1)
    return float(np.mean(predicted == np.asarray(y_test).reshape(-1)))
