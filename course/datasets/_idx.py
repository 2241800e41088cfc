"""Reader for the IDX format of the MNIST family (LeCun et al.): a magic number, the
dimensions as big-endian uint32, then the raw uint8 data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = bytearray(handle.read())  # writable arrays, as Keras returns
    zero, dtype_code, ndim = data[0:2], data[2], data[3]
    if zero != b"\x00\x00" or dtype_code != _UBYTE:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    array = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header promises {shape}, found {array.size} values")
    return array.reshape(shape)


def load_idx_dataset(dataset: str, files: dict, extra_dirs=()):
    """Load the four IDX files of an MNIST-style dataset in ``keras.datasets`` order."""
    from ._files import fetch

    arrays = {key: read_idx(fetch(dataset, file, extra_dirs)) for key, file in files.items()}
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
