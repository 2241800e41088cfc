"""Pretrained GloVe word vectors (Pennington, Socher & Manning 2014): the 6B release.

GloVe 6B was trained on Wikipedia 2014 + Gigaword 5 (6 billion tokens) and has 400,000 lowercased
words, sorted from the most to the least frequent. Stanford distributes it as ``glove.6B.zip``
(822 MB: 50, 100, 200 and 300 dimensions); license: ODC Public Domain Dedication (PDDL) 1.0.

:func:`load` uses the best copy it can find, in this order:

1. the full file ``glove.6B.<dim>d.txt`` in ``$COURSE_DATA_DIR/glove/`` or in the cache
   (``$COURSE_CACHE_DIR/glove/``), checked against its sha256;
2. the subset in the offline mirror (``$COURSE_DATA_DIR/glove/glove.6B.<dim>d.first<N>.txt``): only the
   first ~2,500 (most frequent) words, because the full files could not be mirrored;
3. a download of ``glove.6B.zip`` from Stanford, keeping only ``glove.6B.<dim>d.txt`` in the cache.

When only a subset is available the loader says so, once: how many words it loaded and where the full
file comes from. Words outside the subset have no vector, so notebooks must report the coverage of their
vocabulary (see :func:`course.embeddings.coverage`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._files import DatasetNotFoundError, DataFile, cache_dir, fetch

DATASET = "glove"
FULL_WORDS = 400_000
UPSTREAM = (
    "https://nlp.stanford.edu/data/glove.6B.zip",
    "https://downloads.cs.stanford.edu/nlp/data/glove.6B.zip",
)
PROJECT_PAGE = "https://nlp.stanford.edu/projects/glove/"

# The full files. 100d: size 347,116,733 B and this sha256 as published by two unrelated Git LFS pointers
# (see the data mirror's MANIFEST.md). 50d: the mirror records no hash (the LFS pointers disagree); this
# one is published next to glove.6B.50d.txt in hhdri/agglo.cpp (sha256checksums.txt), a single source.
FULL_FILES = {
    50: DataFile(
        "glove.6B.50d.txt", "d8f717f8dd4b545cb7f418ef9f3d0c3e6e68a6f48b97d32f8b7aae40cb31f96f", UPSTREAM, in_zip=True
    ),
    100: DataFile(
        "glove.6B.100d.txt", "95dde4dfd627ab26608d33e76d1195ec059734bd29089ea52cadb08d07c64544", UPSTREAM, in_zip=True
    ),
}

# The offline mirror's subsets: the first lines of the full files, nothing changed but 5 repaired tokens
# (MANIFEST.md). They exist only in the mirror; their URLs name the release they were cut from.
SUBSET_FILES = {
    50: DataFile("glove.6B.50d.first2445.txt", "5f46a8a79eac649fbf60d985a82b30709e2ab5aa5c4226eb43d2ab907a840304", UPSTREAM),
    100: DataFile("glove.6B.100d.first2604.txt", "d275f104d2d5c53d046e1685bd6b045a24ab81aefd6706b1351ca4cc4d97db4c", UPSTREAM),
}

DIMENSIONS = tuple(sorted(FULL_FILES))

_announced: set[Path] = set()


def path(dim: int = 100) -> Path:
    """Path of the best available GloVe 6B file of ``dim`` dimensions (full file, mirror subset, download)."""
    if dim not in FULL_FILES:
        raise ValueError(f"dim={dim!r}: GloVe 6B is available here in {' or '.join(map(str, DIMENSIONS))} dimensions")
    try:
        return fetch(DATASET, FULL_FILES[dim], download=False)
    except DatasetNotFoundError:
        pass
    try:
        return fetch(DATASET, SUBSET_FILES[dim], download=False)
    except DatasetNotFoundError:
        pass
    return fetch(DATASET, FULL_FILES[dim])  # no mirror: the real upstream, an 822 MB zip


def read_vectors(file: str | Path, dim: int | None = None) -> dict[str, np.ndarray]:
    """Parse a GloVe text file (``word v1 ... v_dim`` per line) into ``{word: float32 vector}``.

    The dictionary keeps the file's order (most frequent word first). Every line must have the same
    number of values (``dim`` when given); a malformed line is an error naming the file and line.
    """
    index: dict[str, np.ndarray] = {}
    with open(file, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            # Split from the right: the vector is always the last `dim` fields, whatever the word holds.
            fields = line.rstrip("\n").rsplit(" ", dim) if dim else line.rstrip("\n").split(" ")
            word, values = fields[0], fields[1:]
            if dim is None:
                dim = len(values)
            if len(values) != dim or not word:
                raise ValueError(f"{file}, line {number}: expected a word and {dim} numbers, got {len(fields)} fields")
            index[word] = np.asarray(values, dtype=np.float32)
    return index


def load(dim: int = 100) -> dict[str, np.ndarray]:
    """Load GloVe 6B as an embeddings index: ``{word: float32 vector of length dim}``, most frequent first.

    Says once per file how many words were loaded, and, for the mirror's subset, where the full file
    comes from.
    """
    source = path(dim)
    index = read_vectors(source, dim)
    if source not in _announced:
        _announced.add(source)
        print(describe(index, dim, source))
    return index


def describe(index: dict, dim: int, source: Path) -> str:
    """The one-time note of :func:`load`: words loaded, and where the full file comes from if incomplete."""
    note = f"GloVe 6B {dim}d: {len(index):,} of {FULL_WORDS:,} words loaded from {source}"
    if len(index) >= FULL_WORDS:
        return note + "."
    full = FULL_FILES[dim].name
    return (
        f"{note}: the offline mirror holds only the {len(index):,} most frequent words, so rarer words get no "
        f"vector. The full file {full} is in {UPSTREAM[0]} (822 MB, {PROJECT_PAGE}); place {full} in "
        f"{cache_dir() / DATASET} (or $COURSE_DATA_DIR/{DATASET}/) and it is used instead."
    )
