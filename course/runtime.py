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

import os
import random
import sys
from dataclasses import dataclass

FAST_VARIABLE = "COURSE_FAST"
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


def device_report() -> str:
    """One or two lines saying which accelerator TensorFlow will use."""
    try:
        import tensorflow as tf
    except ImportError:
        return "TensorFlow is not installed."
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
        return f"TensorFlow {tf.__version__} on GPU: {names}"
    report = f"TensorFlow {tf.__version__} on CPU only ({os.cpu_count()} cores): training will be slow in full mode."
    if on_colab():
        report += "\nOn Colab: Runtime > Change runtime type > Hardware accelerator: GPU, then rerun."
    return report


def setup(fast: bool | None = None, seed: int = 42, report: bool = True, keras: bool = True) -> Runtime:
    """Resolve fast mode, seed every generator and print a short device report.

    Notebooks that use no Keras/TensorFlow (NumPy and scikit-learn only) pass ``keras=False``: TensorFlow
    is then neither imported (about 7 s) nor asked about devices.
    """
    rt = Runtime(fast=resolve_fast(fast), seed=seed)
    seed_everything(seed, keras=keras)
    if report:
        mode = "FAST (shrunk training for CI/autograding)" if rt.fast else "FULL (reproduces the reference results)"
        print(f"Mode: {mode}; seed {seed}")
        print(device_report() if keras else "NumPy and scikit-learn only: runs on the CPU, no accelerator needed.")
    return rt
