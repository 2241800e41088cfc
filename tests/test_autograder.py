"""The autograder against a battery of hostile and broken submissions of a tiny lab.

One batch grades them all in parallel (the tiny lab runs in about a second per submission, so the
battery proves isolation and integrity cheaply); each case states its expected score and flags.
The MNIST lab gets its own, smaller battery in test_autograder_mnist.py.
"""

import csv
import html
import json
import re
import socket
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import integrity, pipeline, sandbox
from autograder.submissions import Incoming, collect
from autograder.worker import Result, TestResult
from tests import attacks
from tests import grading_lab as lab

LIMITS = sandbox.Limits(cell_timeout=8, notebook_timeout=60, memory=1 << 30, cell_output=200_000)
GOOD_DOUBLE = "def double(values):\n    return np.asarray(values, dtype=float) * 2"
GOOD_COUNT = "def count(items, value):\n    return sum(1 for item in items if item == value)"
BAD_COUNT = "def count(items, value):\n    return 0"
MUTANTS = {  # answers of double that the grader and selfcheck must judge alike
    "stub": "def double(values):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
    "wrong-value": "def double(values):\n    return np.asarray(values, dtype=float) * 3",
    "not-an-array": "def double(values):\n    return list(np.asarray(values, dtype=float) * 2)",
    "tensor": "def double(values):\n    import tensorflow as tf\n\n    return tf.constant(np.asarray(values, dtype=float) * 2)",
    "mutates-input": "def double(values):\n    values = np.asarray(values, dtype=float)\n    values *= 2\n    return values",
    "raises": "def double(values):\n    raise ValueError('no answer')",
    "warns": "import warnings\n\ndef double(values):\n    warnings.warn('careful')\n"
             "    return np.asarray(values, dtype=float) * 2",
}
GOOD = {"double": GOOD_DOUBLE, "count": GOOD_COUNT}
AFTER_IMPORTS = 3  # index of the first answer cell in the release: extra cells go before it


class LoopbackServer:
    """A listener on 127.0.0.1 that counts connections: no submission may reach it."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


def host_processes(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(entry.name)
            except OSError:
                pass
    return found


def battery(release, paths: dict) -> dict[str, tuple[bytes | None, float, list[str]]]:
    """student -> (notebook bytes, expected score of 3, flags that must be reported)."""
    solution = lab.solution_notebook()
    moved = nbformat.from_dict(json.loads(json.dumps(release)))
    test_double = moved.cells.pop(lab.cell_index(moved, "test_double"))
    moved.cells.insert(lab.cell_index(moved, "double"), test_double)
    snoop = (
        "import os\n"
        f"for path in {[paths['solution'], paths['repo_solution'], paths['gradebook'], paths['submitted']]!r}:\n"
        "    try:\n"
        "        print('LISTED' if os.path.isdir(path) else 'READ', path, os.listdir(path) if os.path.isdir(path)\n"
        "              else len(open(path, 'rb').read()))\n"
        "    except OSError as exc:\n"
        "        print('DENIED', path, type(exc).__name__)\n"
        f"for path in {[paths['course_package'] + '/planted.py', '/usr/planted', paths['results'] + '/planted']!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print('NOWRITE', path, type(exc).__name__)\n"
        "open('scratch.txt', 'w').write('fine')\n"
        "print('SCRATCH OK', sorted(os.listdir('.')))"
    )
    gradebook_writer = (
        "import sqlite3\n"
        "try:\n"
        f"    db = sqlite3.connect({paths['gradebook']!r})\n"
        "    db.execute('UPDATE grade SET auto_score = 1000')\n"
        "    db.commit()\n"
        "    print('GRADEBOOK WRITTEN')\n"
        "except Exception as exc:\n"
        "    print('GRADEBOOK SAFE', type(exc).__name__)"
    )
    always_equal = (
        "class AlwaysEqual(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "class Always(int):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
    )
    leaker = GOOD_DOUBLE.replace("    return", "    import inspect\n    global LEAK\n"
                                 "    LEAK = ''.join(inspect.stack()[1].code_context or [])\n    return")
    hook = "get_ipython().events.register('pre_run_cell', lambda info: print('SAW', info.raw_cell))\n"
    forge = attacks.FORGE  # an ok execute reply and an idle status, sent from inside the request
    transformer = attacks.TRANSFORMER
    dispatchers = ("import numpy.testing\n"
                   "for name in ('allclose', 'array_equal', 'isclose', 'all'):\n"
                   "    setattr(np, name, lambda *args, **kwargs: True)\n"
                   "for name in ('assert_allclose', 'assert_array_equal', 'assert_equal'):\n"
                   "    setattr(numpy.testing, name, lambda *args, **kwargs: None)\n"
)
    return {
        "reference": (nbformat.writes(solution).encode(), 3, []),
        "untouched": (nbformat.writes(release).encode(), 0, []),
        "infinite-loop": (lab.answered(release, {"double": "while True:\n    pass\n" + GOOD_DOUBLE, "count": GOOD_COUNT}),
                          1, ["cell-timeout:double"]),
        "stubborn-loop": (lab.answered(release, GOOD, [(AFTER_IMPORTS, "import time\nwhile True:\n    try:\n"
                                                        "        time.sleep(1)\n    except KeyboardInterrupt:\n"
                                                        "        pass")]), 0, ["cell-timeout:cell"]),
        "memory-bomb": (lab.answered(release, GOOD, [(AFTER_IMPORTS, "hog = bytearray(3 << 30)")]), 3, []),
        "detached-processes": (lab.answered(release, GOOD, [(AFTER_IMPORTS,
                               "import os, subprocess\nsubprocess.Popen(['sleep', '7373'], start_new_session=True)\n"
                               "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '7374'])")]),
                               3, ["suspicious:processes"]),
        "network": (lab.answered(release, GOOD, [(AFTER_IMPORTS,
                    "import socket\ntry:\n"
                    f"    socket.create_connection(('127.0.0.1', {paths['port']}), timeout=3)\n"
                    "    print('NETWORK REACHED')\nexcept OSError as exc:\n    print('NETWORK BLOCKED', type(exc).__name__)")]),
                    3, ["suspicious:network"]),
        "snooper": (lab.answered(release, GOOD, [(AFTER_IMPORTS, snoop)]), 3, ["suspicious:file-access"]),
        "gradebook-writer": (lab.answered(release, GOOD, [(AFTER_IMPORTS, gradebook_writer)]), 3,
                             ["suspicious:file-access"]),
        "eq-cheat": (lab.answered(release, {
            "double": always_equal + "def double(values):\n    return np.zeros(len(values)).view(AlwaysEqual)",
            "count": always_equal + "def count(items, value):\n    return Always(0)"}), 0, ["suspicious:always-equal-object"]),
        "showtraceback-patch": (lab.answered(release, {
            "double": "from IPython.core.interactiveshell import InteractiveShell\n"
                      "InteractiveShell.showtraceback = lambda *args, **kwargs: None\n"
                      "get_ipython().showtraceback = lambda *args, **kwargs: None\n"
                      "get_ipython().set_custom_exc((AssertionError,), lambda *args, **kwargs: None)\n"
                      "def double(values):\n    return [0]", "count": BAD_COUNT}),
            0, ["suspicious:traceback-hiding"]),
        "numpy-testing-patch": (lab.answered(release, {
            "double": "np.testing.assert_allclose = lambda *args, **kwargs: None\n"
                      "def double(values):\n    return np.zeros(len(values))",
            "count": "def count(items, value):\n    np.testing.assert_allclose = lambda *a, **k: None\n    return 0"}),
            0, ["suspicious:patching-test-helpers"]),
        "shadowed-builtins": (lab.answered(release, {
            "double": "def type(value):\n    return np.ndarray\nisinstance = lambda *args: True\n"
                      "def double(values):\n    return [0]", "count": GOOD_COUNT}), 1, []),
        "event-hook": (lab.answered(release, GOOD, [(AFTER_IMPORTS, hook)]), 3, ["suspicious:hooks"]),
        "exit-sys": (lab.answered(release, {"double": GOOD_DOUBLE, "count": BAD_COUNT},
                                  [(lab.cell_index(release, "count"), "import sys\nsys.exit(0)")]),
                     2, ["suspicious:exit-calls"]),
        "exit-os": (lab.answered(release, {}, [(AFTER_IMPORTS, "import os\nos._exit(0)")]), 0, ["kernel-died:cell"]),
        "deleted-test": (lab.without_cell(lab._with_answers(release, {"double": GOOD_DOUBLE, "count": BAD_COUNT}),
                                          "test_count"), 2, ["deleted-test-cell-restored:test_count"]),
        "edited-test": (lab.edited_cell(lab._with_answers(release, {"count": GOOD_COUNT}), "test_double", "pass"),
                        1, ["edited-test-cell-restored:test_double"]),
        "moved-cells": (lab.answered(moved, GOOD), 3, ["moved-cells-restored"]),
        "corrupt-json": (b'{"cells": [', 0, ["corrupt-json"]),
        "empty-file": (b"", 0, ["empty-file"]),
        "huge-output": (lab.answered(release, GOOD, [(AFTER_IMPORTS, "for _ in range(300):\n    print('x' * 10000)")]),
                        3, ["huge-output"]),
        "wrong-lab": ((pipeline.LABS / "mnist-cnn" / "mnist-cnn.ipynb").read_bytes(), 0, ["wrong-lab"]),
        "old-nbformat": (lab.as_nbformat3(lab._with_answers(release, GOOD)), 3, ["old-nbformat-v3-converted"]),
        "missing": (None, 0, ["missing-notebook"]),
        "forged-reply": (lab.answered(release, {
            "double": forge + "def double(values):\n    forge()\n    raise ValueError('no answer')",
            "count": forge + "def count(items, value):\n    forge()\n    raise ValueError('no answer')"}), 0, []),
        "transformer-object": (lab.answered(release, {}, [(AFTER_IMPORTS, transformer)]), 0, ["suspicious:hooks"]),
        "numpy-dispatchers": (lab.answered(release, {
            "double": "def double(values):\n    return np.zeros(len(values))", "count": BAD_COUNT},
            [(AFTER_IMPORTS, dispatchers)]), 0, []),
        **{f"mutant-{name}": (lab.answered(release, {"double": source, "count": GOOD_COUNT}), 1, [])
           for name, source in MUTANTS.items()},
        "leaker": (lab.answered(release, {"double": leaker, "count": GOOD_COUNT}, [(len(release.cells), "print(LEAK)")]),
                   3, []),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("battery")
    course = lab.make_course(root / "course")
    grading = root / "grading"
    released = pipeline.release(lab.LAB, grading_dir=grading, course_dir=course)
    release = nbformat.read(released / f"{lab.LAB}.ipynb", as_version=4)
    with pipeline.gradebook(grading) as book:  # graded earlier: no submission may change this grade
        book.update_or_create_student("earlier-student")
        pipeline.record(book, Result(lab.LAB, "earlier-student", 3, 3, tests=[
            TestResult("test_double", 2, 2, "passed"), TestResult("test_count", 1, 1, "passed")]))
    server = LoopbackServer()
    paths = {
        "solution": str(course / "solutions" / lab.LAB / f"{lab.LAB}.ipynb"),
        "repo_solution": str(pipeline.SOLUTIONS / "mnist-cnn" / "mnist-cnn.ipynb"),
        "gradebook": str(grading / "gradebook.db"), "submitted": str(grading / "submitted"),
        "results": str(grading / "results"), "course_package": str(Path(integrity.__file__).parents[1] / "course"),
        "port": server.port,
    }
    cases = battery(release, paths)
    incoming = [Incoming(student, data, "battery") for student, (data, _, _) in cases.items()]
    batch = pipeline.grade_batch(lab.LAB, incoming, grading_dir=grading, course_dir=course, workers=2,
                                 limits=LIMITS, progress=False)
    return dict(batch=batch, cases=cases, grading=grading, course=course, server=server, incoming=incoming,
                release=release)


def executed_text(graded, student: str) -> str:
    nb = nbformat.read(graded["grading"] / "autograded" / student / lab.LAB / f"{lab.LAB}.ipynb", as_version=4)
    return "\n".join(o.get("text", "") + o.get("ename", "") + o.get("evalue", "") for c in nb.cells for o in c.get("outputs", []))


def test_every_case_gets_its_expected_score_and_flags(graded):
    results = {r.student: r for r in graded["batch"].results}
    problems = []
    for student, (_, expected, flags) in graded["cases"].items():
        result = results[student]
        if result.score != expected or result.max_score != 3:
            problems.append(f"{student}: {result.score:g}/{result.max_score:g}, expected {expected}/3 "
                            f"({[(t.grade_id, t.status, t.message[:80]) for t in result.tests]})")
        for flag in flags:
            if not any(f.startswith(flag) for f in result.flags):
                problems.append(f"{student}: flag {flag!r} missing from {result.flags}")
        if any(f.startswith(("grader-error", "grader-timeout", "execution-error")) for f in result.flags):
            problems.append(f"{student}: the grader itself failed: {result.flags}")
    assert not problems, "\n".join(problems)
    clean = [f for r in (results["reference"], results["untouched"]) for f in r.flags if f != "no-process-limit"]
    assert not clean, "clean notebooks get no flags (but no-process-limit on a machine that has none)"
    stubborn = results["stubborn-loop"].flags
    assert any(f.startswith(("kernel-unresponsive-killed", "notebook-timeout")) for f in stubborn), stubborn


def test_grader_and_selfcheck_judge_every_test_alike(graded, tmp_path):
    """Differential: the reference and mutants of an answer, hidden tests included, get the same
    per-test verdicts from the batch grader (tests in the trusted kernel) and from selfcheck (tests in
    the student's own kernel)."""
    from course import selfcheck

    results = {r.student: r for r in graded["batch"].results}
    solution = lab.solution_notebook()
    for student, source in [("reference", None), *[(f"mutant-{n}", s) for n, s in MUTANTS.items()]]:
        path = tmp_path / f"{student}.ipynb"
        path.write_bytes(lab.answered(solution, {"double": source} if source else {}))
        outcomes, problem = selfcheck.run_file(path, timeout=30)
        assert not problem, (student, problem)
        own = {o.grade_id: o.passed for o in outcomes}
        grader = {t.grade_id: t.status == "passed" for t in results[student].tests}
        assert own == grader, (student, own, grader, [o.error for o in outcomes], [t.message for t in results[student].tests])


def test_gradebook_holds_every_score_and_no_submission_changed_another(graded):
    with pipeline.gradebook(graded["grading"]) as book:
        stored = {s.student_id: s.score for s in book.find_assignment(lab.LAB).submissions}
    expected = {student: score for student, (_, score, _) in graded["cases"].items()}
    assert stored == {**expected, "earlier-student": 3}
    assert "GRADEBOOK SAFE" in executed_text(graded, "gradebook-writer")


def test_sandbox_hides_secrets_and_other_work_and_allows_only_scratch_writes(graded):
    assert sandbox.bwrap_problem() is None, f"these tests need bubblewrap: {sandbox.bwrap_problem()}"
    text = executed_text(graded, "snooper")
    assert "DENIED" in text and "SCRATCH OK" in text and "NOWRITE" in text
    assert not re.search(r"^(READ|LISTED|WROTE) ", text, re.MULTILINE), text
    assert not list(Path(graded["grading"], "results").glob("planted*"))
    assert "NETWORK BLOCKED" in executed_text(graded, "network") and graded["server"].connections == 0


def test_no_process_outlives_its_grading(graded):
    assert "MemoryError" in executed_text(graded, "memory-bomb")
    assert host_processes("sleep 7373") == [] and host_processes("sleep 7374") == []


def test_feedback_shows_results_but_never_hidden_tests(graded):
    master = nbformat.read(graded["grading"] / "master" / lab.LAB / f"{lab.LAB}.ipynb", as_version=4)
    secrets = integrity.hidden_lines(master)
    assert secrets, "the tiny lab has hidden tests"
    pages = list((graded["grading"] / "feedback").glob(f"*/{lab.LAB}/{lab.LAB}.html"))
    assert len(pages) == len(graded["cases"])
    for page in pages:
        visible = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        assert not [s for s in secrets if s in visible], page
        assert "Score:" in visible and "test_double" in visible
    leaker = html.unescape((graded["grading"] / "feedback" / "leaker" / lab.LAB / f"{lab.LAB}.html").read_text())
    assert not [s for s in secrets if s in executed_text(graded, "leaker")], "tests never run in the student's process"
    assert "PASSED: 2 / 2 points" in leaker


def test_reports_table_summary_and_histogram(graded):
    batch = graded["batch"]
    rows = list(csv.DictReader(open(batch.csv)))
    assert {r["student"] for r in rows} == set(graded["cases"])
    row = next(r for r in rows if r["student"] == "deleted-test")
    assert (row["score"], row["max_score"], row["test_count"]) == ("2", "3", "0")
    assert "deleted-test-cell-restored:test_count" in row["flags"]
    text = batch.report.read_text()
    assert f"graded {len(graded['cases'])} (" in text and "submissions/minute" in text
    assert "bubblewrap" in text and "histogram.png" in text
    assert batch.histogram.read_bytes()[:4] == b"\x89PNG"


def test_rerun_is_idempotent(graded):
    again = pipeline.grade_batch(lab.LAB, graded["incoming"], grading_dir=graded["grading"],
                                 course_dir=graded["course"], workers=2, limits=LIMITS, progress=False)
    assert again.graded == 0, "unchanged submissions are not graded again"
    assert [(r.student, r.score) for r in again.results] == [(r.student, r.score) for r in graded["batch"].results]
    with pipeline.gradebook(graded["grading"]) as book:
        assert len(book.find_assignment(lab.LAB).submissions) == len(graded["cases"]) + 1


def test_without_bwrap_limits_still_apply_and_leftovers_are_killed(tmp_path, monkeypatch):
    monkeypatch.setenv(sandbox.SANDBOX_VARIABLE, "none")
    sandbox.bwrap_problem.cache_clear()
    try:
        course = lab.make_course(tmp_path / "course")
        release = nbformat.read(pipeline.release(lab.LAB, grading_dir=tmp_path / "g", course_dir=course)
                                / f"{lab.LAB}.ipynb", as_version=4)
        incoming = [
            Incoming("detached", lab.answered(release, GOOD, [(AFTER_IMPORTS,
                     "import subprocess\nsubprocess.Popen(['sleep', '7375'], start_new_session=True)")]), "t"),
            Incoming("slow", lab.answered(release, GOOD, [(AFTER_IMPORTS, "import time\ntime.sleep(2)")] * 15), "t"),
        ]
        limits = sandbox.Limits(cell_timeout=8, notebook_timeout=20, memory=1 << 30)
        batch = pipeline.grade_batch(lab.LAB, incoming, grading_dir=tmp_path / "g", course_dir=course, workers=2,
                                     limits=limits, feedback=False, progress=False)
        assert "limits only" in batch.sandbox
        results = {r.student: r for r in batch.results}
        assert results["detached"].score == 3
        assert any(f.startswith("processes-left-behind-killed") for f in results["detached"].flags)
        assert host_processes("sleep 7375") == []
        assert results["slow"].score == 0 and "notebook-timeout:20s" in results["slow"].flags
    finally:
        sandbox.bwrap_problem.cache_clear()


def test_submission_layouts(tmp_path):
    notebook = nbformat.writes(lab.solution_notebook()).encode()
    submitted = tmp_path / "submitted"
    for student in ("ada", "bob"):
        (submitted / student / lab.LAB).mkdir(parents=True)
    (submitted / "ada" / lab.LAB / f"{lab.LAB}.ipynb").write_bytes(notebook)
    (submitted / "eve" / "other-lab").mkdir(parents=True)
    found = {i.student: i for i in collect(submitted, lab.LAB)}
    assert set(found) == {"ada", "bob"} and found["ada"].data == notebook
    assert found["bob"].data is None and found["bob"].flags == ["missing-notebook"]

    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "carol.ipynb").write_bytes(notebook)
    assert [(i.student, i.data == notebook) for i in collect(flat, lab.LAB)] == [("carol", True)]

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr(f"Dan Smith_1234_assignsubmission_file_/{lab.LAB}.ipynb", notebook)
        handle.writestr(f"erin_late_55_66_{lab.LAB}.ipynb", notebook)
        handle.writestr(f"../../escape/{lab.LAB}.ipynb", notebook)
        handle.writestr("frank.ipynb", notebook)
        handle.writestr("frank-notes.txt", b"not a notebook")
    found = {i.student: i for i in collect(archive, lab.LAB)}
    assert set(found) == {"Dan-Smith_1234", "erin", "escape", "frank"}
    assert all(i.data == notebook for i in found.values())
    assert found["frank"].flags == ["notebook-renamed"]
    with pytest.raises(FileNotFoundError, match="submissions not found"):
        collect(tmp_path / "nowhere", lab.LAB)


def test_assemble_strips_forged_points_and_duplicates(tmp_path):
    nbformat.write(lab.solution_notebook(), tmp_path / "tiny.ipynb")
    master = integrity.master(tmp_path / "tiny.ipynb")
    forged = lab.solution_notebook()
    forged.cells.append(nbformat.v4.new_code_cell("pass", metadata={"nbgrader": {
        "grade": True, "grade_id": "free_points", "points": 100, "locked": True, "solution": False}}))
    forged.cells.append(forged.cells[lab.cell_index(forged, "test_count")])
    nb, flags = integrity.assemble(master, forged)
    assert "unknown-graded-cell:free_points" in flags and "duplicate-cell:test_count" in flags
    assert sum(integrity.points(c) for c in nb.cells if integrity.is_test(c)) == 3
    assert "raise NotImplementedError" not in "".join(c.source for c in nb.cells), "the answers are the student's"


def test_self_check_command_exits_non_zero_when_a_test_fails(tmp_path, capsys):
    from course import selfcheck

    release = lab.solution_notebook()
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(release, good)
    bad.write_bytes(lab.answered(release, {"double": "def double(values):\n    return [0]"}))
    assert selfcheck.main([str(good)]) == 0
    assert selfcheck.main([str(bad)]) == 1
    assert "FAILED  test_double" in capsys.readouterr().out
    assert selfcheck.main([str(tmp_path / "missing.ipynb")]) == 2


def _served_workers() -> set[int]:
    """This test process's long-lived worker processes (``python -m autograder.worker --serve``)."""
    found = set()
    for pid in host_processes("autograder.worker --serve"):
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(__import__("os").getpid()):
                found.add(int(pid))
        except (OSError, IndexError):
            pass
    return found


def test_a_worker_grades_job_after_job_and_a_dead_one_is_replaced(tmp_path):
    """One worker grades the first two submissions in the same process; killed during the second, it
    is replaced: that job is reported, the next graded by the new worker; none is left at the end."""
    import os
    import signal
    import time

    course = lab.make_course(tmp_path / "course")
    release = nbformat.read(pipeline.release(lab.LAB, grading_dir=tmp_path / "g", course_dir=course)
                            / f"{lab.LAB}.ipynb", as_version=4)
    hang = "import subprocess\nsubprocess.run(['sleep', '7376'])"
    incoming = [Incoming("first", lab.answered(release, GOOD), "t"),
                Incoming("killed", lab.answered(release, GOOD, [(AFTER_IMPORTS, hang)]), "t"),
                Incoming("last", lab.answered(release, GOOD), "t")]
    seen: list[int] = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            for pid in _served_workers():
                if pid not in seen:
                    seen.append(pid)
            if host_processes("sleep 7376") and len(seen) == 1:
                os.kill(seen[0], signal.SIGKILL)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        batch = pipeline.grade_batch(lab.LAB, incoming, grading_dir=tmp_path / "g", course_dir=course, workers=1,
                                     limits=sandbox.Limits(cell_timeout=20, notebook_timeout=60, memory=1 << 30),
                                     feedback=False, progress=False)
    finally:
        stop.set()
        watcher.join()
    results = {r.student: r for r in batch.results}
    assert results["first"].score == 3 and results["last"].score == 3, [(r.student, r.flags) for r in batch.results]
    assert results["killed"].score == 0
    assert any(f.startswith("grader-error:worker died") for f in results["killed"].flags), results["killed"].flags
    assert len(seen) == 2, f"one worker for the first two jobs, a new one after it died: {seen}"
    assert _served_workers() == set() and host_processes("sleep 7376") == []
