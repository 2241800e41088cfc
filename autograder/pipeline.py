"""The grading pipeline: nbgrader's release and gradebook, our parallel sandboxed autograding.

    release(lab)                           solutions/<lab>  ->  labs/<lab> (student version), gradebook
    grade_batch(lab, submissions)          a folder or zip of submissions -> gradebook, CSV, reports, feedback
    autograde(lab, notebook, student)      one submission (a batch of one) -> Score
    score_of(lab, student), export_grades  read the gradebook (LMS files: autograder.export)

``grade_batch`` grades ``workers`` submissions at a time (default: one per core), each in its own
worker process (:mod:`autograder.worker`) with its own sandboxed kernel (:mod:`autograder.sandbox`),
and records every result in the gradebook from this one process, so parallel grading never races
on it. Results are cached by the sha256 of the submission and of the lab's master, so a re-run only
grades what changed and writes the same grades again.

Where a course is graded is one :class:`Context`, resolved once and handed to every step: the course
folder (default: this repository) holding ``solutions/`` and ``labs/``, the grading folder (default
``$COURSE_GRADING_DIR`` or ``grading/``, so that tests and CI grade in a scratch folder and never touch
an instructor's gradebook), the gradebook URL (SQLite in the grading folder unless
``$COURSE_GRADEBOOK_URL`` names another SQLAlchemy URL, e.g. ``postgresql://grader@dbhost/course``)
and the nbgrader config for them, loaded once. Every public function takes ``context=``; the
shorthands ``grading_dir=``, ``course_dir=`` and ``db_url=`` build one (:meth:`Context.of`).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = Path(__file__).resolve().parent / "nbgrader_config.py"
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"
GRADEBOOK_URL_VARIABLE = "COURSE_GRADEBOOK_URL"


class GradingError(RuntimeError):
    """nbgrader reported a failure, or the input cannot be graded at all; the message says why."""


@dataclass(frozen=True)
class Score:
    lab: str
    student: str
    score: float
    max_score: float

    @property
    def full_marks(self) -> bool:
        return self.max_score > 0 and abs(self.score - self.max_score) < 1e-9


def lab_names(course_dir: str | Path | None = None) -> list[str]:
    """Labs are the folders ``solutions/<lab>/`` holding a notebook ``<lab>.ipynb``."""
    solutions = Path(course_dir or ROOT) / "solutions"
    return sorted(p.parent.name for p in solutions.glob("*/*.ipynb") if p.stem == p.parent.name)


def grading_root(grading_dir: str | Path | None = None) -> Path:
    default = os.environ.get("COURSE_GRADING_DIR", ROOT / "grading")
    return Path(grading_dir or default).resolve()


@dataclass(frozen=True, eq=False)
class Context:
    """Where a course is graded (compare nbgrader's ``CourseDirectory``): the course folder (``solutions/``,
    ``labs/``), the grading folder (gradebook, submissions, results, reports, feedback), the gradebook
    URL (None: ``$COURSE_GRADEBOOK_URL``, else SQLite in the grading folder, as nbgrader_config.py
    says) and :attr:`config`, the course's nbgrader config for them, loaded once."""

    course_dir: Path
    grading_dir: Path
    db_url: str | None = None

    @classmethod
    def of(cls, grading_dir: str | Path | None = None, course_dir: str | Path | None = None,
           db_url: str | None = None, context: "Context | None" = None) -> "Context":
        """``context`` itself, or one made from the shorthands and their defaults (never both)."""
        if context is not None:
            if grading_dir is not None or course_dir is not None or db_url is not None:
                raise TypeError("give either context= or grading_dir=/course_dir=/db_url=, not both")
            return context
        return cls(Path(course_dir or ROOT).resolve(), grading_root(grading_dir), db_url or None)

    @functools.cached_property
    def config(self):
        """The nbgrader config, its work folders in the grading folder (created), the sources in the course folder."""
        from traitlets.config.loader import PyFileConfigLoader

        previous = os.environ.get("COURSE_GRADING_DIR")
        os.environ["COURSE_GRADING_DIR"] = str(self.grading_dir)
        try:
            config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
        finally:
            if previous is None:
                os.environ.pop("COURSE_GRADING_DIR", None)
            else:
                os.environ["COURSE_GRADING_DIR"] = previous
        config.CourseDirectory.root = str(self.course_dir)
        if self.db_url:
            config.CourseDirectory.db_url = self.db_url
        self.grading_dir.mkdir(parents=True, exist_ok=True)
        return config

    def release_config(self, release_dir: str | Path | None = None):
        """:attr:`config` with the student release written to ``release_dir`` (default: ``labs/``)."""
        if release_dir is None:
            return self.config
        config = copy.deepcopy(self.config)
        config.CourseDirectory.release_directory = str(Path(release_dir).resolve())
        return config

    @property
    def gradebook_url(self) -> str:
        return self.config.CourseDirectory.db_url

    def labs(self) -> list[str]:
        return lab_names(self.course_dir)

    def gradebook(self):
        """nbgrader's Gradebook on this context's database (use as a context manager)."""
        from nbgrader.api import Gradebook

        _venv_on_path()
        return Gradebook(self.gradebook_url, course_id=self.config.CourseDirectory.course_id)


def load_config(grading_dir: str | Path | None = None, release_dir: str | Path | None = None,
                course_dir: str | Path | None = None, db_url: str | None = None, context: Context | None = None):
    """The course's nbgrader config, with the grading work folders (and the release) redirected."""
    return Context.of(grading_dir, course_dir, db_url, context).release_config(release_dir)


def _venv_on_path() -> None:
    """nbgrader runs `alembic` from PATH when it opens a gradebook: make the venv's bin visible."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def _api(config):
    from nbgrader.apps import NbGraderAPI

    _venv_on_path()
    return NbGraderAPI(config=config)


def _check(result: dict, what: str) -> dict:
    if not result.get("success"):
        raise GradingError(f"{what} failed:\n{result.get('error') or ''}\n{result.get('log') or ''}")
    return result


def release(lab: str, release_dir: str | Path | None = None, grading_dir: str | Path | None = None,
            course_dir: str | Path | None = None, db_url: str | None = None, context: Context | None = None) -> Path:
    """Generate the student version of ``lab`` (solutions and hidden tests removed), record it in the gradebook."""
    context = Context.of(grading_dir, course_dir, db_url, context)
    if lab not in context.labs():
        raise GradingError(f"unknown lab '{lab}': expected solutions/{lab}/{lab}.ipynb (labs: {context.labs()})")
    _check(_api(context.release_config(release_dir)).generate_assignment(lab, force=True), f"generate_assignment {lab}")
    return Path(release_dir).resolve() / lab if release_dir else context.course_dir / "labs" / lab


def gradebook(grading_dir: str | Path | None = None, db_url: str | None = None, context: Context | None = None):
    """nbgrader's Gradebook on the configured database (use as a context manager)."""
    return Context.of(grading_dir, None, db_url, context).gradebook()


def score_of(lab: str, student: str, grading_dir: str | Path | None = None, db_url: str | None = None,
             context: Context | None = None) -> Score:
    """The autograded part of a student's grade, as :func:`autograde` returns it (points given by hand to
    written answers are added in the exports, :mod:`autograder.export`)."""
    with Context.of(grading_dir, None, db_url, context).gradebook() as book:
        submission = book.find_submission(lab, student)
        return Score(lab, student, float(submission.code_score), float(submission.max_code_score))


def export_grades(path: str | Path, grading_dir: str | Path | None = None, db_url: str | None = None,
                  context: Context | None = None) -> Path:
    """Write every graded submission's score to a CSV (see :mod:`autograder.export`, format ``csv``)."""
    from autograder import export

    return export.write(path, "csv", context=Context.of(grading_dir, None, db_url, context)).path


# --- batch grading -------------------------------------------------------------------------------


@dataclass
class BatchReport:
    lab: str
    results: list  # worker.Result, in student order
    seconds: float
    workers: int
    sandbox: str
    graded: int  # submissions executed in this run (the rest came from the cache)
    csv: Path
    report: Path
    histogram: Path
    grading_dir: Path = field(default_factory=Path)


def master_notebook(lab: str, context: Context) -> Path:
    """Write the lab's master (answers stubbed, hidden tests kept) outside the sandbox; make sure
    the gradebook records the lab with the same test cells and points (releasing it if not)."""
    from autograder import integrity

    solution = context.course_dir / "solutions" / lab / f"{lab}.ipynb"
    if not solution.is_file():
        raise GradingError(f"unknown lab '{lab}': expected {solution} (labs: {context.labs()})")
    master = integrity.master(solution, context.config)
    expected = {integrity.grade_id(c): integrity.points(c) for c in master.cells if integrity.nbgrader_meta(c).get("grade")}
    if _recorded_cells(lab, context) != expected:
        release(lab, release_dir=context.grading_dir / "release", context=context)
        if _recorded_cells(lab, context) != expected:
            raise GradingError(f"the gradebook's record of {lab} does not match solutions/{lab}")
    import nbformat

    path = context.grading_dir / "master" / lab / f"{lab}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(master)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


def _recorded_cells(lab: str, context: Context) -> dict:
    from nbgrader.api import MissingEntry

    with context.gradebook() as book:
        try:
            notebook = book.find_notebook(lab, lab)
        except MissingEntry:
            return {}
        return {cell.name: float(cell.max_score) for cell in notebook.grade_cells}


WRITTEN_CHANGED = "written-answer-changed"  # flag: a written answer graded by hand was changed since


def record(book, result, graded_answers: dict | None = None) -> None:
    """Write one result into the gradebook: student, submission, one auto score per test cell.

    Written answers (graded by hand in formgrader) keep their manual points. An unanswered one gets
    0 automatically, an answered one needs grading; one graded by hand whose text differs from
    ``graded_answers`` (the answers of the grading the instructor saw) needs grading again and is
    flagged ``written-answer-changed:<id>`` until it is graded again, its points kept meanwhile.
    Safe to repeat (it updates) and to run from several processes at once: a unique-constraint
    race (two graders adding the same student) is retried.
    """
    from nbgrader.api import InvalidEntry, MissingEntry
    from sqlalchemy.exc import DBAPIError, SAWarning

    points = {t.grade_id: t.points for t in result.tests}
    for attempt in range(8):
        try:
            # nbgrader's add_submission builds related rows in a way SQLAlchemy warns about; harmless
            warnings.filterwarnings("ignore", category=SAWarning)
            book.update_or_create_student(result.student)
            try:
                submission = book.find_submission(result.lab, result.student)
            except MissingEntry:
                submission = book.add_submission(result.lab, result.student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    name = grade.cell.name
                    if name in points:
                        grade.auto_score = points[name]
                        grade.needs_manual_grade = grade.manual_score is not None
                    else:  # not a test: a written answer, graded by hand
                        _record_written(grade, result, (graded_answers or {}).get(name))
                notebook.flagged = bool(result.flags)
            book.db.commit()
            return
        except (InvalidEntry, DBAPIError):
            book.db.rollback()
            time.sleep(0.05 * (attempt + 1))
    raise GradingError(f"could not record {result.student}'s grade for {result.lab} in the gradebook")


def _record_written(grade, result, graded: str | None) -> None:
    answer = result.answers.get(grade.cell.name)  # None: no notebook was graded (missing, wrong lab, crash)
    if answer is None:
        if grade.manual_score is None:
            grade.auto_score, grade.needs_manual_grade = 0.0, False  # nothing to grade
        return
    if grade.manual_score is None:
        grade.auto_score = None if answer else 0.0  # nbgrader's rule: an untouched answer earns 0
        grade.needs_manual_grade = bool(answer)
    elif graded is not None and graded != answer:
        grade.needs_manual_grade = True
    flag = f"{WRITTEN_CHANGED}:{grade.cell.name}"
    if grade.manual_score is not None and grade.needs_manual_grade and flag not in result.flags:
        result.flags.append(flag)


def graded_answers(result_file: Path) -> dict:
    """The written answers (grade_id -> sha256) of a student's last grading, {} if none."""
    try:
        return dict(json.loads(Path(result_file).read_text()).get("answers") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def _job_result(job, timeout: float):
    """Run one worker process; a worker that crashes or hangs becomes a flagged zero, not an exception."""
    from autograder.executors import parent_death_signal
    from autograder.worker import Result

    job_file = Path(job.result).with_suffix(".job.json")
    job_file.write_text(json.dumps(asdict(job)))
    Path(job.result).unlink(missing_ok=True)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "autograder.worker", str(job_file)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=parent_death_signal())  # dies with us, e.g. with a killed Dask worker
    try:
        output, _ = process.communicate(timeout=timeout)
        problem = f"grader-error:exit {process.returncode}" if process.returncode else ""
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)  # its kernel dies with it (bwrap --die-with-parent)
        output, _ = process.communicate()
        problem = f"grader-timeout:{timeout:g}s"
    if not problem and Path(job.result).is_file():
        return Result.from_dict(json.loads(Path(job.result).read_text()))
    tail = output.decode(errors="replace").strip().splitlines()[-1:] if output else []
    return Result(job.lab, job.student, flags=job.intake_flags + [problem or "grader-error:no result"] + tail,
                  seconds=round(time.perf_counter() - start, 2))


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def grade_batch(
    lab: str,
    submissions,
    grading_dir: str | Path | None = None,
    course_dir: str | Path | None = None,
    workers: int | None = None,
    limits=None,
    feedback: bool = True,
    force: bool = False,
    progress: bool = True,
    db_url: str | None = None,
    scheduler: str | None = None,
    context: Context | None = None,
) -> BatchReport:
    """Grade every submission of ``lab`` found in ``submissions`` (folder or zip; see
    :mod:`autograder.submissions`), or a list of :class:`~autograder.submissions.Incoming`, on this
    machine or on the Dask cluster whose scheduler ``scheduler`` (or ``$COURSE_DASK_SCHEDULER``) names
    (:mod:`autograder.executors`)."""
    from autograder import executors, report, sandbox
    from autograder import submissions as intake
    from autograder.worker import Job, sha256

    start = time.perf_counter()
    limits = limits or sandbox.Limits()
    workers = workers or default_workers()
    context = Context.of(grading_dir, course_dir, db_url, context)
    course, grading = context.course_dir, context.grading_dir
    master = master_notebook(lab, context)
    master_sha = sha256(master.read_bytes())
    incoming = submissions if isinstance(submissions, list) else intake.collect(submissions, lab)
    if not incoming:
        raise GradingError(f"no submissions of {lab} found in {submissions}")
    work_root = grading / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    cores = default_workers()
    kernel_env = {"TF_NUM_INTRAOP_THREADS": str(max(1, cores // workers)), "TF_NUM_INTEROP_THREADS": "1",
                  "OMP_NUM_THREADS": str(max(1, cores // workers))}
    data_dir = os.environ.get("COURSE_DATA_DIR")
    if data_dir:
        kernel_env["COURSE_DATA_DIR"] = str(Path(data_dir).resolve())

    jobs, cached, answers_seen = [], [], {}
    for item in incoming:
        submitted = grading / "submitted" / item.student / lab / f"{lab}.ipynb"
        if item.data is not None:
            submitted.parent.mkdir(parents=True, exist_ok=True)
            if not submitted.is_file() or submitted.read_bytes() != item.data:
                submitted.write_bytes(item.data)
        results_dir = grading / "results" / lab
        results_dir.mkdir(parents=True, exist_ok=True)
        job = Job(
            lab=lab, student=item.student, submission=str(submitted) if item.data is not None else None,
            intake_flags=list(item.flags), master=str(master), lab_files=str(course / "labs" / lab),
            autograded=str(grading / "autograded" / item.student / lab),
            feedback=str(grading / "feedback" / item.student / lab / f"{lab}.html") if feedback else None,
            result=str(results_dir / f"{item.student}.json"), work_root=str(work_root),
            limits=asdict(limits), readable=[data_dir] if data_dir else [], env=kernel_env,
        )
        answers_seen[item.student] = graded_answers(job.result)  # before a new grading replaces them
        previous = _cached(job, item, master_sha, limits)
        if previous is not None and not force:
            cached.append(previous)
        else:
            jobs.append(job)

    results = list(cached)
    with context.gradebook() as book, executors.connect(scheduler, workers) as executor:
        for item in incoming:  # the LMS's user/participant id, for the export's roster matching
            if item.lms_id:
                book.update_or_create_student(item.student, lms_user_id=item.lms_id)
        for result in cached:
            record(book, result, answers_seen.get(result.student))
        bar = _progress(len(incoming), len(cached), lab, executor.workers, enabled=progress)
        timeout = limits.notebook_timeout + 300
        for result in executor.grade(jobs, timeout):
            result.master_sha256 = result.master_sha256 or master_sha
            record(book, result, answers_seen.get(result.student))
            results.append(result)
            bar.update(1)
            bar.set_postfix_str(f"{result.student}: {result.score:g}/{result.max_score:g}")
        bar.close()
        isolation = executor.isolation(results)
    if feedback and any(r.answers for r in results):  # the workers' feedback lacks the points given by hand
        from autograder.feedback import refresh

        refresh(lab, context=context, hand_graded_only=True)
    results.sort(key=lambda r: r.student)
    seconds = time.perf_counter() - start
    paths = report.write(lab, results, grading / "reports" / lab, seconds=seconds, workers=executor.workers,
                         sandbox=isolation, graded=len(jobs))
    return BatchReport(lab, results, seconds, executor.workers, isolation, len(jobs), *paths, grading_dir=grading)


def _cached(job, item, master_sha: str, limits):
    """The previous result of this exact submission against this exact master, if still valid."""
    from autograder.worker import Result, sha256

    path = Path(job.result)
    if not path.is_file():
        return None
    try:
        result = Result.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    same = (result.master_sha256 == master_sha
            and result.submission_sha256 == (sha256(item.data) if item.data is not None else "")
            and all(f in result.flags for f in item.flags)
            and not any(f.startswith(("grader-error", "grader-timeout")) for f in result.flags)
            and (job.feedback is None or Path(job.feedback).is_file()))
    return result if same else None


def _progress(total: int, done: int, lab: str, workers: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=f"grading {lab} ({workers} workers)", unit="submission",
                disable=not enabled, file=sys.stderr)


def autograde(
    lab: str,
    notebook: str | Path,
    student: str,
    grading_dir: str | Path | None = None,
    feedback: bool = False,
    course_dir: str | Path | None = None,
    limits=None,
    context: Context | None = None,
) -> Score:
    """Autograde one notebook as ``student``'s submission of ``lab`` and return its score."""
    from autograder.submissions import read_notebook, student_id

    if student_id(student) != student:
        raise GradingError(f"student id {student!r}: use letters, digits, '.', '_' and '-' only")
    try:
        incoming = [read_notebook(notebook, student)]
    except FileNotFoundError as exc:
        raise GradingError(str(exc)) from None
    batch = grade_batch(lab, incoming, workers=1, limits=limits, feedback=feedback, force=True, progress=False,
                        context=Context.of(grading_dir, course_dir, None, context))
    result = batch.results[0]
    return Score(lab, student, result.score, result.max_score)


def result_of(lab: str, student: str, grading_dir: str | Path | None = None, context: Context | None = None):
    """The last grading result (tests, flags, time) of a student's submission."""
    from autograder.worker import Result

    path = Context.of(grading_dir, context=context).grading_dir / "results" / lab / f"{student}.json"
    if not path.is_file():
        raise GradingError(f"{student} has no graded submission of {lab}")
    return Result.from_dict(json.loads(path.read_text()))
