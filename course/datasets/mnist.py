"""MNIST handwritten digits, with exactly the output of ``keras.datasets.mnist.load_data()``.

Read from the four original IDX files of LeCun, Cortes and Burges (the offline mirror holds them
byte-identical), so no ``mnist.npz`` is needed. License: CC BY-SA 3.0.
"""

from __future__ import annotations

from ._files import DataFile
from ._idx import load_idx_dataset

# Google's mirror of yann.lecun.com (the original host often refuses downloads), then the original.
_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def _file(name: str, sha256: str) -> DataFile:
    return DataFile(name, sha256, tuple(base + name for base in _MIRRORS))


FILES = {
    "x_train": _file("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "y_train": _file("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "x_test": _file("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "y_test": _file("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}


def load_data(path="mnist.npz"):
    """Load MNIST: ``(x_train, y_train), (x_test, y_test)``.

    Same signature and output as ``keras.datasets.mnist.load_data``: ``x_train`` uint8
    (60000, 28, 28), ``y_train`` uint8 (60000,), ``x_test`` uint8 (10000, 28, 28), ``y_test`` uint8
    (10000,). ``path`` is accepted for compatibility and ignored (there is no ``.npz`` here).
    """
    del path
    return load_idx_dataset("mnist", FILES)
