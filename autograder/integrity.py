"""What gets executed for a submission: the instructor's test cells, the student's answers.

* :func:`master` is the lab as the grader sees it: the solutions notebook with the solutions
  replaced by stubs (nbgrader's ``ClearSolutions``) but the hidden tests kept. It never enters the
  sandbox as a file; its cells are sent to the kernel one by one.
* :func:`read_submission` turns raw bytes into a notebook or a reason it cannot be graded
  (empty file, corrupt JSON, not a notebook), converting older nbformat versions.
* :func:`lock_lab_cells` (in the release, through :class:`LockLabCells`, and in the master) makes
  every code cell of the lab that is neither an answer nor a test a locked nbgrader cell with a
  ``lab_code_<n>`` id: JupyterLab shows it read-only, and the grader knows it.
* :func:`assemble` builds the notebook to execute: every code cell that is not an answer (tests, and
  the lab's own cells: data loading, thresholds, ``runtime.setup``) comes from the master, whatever
  the student did to it; every answer cell comes from the student; cells the student added stay
  where they were. Deleted, edited, moved, duplicated or forged cells are restored and reported,
  never silently dropped.
* :func:`scan` flags code that tampers with the test machinery, for the instructor to review.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode

from course.testcells import grade_id, is_answer, is_test, is_written, nbgrader_meta, points  # noqa: F401 (re-exported)

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)


LAB_CELL = "lab_code_"


def lock_lab_cells(nb: NotebookNode) -> NotebookNode:
    """Make every code cell that is neither an answer nor a test a locked (read-only) nbgrader cell
    with a stable id, ``lab_code_<n>`` for the n-th such cell, so that the grader runs the instructor's
    version. Cells that already have an id keep it."""
    count = 0
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or meta.get("solution") or meta.get("grade"):
            continue
        count += 1
        cell.metadata["nbgrader"] = {**meta, "grade": False, "solution": False, "locked": True,
                                     "grade_id": grade_id(cell) or f"{LAB_CELL}{count}", "schema_version": 3}
    return nb


class LockLabCells(Preprocessor):
    """nbgrader's release step for :func:`lock_lab_cells` (before its ``LockCells``, which then marks
    them non-editable and non-deletable for JupyterLab)."""

    def __call__(self, nb, resources):  # always on (nbconvert's preprocessors are off unless enabled)
        return self.preprocess(nb, resources)

    def preprocess(self, nb, resources):
        return lock_lab_cells(nb), resources


def written_answers(nb: NotebookNode, master_nb: NotebookNode) -> dict[str, str]:
    """grade_id -> sha256 of each written answer in ``nb``; "" where it is still the release's stub."""
    stubs = {grade_id(c): _normalized(c.source) for c in master_nb.cells if is_written(c)}
    found = {}
    for cell in nb.cells:
        cid = grade_id(cell)
        if cid in stubs and cid not in found:
            text = _normalized(cell.source)
            found[cid] = "" if text in ("", stubs[cid]) else hashlib.sha256(text.encode()).hexdigest()
    return found


def master(solution: Path, config=None) -> NotebookNode:
    """The solutions notebook with answers replaced by the release's stubs, the lab's own code cells
    locked (as in the release), outputs cleared, and the grading plan (:func:`autograder.trusted.mark`)
    in its cells' metadata."""
    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    from autograder import trusted

    solved = lock_lab_cells(nbformat.read(solution, as_version=4))
    nb = copy.deepcopy(solved)
    resources = {"language": "python"}
    nb, resources = ClearSolutions(config=config).preprocess(nb, resources)
    nb, resources = ClearOutput(config=config).preprocess(nb, resources)
    trusted.mark(nb, solved)  # which lab cells the trusted side runs, which answers each test reads
    return nb


def visible_source(source: str) -> str:
    """A test cell as released: the hidden block removed."""
    return HIDDEN.sub("", source).rstrip()


def hidden_lines(nb: NotebookNode, min_length: int = 10) -> set[str]:
    """Lines of hidden tests that appear nowhere public: what feedback must never show."""
    hidden, public = set(), set()
    for cell in nb.cells:
        for block in HIDDEN.findall(cell.source):
            hidden.update(s for line in block.splitlines() if len(s := line.strip()) >= min_length)
        public.update(line.strip() for line in HIDDEN.sub("", cell.source).splitlines())
    return hidden - public


@dataclass
class Submission:
    """A notebook ready to grade, or the reason why there is none."""

    notebook: NotebookNode | None
    flags: list[str] = field(default_factory=list)


def read_submission(data: bytes | None) -> Submission:
    if data is None:
        return Submission(None, ["missing-notebook"])
    if not data.strip():
        return Submission(None, ["empty-file"])
    try:
        raw = json.loads(data.decode("utf-8", errors="replace"))
    except ValueError:
        return Submission(None, ["corrupt-json"])
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        return Submission(None, ["not-a-notebook"])
    flags = []
    version = raw.get("nbformat")
    try:
        if not isinstance(version, int) or version < 4:
            flags.append(f"old-nbformat-v{version}-converted")
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed structures
        return Submission(None, [f"not-a-notebook: {type(exc).__name__}"])
    cells = []
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") not in {"code", "markdown", "raw"}:
            flags.append("invalid-cell-dropped")
            continue
        source = cell.get("source", "")
        cell["source"] = "".join(source) if isinstance(source, list) else str(source)
        cell.setdefault("metadata", {})
        cells.append(cell)
    nb.cells = [nbformat.from_dict(c) for c in cells]
    return Submission(nb, flags)


def _normalized(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def assemble(master_nb: NotebookNode, student: NotebookNode) -> tuple[NotebookNode | None, list[str]]:
    """The notebook to execute and the integrity flags; (None, flags) when it is not this lab."""
    flags: list[str] = []
    known = {grade_id(c): c for c in master_nb.cells if grade_id(c)}
    matched: dict[str, NotebookNode] = {}
    extras: dict[str | None, list[NotebookNode]] = {None: []}
    anchor: str | None = None
    order: list[str] = []
    # a notebook without the lab cells' ids (a release from before they were locked, the solutions):
    # an unlabelled copy of a lab cell, unchanged, is that cell
    unlabelled = {}
    for cid, cell in known.items():
        if cell.cell_type == "code" and not is_test(cell) and not is_answer(cell):
            unlabelled.setdefault(_normalized(cell.source), []).append(cid)
    for cell in student.cells:
        cid = grade_id(cell)
        if cid is None and cell.get("cell_type") == "code":
            same = [c for c in unlabelled.get(_normalized(cell.source), []) if c not in matched]
            cid = same[0] if same else None
        if cid in known and cid not in matched:
            matched[cid] = cell
            order.append(cid)
            anchor = cid
            extras.setdefault(cid, [])
            continue
        cell = copy.deepcopy(cell)
        if nbgrader_meta(cell):
            flags.append(f"duplicate-cell:{cid}" if cid in known else f"unknown-graded-cell:{cid}")
            cell.metadata.pop("nbgrader", None)
        extras.setdefault(anchor, []).append(cell)
    if not any(is_answer(known[c]) or is_test(known[c]) for c in matched):
        # none of this lab's exercises (lab_code_<n> ids are in every lab): another lab's notebook, or a blank one
        return None, ["wrong-lab"]
    expected_order = [c for c in known if c in matched]
    if order != expected_order:
        flags.append("moved-cells-restored")

    cells = [c for c in extras[None]]
    for cell in master_nb.cells:
        cid = grade_id(cell)
        if not cid:
            continue  # instructions and unlocked code: the student's copies travel as extras
        theirs = matched.get(cid)
        ours = copy.deepcopy(cell)
        if is_answer(cell) and not nbgrader_meta(cell).get("locked"):
            if theirs is None:
                flags.append(f"deleted-answer-cell:{cid}")
            else:
                if theirs.cell_type != cell.cell_type:
                    flags.append(f"changed-cell-type:{cid}")
                if _graded_meta(theirs) != _graded_meta(cell):
                    flags.append(f"edited-cell-metadata:{cid}")
                ours.source = theirs.source
        elif theirs is None:
            flags.append(f"deleted-test-cell-restored:{cid}" if is_test(cell) else f"deleted-locked-cell-restored:{cid}")
        else:
            if _normalized(theirs.source) not in {_normalized(visible_source(cell.source)), _normalized(cell.source)}:
                flags.append(f"edited-test-cell-restored:{cid}" if is_test(cell) else f"edited-locked-cell-restored:{cid}")
            elif _graded_meta(theirs) != _graded_meta(cell) or theirs.cell_type != cell.cell_type:
                flags.append(f"edited-cell-metadata:{cid}")
        if ours.cell_type == "code":
            ours.outputs, ours.execution_count = [], None
        cells.append(ours)
        cells.extend(extras.get(cid, []))
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(master_nb.metadata))
    nb.cells = cells
    return nb, flags


def _graded_meta(cell) -> tuple:
    meta = nbgrader_meta(cell)
    return (bool(meta.get("grade")), bool(meta.get("solution")), float(meta.get("points", 0) or 0))


# Code that tampers with the test machinery or reaches outside the notebook: flagged for review.
SUSPICIOUS = {
    "traceback-hiding": r"showtraceback|set_custom_exc|InteractiveTB|excepthook",
    "hooks": r"events\.register|input_transformers|ast_transformers|register_magic|sys\.(settrace|setprofile)"
             r"|addaudithook|displayhook",
    "patching-internals": r"\.__code__\s*=|__builtins__|\bbuiltins\b|sys\.modules|\bgc\.get_|ctypes|__class__\s*=",
    "patching-test-helpers": r"\b(np|numpy)\.testing\.\w+\s*=|\b(np|numpy)\.(array_equal|allclose|isclose|all)\s*=",
    "always-equal-object": r"def\s+__(eq|ne|lt|le|gt|ge|bool)__",
    "shadowing-builtins": r"(?m)^\s*(?:def\s+(?:type|isinstance|issubclass|len|abs|all|any|int|float|round)\s*\("
                          r"|(?:type|isinstance|issubclass|len|abs|all|any|int|float|round)\s*=[^=])",
    "exit-calls": r"\bos\._exit\b|\bsys\.exit\b|\bos\.kill\b|\bquit\(|\bexit\(",
    "processes": r"\bsubprocess\b|os\.(system|fork|popen|exec|spawn)|multiprocessing|\bsetsid\b",
    "network": r"\bsocket\b|urllib|requests\.|http\.client|\bcurl\b|\bwget\b",
    "file-access": r"solutions/|gradebook|submitted/|autograded/|/etc/|\.\./",
}


def scan(nb: NotebookNode, master_nb: NotebookNode) -> list[str]:
    """``suspicious:<kind>`` flags for the code the student wrote (answers and added or edited cells)."""
    found = []
    given = {_normalized(visible_source(c.source)) for c in master_nb.cells}
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code" and not is_test(c)
                     and not (grade_id(c) and nbgrader_meta(c).get("locked")) and _normalized(c.source) not in given)
    for kind, pattern in SUSPICIOUS.items():
        if re.search(pattern, code):
            found.append(f"suspicious:{kind}")
    return found
