"""The grading pipeline, driven through nbgrader's Python API (one process, no 5 s CLI start-ups).

    release(lab)                      solutions/<lab>  ->  labs/<lab> (student version)
    autograde(lab, notebook, student) one submission -> score in the gradebook (+ feedback)
    export_grades(path)               gradebook -> CSV

Every function takes an optional ``grading_dir`` (default ``$COURSE_GRADING_DIR`` or ``grading/``)
so that tests and CI grade in a scratch folder and never touch an instructor's gradebook.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = Path(__file__).resolve().parent / "nbgrader_config.py"
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"


class GradingError(RuntimeError):
    """nbgrader reported a failure; the message carries its log."""


@dataclass(frozen=True)
class Score:
    lab: str
    student: str
    score: float
    max_score: float

    @property
    def full_marks(self) -> bool:
        return self.max_score > 0 and abs(self.score - self.max_score) < 1e-9


def lab_names() -> list[str]:
    """Labs are the folders ``solutions/<lab>/`` holding a notebook ``<lab>.ipynb``."""
    return sorted(p.parent.name for p in SOLUTIONS.glob("*/*.ipynb") if p.stem == p.parent.name)


def grading_root(grading_dir: str | Path | None = None) -> Path:
    default = os.environ.get("COURSE_GRADING_DIR", ROOT / "grading")
    return Path(grading_dir or default).resolve()


def load_config(grading_dir: str | Path | None = None, release_dir: str | Path | None = None):
    """The course's nbgrader config, with the grading work folders (and the release) redirected."""
    from traitlets.config.loader import PyFileConfigLoader

    grading = grading_root(grading_dir)
    previous = os.environ.get("COURSE_GRADING_DIR")
    os.environ["COURSE_GRADING_DIR"] = str(grading)
    try:
        config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    finally:
        if previous is None:
            os.environ.pop("COURSE_GRADING_DIR", None)
        else:
            os.environ["COURSE_GRADING_DIR"] = previous
    if release_dir is not None:
        config.CourseDirectory.release_directory = str(Path(release_dir).resolve())
    grading.mkdir(parents=True, exist_ok=True)
    return config


def _api(config):
    from nbgrader.apps import NbGraderAPI

    # nbgrader runs `alembic` from PATH when it creates a gradebook: make the venv's bin visible.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return NbGraderAPI(config=config)


def _check(result: dict, what: str) -> dict:
    if not result.get("success"):
        raise GradingError(f"{what} failed:\n{result.get('error') or ''}\n{result.get('log') or ''}")
    return result


def release(lab: str, release_dir: str | Path | None = None, grading_dir: str | Path | None = None) -> Path:
    """Generate the student version of ``lab`` (solutions and hidden tests removed)."""
    if lab not in lab_names():
        raise GradingError(f"unknown lab '{lab}': expected solutions/{lab}/{lab}.ipynb (labs: {lab_names()})")
    config = load_config(grading_dir, release_dir)
    _check(_api(config).generate_assignment(lab, force=True), f"generate_assignment {lab}")
    return Path(config.CourseDirectory.release_directory if release_dir else LABS) / lab


def autograde(
    lab: str,
    notebook: str | Path,
    student: str,
    grading_dir: str | Path | None = None,
    feedback: bool = False,
) -> Score:
    """Autograde one notebook as ``student``'s submission of ``lab`` and return its score.

    The gradebook must know the lab: ``release`` records it (its grade cells and points).
    """
    config = load_config(grading_dir)
    grading = grading_root(grading_dir)
    notebook = Path(notebook)
    if not notebook.is_file():
        raise GradingError(f"submission not found: {notebook}")
    submitted = grading / "submitted" / student / lab
    submitted.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(notebook, submitted / f"{lab}.ipynb")
    api = _api(config)
    _check(api.autograde(lab, student, force=True, create=True), f"autograde {lab} for {student}")
    if feedback:
        _check(api.generate_feedback(lab, student, force=True), f"generate_feedback {lab} for {student}")
    return score_of(lab, student, grading_dir)


def score_of(lab: str, student: str, grading_dir: str | Path | None = None) -> Score:
    from nbgrader.api import Gradebook

    config = load_config(grading_dir)
    with Gradebook(config.CourseDirectory.db_url) as gradebook:
        submission = gradebook.find_submission(lab, student)
        return Score(lab, student, float(submission.score), float(submission.max_score))


def export_grades(path: str | Path, grading_dir: str | Path | None = None) -> Path:
    """Write every autograded submission's score to a CSV (student, lab, score, max_score)."""
    from nbgrader.api import Gradebook

    config = load_config(grading_dir)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Gradebook(config.CourseDirectory.db_url) as gradebook, open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "lab", "score", "max_score"])
        for assignment in gradebook.assignments:
            for submission in assignment.submissions:
                writer.writerow([submission.student_id, assignment.name, submission.score, submission.max_score])
    return path
