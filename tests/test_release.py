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


@pytest.mark.parametrize("lab", pipeline.lab_names())
def test_every_lab_has_two_to_four_written_answers_graded_apart(lab):
    from autograder import integrity

    solution = pipeline.SOLUTIONS / lab / f"{lab}.ipynb"
    written = check_release.written_answers(solution)
    assert 2 <= len(written) <= 4, f"{lab}: {len(written)} written answers, expected 2-4"
    assert check_release.written_answer_problems(solution) == []
    cells = nbformat.read(solution, as_version=4).cells
    tests = [c for c in cells if integrity.is_test(c)]
    assert tests and not any(integrity.is_test(cell) for _, cell in written), "written answers are not autograded"
    graded = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert sum(map(integrity.points, graded)) == sum(map(integrity.points, tests)) + sum(
        integrity.points(cell) for _, cell in written)
    assert check_release.model_answer_lines(solution), f"{lab}: model answers have no line to check"


def test_a_model_answer_line_inside_a_longer_line_of_another_lab_is_detected(tmp_path):
    labs = [lab for lab in pipeline.lab_names() if check_release.written_answers(pipeline.SOLUTIONS / lab / f"{lab}.ipynb")]
    solution, other = pipeline.SOLUTIONS / labs[0] / f"{labs[0]}.ipynb", labs[-1]
    line = sorted(check_release.model_answer_lines(solution))[0]
    nb = nbformat.read(pipeline.LABS / other / f"{other}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"A hint: {line} (see above)"))
    (tmp_path / other).mkdir()
    leaked = tmp_path / other / f"{other}.ipynb"
    nbformat.write(nb, leaked)
    problems = check_release.answer_leaks([solution], [leaked])
    assert len(problems) == 1 and line in problems[0]
    short = "x" * (check_release.MODEL_ANSWER_MIN - 1)
    assert short not in check_release.model_answer_lines(solution)


def test_a_written_answer_without_points_or_model_answer_is_reported(tmp_path):
    nb = nbformat.v4.new_notebook()
    for grade_id, points, source in [("no_points", 0, "### BEGIN SOLUTION\nA model answer that is long enough.\n### END SOLUTION"),
                                     ("no_model", 2, "Whatever the student should write.")]:
        cell = nbformat.v4.new_markdown_cell(source)
        cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "points": points,
                                     "grade_id": grade_id, "schema_version": 3}
        nb.cells.append(cell)
    path = tmp_path / "lab.ipynb"
    nbformat.write(nb, path)
    problems = check_release.written_answer_problems(path)
    assert any("no_points has no points" in p for p in problems)
    assert any("no_model has no model answer" in p for p in problems)
