"""The student release is in sync with solutions/ and leak-free; the checks themselves catch faults."""

import shutil

import nbformat
import pytest

from autograder import pipeline
from ci import check_release


def test_release_is_in_sync_and_leak_free():
    assert pipeline.lab_names(), "no lab in solutions/"
    assert check_release.check() == []


@pytest.mark.parametrize("lab", pipeline.lab_names())
def test_release_keeps_tests_and_stubs_but_no_solutions(lab):
    solution = nbformat.read(pipeline.SOLUTIONS / lab / f"{lab}.ipynb", as_version=4)
    release = nbformat.read(pipeline.LABS / lab / f"{lab}.ipynb", as_version=4)
    assert len(release.cells) == len(solution.cells)
    for source, released in zip(solution.cells, release.cells):
        meta = source.metadata.get("nbgrader", {})
        if meta.get("solution"):
            assert "raise NotImplementedError()" in released.source or "YOUR ANSWER HERE" in released.source
        if meta.get("grade") and "### BEGIN HIDDEN TESTS" in source.source:
            visible = source.source.split("### BEGIN HIDDEN TESTS")[0].strip()
            assert released.source.strip() == visible, "visible tests must be released unchanged"


def test_a_hand_edited_release_is_detected(tmp_path):
    lab = pipeline.lab_names()[0]
    labs = tmp_path / "labs"
    shutil.copytree(pipeline.LABS / lab, labs / lab)
    notebook = labs / lab / f"{lab}.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[0].source += "\nedited by hand"
    nbformat.write(nb, notebook)
    (labs / "orphan-lab").mkdir()
    problems = check_release.check(labs)
    assert any("differs from the generated release" in p for p in problems)
    assert any("orphan-lab" in p for p in problems)


def test_a_leaked_hidden_test_is_detected(tmp_path):
    lab = pipeline.lab_names()[0]
    solution = pipeline.SOLUTIONS / lab / f"{lab}.ipynb"
    secret = sorted(check_release.secret_lines(solution))[0]
    nb = nbformat.read(pipeline.LABS / lab / f"{lab}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(secret))
    leaked = tmp_path / f"{lab}.ipynb"
    nbformat.write(nb, leaked)
    assert any("leaks" in p for p in check_release.leaks(solution, leaked))


def test_unknown_lab_is_a_clear_error(tmp_path):
    with pytest.raises(pipeline.GradingError, match="unknown lab"):
        pipeline.release("no-such-lab", release_dir=tmp_path)
