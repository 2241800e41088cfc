"""The gradebook on a real PostgreSQL server: parallel grading loses and duplicates nothing.

The fixture starts a private PostgreSQL cluster on a free localhost port (Debian's ``postgresql``
package; CI installs it) and removes it afterwards. As root it runs the server as ``postgres``.
"""

import glob
import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import sqlalchemy

from autograder import pipeline
from autograder.submissions import Incoming
from autograder.worker import Result, TestResult
from tests import grading_lab

STUDENTS = [f"student-{i:02d}" for i in range(24)]


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found: install Debian's 'postgresql' package")
    return Path(found[-1]).parent


@pytest.fixture(scope="module")
def postgres_url():
    binaries = _postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    root.chmod(0o755)
    prefix = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = root / "data"
    run = lambda *args: subprocess.run(prefix + [str(a) for a in args], check=True, capture_output=True)  # noqa: E731
    run(binaries / "initdb", "-D", data, "-A", "trust", "-U", "grader", "--no-sync")
    run(binaries / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        admin = sqlalchemy.create_engine(f"postgresql+psycopg2://grader@127.0.0.1:{port}/postgres",
                                         isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text("CREATE DATABASE course"))
        admin.dispose()
        yield f"postgresql+psycopg2://grader@127.0.0.1:{port}/course"
    finally:
        subprocess.run(prefix + [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def course(tmp_path_factory, postgres_url):
    folder = tmp_path_factory.mktemp("pg-course")
    course_dir = grading_lab.make_course(folder / "course")
    grading = folder / "grading"
    pipeline.release(grading_lab.LAB, grading_dir=grading, course_dir=course_dir, db_url=postgres_url)
    return course_dir, grading


def _fake_result(student: str) -> Result:
    """What a worker would report; the score depends on the student only, so any write is the right one."""
    first, second = (len(student) + int(student[-2:])) % 3, int(student[-1]) % 2
    return Result(grading_lab.LAB, student, score=min(first, 2) + second, max_score=3,
                  tests=[TestResult("test_double", min(first, 2), 2, "passed"),
                         TestResult("test_count", second, 1, "passed")])


def _record_all(args):
    url, grading, order = args
    with pipeline.gradebook(grading, url) as book:
        for student in order:
            pipeline.record(book, _fake_result(student))
    return len(order)


def test_parallel_writers_lose_and_duplicate_nothing(postgres_url, course):
    _, grading = course
    orders = [STUDENTS, STUDENTS[::-1], STUDENTS[1::2] + STUDENTS[::2], sorted(STUDENTS, key=lambda s: s[::-1])]
    with multiprocessing.get_context("spawn").Pool(len(orders)) as pool:
        assert pool.map(_record_all, [(postgres_url, grading, order) for order in orders]) == [len(STUDENTS)] * 4
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as connection:
        count = lambda sql: connection.execute(sqlalchemy.text(sql)).scalar()  # noqa: E731
        assert count("SELECT count(*) FROM student WHERE id LIKE 'student-%'") == len(STUDENTS)
        assert count("SELECT count(*) FROM submitted_assignment s JOIN student t ON s.student_id = t.id "
                     "WHERE t.id LIKE 'student-%'") == len(STUDENTS)
        assert count("SELECT count(*) FROM (SELECT cell_id, notebook_id FROM grade GROUP BY cell_id, notebook_id "
                     "HAVING count(*) > 1) d") == 0
        assert count("SELECT count(*) FROM grade WHERE auto_score IS NULL") == 0
    engine.dispose()
    with pipeline.gradebook(grading, postgres_url) as book:
        for student in STUDENTS:
            assert book.find_submission(grading_lab.LAB, student).score == _fake_result(student).score


@pytest.mark.notebook
def test_batch_grades_into_postgres_with_parallel_workers(postgres_url, course):
    course_dir, grading = course
    solution = (course_dir / "solutions" / grading_lab.LAB / f"{grading_lab.LAB}.ipynb").read_bytes()
    release = (course_dir / "labs" / grading_lab.LAB / f"{grading_lab.LAB}.ipynb").read_bytes()
    incoming = [Incoming("pg-reference", solution, "test"), Incoming("pg-untouched", release, "test"),
                Incoming("pg-corrupt", b"{ not json", "test")]
    batch = pipeline.grade_batch(grading_lab.LAB, incoming, grading_dir=grading, course_dir=course_dir, workers=2,
                                 feedback=False, progress=False, db_url=postgres_url)
    scores = {r.student: (r.score, r.max_score) for r in batch.results}
    assert scores == {"pg-reference": (3, 3), "pg-untouched": (0, 3), "pg-corrupt": (0, 3)}
    for student, (score, maximum) in scores.items():
        stored = pipeline.score_of(grading_lab.LAB, student, grading, postgres_url)
        assert (stored.score, stored.max_score) == (score, maximum)
    # A re-run changes nothing: same grades, no new rows.
    again = pipeline.grade_batch(grading_lab.LAB, incoming, grading_dir=grading, course_dir=course_dir, workers=2,
                                 feedback=False, progress=False, db_url=postgres_url)
    assert again.graded == 0 and {r.student: (r.score, r.max_score) for r in again.results} == scores
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text(
            "SELECT count(*) FROM submitted_assignment WHERE student_id LIKE 'pg-%'")).scalar()
    engine.dispose()
    assert rows == 3
