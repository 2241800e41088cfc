"""Training switches that depend on the machine: mixed precision, and pretrained weights offline.

``enable_mixed_precision()`` turns on Keras's ``mixed_float16`` policy only when Keras trains on a GPU:
there, float16 matrix units (tensor cores) roughly double throughput; on a CPU, float16 compute is
emulated and slower, so the policy stays ``float32``.

``pretrained_weights_problem(fname, origin)`` tells a notebook whether Keras can load pretrained
weights (already cached, or the host answers) and, if not, why: optional cells then skip cleanly
instead of failing offline.
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
