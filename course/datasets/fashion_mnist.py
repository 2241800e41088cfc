"""Fashion-MNIST (Zalando), with exactly the output of ``keras.datasets.fashion_mnist.load_data()``.

Besides ``$COURSE_DATA_DIR/fashion_mnist/``, the loader uses Debian's ``dataset-fashion-mnist``
package (``/usr/share/datasets/fashion-mnist``). Debian re-gzipped the files, so their checksums
differ from upstream while the content is identical; both are accepted. License: MIT.
"""

from __future__ import annotations

from ._files import DataFile
from ._idx import load_idx_dataset

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
_UPSTREAM = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def _file(name: str, sha256: str, debian_sha256: str) -> DataFile:
    return DataFile(name, sha256, (_UPSTREAM + name,), also_accept=(debian_sha256,))


FILES = {
    "x_train": _file(
        "train-images-idx3-ubyte.gz",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    ),
    "y_train": _file(
        "train-labels-idx1-ubyte.gz",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    ),
    "x_test": _file(
        "t10k-images-idx3-ubyte.gz",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    ),
    "y_test": _file(
        "t10k-labels-idx1-ubyte.gz",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    ),
}


def load_data():
    """Load Fashion-MNIST: ``(x_train, y_train), (x_test, y_test)``, uint8, as Keras returns them."""
    return load_idx_dataset("fashion_mnist", FILES, extra_dirs=(DEBIAN_DIR,))
