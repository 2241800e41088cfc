"""course.datasets.imdb against Keras's contract, the COMP5318 seed and Keras's own loading logic."""

import dataclasses
import hashlib
import inspect
import io
import json
import shutil
import socket
import tarfile

import keras
import numpy as np
import pytest
from keras.src.datasets import imdb as keras_imdb

from course.datasets import ChecksumError, DatasetNotFoundError, imdb

# The two training reviews printed (num_words=10000) by the COMP5318 week 8 lab (shared/seeds/004_*).
SEED_REVIEW_0 = [
    1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65, 458, 4468, 66, 3941, 4, 173, 36, 256, 5, 25, 100, 43, 838, 112,
    50, 670, 2, 9, 35, 480, 284, 5, 150, 4, 172, 112, 167, 2, 336, 385, 39, 4, 172, 4536, 1111, 17, 546, 38, 13, 447,
    4, 192, 50, 16, 6, 147, 2025, 19, 14, 22, 4, 1920, 4613, 469, 4, 22, 71, 87, 12, 16, 43, 530, 38, 76, 15, 13,
    1247, 4, 22, 17, 515, 17, 12, 16, 626, 18, 2, 5, 62, 386, 12, 8, 316, 8, 106, 5, 4, 2223, 5244, 16, 480, 66,
    3785, 33, 4, 130, 12, 16, 38, 619, 5, 25, 124, 51, 36, 135, 48, 25, 1415, 33, 6, 22, 12, 215, 28, 77, 52, 5, 14,
    407, 16, 82, 2, 8, 4, 107, 117, 5952, 15, 256, 4, 2, 7, 3766, 5, 723, 36, 71, 43, 530, 476, 26, 400, 317, 46, 7,
    4, 2, 1029, 13, 104, 88, 4, 381, 15, 297, 98, 32, 2071, 56, 26, 141, 6, 194, 7486, 18, 4, 226, 22, 21, 134, 476,
    26, 480, 5, 144, 30, 5535, 18, 51, 36, 28, 224, 92, 25, 104, 4, 226, 65, 16, 38, 1334, 88, 12, 16, 283, 5, 16,
    4472, 113, 103, 32, 15, 16, 5345, 19, 178, 32,
]
SEED_REVIEW_5 = [
    1, 778, 128, 74, 12, 630, 163, 15, 4, 1766, 7982, 1051, 2, 32, 85, 156, 45, 40, 148, 139, 121, 664, 665, 10,
    10, 1361, 173, 4, 749, 2, 16, 3804, 8, 4, 226, 65, 12, 43, 127, 24, 2, 10, 10,
]


@pytest.fixture(scope="module")
def full():
    return imdb.load_data()


@pytest.fixture(scope="module")
def top_10000():
    return imdb.load_data(num_words=10000)


def test_signatures_equal_keras():
    assert inspect.signature(imdb.load_data) == inspect.signature(keras.datasets.imdb.load_data)
    assert inspect.signature(imdb.get_word_index) == inspect.signature(keras.datasets.imdb.get_word_index)


def test_output_types_shapes_and_labels(full):
    (x_train, y_train), (x_test, y_test) = full
    for x, y in ((x_train, y_train), (x_test, y_test)):
        assert isinstance(x, np.ndarray) and x.dtype == object and x.shape == (25000,)
        assert isinstance(x[0], list) and type(x[0][0]) is int
        assert y.dtype == np.int64 and y.shape == (25000,)
        assert np.bincount(y).tolist() == [12500, 12500]
        assert all(review[0] == 1 for review in x[:100])  # start_char
    assert y_train[:10].tolist() == [1, 0, 0, 1, 0, 0, 1, 0, 1, 0]
    assert y_test[:10].tolist() == [0, 1, 1, 0, 1, 1, 1, 0, 0, 1]


def test_statistics_of_keras_imdb(full):
    """Published statistics of keras.datasets.imdb: mean lengths, 88,585 distinct indices, longest review."""
    (x_train, _), (x_test, _) = full
    train_lengths = np.array([len(x) for x in x_train])
    test_lengths = np.array([len(x) for x in x_test])
    assert train_lengths.mean() == pytest.approx(238.71364)
    assert np.concatenate([train_lengths, test_lengths]).mean() == pytest.approx(234.75892)
    assert train_lengths.max() == 2494
    assert len(np.unique(np.concatenate([np.concatenate(x_train), np.concatenate(x_test)]))) == 88585


def test_seed_reviews_encode_to_the_seed_lists(top_10000):
    (x_train, _), _ = top_10000
    assert x_train[0] == SEED_REVIEW_0
    assert x_train[5] == SEED_REVIEW_5


def test_num_words_cut_off(top_10000, full):
    (x_train, _), (x_test, _) = top_10000
    assert max(max(x) for x in x_train) == 9999 and max(max(x) for x in x_test) == 9999
    (full_train, _), _ = full
    # Same reviews; every index >= 10000 became the OOV character 2, nothing else changed.
    for short, long in zip(x_train[:200], full_train[:200]):
        assert short == [w if w < 10000 else 2 for w in long]


def test_word_index_decodes_the_seed_review(top_10000):
    word_index = imdb.get_word_index()
    assert len(word_index) == 88584 and word_index["the"] == 1 and word_index["br"] == 7
    assert sorted(word_index.values()) == list(range(1, 88585))
    index_to_word = {rank + 3: word for word, rank in word_index.items()} | {1: "<START>", 2: "<UNK>"}
    (x_train, _), _ = top_10000
    decoded = " ".join(index_to_word[i] for i in x_train[5])
    assert decoded == (
        "<START> begins better than it ends funny that the russian submarine crew <UNK> all other actors it's like "
        "those scenes where documentary shots br br spoiler part the message <UNK> was contrary to the whole story "
        "it just does not <UNK> br br"
    )


def test_tokenize_follows_keras_filters():
    assert imdb.tokenize("Robert Redford's fly-fishing,<br /><br />WOW!! Á") == [
        "robert", "redford's", "fly", "fishing", "br", "br", "wow", "Á",
    ]
    assert imdb.tokenize("") == [] and imdb.tokenize(" ... ") == []


def test_texts_are_aligned_with_the_sequences(full):
    (texts, labels), (test_texts, test_labels) = imdb.load_texts()
    (x_train, y_train), (x_test, y_test) = full
    assert texts.dtype == object and texts.shape == (25000,) and isinstance(texts[0], str)
    assert texts[0].startswith("this film was just brilliant,casting,location scenery")
    assert test_texts[0].startswith("Please give this one a miss.<br /><br />Kristy Swanson")
    assert np.array_equal(labels, y_train) and np.array_equal(test_labels, y_test)
    word_index = imdb.get_word_index()
    for text, sequence in [*zip(texts[:50], x_train[:50]), *zip(test_texts[:50], x_test[:50])]:
        assert [1] + [word_index[w] + 3 for w in imdb.tokenize(text) if w in word_index] == sequence


@pytest.fixture(scope="module")
def first_reviews():
    """The first 1,500 reviews of each split in imdb.npz's stored order (Keras's logic is slow on all)."""
    ranks = imdb._word_ranks()
    subset = {}
    for split in imdb.SPLITS:
        lengths = ranks[f"{split}_lengths"][:1500]
        subset[f"{split}_lengths"] = lengths
        subset[f"{split}_ranks"] = ranks[f"{split}_ranks"][: lengths.sum()]
        subset[f"{split}_labels"] = ranks[f"{split}_labels"][:1500]
    return subset


@pytest.fixture(scope="module")
def first_reviews_npz(first_reviews, tmp_path_factory):
    """Those reviews as an imdb.npz in the layout of Keras's file: object arrays of lists, int64 labels."""
    arrays = {}
    for split in imdb.SPLITS:
        lengths = first_reviews[f"{split}_lengths"].tolist()
        flat, ends = first_reviews[f"{split}_ranks"].tolist(), np.cumsum(lengths).tolist()
        sequences = np.empty(len(lengths), dtype=object)
        sequences[:] = [flat[end - n : end] for end, n in zip(ends, lengths)]
        arrays[f"x_{split}"], arrays[f"y_{split}"] = sequences, first_reviews[f"{split}_labels"]
    path = tmp_path_factory.mktemp("keras") / "imdb.npz"
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"num_words": 5000, "skip_top": 20, "seed": 7},
        {"maxlen": 120, "start_char": None, "index_from": 0},
        {"num_words": 300, "oov_char": None, "skip_top": 2},
        {"maxlen": 80, "num_words": 1000, "start_char": 5, "oov_char": 9, "index_from": 10},
    ],
)
def test_every_argument_behaves_as_in_keras(arguments, first_reviews, first_reviews_npz, monkeypatch):
    """Keras's own load_data, given the same reviews in imdb.npz's layout, gives exactly our output."""
    monkeypatch.setattr(keras_imdb, "get_file", lambda **_: first_reviews_npz)
    monkeypatch.setattr(imdb, "_word_ranks", lambda: first_reviews)
    (kx_train, ky_train), (kx_test, ky_test) = keras_imdb.load_data(**arguments)
    (x_train, y_train), (x_test, y_test) = imdb.load_data(**arguments)
    assert x_train.dtype == kx_train.dtype and x_train.shape == kx_train.shape and x_test.shape == kx_test.shape
    assert x_train.tolist() == kx_train.tolist() and x_test.tolist() == kx_test.tolist()
    assert y_train.dtype == ky_train.dtype and np.array_equal(y_train, ky_train) and np.array_equal(y_test, ky_test)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(TypeError, match="num_words must be an int"):
        imdb.load_data(num_words="10000")
    with pytest.raises(TypeError, match="unexpected keyword arguments: nb_words"):
        imdb.load_data(nb_words=100)
    with pytest.raises(ValueError, match="Increase maxlen"):
        imdb.load_data(maxlen=2)
    with pytest.raises(TypeError, match="seed must be an int"):
        imdb.load_texts(seed=None)


def test_sequences_are_cached_atomically_and_rebuilt_when_corrupt(empty_cache, monkeypatch):
    reads = []
    few_reviews = {"train": (["A good film", "Bad"], [1, 0]), "test": (["Fine film", "Awful!"], [1, 0])}
    monkeypatch.setattr(imdb, "_read_reviews", lambda: reads.append(1) or few_reviews)
    (x_train, _), _ = imdb.load_data(seed=0)
    cached = empty_cache / "imdb" / imdb._CACHE_NAME
    assert cached.is_file() and not list(empty_cache.rglob("*.tmp")) and len(reads) == 1
    with monkeypatch.context() as offline:
        offline.delenv("COURSE_DATA_DIR")  # the cache alone now serves the sequences
        (again, _), _ = imdb.load_data(seed=0)
    assert again.tolist() == x_train.tolist() and len(reads) == 1
    cached.write_bytes(b"truncated")
    (rebuilt, _), _ = imdb.load_data(seed=0)
    assert rebuilt.tolist() == x_train.tolist() and len(reads) == 2
    word_index = imdb.get_word_index()
    expected = [[1] + [word_index[w] + 3 for w in words] for words in (["a", "good", "film"], ["bad"])]
    assert sorted(x_train.tolist()) == sorted(expected)


def test_corrupt_mirror_shard_is_refused(data_dir, tmp_path, empty_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    shutil.copytree(data_dir / "imdb", mirror / "imdb")
    shard = mirror / "imdb" / imdb.SHARDS[3].name
    shard.chmod(0o644)
    shard.write_bytes(b"not reviews")
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror))
    with pytest.raises(ChecksumError, match=f"{imdb.SHARDS[3].name} fails its sha256 check"):
        imdb.load_texts()


def _closed_port_url(name):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/{name}"


def test_without_mirror_the_upstream_archive_is_read(data_dir, empty_cache, monkeypatch):
    """A miniature aclImdb_v1.tar.gz in the cache: labelled reviews in Keras's order, the rest ignored."""
    members = {
        "aclImdb/README": "not a review",
        "aclImdb/train/unsup/0_0.txt": "unlabelled",
        "aclImdb/train/neg/3_2.txt": "Awful, awful film.",
        "aclImdb/train/pos/1_7.txt": "A good film",
        "aclImdb/train/pos/10_9.txt": "The best film!",
        "aclImdb/test/neg/0_1.txt": "Bad film",
        "aclImdb/test/pos/2_8.txt": "Great film, a great cast",
        "aclImdb/test/pos/5_10.txt": "Superbe film: très bien",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (empty_cache / "imdb").mkdir(parents=True)
    (empty_cache / "imdb" / "aclImdb_v1.tar.gz").write_bytes(buffer.getvalue())
    shutil.copy(data_dir / "keras" / "datasets" / "imdb_word_index.json", empty_cache / "imdb")
    archive_file = dataclasses.replace(
        imdb.ARCHIVE, sha256=hashlib.sha256(buffer.getvalue()).hexdigest(), urls=(_closed_port_url("a.tar.gz"),)
    )
    monkeypatch.setattr(imdb, "ARCHIVE", archive_file)
    monkeypatch.setattr(imdb, "REVIEWS_PER_SPLIT", 3)
    monkeypatch.delenv("COURSE_DATA_DIR")

    (texts, labels), (test_texts, test_labels) = imdb.load_texts(seed=0)
    stored = np.array(["The best film!", "A good film", "Awful, awful film."], dtype=object)  # pos, then by name
    stored_test = np.array(["Great film, a great cast", "Superbe film: très bien", "Bad film"], dtype=object)
    rng = np.random.RandomState(0)
    order, test_order = rng.permutation(3), rng.permutation(3)
    assert texts.tolist() == stored[order].tolist() and labels.tolist() == np.array([1, 1, 0])[order].tolist()
    assert test_texts.tolist() == stored_test[test_order].tolist()
    assert test_labels.tolist() == np.array([1, 1, 0])[test_order].tolist()

    (x_train, _), (x_test, _) = imdb.load_data(seed=0, num_words=1000)
    word_index = imdb.get_word_index()
    expected = [[1] + [word_index[w] + 3 for w in imdb.tokenize(t)] for t in texts]
    assert x_train.tolist() == [[w if w < 1000 else 2 for w in x] for x in expected]
    # Words of test reviews that are not in the index ("superbe", "très") are dropped, as in Keras.
    assert x_test[test_texts.tolist().index("Superbe film: très bien")] == [1, word_index["film"] + 3, 2]


def test_a_split_with_missing_reviews_is_an_error(monkeypatch):
    records = [("train", "pos", "0_9.txt", "Good"), ("test", "neg", "0_1.txt", "Bad")]
    monkeypatch.setattr(imdb, "_records_from_shards", lambda: records)
    with pytest.raises(ValueError, match="train split has 1 labelled reviews, expected 25000"):
        imdb.load_texts()


def test_nothing_available_names_the_archive_and_the_variable(empty_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR")
    monkeypatch.setattr(imdb, "ARCHIVE", dataclasses.replace(imdb.ARCHIVE, urls=(_closed_port_url("a.tar.gz"),)))
    with pytest.raises(DatasetNotFoundError) as error:
        imdb.load_texts()
    assert "aclImdb_v1.tar.gz" in str(error.value) and "COURSE_DATA_DIR" in str(error.value)
    assert not any(p.is_file() for p in empty_cache.rglob("*"))


def test_word_index_comes_from_the_keras_folder_of_the_mirror(data_dir, empty_cache):
    path = imdb._word_index_path()
    assert path == data_dir / "keras" / "datasets" / "imdb_word_index.json"
    assert hashlib.md5(path.read_bytes()).hexdigest() == "bfafd718b763782e994055a2d397834f"  # Keras's own hash
    assert json.loads(path.read_text(encoding="utf-8"))["the"] == 1
