"""Reuters newswires over 46 topics, with the output of ``keras.datasets.reuters``.

Keras's ``reuters.npz`` and ``reuters_word_index.json`` are not available offline, so this module derives
them from the complete Reuters-21578, Distribution 1.0 (the 22 ``reut2-*.sgm`` files), by re-running the
script that made Keras's set (``make_reuters_dataset`` of Keras 0.1, 2015; see keras-team/keras#12072):

* **Newswires**: the files in name order; every ``<TOPICS>`` element with at least one ``<D>`` gives one
  newswire labelled with its **first** topic (the script meant to skip multi-topic stories, but its test
  looks only up to the first ``</``, so it never does). Its text is the next ``<BODY>`` up to the next
  ``</``; a story without a body (``TYPE="BRIEF"``) thus takes the body of the following story, as it did
  in Keras's set. The split attributes (``LEWISSPLIT``, ModApte) are ignored.
* **Topics**: those with at least 15 newswires (``min_samples_per_topic``): 46 topics, 11,228 newswires.
  Labels number the topics in order of first appearance (0 = ``cocoa``), which gives Keras's
  :func:`get_label_names` exactly.
* **Tokenization**: Keras's ``text_to_word_sequence`` (punctuation except ``'`` becomes a space, ASCII
  letters are lowercased; ``&lt;`` gives ``lt`` and every story ends with ``reuter 3`` from ``&#3;``).
* **Word index**: the 30,979 words ranked by count, most frequent first (1 = ``the``). Equal counts keep
  the order in which a Python 2.7 dict (64-bit) iterates its words, as Keras's 2015 ``Tokenizer`` did;
  :mod:`course.datasets._py2dict` replays that dict. Without this, about half of the word indices (the
  ties) would differ from Keras's.
* **Split**: as ``keras.datasets.reuters.load_data``: shuffle with ``seed`` (113), the first
  ``1 - test_split`` (80 %) for training: 8,982 training and 2,246 test newswires.

Checked against published outputs of ``keras.datasets.reuters.load_data(num_words=10000)``: training
newswires 0 and 1 equal Keras's lists index for index (ties included), the training labels start
``3, 4, 3`` and end ``25, 3, 25``, the class counts, the longest training newswire (2,376) and the mean
length (145.54) agree. Keras's files themselves could not be compared byte for byte.

Sources: the offline mirror (``$COURSE_DATA_DIR/reuters/reut2-NNN.sgm.gz``), else the cache, else the
archive ``reuters21578.tar.gz`` from the UCI KDD archive (each ``.sgm`` verified by its sha256). The
encoded set is computed once and cached. Copyright Reuters Ltd.; free distribution for research purposes.
"""

from __future__ import annotations

import gzip
import html
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _sequences as seq
from ._files import ChecksumError, DataFile, DatasetNotFoundError, cache_dir, data_dir, sha256_of
from ._files import _download, _write_verified
from ._py2dict import py2_dict_order

DATASET = "reuters"
ARCHIVE_URLS = (
    "https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz",
    "https://archive.ics.uci.edu/ml/machine-learning-databases/reuters21578-mld/reuters21578.tar.gz",
)
MIN_SAMPLES_PER_TOPIC = 15
NEWSWIRES = 11_228

# name -> (sha256 of the mirror's gzip -9 -n copy, sha256 of the original .sgm)
_SGM_SHA256 = {
    "reut2-000": ("0f77a45ac8e1f7e32a5f1d24bfdaf29efccb39c4cae575d95f8810512a14ba14", "9ff9bb40624ef992a03f62aace12e697dca1087abfd9b4d06aa787a6ad3e0687"),
    "reut2-001": ("8d13f8d173d40301cb80c8068607a55bb2f2b93a558ac8116a3b001e1061028f", "1528e7e82d110d88d0234eb9619eadb7f9fd805711971df05975b92277dfdf4d"),
    "reut2-002": ("d8d5b1b87cbfcc595dbbe56f3cd26712fc9eb1f7abbb3fb1ac383d562241c0b1", "99f18068d0518952987dedd78c622e5c2a584e357d264d3754696c815f3e6628"),
    "reut2-003": ("4e4f1b4ec01b74a282d95d24b29df096f0f8ca06ca7e3e5af2d20a68c9116c15", "78a3a8d7e04bc9d42c4614d5d5c60a4293dbe3f708df6fb5a71d9ef31f4b3fa3"),
    "reut2-004": ("0a6e120206a1104f10d6bad2ae5a9353f6890ede183f839ea87b0929ff2739d7", "726342c19a65873330b412378cd6a3f0d512035f5223146ddd60930c62eb6ff0"),
    "reut2-005": ("01fe4b95a67360ea8547c8447a798c880dcf33f2c9a27b459c015b5c34cc63ce", "d09de619b6dd2d047d5124681f6df90550abaf592020d1c1ce338ae9b91522e7"),
    "reut2-006": ("f0ef0ec8fc20648a1c6292bebc59b3a46751ccd79ffaa0b818753de017bc3f8b", "b5535c0d66b01f4976f84621a4a795afbc00d2c4bd0a1b7ae426df6630fb361d"),
    "reut2-007": ("a2f579938e8a15394c2a4329028f08942aae586e89d23f3ae85eae1808d7810b", "aa706007ec84a03537a3921ca976d60e11b3f99e4b9e9b2d5c81dd384d2c2062"),
    "reut2-008": ("4771ae6a9245adf372a8d7ed218eee1182c43ecb72923271b30dab8794ba2b42", "a3994583694a00b7c744097c1d7eabfcf90f2e6650cc21663e46828035a336cb"),
    "reut2-009": ("fd32400d3ed0820a05317b288ca67664ad7d23fc4b23e419b03bb6322de694ab", "29995f606dd1a9bdf907eacc9d879846c716860d9d9141676979474aaea39c7d"),
    "reut2-010": ("35f618957db0bce7f85a21a1d2979b09f57f3d8e5cd3dad67f037a20e1a94ae8", "996df6008089bd09fa5b28a4d2eb0ee5f7b9d4601cde566fed3926ac82960fa3"),
    "reut2-011": ("2d9d48e367ca4b005cd5609cf76e4efe913d67225b7e535908c9d30e82531caf", "d3a2782015247d9c2bffb8926267827fdd449c70d619435ef01a25a1c56a53ca"),
    "reut2-012": ("d5a7374109b8b6cf7867789fec81ae15e4326fb4b2bf5e5ee2e1506076b7b4ac", "da31035d483851f2aebce5b66d779e5e2c0ac9dcfe098596c6d544e81c5604ab"),
    "reut2-013": ("847e370b5d0e715492f81a73eb6f2e1c681cedcd642f7e9c5129efc2012e083b", "8f7700bc0455fac3fcc12377ced4807b7df8aba1f21ecad059b9cc2b1cf0b8be"),
    "reut2-014": ("15a7b7d4c45996a87dd81ce6fb21beccd1f692b1814f617c0a5bc4036b8b4630", "ef936bd3e0f36cf722afa9a6957563549775af32e9e28b4f539c8737ceda83ab"),
    "reut2-015": ("9e8e36db762714d82a4e52e7a1b33878898543fa90dfc152bf30147067f5fa9b", "6d3bcec73eff871b8a5403588af814c4e50a0de6bc25707480522ab836f74026"),
    "reut2-016": ("5b0a342c29169f5accfa7e619caaf5b947964618b0cdfdcbd30871449d3116f6", "be2f03a185fff70131f3b4fdbd6229b7ee2be077eba9691eaa597c8cfbda8812"),
    "reut2-017": ("1ee9d08c30e92b08f253ba82ce8dcdcd6e68fc9271f0a39dc091233a8f5fa140", "f370e610b4b1342e41a98e0c426a08541044bd1d7e539674f32372a6060b73b5"),
    "reut2-018": ("f4dc2dd103889eca875cecdc87e58785f46e577741b38e5fe4d74cd6734f1c8d", "a5f971bf25448e915781962309e669359a35fbcaf3017a806eca0590897f209a"),
    "reut2-019": ("a6ecbaefc2f796e8e532ee41076e566aefbdc7e3417f627e5d04652847df227b", "d3b07097fba2633d130b4914aceba671645985248943ce9e39c289315339dffb"),
    "reut2-020": ("92b986cdce039f09c9df6e9c4bf3dec323668ee461cd08a6c46ed0dfbccfa4cd", "f6ad1b724125c202566c63b35ea0b5ee23881f8b7ed47a32829d5af05d8e860d"),
    "reut2-021": ("2d0006344683b79a30aa02e6e9602846498117bfd5740a0db8ae91e30fe422b2", "3f5196d32869723c9042aa5756805b4e90360f1f45ea17f4594fa0e2b3630b18"),
}
# The mirror's gzipped copies (mirror only) and the original files (cached from the archive).
MIRROR_FILES = tuple(DataFile(f"{name}.sgm.gz", gz, ARCHIVE_URLS) for name, (gz, _) in _SGM_SHA256.items())
SGM_FILES = tuple(DataFile(f"{name}.sgm", sgm, ARCHIVE_URLS) for name, (_, sgm) in _SGM_SHA256.items())
# The list of the 135 TOPICS categories (one per line) that comes with the corpus.
TOPICS_FILE = DataFile("all-topics-strings.lc.txt", "f905159a05733e2fd3c99e34d86ac1691582510af14d779c26829e75a117ac42", ARCHIVE_URLS)
# Bump when the derivation or the cached layout changes, so stale caches are never read.
_CACHE_NAME = "reuters-keras-v1.npz"


def tokenize(text: str) -> list[str]:
    """Split a newswire into the words of the index (Keras's ``text_to_word_sequence``)."""
    return seq.keras_words(text)


def get_word_index(path="reuters_word_index.json"):
    """Return the ``{word: rank}`` dictionary (30,979 words, ``"the"`` -> 1) of :func:`load_data`.

    Same signature and output as ``keras.datasets.reuters.get_word_index``; the encoded newswires hold
    ``rank + index_from``. ``path`` is accepted for compatibility and ignored.
    """
    del path
    words = _derived()["words"].tolist()
    return {word: rank for rank, word in enumerate(words, start=1)}


def get_label_names():
    """The 46 topic names, indexed by label (0 = ``"cocoa"``), as ``keras.datasets.reuters.get_label_names``."""
    return tuple(_derived()["topics"].tolist())


def load_data(
    path="reuters.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    test_split=0.2,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Load the newswires as word-index lists: ``(x_train, y_train), (x_test, y_test)``.

    Same signature, arguments and output as ``keras.datasets.reuters.load_data``: ``x_*`` are 1-D object
    arrays of Python lists of ints, ``y_*`` int64 topic labels 0-45. The 11,228 newswires are shuffled
    with ``seed`` and the last ``test_split`` of them form the test set (8,982 / 2,246 by default). Each
    is ``[start_char]`` followed by ``rank + index_from`` per word; indices outside
    ``skip_top <= index < num_words`` become ``oov_char`` (or are dropped when it is None). With
    ``maxlen``, only newswires *shorter* than ``maxlen`` are kept, as Keras does. ``path`` is ignored.
    """
    del path
    for name, value in (("num_words", num_words), ("maxlen", maxlen), ("start_char", start_char), ("oov_char", oov_char)):
        seq.check_int(name, value, optional=True)
    for name, value in (("skip_top", skip_top), ("seed", seed), ("index_from", index_from)):
        seq.check_int(name, value)
    _check_split(test_split)

    derived = _derived()
    flat, lengths, labels = derived["ranks"], derived["lengths"], derived["labels"]
    order = np.arange(len(lengths))
    np.random.RandomState(seed).shuffle(order)
    flat, lengths = seq.shift(*seq.reorder(flat, lengths, order), start_char, index_from)
    labels = labels[order]
    if maxlen:
        flat, lengths, labels = seq.shorter_than(maxlen, flat, lengths, labels)
    if not num_words:
        if not len(lengths):
            raise ValueError(f"No newswire is shorter than maxlen={maxlen}. Increase maxlen.")
        num_words = int(flat.max())  # Keras's rule: the largest index itself becomes oov_char
    flat, lengths = seq.limit_vocabulary(flat, lengths, skip_top, num_words, oov_char)
    sequences = seq.as_lists(flat, lengths)
    cut = int(len(sequences) * (1 - test_split))
    return (sequences[:cut], labels[:cut].astype(np.int64)), (sequences[cut:], labels[cut:].astype(np.int64))


def load_texts(test_split=0.2, seed=113):
    """The newswire texts as Keras's script saw them: ``(x_train, y_train), (x_test, y_test)``.

    ``x_*`` are 1-D object arrays of ``str`` (the ``<BODY>`` text with its SGML entities, e.g. ``&lt;``
    and the closing ``&#3;``), ``y_*`` int64 labels. With the same ``test_split`` and ``seed``, the order
    is that of :func:`load_data`: ``x_train[i]`` is the text whose encoding is ``load_data()[0][0][i]``.
    """
    seq.check_int("seed", seed)
    _check_split(test_split)
    texts, labels, _ = _newswires(_sgm_texts())
    array = np.empty(len(texts), dtype=object)
    array[:] = texts
    order = np.arange(len(texts))
    np.random.RandomState(seed).shuffle(order)
    array, labels = array[order], np.array(labels, dtype=np.int64)[order]
    cut = int(len(array) * (1 - test_split))
    return (array[:cut], labels[:cut]), (array[cut:], labels[cut:])


# --- the corpus as SGML: stories with their fields -------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """One ``<REUTERS>`` element of Reuters-21578, its fields as they stand in the SGML (entities kept)."""

    newid: int  # NEWID, 1 to 21578
    lewissplit: str  # TRAIN, TEST or NOT-USED
    topics_attribute: str  # TOPICS="YES" (indexed for topics), "NO" or "BYPASS"
    topics: tuple[str, ...]  # the <D> codes of <TOPICS>, in order; often none, sometimes several
    title: str  # <TITLE>, "" when absent
    dateline: str
    body: str  # <BODY>, "" for stories without one (TYPE="BRIEF", "UNPROC")

    @property
    def modapte(self) -> str | None:
        """The story's side of the ModApte split: "train", "test", or None (not used)."""
        if self.topics_attribute != "YES" or self.lewissplit == "NOT-USED":
            return None
        return {"TRAIN": "train", "TEST": "test"}[self.lewissplit]


_STORY = re.compile(r"<REUTERS ([^>]*)>(.*?)</REUTERS>", re.DOTALL)
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def _field(tag: str, text: str) -> str:
    found = re.search(f"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
    return found.group(1) if found else ""


def parse_sgml(text: str) -> list[Story]:
    """Parse the ``<REUTERS>`` elements of one ``.sgm`` file's text (format parsing, before any cleaning)."""
    stories = []
    for attributes, content in _STORY.findall(text):
        attrs = dict(_ATTRIBUTE.findall(attributes))
        missing = {"NEWID", "LEWISSPLIT", "TOPICS"} - set(attrs)
        if missing:
            raise ValueError(f"<REUTERS {attributes}> lacks the attribute(s) {', '.join(sorted(missing))}")
        stories.append(Story(
            newid=int(attrs["NEWID"]), lewissplit=attrs["LEWISSPLIT"], topics_attribute=attrs["TOPICS"],
            topics=tuple(re.findall(r"<D>(.*?)</D>", _field("TOPICS", content))),
            title=_field("TITLE", content), dateline=_field("DATELINE", content), body=_field("BODY", content),
        ))
    return stories


def sgml_texts() -> list[str]:
    """The raw text of the 22 ``reut2-NNN.sgm`` files, in name order (verified; decoded as latin-1)."""
    return _sgm_texts()


def load_stories() -> list[Story]:
    """All 21,578 stories of Reuters-21578 in file order (NEWID 1 to 21578), parsed from the SGML."""
    return [story for text in _sgm_texts() for story in parse_sgml(text)]


def all_topics() -> list[str]:
    """The 135 topic categories that the corpus lists (``all-topics-strings.lc.txt``), alphabetical."""
    mirror = data_dir()
    path = mirror / DATASET / TOPICS_FILE.name if mirror else None
    if not (path and path.is_file()):
        path = cache_dir() / DATASET / TOPICS_FILE.name
        if not (path.is_file() and TOPICS_FILE.accepts(sha256_of(path))):
            notes = []
            for url in ARCHIVE_URLS:
                try:
                    _extract_from_archive(url, path.parent, (TOPICS_FILE,))
                    break
                except (OSError, ChecksumError, tarfile.TarError) as exc:
                    notes.append(f"{url}: {exc}")
            else:
                raise DatasetNotFoundError(
                    f"The Reuters-21578 topic list {TOPICS_FILE.name} is neither in the mirror ($COURSE_DATA_DIR) nor in "
                    f"{path.parent}, and the archive could not be downloaded ({'; '.join(notes)})."
                )
    digest = sha256_of(path)
    if not TOPICS_FILE.accepts(digest):
        raise ChecksumError(f"{path} fails its sha256 check (sha256 is {digest}, expected {TOPICS_FILE.sha256})")
    return path.read_text(encoding="ascii").split()


_REUTER_SIGN_OFF = re.compile(r"\s*\bReuter\s*$")


def clean(text: str) -> str:
    """A field's plain text: SGML entities decoded (``&lt;`` -> ``<``), control characters (``&#3;``) and the
    closing ``Reuter`` sign-off removed, runs of white space (the wire's line breaks) made single spaces."""
    text = html.unescape(text)
    text = "".join(" " if (ord(c) < 32 or ord(c) == 127) else c for c in text)
    text = re.sub(r"\s+", " ", text).strip()
    return _REUTER_SIGN_OFF.sub("", text)


def _check_split(test_split) -> None:
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)) or not 0 <= test_split <= 1:
        raise ValueError(f"test_split must be a number between 0 and 1, not {test_split!r}")


# --- derivation ----------------------------------------------------------------------------------------


def _newswires(documents: list[str]) -> tuple[list[str], list[int], list[str]]:
    """Keras 0.1's ``make_reuters_dataset`` on the files' contents: (bodies, labels, topic names)."""
    topics, bodies = [], []
    for s in documents:
        position = 0
        while (found := s.find("<TOPICS>", position)) != -1:
            position = found + len("<TOPICS>")
            end = s.find("</", position)
            first_topic = s[position:end]  # up to the first "</": just "<D>name" even with several topics
            if not first_topic:
                continue
            topics.append(first_topic.replace("<D>", "").replace("</D>", ""))
            # str.find gives -1 when no <BODY> follows; the script then sliced from -1 + 6 (kept as is).
            body_start = s.find("<BODY>", position)
            body_start = (body_start if body_start != -1 else position - 1) + len("<BODY>")
            body_end = s.find("</", body_start)
            bodies.append(s[body_start : body_end if body_end != -1 else len(s) - 1])
    counts: dict[str, int] = {}
    for topic in topics:
        counts[topic] = counts.get(topic, 0) + 1
    names: dict[str, int] = {}
    texts, labels = [], []
    for topic, body in zip(topics, bodies):
        if counts[topic] >= MIN_SAMPLES_PER_TOPIC:
            labels.append(names.setdefault(topic, len(names)))
            texts.append(body)
    return texts, labels, list(names)


def _derived() -> dict[str, np.ndarray]:
    cached = cache_dir() / DATASET / _CACHE_NAME
    arrays = seq.load_cached(cached)
    if arrays is not None:
        return arrays
    texts, labels, topics = _newswires(_sgm_texts())
    if len(texts) != NEWSWIRES or len(topics) != 46:
        raise ValueError(f"Reuters-21578 gave {len(texts)} newswires over {len(topics)} topics, expected {NEWSWIRES} over 46")
    tokenized = [tokenize(text) for text in texts]
    counts: dict[str, int] = {}
    for words in tokenized:
        for word in words:
            counts[word] = counts.get(word, 0) + 1
    # Keras's Tokenizer: sort the dict's items by count, descending; the stable sort keeps dict order on ties.
    vocabulary = sorted(py2_dict_order(list(counts)), key=counts.__getitem__, reverse=True)
    rank = {word: i for i, word in enumerate(vocabulary, start=1)}
    arrays = dict(zip(("ranks", "lengths"), seq.pack([[rank[w] for w in words] for words in tokenized])))
    arrays["labels"] = np.array(labels, dtype=np.int64)
    arrays["words"] = np.array(vocabulary)
    arrays["topics"] = np.array(topics)
    seq.save_atomically(cached, arrays)
    return arrays


# --- sources -----------------------------------------------------------------------------------------


def _sgm_texts() -> list[str]:
    """The contents of the 22 .sgm files in name order, each verified, decoded as latin-1."""
    mirror = data_dir()
    if mirror and all((mirror / DATASET / f.name).is_file() for f in MIRROR_FILES):
        contents = []
        for file in MIRROR_FILES:
            path = mirror / DATASET / file.name
            digest = sha256_of(path)
            if not file.accepts(digest):
                raise ChecksumError(
                    f"{path} fails its sha256 check (sha256 is {digest}, expected {file.sha256}); "
                    "restore the data mirror, or unset COURSE_DATA_DIR to use the upstream archive."
                )
            contents.append(gzip.decompress(path.read_bytes()))
    else:
        contents = [path.read_bytes() for path in _original_files()]
    return [data.decode("latin-1") for data in contents]  # one byte (0xFC, reut2-017) is not ASCII


def _original_files() -> list[Path]:
    """The 22 original .sgm files in the cache, extracted from the downloaded archive when missing."""
    folder = cache_dir() / DATASET
    paths = [folder / file.name for file in SGM_FILES]
    if all(p.is_file() and file.accepts(sha256_of(p)) for p, file in zip(paths, SGM_FILES)):
        return paths
    notes = []
    for url in ARCHIVE_URLS:
        try:
            _extract_from_archive(url, folder)
            return paths
        except (OSError, ChecksumError, tarfile.TarError) as exc:
            notes.append(f"  - download from {url} failed: {exc}")
    mirror = data_dir()
    raise DatasetNotFoundError(
        "\n".join(
            [
                "Dataset 'reuters' (Reuters-21578) is not available.",
                f"  offline mirror: {f'{mirror / DATASET} has no reut2-*.sgm.gz' if mirror else '$COURSE_DATA_DIR is not set'}",
                f"  local cache:    {folder} (reut2-000.sgm ... reut2-021.sgm)",
                f"  upstream:       {', '.join(ARCHIVE_URLS)}",
                *notes,
                "To fix: point the environment variable COURSE_DATA_DIR at a copy of the course data mirror "
                f"(a folder with 'reuters/reut2-000.sgm.gz' ...), or extract the .sgm files of "
                f"{ARCHIVE_URLS[0]} into {folder}, or connect to the internet and run again.",
            ]
        )
    )


def _extract_from_archive(url: str, folder: Path, files: tuple[DataFile, ...] = ()) -> None:
    """Download the archive, then write each member (default: the .sgm files) into the cache once its sha256 matches."""
    folder.mkdir(parents=True, exist_ok=True)
    archive_path = folder / ".reuters21578.tar.gz.download"
    try:
        with open(archive_path, "wb") as out:
            _download(url, out, "reuters21578.tar.gz")
        with tarfile.open(archive_path, "r:gz") as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
            for file in files or SGM_FILES:
                if file.name not in members:
                    raise ChecksumError(f"{url} has no member {file.name}")
                data = archive.extractfile(members[file.name]).read()
                _write_verified(folder / file.name, file, lambda out, data=data: out.write(data))
    finally:
        archive_path.unlink(missing_ok=True)
