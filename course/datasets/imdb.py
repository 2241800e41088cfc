"""IMDB movie reviews (Maas et al. 2011), with the output of ``keras.datasets.imdb``.

Keras's ``imdb.npz`` (the reviews as word-index lists) is not available offline, so this module rebuilds
it from the 50,000 labelled reviews of the Large Movie Review Dataset v1.0 and Keras's own
``imdb_word_index.json``. The rebuild is exact on every point we could check:

* **Tokenization** (:func:`tokenize`) is Keras's ``text_to_word_sequence`` as the index was made with:
  the characters ``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~``, tab and newline become spaces, ASCII letters are
  lowercased (other letters are left as they are: the index holds ``"Á"`` and ``"\\x85"``), and the text
  is split on spaces. ``<br />`` thus becomes the word ``br`` and apostrophes stay inside words
  (``it's``, ``redford's``), while ``fly-fishing`` gives ``fly fishing``. The training reviews tokenized
  this way have exactly the 88,584 distinct words of the index, and the ranks follow their frequencies.
* **Encoding**: a word is its rank in the index (1 = ``the``) plus ``index_from``; a review starts with
  ``start_char``. Test words that never occur in a training review are not in the index and are dropped,
  as Keras documents.
* **Order**: before Keras's shuffle (``seed=113``), each split holds its positive reviews and then its
  negative ones, each sorted by file name (``"10000_7.txt" < "1000_8.txt"``), the order inside
  ``imdb.npz``. With it, training reviews 0 and 5 (``train/pos/576_10.txt`` and
  ``train/neg/8203_3.txt``) encode to the lists printed by the COMP5318 week 8 lab, and the first labels
  are ``[1, 0, 0, 1, 0, 0, 1, 0, 1, 0]`` (train) and ``[0, 1, 1, 0, 1, 1, 1, 0, 0, 1]`` (test).

The texts come from the offline mirror (``$COURSE_DATA_DIR/imdb/``: 8 xz-compressed JSON Lines shards
with the exact texts, verified by sha256), or else from Stanford's ``aclImdb_v1.tar.gz`` (84 MB, mirror,
cache or download). The word-index lists are computed once and cached in
``$COURSE_CACHE_DIR/imdb/``. No formal license; cite Maas et al. 2011, ACL.
"""

from __future__ import annotations

import json
import lzma
import tarfile
from pathlib import Path

import numpy as np

from . import _sequences as seq
from ._files import ChecksumError, DataFile, cache_dir, data_dir, fetch, sha256_of

DATASET = "imdb"
ARCHIVE_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ARCHIVE = DataFile(
    "aclImdb_v1.tar.gz",
    "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    (ARCHIVE_URL,),
)
WORD_INDEX = DataFile(
    "imdb_word_index.json",
    # Keras checks md5 bfafd718b763782e994055a2d397834f; this is the sha256 of that same file.
    "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6",
    ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json",),
)

# The offline mirror's repackaging of the archive's labelled reviews: (split, polarity, first id) -> sha256.
# These shards exist only in the mirror; without them the loader reads ARCHIVE instead.
_SHARD_SHA256 = {
    ("test", "neg", 0): "0494aaf74a4c9e42daf8808a295283ff383bf7bb5ceeae7b552bb19c27f8b5eb",
    ("test", "neg", 6250): "0eacc5c030fe0be66780ef907cfe669851bc1679f5383d71761bd7fe8f1f23f7",
    ("test", "pos", 0): "4e32c529fad969171c5effc746e5600c6ea7728db3899ebf6eaa4cb31e1908b1",
    ("test", "pos", 6250): "5536ac9f0a69c9b0c9a326d986345e565764f7258ac9c6633bb00597c258ae16",
    ("train", "neg", 0): "482b5a65f8a1d80f4789ddf45699bb689c4815249083d4e882f721d41bcab748",
    ("train", "neg", 6250): "fded696f717d8ca1b2243a0e4cd911d6b34bd7e1358715c19dd14b110fc2f94a",
    ("train", "pos", 0): "714ebe0274230965ab2916d2540e47da8dc9d187fc8c670fe74cef1764aa7332",
    ("train", "pos", 6250): "9852f5d5b5148fd5cea544fe13dede9825042046b3aa3bd90d0df3e5c9e34c09",
}
SHARDS = tuple(
    DataFile(f"aclImdb_{split}_{polarity}_{first:05d}-{first + 6249:05d}.jsonl.xz", sha256, (ARCHIVE_URL,))
    for (split, polarity, first), sha256 in _SHARD_SHA256.items()
)

SPLITS = ("train", "test")
REVIEWS_PER_SPLIT = 25_000
# Bump when the tokenization or the cached layout changes, so stale caches are never read.
_CACHE_NAME = "imdb-word-ranks-v1.npz"


def tokenize(text: str) -> list[str]:
    """Split a review into the words of Keras's IMDB index (see the module docstring)."""
    return seq.keras_words(text)


def get_word_index(path="imdb_word_index.json"):
    """Return Keras's ``{word: rank}`` dictionary (88,584 words, ``"the"`` -> 1).

    Same signature and output as ``keras.datasets.imdb.get_word_index``; the encoded reviews hold
    ``rank + index_from``. ``path`` is accepted for compatibility and ignored.
    """
    del path
    with open(_word_index_path(), encoding="utf-8") as handle:
        return json.load(handle)


def load_data(
    path="imdb.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
    **kwargs,
):
    """Load the IMDB reviews as word-index lists: ``(x_train, y_train), (x_test, y_test)``.

    Same signature, arguments and output as ``keras.datasets.imdb.load_data``: ``x_*`` are 1-D object
    arrays of Python lists of ints, ``y_*`` int64 arrays of 0 (negative) / 1 (positive), 25,000 reviews
    per split, shuffled with ``seed``. Each review is ``[start_char]`` followed by ``rank + index_from``
    for each of its words. Words outside ``skip_top <= index < num_words`` become ``oov_char`` (or are
    dropped when ``oov_char`` is None). With ``maxlen``, only reviews *shorter* than ``maxlen`` (start
    character included) are kept, as Keras does. ``path`` is accepted for compatibility and ignored.
    """
    del path
    if kwargs:
        raise TypeError(f"load_data() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
    for name, value in (("num_words", num_words), ("maxlen", maxlen), ("start_char", start_char), ("oov_char", oov_char)):
        seq.check_int(name, value, optional=True)
    for name, value in (("skip_top", skip_top), ("seed", seed), ("index_from", index_from)):
        seq.check_int(name, value)

    ranks = _word_ranks()
    rng = np.random.RandomState(seed)  # one generator for both shuffles, train first, as Keras
    splits = []
    for split in SPLITS:
        flat, lengths, labels = ranks[f"{split}_ranks"], ranks[f"{split}_lengths"], ranks[f"{split}_labels"]
        order = np.arange(len(lengths))
        rng.shuffle(order)
        flat, lengths = seq.shift(*seq.reorder(flat, lengths, order), start_char, index_from)
        labels = labels[order]
        if maxlen:
            flat, lengths, labels = seq.shorter_than(maxlen, flat, lengths, labels)
        splits.append((flat, lengths, labels))
    if maxlen and not all(len(lengths) for _, lengths, _ in splits):
        raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. Increase maxlen.")

    if not num_words:
        # Keras's own rule, which turns the largest index itself into oov_char: kept for equality.
        num_words = max(int(flat.max()) for flat, _, _ in splits)
    output = []
    for flat, lengths, labels in splits:
        flat, lengths = seq.limit_vocabulary(flat, lengths, skip_top, num_words, oov_char)
        output.append((seq.as_lists(flat, lengths), labels.astype(np.int64)))
    return tuple(output)


def load_texts(seed=113):
    """Load the raw review texts: ``(x_train, y_train), (x_test, y_test)``.

    ``x_*`` are 1-D object arrays of ``str`` (the exact file contents, ``<br />`` tags included), ``y_*``
    int64 arrays of 0 (negative) / 1 (positive). With the same ``seed``, the order is that of
    :func:`load_data`: ``x_train[i]`` is the text whose encoding is ``load_data()[0][0][i]``.
    """
    seq.check_int("seed", seed)
    reviews = _read_reviews()
    rng = np.random.RandomState(seed)
    output = []
    for split in SPLITS:
        texts, labels = reviews[split]
        order = np.arange(len(texts))
        rng.shuffle(order)
        array = np.empty(len(texts), dtype=object)
        array[:] = texts
        output.append((array[order], np.asarray(labels, dtype=np.int64)[order]))
    return tuple(output)


# --- sources ------------------------------------------------------------------------------------


def _word_index_path() -> Path:
    # The mirror keeps the byte-identical Keras cache file under keras/datasets/, not imdb/.
    mirror = data_dir()
    extra = (mirror / "keras" / "datasets",) if mirror else ()
    return fetch(DATASET, WORD_INDEX, extra_dirs=extra)


def _read_reviews() -> dict[str, tuple[list[str], list[int]]]:
    """``{split: (texts, labels)}`` in imdb.npz's order: positive then negative, by file name."""
    records = _records_from_shards() if _mirror_has_shards() else _records_from_archive()
    reviews = {}
    for split in SPLITS:
        chosen = sorted(
            (polarity != "pos", file_name, text) for s, polarity, file_name, text in records if s == split
        )
        if len(chosen) != REVIEWS_PER_SPLIT:
            raise ValueError(f"IMDB {split} split has {len(chosen)} labelled reviews, expected {REVIEWS_PER_SPLIT}")
        reviews[split] = [text for _, _, text in chosen], [int(not negative) for negative, _, _ in chosen]
    return reviews


def _mirror_has_shards() -> bool:
    mirror = data_dir()
    return bool(mirror) and all((mirror / DATASET / shard.name).is_file() for shard in SHARDS)


def _records_from_shards():
    records = []
    for shard in SHARDS:
        path = data_dir() / DATASET / shard.name
        digest = sha256_of(path)
        if not shard.accepts(digest):
            raise ChecksumError(
                f"{path} fails its sha256 check (sha256 is {digest}, expected {shard.sha256}); "
                "restore the data mirror, or unset COURSE_DATA_DIR to use the upstream archive."
            )
        with lzma.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                review = json.loads(line)
                split, polarity, file_name = review["path"].split("/")
                records.append((split, polarity, file_name, review["text"]))
    return records


def _records_from_archive():
    records = []
    with tarfile.open(fetch(DATASET, ARCHIVE), "r:gz") as archive:
        for member in archive:
            parts = member.name.split("/")  # aclImdb/<split>/<pos|neg>/<id>_<rating>.txt
            if member.isfile() and len(parts) == 4 and parts[1] in SPLITS and parts[2] in ("pos", "neg"):
                text = archive.extractfile(member).read().decode("utf-8")
                records.append((parts[1], parts[2], parts[3], text))
    return records


# --- the cached word-rank arrays ----------------------------------------------------------------------


def _word_ranks() -> dict[str, np.ndarray]:
    """Per split: all reviews' word ranks end to end (int32), their lengths and labels, unshuffled."""
    cached = cache_dir() / DATASET / _CACHE_NAME
    arrays = seq.load_cached(cached)
    if arrays is not None:
        return arrays
    index = get_word_index()
    arrays = {}
    for split, (texts, labels) in _read_reviews().items():
        ranks = [[index[word] for word in tokenize(text) if word in index] for text in texts]
        arrays[f"{split}_ranks"], arrays[f"{split}_lengths"] = seq.pack(ranks)
        arrays[f"{split}_labels"] = np.array(labels, dtype=np.int64)
    seq.save_atomically(cached, arrays)
    return arrays
