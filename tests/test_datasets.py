"""Loaders against the offline mirror, and the lookup/checksum/download rules of course.datasets."""

import dataclasses
import hashlib
import inspect
import shutil
import socket

import keras
import numpy as np
import pytest

from localserver import LocalServer

from course.datasets import ChecksumError, DataFile, DatasetNotFoundError, fashion_mnist, fetch, mnist


def closed_port_url(name: str) -> str:
    with socket.socket() as s:  # a port nobody listens on: connection refused at once, offline or not
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def offline(files: dict) -> dict:
    return {key: dataclasses.replace(f, urls=(closed_port_url(f.name),)) for key, f in files.items()}


def test_mnist_matches_keras_contract(data_dir, empty_cache):
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert inspect.signature(mnist.load_data) == inspect.signature(keras.datasets.mnist.load_data)
    assert (x_train.shape, x_test.shape, y_train.shape, y_test.shape) == ((60000, 28, 28), (10000, 28, 28), (60000,), (10000,))
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype("uint8")}
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x_train.max() == 255 and x_train.flags.writeable
    # MD5 of the uncompressed training images as published for the original file.
    assert hashlib.md5(b"\x00\x00\x08\x03" + np.array([60000, 28, 28], ">u4").tobytes() + x_train.tobytes()).hexdigest() == "6bbc9ace898e44ae57da46a324031adb"


def test_mnist_training_images_are_joined_from_parts_into_the_cache(data_dir, empty_cache):
    mnist.load_data()
    joined = empty_cache / "mnist" / "train-images-idx3-ubyte.gz"
    assert joined.is_file() and hashlib.sha256(joined.read_bytes()).hexdigest() == mnist.FILES["x_train"].sha256
    assert not list(empty_cache.rglob("*.tmp")), "no temporary file may be left behind"


def test_fashion_mnist_matches_keras_contract(empty_cache):
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert inspect.signature(fashion_mnist.load_data) == inspect.signature(keras.datasets.fashion_mnist.load_data)
    assert (x_train.shape, x_test.shape, y_train.shape, y_test.shape) == ((60000, 28, 28), (10000, 28, 28), (60000,), (10000,))
    assert y_test[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert np.bincount(y_train).tolist() == [6000] * 10


def test_corrupt_mirror_file_is_refused(data_dir, tmp_path, empty_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    shutil.copytree(data_dir / "mnist", mirror / "mnist")
    (mirror / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not the labels")
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror))
    monkeypatch.setattr(mnist, "FILES", offline(mnist.FILES))
    with pytest.raises(DatasetNotFoundError, match="fails its sha256 check"):
        mnist.load_data()


def test_corrupt_cache_file_is_moved_aside_and_refetched(data_dir, empty_cache):
    target = empty_cache / "mnist" / "train-images-idx3-ubyte.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"half a download")
    with pytest.warns(UserWarning, match="failed its sha256 check"):
        (x_train, _), _ = mnist.load_data()
    assert x_train.shape == (60000, 28, 28)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == mnist.FILES["x_train"].sha256
    assert (target.parent / (target.name + ".corrupt")).read_bytes() == b"half a download"


def test_offline_miss_names_file_variable_and_upstream(empty_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    files = offline(mnist.FILES)
    monkeypatch.setattr(mnist, "FILES", files)
    with pytest.raises(DatasetNotFoundError) as error:
        mnist.load_data()
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert "COURSE_DATA_DIR" in message
    assert files["x_train"].urls[0] in message
    assert not any(p.is_file() for p in empty_cache.rglob("*")), "a failed lookup must not write to the cache"


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()


def test_download_verifies_and_caches(server, empty_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    server.body = b"real dataset bytes" * 1000
    file = DataFile("file.bin", hashlib.sha256(server.body).hexdigest(), (server.url,))
    path = fetch("demo", file)
    assert path == empty_cache / "demo" / "file.bin" and path.read_bytes() == server.body
    server.close()  # now offline: the verified cache copy serves the next call
    assert fetch("demo", file).read_bytes() == server.body


def test_corrupt_download_never_reaches_the_cache(server, empty_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    server.body = b"tampered bytes"
    file = DataFile("file.bin", hashlib.sha256(b"the real bytes").hexdigest(), (server.url,))
    with pytest.raises(DatasetNotFoundError, match="sha256 is"):
        fetch("demo", file)
    assert not any(p.is_file() for p in empty_cache.rglob("*")), "nothing may be cached"


def test_interrupted_download_leaves_nothing_behind(server, empty_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    server.body, server.declared_length = b"only the first part", 10_000
    file = DataFile("file.bin", "0" * 64, (server.url,))
    with pytest.raises(DatasetNotFoundError, match="download from"):
        fetch("demo", file)
    assert not any(p.is_file() for p in empty_cache.rglob("*"))


def test_checksum_error_is_a_value_error():
    assert issubclass(ChecksumError, ValueError) and issubclass(DatasetNotFoundError, FileNotFoundError)
