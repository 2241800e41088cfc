"""What gets executed for a submission: the instructor's test cells, the student's answers.

* :func:`master` is the lab as the grader sees it: the solutions notebook with the solutions
  replaced by stubs (nbgrader's ``ClearSolutions``) but the hidden tests kept. It never enters the
  sandbox as a file; its cells are sent to the kernel one by one.
* :func:`read_submission` turns raw bytes into a notebook or a reason it cannot be graded
  (empty file, corrupt JSON, not a notebook), converting older nbformat versions.
* :func:`assemble` builds the notebook to execute: every locked cell (tests, instructions) comes
  from the master, whatever the student did to it; every answer cell comes from the student; cells
  the student added stay where they were. Deleted, edited, moved, duplicated or forged cells are
  restored and reported, never silently dropped.
* :func:`scan` flags code that tampers with the test machinery, for the instructor to review.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def is_test(cell) -> bool:
    """An autograded test cell: a graded code cell that is not an answer."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_answer(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_written(cell) -> bool:
    """A written answer graded by hand (nbgrader's "manually graded answer"): graded and an answer."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and bool(meta.get("solution"))


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


def points(cell) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0)


def master(solution: Path, config=None) -> NotebookNode:
    """The solutions notebook with answers replaced by the release's stubs and outputs cleared."""
    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    nb = nbformat.read(solution, as_version=4)
    resources = {"language": "python"}
    nb, resources = ClearSolutions(config=config).preprocess(nb, resources)
    nb, resources = ClearOutput(config=config).preprocess(nb, resources)
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


def test_imports(nb: NotebookNode) -> list[str]:
    """Modules the test cells use, as imports or through attributes (``np.testing.assert_allclose``
    gives ``numpy``, ``numpy.testing``): the guard snapshots and protects these."""
    names: set[str] = set()
    for cell in nb.cells:
        if not is_test(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    names.add(alias.name)
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                for alias in node.names:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):
            chain = []
            while isinstance(node, ast.Attribute):
                chain.insert(0, node.attr)
                node = node.value
            if isinstance(node, ast.Name) and node.id in aliases and chain:
                dotted = aliases[node.id].split(".") + chain[:-1]
                names.add(".".join(dotted))
    expanded = set()
    for name in names:
        parts = name.split(".")
        expanded.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(expanded)


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
    for cell in student.cells:
        cid = grade_id(cell)
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
    if not matched:  # none of this lab's cells: another lab's notebook, or a blank one
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
