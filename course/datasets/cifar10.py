"""CIFAR-10 (Krizhevsky 2009), with the output of ``keras.datasets.cifar10.load_data()``.

The full set is the Toronto archive ``cifar-10-python.tar.gz`` (50,000 training and 10,000 test
images, 32x32 RGB, 10 classes). The course's offline mirror does not have it: it holds only the first
4,000 training and the first 1,000 test images (real pixels and labels, in the original order) as
``.npz`` chunks. ``load_data`` therefore looks in this order:

1. a verified copy of the full archive in ``$COURSE_DATA_DIR/cifar10/`` or in the cache: the full set;
2. the mirror's chunks in ``$COURSE_DATA_DIR/cifar10/``: the subset, with a
   :class:`PartialDatasetWarning` (once per process) saying how much is missing;
3. a download of the full archive (170 MB, sha256-checked) into the cache: the full set.

Whatever it returns is real data: the arrays are never padded or repeated to look like the full
set, so ``len(x_train) < TRAIN_SIZE`` is how a notebook tells that it works on the subset.
Images come channels-last (``(N, 32, 32, 3)``), as Keras returns them with its default data format.
"""

from __future__ import annotations

import pickle
import tarfile
import warnings

import numpy as np

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct

from ._files import DatasetNotFoundError, DataFile, cache_dir, data_dir, fetch

DATASET = "cifar10"
TRAIN_SIZE, TEST_SIZE = 50_000, 10_000
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

ARCHIVE = DataFile(
    "cifar-10-python.tar.gz",
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
)
_ARCHIVE_FOLDER = "cifar-10-batches-py"
_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_BATCH = "test_batch"


def _chunk(name: str, sha256: str) -> DataFile:
    # Made for the course mirror from the ConvNetJS sprites (lossless PNG): no upstream of their own.
    return DataFile(name, sha256, ())


SUBSET_FILES = {
    "train": (
        _chunk("data_batch_1_0000-0999.npz", "de2c511c17e3445e12734ace9da46635125691bf119f71106903b9dd9b920035"),
        _chunk("data_batch_1_1000-1999.npz", "c4cbb9e87b98899d0a528307e77fbb20d94241e06d96d17225662a994ff9458a"),
        _chunk("data_batch_1_2000-2999.npz", "924c04c3ca13c9273590041ec0d2840ecf73c424de79d373aabebc2ec61e8fe5"),
        _chunk("data_batch_1_3000-3999.npz", "cbdfad9ac2d906de81820a1eb6ac502058eb99a71efea3faba88fcd9d41e8da9"),
    ),
    "test": (
        _chunk("test_batch_0000-0999.npz", "b566067ad403e506906906105e871627f5441936d1463aa059256a1724f25fe0"),
    ),
}


class PartialDatasetWarning(UserWarning):
    """Only part of a dataset is available; the loader returned that part."""


_partial_reported = False


def load_data():
    """Load CIFAR-10: ``(x_train, y_train), (x_test, y_test)``.

    Same signature and output as ``keras.datasets.cifar10.load_data``: ``x_train`` uint8
    ``(50000, 32, 32, 3)``, ``y_train`` uint8 ``(50000, 1)``, ``x_test`` uint8 ``(10000, 32, 32, 3)``,
    ``y_test`` uint8 ``(10000, 1)``; class ``k`` is ``CLASS_NAMES[k]``. When only the mirror's subset
    is available, the arrays hold those images (4,000 and 1,000) and a :class:`PartialDatasetWarning`
    is issued once per process.
    """
    try:
        return read_archive(fetch(DATASET, ARCHIVE, download=False))  # a verified copy in the mirror or cache
    except DatasetNotFoundError:
        pass
    if _mirror_chunks():
        return _load_subset()
    return read_archive(fetch(DATASET, ARCHIVE))  # no mirror subset: the real upstream, 170 MB


def _mirror_chunks() -> dict[str, list[DataFile]]:
    """The subset chunks present in the mirror, per split (possibly none)."""
    mirror = data_dir() / DATASET if data_dir() else None
    if mirror is None:
        return {}
    present = {split: [f for f in files if (mirror / f.name).is_file()] for split, files in SUBSET_FILES.items()}
    return present if any(present.values()) else {}


def _load_subset():
    arrays = {}
    for split, files in _mirror_chunks().items():
        images, labels = [np.empty((0, 32, 32, 3), np.uint8)], [np.empty((0,), np.uint8)]
        for file in files:
            with np.load(fetch(DATASET, file, download=False)) as chunk:  # fetch verifies the sha256
                images.append(chunk["x"])
                labels.append(chunk["y"])
        arrays[split] = (np.concatenate(images), np.concatenate(labels).astype(np.uint8).reshape(-1, 1))
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    _report_partial(len(x_train), len(x_test))
    return (x_train, y_train), (x_test, y_test)


def _report_partial(train: int, test: int) -> None:
    global _partial_reported
    if _partial_reported:
        return
    _partial_reported = True
    warnings.warn(
        f"CIFAR-10: only a subset is available, {train:,} of {TRAIN_SIZE:,} training and {test:,} of "
        f"{TEST_SIZE:,} test images (the course mirror in {data_dir() / DATASET}); load_data() returns "
        f"these. Accuracies on it are not comparable with full-data results. For the full set, put "
        f"{ARCHIVE.name} (sha256 {ARCHIVE.sha256[:12]}...) in {cache_dir() / DATASET}, or unset "
        f"COURSE_DATA_DIR and run online to download it from {ARCHIVE.urls[0]}.",
        PartialDatasetWarning,
        stacklevel=4,  # point at the caller of load_data()
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles the archive's batches: NumPy arrays only, never arbitrary objects."""

    def find_class(self, module, name):
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype")}:
            return super().find_class(module, name)
        # The archive was pickled by NumPy 1 (numpy.core); NumPy 2 renamed the module numpy._core.
        if name == "_reconstruct" and module in {"numpy.core.multiarray", "numpy._core.multiarray"}:
            return _reconstruct
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the CIFAR-10 archive")


def _read_batch(handle):
    batch = _ArrayUnpickler(handle, encoding="bytes").load()
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)  # rows are R, G, B planes
    labels = np.asarray(batch[b"labels"], dtype=np.uint8)
    if len(labels) != len(images):
        raise ValueError(f"CIFAR-10 batch with {len(images)} images but {len(labels)} labels")
    return np.ascontiguousarray(images), labels


def read_archive(path):
    """Read the five training batches and the test batch from ``cifar-10-python.tar.gz``."""
    batches = {}
    wanted = {f"{_ARCHIVE_FOLDER}/{name}": name for name in (*_TRAIN_BATCHES, _TEST_BATCH)}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:  # one pass: the archive is a single gzip stream
            if member.name in wanted:
                batches[wanted[member.name]] = _read_batch(archive.extractfile(member))
    missing = sorted(set(wanted.values()) - set(batches))
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: not the CIFAR-10 python archive")
    x_train = np.concatenate([batches[name][0] for name in _TRAIN_BATCHES])
    y_train = np.concatenate([batches[name][1] for name in _TRAIN_BATCHES]).reshape(-1, 1)
    x_test, y_test = batches[_TEST_BATCH]
    return (x_train, y_train), (x_test, y_test.reshape(-1, 1))
