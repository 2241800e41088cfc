"""course.datasets.reuters against published outputs of keras.datasets.reuters and Keras's own logic."""

import dataclasses
import gzip
import hashlib
import inspect
import io
import shutil
import tarfile

import keras
import numpy as np
import pytest
from keras.src.datasets import reuters as keras_reuters

from localserver import LocalServer

from course.datasets import ChecksumError, DatasetNotFoundError, reuters
from course.datasets._py2dict import py2_dict_order, py2_string_hash

# keras.datasets.reuters.load_data(num_words=10000): x_train[0] and x_train[1], as printed in many
# public notebooks (e.g. Chollet's 3.6 decodes the first one to "? ? ? said as a result of its december
# acquisition of space co ...").
KERAS_TRAIN_0 = [
    1, 2, 2, 8, 43, 10, 447, 5, 25, 207, 270, 5, 3095, 111, 16, 369, 186, 90, 67, 7, 89, 5, 19, 102, 6, 19, 124,
    15, 90, 67, 84, 22, 482, 26, 7, 48, 4, 49, 8, 864, 39, 209, 154, 6, 151, 6, 83, 11, 15, 22, 155, 11, 15, 7, 48,
    9, 4579, 1005, 504, 6, 258, 6, 272, 11, 15, 22, 134, 44, 11, 15, 16, 8, 197, 1245, 90, 67, 52, 29, 209, 30, 32,
    132, 6, 109, 15, 17, 12,
]
KERAS_TRAIN_1 = [
    1, 3267, 699, 3434, 2295, 56, 2, 7511, 9, 56, 3906, 1073, 81, 5, 1198, 57, 366, 737, 132, 20, 4093, 7, 2, 49,
    2295, 2, 1037, 3267, 699, 3434, 8, 7, 10, 241, 16, 855, 129, 231, 783, 5, 4, 587, 2295, 2, 2, 775, 7, 48, 34,
    191, 44, 35, 1795, 505, 17, 12,
]


@pytest.fixture(scope="module")
def top_10000():
    return reuters.load_data(num_words=10000)


def test_signatures_equal_keras():
    assert inspect.signature(reuters.load_data) == inspect.signature(keras.datasets.reuters.load_data)
    assert inspect.signature(reuters.get_word_index) == inspect.signature(keras.datasets.reuters.get_word_index)
    assert reuters.get_label_names() == keras.datasets.reuters.get_label_names()


def test_published_keras_outputs(top_10000):
    (x_train, y_train), (x_test, y_test) = top_10000
    assert x_train.shape == (8982,) and x_test.shape == (2246,) and x_train.dtype == object
    assert y_train.dtype == np.int64 and y_test.shape == (2246,)
    assert x_train[0] == KERAS_TRAIN_0 and x_train[1] == KERAS_TRAIN_1
    assert (len(x_train[0]), len(x_train[1]), len(x_train[11])) == (87, 56, 59)
    assert y_train[:3].tolist() == [3, 4, 3] and y_train[-3:].tolist() == [25, 3, 25]
    assert max(len(x) for x in x_train) == 2376
    assert np.mean([len(x) for x in x_train]) == pytest.approx(145.539857)
    assert set(np.unique(np.concatenate([y_train, y_test]))) == set(range(46))
    assert max(max(x) for x in x_train) == 9999


def test_word_index_and_decoding(top_10000):
    word_index = reuters.get_word_index()
    assert len(word_index) == 30979 and word_index["the"] == 1
    assert sorted(word_index.values()) == list(range(1, 30980))
    reverse = {rank: word for word, rank in word_index.items()}
    (x_train, _), _ = top_10000
    decoded = " ".join(reverse.get(i - 3, "?") for i in x_train[0])
    assert decoded.startswith("? ? ? said as a result of its december acquisition of space co it expects earnings")
    assert decoded.endswith("should be 2 50 to three dlrs reuter 3")


def test_texts_match_the_sequences(top_10000):
    (texts, labels), (test_texts, test_labels) = reuters.load_texts()
    (x_train, y_train), (x_test, y_test) = top_10000
    assert texts.shape == (8982,) and test_texts.shape == (2246,) and texts.dtype == object
    assert np.array_equal(labels, y_train) and np.array_equal(test_labels, y_test)
    assert texts[0].startswith("McGrath RentCorp said as a\nresult of its December acquisition of Space Co")
    word_index = reuters.get_word_index()
    for text, sequence in [*zip(texts[:30], x_train[:30]), *zip(test_texts[:30], x_test[:30])]:
        assert sequence == [1] + [w if w < 10000 else 2 for w in (word_index[t] + 3 for t in reuters.tokenize(text))]
    (all_texts, all_labels), (none, _) = reuters.load_texts(test_split=0, seed=0)
    assert len(all_texts) == 11228 and len(none) == 0 and np.bincount(all_labels).min() >= 10


def test_python2_dict_order():
    assert py2_string_hash("a") == 12416037344 and py2_string_hash("abc") == 1453079729188098211
    assert py2_dict_order(["a", "b", "c"]) == ["a", "c", "b"]  # Python 2's famous {'a': 1, 'c': 3, 'b': 2}
    words = [f"w{i}" for i in range(200)]  # several resizes: still a permutation
    assert sorted(py2_dict_order(words)) == sorted(words)


def test_derivation_quirks_of_the_keras_script(monkeypatch):
    monkeypatch.setattr(reuters, "MIN_SAMPLES_PER_TOPIC", 2)
    document = (
        '<REUTERS NEWID="1"><TOPICS><D>grain</D><D>wheat</D></TOPICS><TEXT><BODY>Wheat up.</BODY></TEXT></REUTERS>'
        '<REUTERS NEWID="2"><TOPICS></TOPICS><TEXT><BODY>No topic.</BODY></TEXT></REUTERS>'
        '<REUTERS NEWID="3"><TOPICS><D>grain</D></TOPICS><TEXT TYPE="BRIEF"><TITLE>Brief</TITLE></TEXT></REUTERS>'
        '<REUTERS NEWID="4"><TOPICS><D>rare</D></TOPICS><TEXT><BODY>Rare topic.</BODY></TEXT></REUTERS>'
        '<REUTERS NEWID="5"><TOPICS><D>earn</D></TOPICS><TEXT><BODY>Profit &lt;ABC></BODY></TEXT></REUTERS>'
        '<REUTERS NEWID="6"><TOPICS><D>earn</D></TOPICS><TEXT><BODY>Loss.</BODY></TEXT></REUTERS>'
    )
    texts, labels, topics = reuters._newswires([document])
    # First topic only; the body-less brief takes the next story's body; rare topics and no topic are dropped.
    assert texts == ["Wheat up.", "Rare topic.", "Profit &lt;ABC>", "Loss."]
    assert labels == [0, 0, 1, 1] and topics == ["grain", "earn"]
    assert reuters.tokenize("Profit &lt;ABC>\n Reuter\n&#3;") == ["profit", "lt", "abc", "reuter", "3"]


def _unshuffled_npz(tmp_path):
    derived = reuters._derived()
    ends, lengths = np.cumsum(derived["lengths"]).tolist(), derived["lengths"].tolist()
    flat = derived["ranks"].tolist()
    x = np.empty(len(lengths), dtype=object)
    x[:] = [flat[end - n : end] for end, n in zip(ends, lengths)]
    path = tmp_path / "reuters.npz"
    np.savez(path, x=x, y=derived["labels"])
    return str(path)


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"num_words": 1000, "skip_top": 10, "test_split": 0.3, "seed": 5},
        {"maxlen": 100, "start_char": None, "index_from": 0, "oov_char": None, "num_words": 500},
    ],
)
def test_every_argument_behaves_as_in_keras(arguments, tmp_path, monkeypatch):
    monkeypatch.setattr(keras_reuters, "get_file", lambda **_: _unshuffled_npz(tmp_path))
    (kx_train, ky_train), (kx_test, ky_test) = keras_reuters.load_data(**arguments)
    (x_train, y_train), (x_test, y_test) = reuters.load_data(**arguments)
    assert x_train.tolist() == kx_train.tolist() and x_test.tolist() == kx_test.tolist()
    assert x_train.shape == kx_train.shape and y_train.dtype == ky_train.dtype
    assert np.array_equal(y_train, ky_train) and np.array_equal(y_test, ky_test)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="test_split must be a number between 0 and 1"):
        reuters.load_data(test_split=1.5)
    with pytest.raises(TypeError, match="maxlen must be an int or None"):
        reuters.load_data(maxlen=10.5)
    with pytest.raises(ValueError, match="Increase maxlen"):
        reuters.load_data(maxlen=1)


def test_derived_set_is_cached_atomically_and_rebuilt_when_corrupt(empty_cache, monkeypatch):
    reads = []
    real = reuters._sgm_texts
    monkeypatch.setattr(reuters, "_sgm_texts", lambda: reads.append(1) or real())
    (x_train, _), _ = reuters.load_data(num_words=50)
    cached = empty_cache / "reuters" / reuters._CACHE_NAME
    assert cached.is_file() and not list(empty_cache.rglob("*.tmp")) and reads == [1]
    assert reuters.load_data(num_words=50)[0][0].tolist() == x_train.tolist() and reads == [1]
    cached.write_bytes(b"PK broken")
    assert reuters.load_data(num_words=50)[0][0].tolist() == x_train.tolist() and reads == [1, 1]


def test_corrupt_mirror_file_is_refused(data_dir, tmp_path, empty_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    shutil.copytree(data_dir / "reuters", mirror / "reuters")
    broken = mirror / "reuters" / "reut2-007.sgm.gz"
    broken.chmod(0o644)
    broken.write_bytes(gzip.compress(b"<REUTERS>"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(mirror))
    with pytest.raises(ChecksumError, match="reut2-007.sgm.gz fails its sha256 check"):
        reuters.load_texts()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_without_mirror_the_archive_is_downloaded_and_each_file_verified(empty_cache, monkeypatch):
    contents = {f"reut2-{i:03d}.sgm": f"<REUTERS>{i}</REUTERS>".encode() for i in range(22)}
    files = tuple(
        dataclasses.replace(f, sha256=hashlib.sha256(contents[f.name]).hexdigest()) for f in reuters.SGM_FILES
    )
    monkeypatch.setattr(reuters, "SGM_FILES", files)
    monkeypatch.delenv("COURSE_DATA_DIR")
    server = LocalServer(_tar_gz({"README.txt": b"readme", **contents}), "reuters21578.tar.gz")
    try:
        monkeypatch.setattr(reuters, "ARCHIVE_URLS", (server.url,))
        assert reuters._sgm_texts() == [data.decode() for data in contents.values()]
    finally:
        server.close()
    assert sorted(p.name for p in (empty_cache / "reuters").iterdir()) == sorted(contents)
    assert reuters._sgm_texts()[3] == "<REUTERS>3</REUTERS>"  # now from the cache, server gone

    tampered = {**contents, "reut2-005.sgm": b"tampered"}
    shutil.rmtree(empty_cache)
    server = LocalServer(_tar_gz(tampered), "reuters21578.tar.gz")
    try:
        monkeypatch.setattr(reuters, "ARCHIVE_URLS", (server.url,))
        with pytest.raises(DatasetNotFoundError, match="reut2-005.sgm|sha256") as error:
            reuters._sgm_texts()
    finally:
        server.close()
    assert "COURSE_DATA_DIR" in str(error.value) and server.url in str(error.value)
    assert not (empty_cache / "reuters" / "reut2-005.sgm").exists()
    assert not list(empty_cache.rglob("*.download")) and not list(empty_cache.rglob("*.tmp"))


# --- the corpus as SGML (format parsing, cleaning, topics) -------------------------------------------------

SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="1" NEWID="7">
<TOPICS><D>grain</D><D>wheat</D></TOPICS>
<TEXT>&#2;
<TITLE>U.S. WHEAT &lt;WHT> UP</TITLE>
<DATELINE>    CHICAGO, March 2 - </DATELINE><BODY>Wheat rose 5.93 pct,
    traders said. Corn &amp; oats fell.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="NO" LEWISSPLIT="NOT-USED" CGISPLIT="TRAINING-SET" OLDID="2" NEWID="8">
<TOPICS></TOPICS>
<TEXT TYPE="BRIEF">&#2;
<TITLE>BRIEF ONLY</TITLE>
</TEXT>
</REUTERS>
"""


def test_parse_sgml_extracts_the_fields_and_every_topic_code():
    first, second = reuters.parse_sgml(SGML)
    assert (first.newid, first.lewissplit, first.topics_attribute, first.modapte) == (7, "TRAIN", "YES", "train")
    assert first.topics == ("grain", "wheat") and first.title == "U.S. WHEAT &lt;WHT> UP"
    assert first.body.startswith("Wheat rose") and first.body.endswith("&#3;") and "CHICAGO" in first.dateline
    assert (second.topics, second.body, second.modapte) == ((), "", None)
    with pytest.raises(ValueError, match="NEWID"):
        reuters.parse_sgml('<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN">x</REUTERS>')


def test_clean_decodes_entities_drops_control_characters_line_breaks_and_the_sign_off():
    first, _ = reuters.parse_sgml(SGML)
    assert reuters.clean(first.title) == "U.S. WHEAT <WHT> UP"
    assert reuters.clean(first.body) == "Wheat rose 5.93 pct, traders said. Corn & oats fell."
    assert reuters.clean("Reuters said Reuter is a name.") == "Reuters said Reuter is a name.", "only the final sign-off"


def test_stories_modapte_split_and_where_kerass_46_topics_come_from(data_dir):
    stories = reuters.load_stories()
    assert len(stories) == 21_578 and [s.newid for s in stories[:3]] == [1, 2, 3]
    train = [s for s in stories if s.modapte == "train"]
    test = [s for s in stories if s.modapte == "test"]
    assert (len(train), len(test)) == (9_603, 3_299)  # the ModApte split's published sizes
    both = {t for s in train for t in s.topics} & {t for s in test for t in s.topics}
    assert len(both) == 90
    listed = reuters.all_topics()
    assert len(listed) == 135 and listed == sorted(listed)
    occurring = {t for s in stories for t in s.topics}
    assert occurring <= set(listed) and len(occurring) == 120
    first_codes = {}
    for s in stories:
        if s.topics:
            first_codes[s.topics[0]] = first_codes.get(s.topics[0], 0) + 1
    kept = [t for t, n in first_codes.items() if n >= reuters.MIN_SAMPLES_PER_TOPIC]  # first appearance order
    assert tuple(kept) == reuters.get_label_names()
    assert sum(first_codes[t] for t in kept) == reuters.NEWSWIRES


def test_without_mirror_the_topic_list_comes_from_the_archive_verified(empty_cache, monkeypatch):
    listing = b"acq\nalum\nwheat\n"
    monkeypatch.setattr(reuters, "TOPICS_FILE", dataclasses.replace(reuters.TOPICS_FILE, sha256=hashlib.sha256(listing).hexdigest()))
    monkeypatch.delenv("COURSE_DATA_DIR")
    server = LocalServer(_tar_gz({"all-topics-strings.lc.txt": listing}), "reuters21578.tar.gz")
    try:
        monkeypatch.setattr(reuters, "ARCHIVE_URLS", (server.url,))
        assert reuters.all_topics() == ["acq", "alum", "wheat"]
    finally:
        server.close()
    assert reuters.all_topics() == ["acq", "alum", "wheat"]  # now from the cache
    (empty_cache / "reuters" / "all-topics-strings.lc.txt").write_bytes(b"tampered\n")
    monkeypatch.setattr(reuters, "ARCHIVE_URLS", ("http://127.0.0.1:9/unreachable.tar.gz",))
    with pytest.raises(DatasetNotFoundError, match="all-topics-strings"):
        reuters.all_topics()
