"""Autograding: the reference solution gets full marks, the untouched release 0, bad input a clear error."""

import csv

import pytest

from autograder import pipeline

LABS = pipeline.lab_names()


@pytest.fixture(scope="module")
def grading_dir(tmp_path_factory):
    grading = tmp_path_factory.mktemp("grading")
    for lab in LABS:
        pipeline.release(lab, release_dir=grading / "release", grading_dir=grading)
    return grading


@pytest.mark.notebook
@pytest.mark.parametrize("lab", LABS)
def test_reference_solution_gets_full_marks(lab, grading_dir):
    score = pipeline.autograde(lab, pipeline.SOLUTIONS / lab / f"{lab}.ipynb", "reference", grading_dir, feedback=True)
    assert score.max_score > 0
    assert score.full_marks, f"reference solution of {lab}: {score.score}/{score.max_score}"
    assert (grading_dir / "feedback" / "reference" / lab / f"{lab}.html").is_file()


@pytest.mark.notebook
@pytest.mark.parametrize("lab", LABS)
def test_untouched_release_gets_zero(lab, grading_dir):
    score = pipeline.autograde(lab, pipeline.LABS / lab / f"{lab}.ipynb", "untouched", grading_dir)
    assert score.score == 0 and score.max_score > 0


def test_broken_notebook_scores_zero_with_a_flag_and_a_missing_file_is_an_error(grading_dir, tmp_path):
    lab = LABS[0]
    broken = tmp_path / f"{lab}.ipynb"
    broken.write_text("{ this is not a notebook")
    score = pipeline.autograde(lab, broken, "broken-student", grading_dir)
    assert score.score == 0 and score.max_score > 0
    assert "corrupt-json" in pipeline.result_of(lab, "broken-student", grading_dir).flags
    assert pipeline.score_of(lab, "broken-student", grading_dir) == score
    with pytest.raises(pipeline.GradingError, match="submission not found"):
        pipeline.autograde(lab, tmp_path / "missing.ipynb", "missing-student", grading_dir)


@pytest.mark.notebook
def test_export_lists_every_graded_submission(grading_dir, tmp_path):
    rows = list(csv.DictReader(open(pipeline.export_grades(tmp_path / "grades.csv", grading_dir))))
    graded = {(r["student"], r["lab"]) for r in rows}
    for lab in LABS:
        assert {("reference", lab), ("untouched", lab)} <= graded
