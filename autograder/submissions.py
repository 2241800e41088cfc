"""Finding the submissions of a lab in what an instructor was given.

Three layouts are recognised:

* nbgrader's ``<folder>/<student>/<lab>/<lab>.ipynb`` (e.g. ``grading/submitted``); a student folder
  with the lab's folder but no notebook in it counts as a missing notebook;
* a flat folder of ``<student>.ipynb``;
* an LMS zip export: ``<student>.ipynb`` at the top, ``<student>/...ipynb`` folders (Moodle's
  ``<name>_<id>_assignsubmission_file_/`` becomes ``<name>_<id>``), or Canvas's
  ``<login>_[late_]<id>_<id>_<file>.ipynb``. Nothing is extracted to disk; oversized members are
  refused (a zip bomb cannot fill the disk). The LMS's own id of the student (Canvas's user id,
  Moodle's participant id) is kept as ``lms_id``: the export matches it with the LMS's roster.

Symbolic links are never followed: a notebook, a student's folder or a lab folder that is a link
(or a zip member stored as one) is not read; the student is flagged ``symlink-refused`` and scores 0
(on a shared exchange a link could point at a file only the grader may read).

Student ids are reduced to letters, digits, ``.``, ``_`` and ``-`` so that no id can name a path
outside the grading folders.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 64 << 20
CANVAS = re.compile(r"^(?P<student>[^_]+)_(?:late_)?(?P<lms_id>\d+)_\d+_", re.IGNORECASE)
MOODLE_SUFFIX = re.compile(r"_assignsubmission_\w*$")
MOODLE_PARTICIPANT = re.compile(r"_(?P<lms_id>\d+)$")


@dataclass
class Incoming:
    student: str
    data: bytes | None  # None: no notebook
    origin: str
    flags: list[str] = field(default_factory=list)
    lms_id: str | None = None  # Canvas user id / Moodle participant id, when the LMS's export names it


def student_id(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:80]
    return cleaned or "unnamed"


def _choose(lab: str, candidates: list[tuple[str, bytes | None]], student: str, origin: str) -> Incoming:
    """One notebook per student: the one named like the lab, else the only one."""
    flags = []
    named = [c for c in candidates if Path(c[0]).name == f"{lab}.ipynb" or Path(c[0]).name.endswith(f"_{lab}.ipynb")]
    if len(candidates) > 1:
        flags.append(f"multiple-notebooks:{len(candidates)}")
    chosen = (named or sorted(candidates))[-1] if candidates else None
    if chosen is None:
        return Incoming(student, None, origin, ["missing-notebook"])
    if not named:
        flags.append("notebook-renamed")
    return Incoming(student, chosen[1], f"{origin}:{chosen[0]}" if origin.endswith(".zip") else chosen[0], flags)


SYMLINK = "symlink-refused"


def _read(path: Path) -> tuple[str, bytes | None]:
    """The notebook's bytes; None when too large. Raises OSError for a link (``O_NOFOLLOW``)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"not a regular file: {path}")
        data = handle.read(MAX_NOTEBOOK_BYTES + 1)
    return str(path), None if len(data) > MAX_NOTEBOOK_BYTES else data


def read_notebook(path: str | Path, student: str) -> Incoming:
    """One notebook given by path (``python -m autograder grade``): a link is refused, not followed."""
    path = Path(path)
    if path.is_symlink():
        return Incoming(student, None, str(path), [f"{SYMLINK}:{path.name}"])
    if not path.is_file():
        raise FileNotFoundError(f"submission not found: {path}")
    origin, data = _read(path)
    return Incoming(student, data, origin, [] if data is not None else [f"too-large:>{MAX_NOTEBOOK_BYTES >> 20} MiB"])


def collect(source: str | Path, lab: str) -> list[Incoming]:
    source = Path(source)
    if source.is_file() and zipfile.is_zipfile(source):
        return _from_zip(source, lab)
    if not source.is_dir():
        raise FileNotFoundError(f"submissions not found: {source} (a folder or a .zip)")
    grouped: dict[str, list[tuple[str, bytes | None]]] = {}
    refused: dict[str, list[str]] = {}

    def add(student: str, path: Path) -> None:
        grouped.setdefault(student, [])
        if path.is_symlink():
            refused.setdefault(student, []).append(path.name)
            return
        try:
            grouped[student].append(_read(path))
        except OSError:  # replaced by a link (or a folder) since it was listed
            refused.setdefault(student, []).append(path.name)

    lab_folders = [d for d in sorted(source.iterdir()) if (d / lab).is_dir()]
    if lab_folders:  # nbgrader layout
        for folder in lab_folders:
            student = student_id(folder.name)
            if folder.is_symlink() or (folder / lab).is_symlink():
                grouped[student] = []
                refused[student] = [folder.name if folder.is_symlink() else f"{folder.name}/{lab}"]
                continue
            grouped.setdefault(student, [])  # a lab folder without a notebook: missing-notebook
            for path in sorted((folder / lab).glob("*.ipynb")):
                add(student, path)
    else:
        for path in sorted(source.glob("*.ipynb")):
            add(student_id(path.stem), path)
    found = []
    for student, notebooks in sorted(grouped.items()):
        if student in refused:
            found.append(Incoming(student, None, str(source), [f"{SYMLINK}:{name}" for name in refused[student]]))
            continue
        item = _choose(lab, notebooks, student, str(source))
        if item.data is None and "missing-notebook" not in item.flags:
            item.flags.append(f"too-large:>{MAX_NOTEBOOK_BYTES >> 20} MiB")
        found.append(item)
    return found


def _from_zip(archive: Path, lab: str) -> list[Incoming]:
    grouped: dict[str, list[tuple[str, bytes | None]]] = {}
    oversized: set[str] = set()
    refused: dict[str, list[str]] = {}
    lms_ids: dict[str, str] = {}
    with zipfile.ZipFile(archive) as handle:
        for member in handle.infolist():
            parts = [p for p in member.filename.replace("\\", "/").split("/") if p and p != ".."]
            if member.is_dir() or not parts or not parts[-1].endswith(".ipynb") or "__MACOSX" in parts:
                continue
            lms_id = None
            if len(parts) > 1:
                student = MOODLE_SUFFIX.sub("", parts[0])
                participant = MOODLE_PARTICIPANT.search(student) if student != parts[0] else None
                lms_id = participant["lms_id"] if participant else None
            else:
                match = CANVAS.match(parts[0])
                student = match["student"] if match else parts[0][: -len(".ipynb")]
                lms_id = match["lms_id"] if match else None
            student = student_id(student)
            if lms_id:
                lms_ids[student] = lms_id
            if stat.S_ISLNK(member.external_attr >> 16):  # stored as a link: its data is the target's path
                refused.setdefault(student, []).append("/".join(parts))
                grouped.setdefault(student, [])
                continue
            if member.file_size > MAX_NOTEBOOK_BYTES:
                oversized.add(student)
                grouped.setdefault(student, [])
                continue
            with handle.open(member) as stream:
                data = stream.read(MAX_NOTEBOOK_BYTES + 1)
            grouped.setdefault(student, []).append(("/".join(parts), data))
    found = []
    for student, notebooks in sorted(grouped.items()):
        if student in refused:
            found.append(Incoming(student, None, str(archive), [f"{SYMLINK}:{name}" for name in refused[student]]))
            continue
        item = _choose(lab, notebooks, student, str(archive))
        item.lms_id = lms_ids.get(student)
        if student in oversized:
            item.flags.append(f"too-large:>{MAX_NOTEBOOK_BYTES >> 20} MiB")
        found.append(item)
    return found
