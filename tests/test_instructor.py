"""The instructor's side of grading: LMS grade files, item analysis, points given by hand.

The export tests compare with files written by hand from each LMS's documentation
(``tests/fixtures/lms/``), on a gradebook filled through nbgrader's API. The other tests grade one
batch of ten varied submissions of the tiny lab (with a written answer), taken in from a Canvas zip.
"""

import csv
import html
import re
import warnings
import zipfile
from pathlib import Path

import nbformat
import pytest
from sqlalchemy.exc import SAWarning

from autograder import export, feedback, pipeline, report, sandbox
from autograder.__main__ import main
from autograder.submissions import Incoming
from tests import grading_lab as lab

FIXTURES = Path(__file__).parent / "fixtures" / "lms"
LIMITS = sandbox.Limits(cell_timeout=8, notebook_timeout=60, memory=1 << 30, cell_output=200_000)
GOOD_DOUBLE = "def double(values):\n    return np.asarray(values, dtype=float) * 2"
GOOD_COUNT = "def count(items, value):\n    return sum(1 for item in items if item == value)"
BAD_DOUBLE = "def double(values):\n    return np.asarray(values, dtype=float) * 3"
HALF_COUNT = "def count(items, value):\n    return float(sum(1 for item in items if item == value))"
ANSWER = "Because it adds up ones: counting gives a whole number."


# --- LMS files against the documented layouts -----------------------------------------------------


def fill_gradebook(grading: Path, students: dict) -> None:
    """Labs ``tiny`` (3 automatic + 2 by hand) and ``extra`` (4 automatic); students ->
    (LMS id or None, {lab: (automatic points, points by hand or None)})."""
    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's add_submission; harmless (see pipeline.record)
    with pipeline.gradebook(grading) as book:
        for name, cells in {"tiny": [("test_double", 2, "code"), ("test_count", 1, "code"), ("explain", 2, "markdown")],
                            "extra": [("test_all", 4, "code")]}.items():
            book.add_assignment(name)
            book.add_notebook(name, name)
            for cell, points, kind in cells:
                book.add_grade_cell(cell, name, name, max_score=points, cell_type=kind)
                if kind == "markdown":
                    book.add_solution_cell(cell, name, name)
        for student, (lms_id, labs) in students.items():
            book.update_or_create_student(student, **({"lms_user_id": lms_id} if lms_id else {}))
            for name, (auto, manual) in labs.items():
                submission = book.add_submission(name, student)
                grades = [g for nb in submission.notebooks for g in nb.grades]
                automatic = [g for g in grades if g.cell.cell_type == "code"]
                for grade in automatic:  # the automatic points fill the tests in order
                    grade.auto_score = min(auto, grade.max_score)
                    grade.needs_manual_grade = False
                    auto -= grade.auto_score
                for grade in grades:
                    if grade.cell.cell_type == "markdown":
                        grade.manual_score = manual
                        grade.needs_manual_grade = manual is None
        book.db.commit()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.fixture(scope="module")
def lms_gradebook(tmp_path_factory):
    """One gradebook for every export test: the same grades for a student taken in from a Canvas zip
    and one from a Moodle zip, a student matched by login/email, and one in neither roster."""
    grading = tmp_path_factory.mktemp("lms") / "grading"
    fill_gradebook(grading, {
        "adalovelace": ("1001", {"tiny": (3, 1.5), "extra": (4, None)}),  # Canvas zip: matched by user id
        "Ada-Lovelace_501": ("501", {"tiny": (3, 1.5), "extra": (4, None)}),  # Moodle zip: by participant id
        "dan": (None, {"tiny": (3, None)}),  # nbgrader folder: by SIS Login ID / the email's local part
        "ghost": ("2000", {"tiny": (1, 0)}),  # in neither roster
    })
    return grading


def test_canvas_file_matches_the_documented_gradebook_layout(lms_gradebook, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_DIR", str(lms_gradebook))
    out = tmp_path / "canvas.csv"
    assert main(["export", str(out), "--format", "canvas", "--roster", str(FIXTURES / "canvas-gradebook-export.csv")]) == 0
    assert lines(out) == lines(FIXTURES / "canvas-import-expected.csv")
    printed = capsys.readouterr().out
    assert "NOT IN THE ROSTER, not in the file (2): Ada-Lovelace_501, ghost" in printed
    assert "without a graded submission, left blank (2): Noether, Emmy (1003), Student, Test (1099)" in printed
    assert "still to grade in formgrader (1): dan tiny" in printed


def test_moodle_file_matches_the_documented_import_layout(lms_gradebook, tmp_path):
    result = export.write(tmp_path / "moodle.csv", "moodle", FIXTURES / "moodle-grading-worksheet.csv",
                          grading_dir=lms_gradebook)
    assert lines(result.path) == lines(FIXTURES / "moodle-import-expected.csv")
    assert result.not_in_roster == ["adalovelace", "ghost"] and result.without_grade == ["Emmy Noether (503)"]

    plain = export.write(tmp_path / "grades.csv", "csv", grading_dir=lms_gradebook)
    rows = {(r["student"], r["lab"]): r for r in csv.DictReader(open(plain.path))}
    assert len(rows) == 6 and plain.needs_manual_grade == ["dan tiny"]
    ada = rows[("Ada-Lovelace_501", "tiny")]
    assert (ada["score"], ada["auto_score"], ada["manual_score"], ada["max_score"]) == ("4.5", "3", "1.5", "5")


def test_export_refuses_bad_input_with_a_clear_error(lms_gradebook, tmp_path):
    grading = lms_gradebook
    with pytest.raises(export.ExportError, match="needs --roster"):
        export.write(tmp_path / "c.csv", "canvas", grading_dir=grading)
    with pytest.raises(export.ExportError, match="not a Moodle grading worksheet: no column 'Identifier'"):
        export.write(tmp_path / "m.csv", "moodle", FIXTURES / "canvas-gradebook-export.csv", grading_dir=grading)
    with pytest.raises(export.ExportError, match="not a Canvas gradebook export"):
        export.write(tmp_path / "c.csv", "canvas", FIXTURES / "moodle-grading-worksheet.csv", grading_dir=grading)
    with pytest.raises(export.ExportError, match="no grades for nolab"):
        export.write(tmp_path / "g.csv", "csv", labs=["nolab"], grading_dir=grading)
    with pytest.raises(export.ExportError, match="roster not found"):
        export.write(tmp_path / "c.csv", "canvas", tmp_path / "missing.csv", grading_dir=grading)
    bad = tmp_path / "worksheet.csv"
    bad.write_text("Identifier,Email address\nada,ada@uni.example\n")
    with pytest.raises(export.ExportError, match="line 2: Identifier 'ada' is not 'Participant <id>'"):
        export.write(tmp_path / "m.csv", "moodle", bad, grading_dir=grading)


# --- one graded batch: item analysis, LMS ids, points by hand -------------------------------------


def cases(release) -> dict[str, tuple[str, dict]]:
    """student -> (Canvas user id, answers): the reference, the release, and partial solutions."""
    full = {"double": GOOD_DOUBLE, "count": GOOD_COUNT, lab.WRITTEN: ANSWER}
    return {
        "reference": ("101", full),
        "release": ("102", {}),
        "onlydouble": ("103", {"double": GOOD_DOUBLE}),
        "onlycount": ("104", {"count": GOOD_COUNT, lab.WRITTEN: "It is an int."}),
        "wrongboth": ("105", {"double": BAD_DOUBLE, "count": HALF_COUNT}),
        "floatcount": ("106", {"double": GOOD_DOUBLE, "count": HALF_COUNT, lab.WRITTEN: ANSWER}),
        "nowritten": ("107", {"double": GOOD_DOUBLE, "count": GOOD_COUNT}),
        "shortanswer": ("108", {"double": GOOD_DOUBLE, "count": GOOD_COUNT, lab.WRITTEN: "An int."}),
        "syntaxerror": ("109", {"double": "def double(values) return", "count": GOOD_COUNT}),
        "reference2": ("110", full),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("instructor")
    course = lab.make_course(root / "course", written=True)
    grading = root / "grading"
    release = nbformat.read(pipeline.release(lab.LAB, grading_dir=grading, course_dir=course) / f"{lab.LAB}.ipynb",
                            as_version=4)
    archive = root / "canvas-submissions.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for student, (user_id, answers) in cases(release).items():
            handle.writestr(f"{student}_{user_id}_9{user_id}_{lab.LAB}.ipynb", lab.answered(release, answers))
    batch = pipeline.grade_batch(lab.LAB, archive, grading_dir=grading, course_dir=course, workers=2, limits=LIMITS,
                                 progress=False)
    return dict(batch=batch, grading=grading, course=course, release=release)


def test_item_analysis_of_a_varied_batch(graded):
    results = graded["batch"].results
    assert len(results) == 10
    scores = {r.student: r.score for r in results}
    assert scores["reference"] == scores["reference2"] == 3 and scores["release"] == 0
    assert scores["onlydouble"] == scores["floatcount"] == 2 and scores["onlycount"] == 1 and scores["wrongboth"] == 0
    items = {i.grade_id: i for i in report.item_analysis(results)}
    assert list(items) == ["test_double", "test_count"]
    # both pass: 4, only test_double: 2, only test_count: 2 (onlycount, syntaxerror), neither: 2
    assert items["test_double"].pass_rate == items["test_count"].pass_rate == pytest.approx(0.6)
    assert items["test_double"].mean_points == pytest.approx(1.2)
    assert items["test_double"].rest_correlation == pytest.approx(1 / 6) and not items["test_double"].checks
    text = (graded["batch"].report).read_text()
    assert "## Item analysis" in text and "| `test_double` | 2 | 60% | 1.20 | 0.17 |" in text
    assert "![pass rate per test](pass_rates.png)" in text
    page = (graded["batch"].report.parent / "report.html").read_text()
    assert "<table>" in page and "test_count" in page
    assert (graded["batch"].report.parent / "pass_rates.png").stat().st_size > 5000


def test_item_analysis_calls_out_tests_to_check():
    from autograder.worker import Result, TestResult

    def result(i, strong):  # strong students pass good1..good3 and fail "inverse"; weak ones the opposite
        tests = [TestResult("always", 1, 1, "passed"), TestResult("never", 0, 1, "failed"),
                 TestResult("inverse", 1 - strong, 1, "failed" if strong else "passed")]
        tests += [TestResult(f"good{k}", strong, 1, "passed" if strong else "failed") for k in (1, 2, 3)]
        return Result("x", f"s{i}", sum(t.points for t in tests), 6, tests=tests)

    items = {i.grade_id: i for i in report.item_analysis([result(i, int(i < 3)) for i in range(6)])}
    assert items["always"].checks == ["everybody passes"] and items["never"].checks == ["nobody passes"]
    assert items["inverse"].rest_correlation == pytest.approx(-1) and "negative correlation" in items["inverse"].checks[0]
    assert items["good1"].rest_correlation == pytest.approx(1) and not items["good1"].checks
    table = report.items_table(list(items.values()), 6)
    assert "- **check this test** `inverse`: negative correlation" in table and "`good1`: " not in table


def test_lms_ids_are_kept_from_the_canvas_zip(graded):
    with pipeline.gradebook(graded["grading"]) as book:
        ids = {s.id: s.lms_user_id for s in book.students}
    assert ids["reference"] == "101" and ids["syntaxerror"] == "109"


def test_written_answers_need_grading_and_keep_points_given_by_hand(graded):
    grading, course = graded["grading"], graded["course"]
    with pipeline.gradebook(grading) as book:
        def written(student):
            return book.find_grade(lab.WRITTEN, lab.LAB, lab.LAB, student)

        assert written("release").needs_manual_grade is False and written("release").auto_score == 0
        assert written("reference").needs_manual_grade is True and written("reference").auto_score is None
        for student, points, comment in (("reference", 1.5, "Right, but say why a float would be wrong."),
                                         ("onlycount", 1, "Too short.")):
            grade = written(student)  # what formgrader does when the instructor gives points and a comment
            grade.manual_score = points
            grade.needs_manual_grade = False
            book.find_comment(lab.WRITTEN, lab.LAB, lab.LAB, student).manual_comment = comment
        book.db.commit()

    answers = {s: a for s, (_, a) in cases(graded["release"]).items()}
    changed = dict(answers["onlycount"], **{lab.WRITTEN: "It is an int because a count is whole."})
    again = [Incoming("reference", lab.answered(graded["release"], answers["reference"]), "again"),
             Incoming("onlycount", lab.answered(graded["release"], changed), "again")]
    batch = pipeline.grade_batch(lab.LAB, again, grading_dir=grading, course_dir=course, workers=2, limits=LIMITS,
                                 force=True, progress=False)
    flags = {r.student: r.flags for r in batch.results}
    assert flags["reference"] == [] and flags["onlycount"] == [f"written-answer-changed:{lab.WRITTEN}"]
    with pipeline.gradebook(grading) as book:
        assert (written := book.find_grade(lab.WRITTEN, lab.LAB, lab.LAB, "reference")).manual_score == 1.5
        assert written.needs_manual_grade is False
        changed_grade = book.find_grade(lab.WRITTEN, lab.LAB, lab.LAB, "onlycount")
        assert changed_grade.manual_score == 1 and changed_grade.needs_manual_grade is True
        assert book.find_submission_notebook(lab.LAB, lab.LAB, "onlycount").flagged

    rows = {r["student"]: r for r in csv.DictReader(open(pipeline.export_grades(grading / "g.csv", grading)))}
    assert (rows["reference"]["score"], rows["reference"]["max_score"]) == ("4.5", "5")  # 3 automatic + 1.5 by hand
    assert rows["onlycount"]["needs_manual_grade"] == "1"

    page = html.unescape(re.sub(r"<[^>]+>", "", (grading / "feedback" / "reference" / lab.LAB / f"{lab.LAB}.html").read_text()))
    assert "Score: 4.5 / 5" in page and "Graded by hand: 1.5 / 2 points. Comment: Right, but say why a float" in page
    assert "hidden_values" not in page  # still no hidden test
    page = html.unescape(re.sub(r"<[^>]+>", "", (grading / "feedback" / "onlycount" / lab.LAB / f"{lab.LAB}.html").read_text()))
    assert "The answer changed since; it will be graded again." in page
    page = html.unescape(re.sub(r"<[^>]+>", "", (grading / "feedback" / "shortanswer" / lab.LAB / f"{lab.LAB}.html").read_text()))
    assert "Score: 3 / 5" in page and "Not graded yet (2 points)." in page  # the worker's feedback, before grading
    assert feedback.refresh(lab.LAB, grading) and len(feedback.refresh(lab.LAB, grading, hand_graded_only=True)) == 2


def test_lms_ids_are_read_from_moodle_and_canvas_zips(tmp_path):
    from autograder.submissions import collect

    notebook = nbformat.writes(lab.solution_notebook()).encode()
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr(f"Dan Smith_1234_assignsubmission_file_/{lab.LAB}.ipynb", notebook)
        handle.writestr(f"erin_late_55_66_{lab.LAB}.ipynb", notebook)
        handle.writestr("frank.ipynb", notebook)
    found = {i.student: i.lms_id for i in collect(archive, lab.LAB)}
    assert found == {"Dan-Smith_1234": "1234", "erin": "55", "frank": None}
