"""CIFAR-10 loader: the mirror subset, the full Toronto archive, and the errors in between."""

import dataclasses
import hashlib
import inspect
import io
import pickle
import shutil
import tarfile
import warnings

import keras
import numpy as np
import pytest

from course.datasets import DatasetNotFoundError, cifar10
from tests.test_datasets import closed_port_url


@pytest.fixture(autouse=True)
def fresh_report(monkeypatch):
    """Each test starts as a new process would: the subset has not been reported yet."""
    monkeypatch.setattr(cifar10, "_partial_reported", False)


def test_mirror_subset_matches_keras_contract_and_says_so_once(data_dir, empty_cache):
    with pytest.warns(cifar10.PartialDatasetWarning, match="4,000 of 50,000 training and 1,000 of 10,000 test"):
        (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert inspect.signature(cifar10.load_data) == inspect.signature(keras.datasets.cifar10.load_data)
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == ((4000, 32, 32, 3), (4000, 1), (1000, 32, 32, 3), (1000, 1))
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype("uint8")}
    # Values published for keras/torchvision cifar10 (see the mirror's MANIFEST).
    assert y_train[:10, 0].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert y_test[:10, 0].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert x_test[0, 0, :3].tolist() == [[158, 112, 49], [159, 111, 47], [165, 116, 51]]
    assert x_train[0, 1, :3].tolist() == [[16, 20, 20], [0, 0, 0], [18, 8, 0]]
    assert np.bincount(y_test.ravel()).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
    assert hashlib.sha256(x_test.tobytes()).hexdigest() == "da362006b99671213d1a5d856cab2bedf64d40bad4501630ee60f4ceb2d3ec7f"
    assert len(x_train) < cifar10.TRAIN_SIZE, "the subset must not pretend to be the full set"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second call must not warn again
        (again, _), _ = cifar10.load_data()
    assert np.array_equal(again, x_train)


def test_class_names_match_the_mirror_and_keras(data_dir):
    assert cifar10.CLASS_NAMES == tuple((data_dir / "cifar10" / "label_names.txt").read_text().split())
    documented = inspect.getdoc(keras.datasets.cifar10.load_data)
    for label, name in enumerate(cifar10.CLASS_NAMES):
        assert f"|   {label}   | {name}" in documented


def test_partial_mirror_returns_what_exists(data_dir, tmp_path, empty_cache, monkeypatch):
    mirror = tmp_path / "mirror" / "cifar10"
    mirror.mkdir(parents=True)
    for name in ("data_batch_1_0000-0999.npz", "data_batch_1_2000-2999.npz"):
        shutil.copy(data_dir / "cifar10" / name, mirror / name)
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror.parent))
    with pytest.warns(cifar10.PartialDatasetWarning, match="2,000 of 50,000 training and 0 of 10,000 test"):
        (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (2000, 32, 32, 3) and y_train.shape == (2000, 1)
    assert x_test.shape == (0, 32, 32, 3) and y_test.shape == (0, 1)
    with np.load(mirror / "data_batch_1_2000-2999.npz") as chunk:
        assert np.array_equal(x_train[1000:], chunk["x"])


def test_corrupt_mirror_chunk_is_a_clear_error(data_dir, tmp_path, empty_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    shutil.copytree(data_dir / "cifar10", mirror / "cifar10")
    (mirror / "cifar10" / "test_batch_0000-0999.npz").chmod(0o644)
    (mirror / "cifar10" / "test_batch_0000-0999.npz").write_bytes(b"not a chunk")
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror))
    with pytest.raises(DatasetNotFoundError, match="fails its sha256 check") as error:
        cifar10.load_data()
    assert "test_batch_0000-0999.npz" in str(error.value) and "mirror-only" in str(error.value)


def _pickled_batch(images_chw: np.ndarray, labels) -> bytes:
    # The layout of the Toronto batches: one row per image, the R, G and B planes one after another.
    batch = {b"batch_label": b"synthetic", b"labels": list(labels), b"data": images_chw.reshape(len(images_chw), -1)}
    return pickle.dumps(batch)


def _write_archive(path, batches: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return dataclasses.replace(cifar10.ARCHIVE, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                               urls=(closed_port_url(cifar10.ARCHIVE.name),))


def _synthetic_batches(per_batch=3):
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    images = {name: rng.integers(0, 256, size=(per_batch, 3, 32, 32), dtype=np.uint8) for name in names}
    labels = {name: rng.integers(0, 10, size=per_batch).tolist() for name in names}
    return images, labels


def test_full_archive_in_the_cache_wins_over_the_subset(data_dir, empty_cache, monkeypatch):
    images, labels = _synthetic_batches()
    target = empty_cache / "cifar10" / cifar10.ARCHIVE.name
    target.parent.mkdir(parents=True)
    archive = _write_archive(target, {name: _pickled_batch(images[name], labels[name]) for name in images})
    monkeypatch.setattr(cifar10, "ARCHIVE", archive)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the full set is no subset: no warning
        (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == ((15, 32, 32, 3), (15, 1), (3, 32, 32, 3), (3, 1))
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype("uint8")}
    assert x_train.flags.c_contiguous
    # Channels-last, as Keras transposes: pixel (row, column) of channel c is plane c at (row, column).
    assert np.array_equal(x_train[3], images["data_batch_2"][0].transpose(1, 2, 0))
    assert x_test[2, 5, 7, 1] == images["test_batch"][2, 1, 5, 7]
    assert y_train[:, 0].tolist() == sum((labels[f"data_batch_{i}"] for i in range(1, 6)), [])


def test_without_mirror_the_archive_is_required_and_the_error_says_where(empty_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    offline = dataclasses.replace(cifar10.ARCHIVE, urls=(closed_port_url(cifar10.ARCHIVE.name),))
    monkeypatch.setattr(cifar10, "ARCHIVE", offline)
    with pytest.raises(DatasetNotFoundError) as error:
        cifar10.load_data()
    message = str(error.value)
    assert "cifar-10-python.tar.gz" in message and "COURSE_DATA_DIR" in message and offline.urls[0] in message
    assert cifar10.ARCHIVE.sha256 in message


def test_archive_with_a_foreign_pickle_is_refused(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path / "victim"),))

    (tmp_path / "victim").mkdir()
    images, labels = _synthetic_batches()
    batches = {name: _pickled_batch(images[name], labels[name]) for name in images}
    batches["test_batch"] = pickle.dumps({b"data": Exploit(), b"labels": []})
    path = tmp_path / "archive.tar.gz"
    _write_archive(path, batches)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load shutil.rmtree"):
        cifar10.read_archive(path)
    assert (tmp_path / "victim").is_dir()


def test_archive_missing_a_batch_is_refused(tmp_path):
    images, labels = _synthetic_batches()
    path = tmp_path / "archive.tar.gz"
    _write_archive(path, {name: _pickled_batch(images[name], labels[name]) for name in images if name != "data_batch_4"})
    with pytest.raises(ValueError, match="lacks data_batch_4"):
        cifar10.read_archive(path)
