"""Run-time switches shared by every notebook: fast mode, seeding and a device report.

Each notebook calls :func:`setup` once, right after its ``parameters`` cell::

    rt = runtime.setup(fast=FAST, seed=SEED)
    EPOCHS = rt.choose(fast=1, full=12)

Fast mode shrinks training so that CI and autograding finish in seconds; full mode reproduces the
seeds' results. It is resolved in this order: the ``fast`` argument (papermill sets ``FAST=True`` in
CI), the environment variable ``COURSE_FAST`` (``1``/``0``), and finally on by itself when nbgrader
executes the notebook (it sets ``NBGRADER_EXECUTION``), off otherwise.
"""

from __future__ import annotations

import json
import os
import random
import sys
from dataclasses import dataclass

FAST_VARIABLE = "COURSE_FAST"
RESULTS_VARIABLE = "COURSE_RESULTS"
NBGRADER_VARIABLE = "NBGRADER_EXECUTION"

# Quieten TensorFlow's C++ start-up chatter; must happen before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def resolve_fast(fast: bool | None = None) -> bool:
    """Decide fast mode from the argument, then ``COURSE_FAST``, then nbgrader's marker."""
    if fast is not None:
        return bool(fast)
    value = os.environ.get(FAST_VARIABLE, "").strip().lower()
    if value:
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{FAST_VARIABLE}={value!r}: use 1 or 0")
    return bool(os.environ.get(NBGRADER_VARIABLE))


def on_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


@dataclass(frozen=True)
class Runtime:
    fast: bool
    seed: int

    def choose(self, *, fast, full):
        """Pick the fast-mode or the full-mode value of a setting."""
        return fast if self.fast else full

    def subset(self, *arrays, size: int | None):
        """In fast mode, keep the first ``size`` items of each array; in full mode, all of them."""
        if not self.fast or size is None:
            return arrays if len(arrays) > 1 else arrays[0]
        cut = tuple(a[:size] for a in arrays)
        return cut if len(cut) > 1 else cut[0]

    def record(self, experiment: str, **measurements) -> dict:
        """Report a measured result (accuracy, seconds, ...).

        Always printed; also appended as one JSON line to the file named by ``$COURSE_RESULTS``
        when it is set, which is how ``make bench`` collects the numbers a notebook measures.
        """
        entry = {"experiment": experiment, "mode": "fast" if self.fast else "full", **measurements}
        print("result:", ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items()))
        path = os.environ.get(RESULTS_VARIABLE)
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, default=float) + "\n")
        return entry


def seed_everything(seed: int, keras: bool = True) -> None:
    """Seed Python, NumPy and (unless ``keras=False``) Keras/TensorFlow, so reruns give the same numbers."""
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    if not keras:
        return
    try:
        import keras
    except ImportError:  # notebooks without Keras (e.g. pure NumPy labs)
        return
    keras.utils.set_random_seed(seed)


def _accelerators(backend: str) -> list[str]:
    """Names of the GPUs the Keras backend will use (empty on CPU)."""
    if backend == "tensorflow":
        import tensorflow as tf

        return [
            tf.config.experimental.get_device_details(g).get("device_name", g.name)
            for g in tf.config.list_physical_devices("GPU")
        ]
    if backend == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def device_report() -> str:
    """One or two lines saying which accelerator Keras will train on."""
    try:
        import keras
    except ImportError:
        return "Keras is not installed."
    backend = keras.backend.backend()
    gpus = _accelerators(backend)
    where = f"Keras {keras.__version__} ({backend} backend)"
    if gpus:
        return f"{where} on GPU: {', '.join(gpus)}"
    report = f"{where} on CPU only ({os.cpu_count()} cores): full mode will be slow."
    if on_colab():
        report += "\nOn Colab: Runtime > Change runtime type > Hardware accelerator: GPU, then rerun."
    return report


def use_exact_float32() -> None:
    """Make float32 matrix products exact float32 on GPUs too.

    Ampere and newer GPUs multiply float32 matrices in TensorFloat-32 by default (TensorFlow and JAX),
    which is ~1e-3 off: notebooks that check NumPy against Keras to 1e-5 must switch it off.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
    elif backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
    elif backend == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def setup(
    fast: bool | None = None, seed: int = 42, report: bool = True, keras: bool = True, exact_float32: bool = False
) -> Runtime:
    """Resolve fast mode, seed every generator and print a short device report.

    Notebooks that use no Keras/TensorFlow (NumPy and scikit-learn only) pass ``keras=False``: TensorFlow
    is then neither imported (about 7 s) nor asked about devices. Notebooks that compare NumPy with Keras
    to float32 precision pass ``exact_float32=True`` (see :func:`use_exact_float32`).
    """
    rt = Runtime(fast=resolve_fast(fast), seed=seed)
    seed_everything(seed, keras=keras)
    if keras and exact_float32:
        use_exact_float32()
    if report:
        mode = "FAST (shrunk training for CI/autograding)" if rt.fast else "FULL (reproduces the reference results)"
        print(f"Mode: {mode}; seed {seed}")
        print(device_report() if keras else "NumPy and scikit-learn only: runs on the CPU, no accelerator needed.")
    return rt
