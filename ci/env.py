"""The environment of a headless run: data mirror, caches and per-run state folders.

CI, ``make run``, ``make bench`` and the tests call :func:`prepare` before they start kernels, so
Jupyter, Keras and matplotlib write their state under ``build/state`` instead of ``$HOME`` and every
kernel finds the data mirror whatever its working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"


def prepare(build_dir: Path = BUILD) -> dict[str, str]:
    state = build_dir / "state"
    defaults = {
        "COURSE_CACHE_DIR": build_dir / "cache",
        "KERAS_HOME": state / "keras",
        "MPLCONFIGDIR": state / "matplotlib",
        "IPYTHONDIR": state / "ipython",
        "JUPYTER_CONFIG_DIR": state / "jupyter-config",
        "JUPYTER_DATA_DIR": state / "jupyter-data",
        "JUPYTER_RUNTIME_DIR": state / "jupyter-runtime",
    }
    for name, path in defaults.items():
        os.environ.setdefault(name, str(path))
        Path(os.environ[name]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Kernels run in each notebook's folder: a relative data path must not depend on that.
    data = os.environ.get("COURSE_DATA_DIR")
    if data:
        os.environ["COURSE_DATA_DIR"] = str(Path(data).expanduser().resolve())
    return {name: os.environ[name] for name in defaults}
