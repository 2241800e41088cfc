"""A tiny test-only lab (NumPy only, graded in about a second) and hostile/broken submissions of any lab.

``make_course(folder)`` writes ``solutions/tiny/tiny.ipynb`` (two exercises, 3 points: 2 + 1) and
returns the course folder; with ``written=True`` the lab also has a written answer graded by hand
(nbgrader's "manually graded answer", ``WRITTEN_POINTS`` more points). The ``*_submission`` helpers turn a released or solution notebook into the
cheats and breakages the autograder must withstand; each returns notebook bytes.
"""

from __future__ import annotations

import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

LAB = "tiny"
WRITTEN = "explain"  # grade_id of the written answer
WRITTEN_POINTS = 2


def _answer(grade_id: str, source: str):
    return new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": True}})


def _test(grade_id: str, source: str, points: float):
    return new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": grade_id, "locked": True, "points": points, "schema_version": 3, "solution": False}})


def _written(grade_id: str, source: str, points: float):
    return new_markdown_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": grade_id, "locked": False, "points": points, "schema_version": 3, "solution": True}})


def solution_notebook(written: bool = False) -> nbformat.NotebookNode:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [
        new_markdown_cell("# Tiny lab\nTwo NumPy exercises, for the autograder's own tests."),
        new_code_cell("FAST = None\nSEED = 42", metadata={"tags": ["parameters"]}),
        new_code_cell("import numpy as np"),
        _answer("double", "def double(values):\n    ### BEGIN SOLUTION\n"
                          "    return np.asarray(values, dtype=float) * 2\n    ### END SOLUTION"),
        _test("test_double", "import numpy as np\n"
                             "out = double([1, 2])\n"
                             "assert type(out) is np.ndarray, f'expected a NumPy array, got {type(out).__name__}'\n"
                             "### BEGIN HIDDEN TESTS\n"
                             "hidden_values = np.random.default_rng(5).normal(size=7)\n"
                             "assert np.allclose(np.asarray(double(hidden_values), dtype=float), hidden_values * 2)\n"
                             "import warnings\n"
                             "values = hidden_values.copy()\n"
                             "with warnings.catch_warnings():\n"
                             "    warnings.simplefilter('error')\n"
                             "    double(values)\n"
                             "assert np.array_equal(values, hidden_values), 'double must not modify its input'\n"
                             "### END HIDDEN TESTS", 2),
        _answer("count", "def count(items, value):\n    ### BEGIN SOLUTION\n"
                         "    return sum(1 for item in items if item == value)\n    ### END SOLUTION"),
        _test("test_count", "assert count([1, 2, 1], 1) == 2\n"
                            "### BEGIN HIDDEN TESTS\n"
                            "secret_result = count(list('mississippi'), 's')\n"
                            "assert type(secret_result) is int and secret_result == 4, 'count of s in mississippi'\n"
                            "### END HIDDEN TESTS", 1),
    ]
    if written:
        nb.cells += [new_markdown_cell("Why does `count` return an `int` and not a float?"),
                     _written(WRITTEN, "It counts items: a count is a whole number.", WRITTEN_POINTS)]
    return nb


def make_course(folder, written: bool = False) -> "Path":  # noqa: F821
    from pathlib import Path

    course = Path(folder)
    (course / "solutions" / LAB).mkdir(parents=True, exist_ok=True)
    nbformat.write(solution_notebook(written), course / "solutions" / LAB / f"{LAB}.ipynb")
    return course


def _bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


def _with_answers(release, answers: dict[str, str], extra: list[tuple[int, str]] = ()) -> nbformat.NotebookNode:
    """The release with answer cells replaced and extra code cells inserted before given indices."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    for index, source in sorted(extra, reverse=True):
        nb.cells.insert(index, new_code_cell(source))
    return nb


def answered(release, answers: dict[str, str], extra=()) -> bytes:
    return _bytes(_with_answers(release, answers, extra))


def cell_index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def without_cell(nb, grade_id: str) -> bytes:
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    del nb.cells[cell_index(nb, grade_id)]
    return _bytes(nb)


def edited_cell(nb, grade_id: str, source: str) -> bytes:
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells[cell_index(nb, grade_id)].source = source
    return _bytes(nb)


def as_nbformat3(nb) -> bytes:
    return nbformat.writes(nbformat.from_dict(json.loads(json.dumps(nb))), version=3).encode()
