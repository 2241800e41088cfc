"""course.selfcheck: re-runs a notebook's test cells without nbgrader and reports them."""

import json

import nbformat
import pytest

from course import selfcheck


def notebook_with_tests(path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def double(x):\n    raise NotImplementedError()"),
        nbformat.v4.new_code_cell('assert double(2) == 4, f"double(2) should be 4, got {double(2)}"'),
        nbformat.v4.new_code_cell("assert isinstance(2, int)"),
    ])
    for cell, (grade_id, points) in zip(nb.cells[1:], [("test_double", 2), ("test_int", 1)]):
        cell.metadata.nbgrader = {"grade": True, "grade_id": grade_id, "points": points, "locked": True,
                                  "solution": False, "schema_version": 3}
    nbformat.write(nb, path)
    return path


def test_failures_are_reported_with_their_message_and_raise(tmp_path, capsys):
    notebook = notebook_with_tests(tmp_path / "lab.ipynb")
    namespace = {}
    exec(nbformat.read(notebook, as_version=4).cells[0].source, namespace)
    with pytest.raises(selfcheck.SelfCheckFailed, match="1 test\\(s\\) failed: test_double"):
        selfcheck.check(notebook, namespace)
    out = capsys.readouterr().out
    assert "FAILED  test_double  2 points  NotImplementedError" in out
    assert "ok      test_int     1 point" in out
    assert "1 of 2 tests pass: 1 of 3 points" in out

    exec("def double(x):\n    return x + 1", namespace)  # a wrong answer: the visible test explains why
    with pytest.raises(selfcheck.SelfCheckFailed):
        selfcheck.check(notebook, namespace)
    assert "AssertionError: double(2) should be 4, got 3" in capsys.readouterr().out

    exec("def double(x):\n    return 2 * x", namespace)
    results = selfcheck.check(notebook, namespace)
    assert [r.passed for r in results] == [True, True]
    assert "2 of 2 tests pass: 3 of 3 points" in capsys.readouterr().out


def test_the_notebook_jupyter_started_the_kernel_for_is_found(tmp_path, monkeypatch):
    notebook = notebook_with_tests(tmp_path / "lab.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    assert selfcheck._current_notebook() == json.loads(notebook.read_text())
    monkeypatch.delenv("JPY_SESSION_NAME")
    with pytest.raises(FileNotFoundError, match="notebook="):
        selfcheck._current_notebook()


def test_a_notebook_without_tests_is_a_clear_error(tmp_path):
    path = tmp_path / "lecture.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    with pytest.raises(ValueError, match="no autograded test cells"):
        selfcheck.check(path, {})
