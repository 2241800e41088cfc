"""The machine and software a benchmark ran on: date, CPU, cores, load, GPU, library versions."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
from importlib import metadata

# Distributions whose versions decide the numbers (tensorflow-cpu is what Linux x86-64 installs).
LIBRARIES = ["tensorflow", "tensorflow-cpu", "keras", "jax", "jaxlib", "numpy", "scikit-learn", "nbgrader", "papermill"]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gpus() -> list[str]:
    """GPUs the driver reports (nvidia-smi), whether or not the installed TensorFlow can use them."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def describe(smoke: bool = False) -> dict:
    """One run's identity, stored with every item it measured."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "load_at_start": load_average(),
        "memory_gib": _memory_gib(),
        "gpus": gpus(),
        "platform": platform.platform(terse=True),
        "versions": versions(),
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "smoke": smoke,
    }


def summary(run: dict) -> str:
    """A one-line description for the report."""
    gpu = ", ".join(run.get("gpus") or []) or "no GPU"
    found = run.get("versions", {})
    order = ["python"] + LIBRARIES  # a fixed order: the store keeps its keys sorted
    libraries = ", ".join(f"{k} {found[k]}" for k in sorted(found, key=lambda k: (order + [k]).index(k)))
    load = run.get("load_at_start")
    loaded = f", load average {load:g} at start" if load is not None else ""
    memory = f", {run['memory_gib']:g} GiB RAM" if run.get("memory_gib") else ""
    smoke = " (SMOKE: tiny sizes, not results)" if run.get("smoke") else ""
    backend = run.get("keras_backend", "tensorflow")
    on = f" (Keras on {backend})" if backend != "tensorflow" else ""
    return f"{run['date']}: {run['cpu']}, {run['cores']} cores{memory}{loaded}; {gpu}; {libraries}{on}{smoke}"


def _memory_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * size / 2**30, 1)
