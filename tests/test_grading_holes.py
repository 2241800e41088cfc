"""Grading holes closed inside today's design (issue 14), each graded end to end by the batch grader:
a repository under /tmp, a kernel that dies at start, the lab's own cells, symbolic links, processes
and disk. The tiny lab (tests/grading_lab.py) keeps each grading to a few seconds.
"""

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import integrity, pipeline, sandbox
from autograder.submissions import Incoming, collect
from tests import grading_lab as lab

GOOD = {"double": "def double(values):\n    return np.asarray(values, dtype=float) * 2",
        "count": "def count(items, value):\n    return sum(1 for item in items if item == value)"}
LIMITS = sandbox.Limits(cell_timeout=20, notebook_timeout=90, memory=1 << 30, disk=256 << 20, processes=64)
AFTER_IMPORTS = 3  # index of the first answer cell in the release
FORK_BOMB = """\
import os, time
children = []
try:
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError as exc:
    print('FORK REFUSED after', len(children), type(exc).__name__)
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
"""
DISK_FILL = """\
import os, time
written = 0
try:
    with open('fill.bin', 'wb') as handle:
        while written < (6 << 30):
            handle.write(b'x' * (1 << 20))
            written += 1 << 20
except OSError as exc:
    print('FILL STOPPED', written >> 20, 'MiB', type(exc).__name__)
time.sleep(2)  # hold the file while the test measures the host's free space
os.remove('fill.bin')
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("holes")
    course = lab.make_course(root / "course")
    released = pipeline.release(lab.LAB, grading_dir=root / "grading", course_dir=course)
    return dict(root=root, course=course, grading=root / "grading",
                release=nbformat.read(released / f"{lab.LAB}.ipynb", as_version=4))


def grade(tiny, incoming, limits=LIMITS, **options):
    batch = pipeline.grade_batch(lab.LAB, incoming, grading_dir=tiny["grading"], course_dir=tiny["course"],
                                 workers=2, limits=limits, feedback=False, progress=False, force=True, **options)
    return {r.student: r for r in batch.results}, batch


def executed(tiny, student: str) -> str:
    nb = nbformat.read(tiny["grading"] / "autograded" / student / lab.LAB / f"{lab.LAB}.ipynb", as_version=4)
    return "\n".join(o.get("text", "") + o.get("evalue", "") for c in nb.cells for o in c.get("outputs", []))


def has(flags, prefix: str) -> bool:
    return any(f.startswith(prefix) for f in flags)


# --- 1. anywhere: a repository under /tmp; a kernel that dies at start --------------------------------


def test_a_repository_under_tmp_grades(tmp_path):
    """A copy of the repository whose venv, course package and grading folders all live under /tmp
    (the sandbox mounts its private /tmp before binding them)."""
    if sandbox.bwrap_problem() is not None:
        pytest.fail(f"this test needs bubblewrap: {sandbox.bwrap_problem()}")
    clone = Path(tempfile.mkdtemp(prefix="course-clone-", dir="/tmp"))
    try:
        for package in ("autograder", "course"):
            shutil.copytree(pipeline.ROOT / package, clone / package, ignore=shutil.ignore_patterns("__pycache__"))
        (clone / "tests").mkdir()
        shutil.copy(Path(lab.__file__), clone / "tests" / "grading_lab.py")
        (clone / ".venv").symlink_to(Path(sys.prefix))  # sys.prefix is then /tmp/course-clone-*/.venv
        script = (
            "import sys\nfrom pathlib import Path\n"
            "import autograder, course, nbformat\nfrom autograder import pipeline\n"
            "from autograder.submissions import Incoming\nfrom tests import grading_lab as lab\n"
            "assert sys.prefix.startswith('/tmp/') and autograder.__file__.startswith('/tmp/'), sys.prefix\n"
            "assert course.__file__.startswith('/tmp/'), course.__file__\n"
            "course_dir = lab.make_course(Path('course-copy'))\n"
            "notebook = nbformat.writes(lab.solution_notebook()).encode()\n"
            "batch = pipeline.grade_batch(lab.LAB, [Incoming('reference', notebook, 'clone')], grading_dir='grading',\n"
            "                             course_dir=course_dir, workers=1, feedback=False, progress=False)\n"
            "result = batch.results[0]\n"
            "print('CLONE', result.score, result.max_score, result.flags)\n"
        )
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "COURSE_GRADING_DIR"}}
        done = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c", script], cwd=clone, env=env,
                              capture_output=True, text=True, timeout=300)
        assert "CLONE 3.0 3.0 []" in done.stdout, done.stdout + done.stderr
    finally:
        shutil.rmtree(clone, ignore_errors=True)


def test_a_kernel_that_dies_at_start_says_why_in_the_flag_report_and_command(tmp_path):
    """16 MiB of RLIMIT_DATA is too little for Python to start ipykernel: the kernel dies before it
    replies, and its own last words (a MemoryError or SystemError of the import that failed), not
    nbclient's "Kernel died", are in the flag, the report and the command's output."""
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", "salammbo",
                           str(pipeline.LABS / "salammbo" / "salammbo.ipynb"), "--student", "starved",
                           "--memory", str(16 / 1024)], cwd=pipeline.ROOT, capture_output=True, text=True,
                          env={**os.environ, "COURSE_GRADING_DIR": str(tmp_path)}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "starved salammbo: 0/" in done.stdout and "kernel-died-at-start:" in done.stdout, done.stdout
    said = done.stdout.split("kernel-died-at-start:")[1]
    assert "Error" in said and "Kernel died" not in said, done.stdout
    died = [f for f in pipeline.result_of("salammbo", "starved", tmp_path).flags if f.startswith("kernel-died-at-start:")]
    assert died and "Error" in died[0]
    assert died[0] in (tmp_path / "reports" / "salammbo" / "report.md").read_text()


# --- 2. the lab's own cells come from the instructor ------------------------------------------------


def test_the_release_locks_every_lab_code_cell():
    for name in pipeline.lab_names():
        release = nbformat.read(pipeline.LABS / name / f"{name}.ipynb", as_version=4)
        for index, cell in enumerate(release.cells):
            if cell.cell_type != "code" or integrity.is_answer(cell):
                continue
            meta = integrity.nbgrader_meta(cell)
            assert meta.get("locked") and integrity.grade_id(cell), f"{name} cell {index} is not locked"
            assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False, \
                f"{name} cell {index}: JupyterLab would let the student edit it"


def test_an_edited_threshold_in_the_text_encoding_lab_is_restored_and_flagged(tmp_path):
    """The cheat of the issue, on the real lab: ``IMDB_THRESHOLD = 0.0`` in the lab's own cell (whichever
    threshold the lab's own cells set today)."""
    config = pipeline.load_config(tmp_path / "g")
    master = integrity.master(pipeline.SOLUTIONS / "text-encoding" / "text-encoding.ipynb", config)
    student = nbformat.read(pipeline.LABS / "text-encoding" / "text-encoding.ipynb", as_version=4)
    setting = re.compile(r"^([A-Z_]+_THRESHOLD) = rt\.choose\(", re.M)
    index = next(i for i, c in enumerate(student.cells) if c.cell_type == "code" and not integrity.is_answer(c)
                 and setting.search(c.source))
    name = setting.search(student.cells[index].source).group(1)
    student.cells[index].source = f"{name} = 0.0"
    nb, flags = integrity.assemble(master, student)
    cid = integrity.grade_id(student.cells[index])
    assert f"edited-locked-cell-restored:{cid}" in flags
    assert f"{name} = 0.0" not in "\n".join(c.source for c in nb.cells)
    assert any(re.search(rf"^{name} = rt\.choose\(", c.source, re.M) for c in nb.cells)
    untouched, clean = integrity.assemble(master, nbformat.read(pipeline.LABS / "text-encoding" /
                                                                "text-encoding.ipynb", as_version=4))
    assert clean == [] and untouched is not None


def test_lab_cells_processes_and_disk_graded_end_to_end(tiny):
    release = tiny["release"]
    imports = lab.cell_index(release, "lab_code_2")  # `import numpy as np`, the lab's own cell
    edited = lab._with_answers(release, GOOD)
    edited.cells[imports].source = "import numpy\nnp = None  # the student's copy would break double()\nprint('EDIT RAN')"
    cases = {
        "reference": (nbformat.writes(lab.solution_notebook()).encode(), 3, []),
        "edited-lab-cell": (nbformat.writes(edited).encode(), 3, ["edited-locked-cell-restored:lab_code_2"]),
        "deleted-lab-cell": (lab.without_cell(lab._with_answers(release, GOOD), "lab_code_2"), 3,
                             ["deleted-locked-cell-restored:lab_code_2"]),
        "fork-bomb": (lab.answered(release, GOOD, [(AFTER_IMPORTS, FORK_BOMB)]), 3,
                      ["process-limit" if "no process limit" not in sandbox.process_limit_mode()
                       else "no-process-limit"]),
    }
    results, batch = grade(tiny, [Incoming(s, data, "holes") for s, (data, _, _) in cases.items()])
    for student, (_, score, flags) in cases.items():
        result = results[student]
        assert result.score == score, (student, result.score, result.tests)
        assert all(has(result.flags, f) for f in flags), (student, result.flags)
    assert not [f for f in results["reference"].flags if f != "no-process-limit"], results["reference"].flags
    assert "EDIT RAN" not in executed(tiny, "edited-lab-cell")
    if "no process limit" not in sandbox.process_limit_mode():
        assert "FORK REFUSED" in executed(tiny, "fork-bomb")
    assert "process limit" in batch.sandbox


# --- 3. symbolic links ------------------------------------------------------------------------------


def test_symlinked_submissions_are_refused_in_every_layout(tiny, tmp_path):
    solution = tiny["course"] / "solutions" / lab.LAB / f"{lab.LAB}.ipynb"
    good = lab.answered(tiny["release"], GOOD)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / lab.LAB).mkdir(parents=True)
    (elsewhere / lab.LAB / f"{lab.LAB}.ipynb").write_bytes(good)

    submitted = tmp_path / "submitted"  # nbgrader's <student>/<lab>/<lab>.ipynb
    (submitted / "ada" / lab.LAB).mkdir(parents=True)
    (submitted / "ada" / lab.LAB / f"{lab.LAB}.ipynb").write_bytes(good)
    (submitted / "bob" / lab.LAB).mkdir(parents=True)
    (submitted / "bob" / lab.LAB / f"{lab.LAB}.ipynb").symlink_to(solution)
    (submitted / "carol").symlink_to(elsewhere)  # the student's folder is a link
    (submitted / "dan").mkdir()
    (submitted / "dan" / lab.LAB).symlink_to(elsewhere / lab.LAB)  # the lab's folder is a link
    found = {i.student: i for i in collect(submitted, lab.LAB)}
    assert found["ada"].data == good and found["ada"].flags == []
    for student in ("bob", "carol", "dan"):
        assert found[student].data is None and has(found[student].flags, "symlink-refused"), found[student]

    results, _ = grade(tiny, list(found.values()))
    assert results["ada"].score == 3
    for student in ("bob", "carol", "dan"):
        assert results[student].score == 0 and has(results[student].flags, "symlink-refused"), results[student]

    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "erin.ipynb").symlink_to(solution)
    (flat / "fay.ipynb").write_bytes(good)
    found = {i.student: i for i in collect(flat, lab.LAB)}
    assert found["erin"].data is None and found["erin"].flags == ["symlink-refused:erin.ipynb"]
    assert found["fay"].data == good

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        link = zipfile.ZipInfo(f"gus_1_2_{lab.LAB}.ipynb")
        link.external_attr = (0o120777 << 16)  # a symbolic link, as `zip --symlinks` stores it
        handle.writestr(link, str(solution))
        handle.writestr(f"hal_3_4_{lab.LAB}.ipynb", good)
    found = {i.student: i for i in collect(archive, lab.LAB)}
    assert found["gus"].data is None and has(found["gus"].flags, "symlink-refused"), found["gus"]
    assert found["hal"].data == good

    one = tmp_path / "one.ipynb"
    one.symlink_to(solution)
    score = pipeline.autograde(lab.LAB, one, "linker", grading_dir=tiny["grading"], course_dir=tiny["course"],
                               limits=LIMITS)
    assert score.score == 0
    assert has(pipeline.result_of(lab.LAB, "linker", tiny["grading"]).flags, "symlink-refused")


# --- 5. disk ----------------------------------------------------------------------------------------


def test_a_disk_fill_stays_in_the_quota_and_is_flagged(tiny):
    if sandbox.bwrap_problem() is not None:
        pytest.fail(f"this test needs bubblewrap: {sandbox.bwrap_problem()}")
    host = tiny["grading"]
    before = shutil.disk_usage(host).free
    lowest, stop = [before], threading.Event()

    def watch():
        while not stop.is_set():
            lowest[0] = min(lowest[0], shutil.disk_usage(host).free)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        results, _ = grade(tiny, [Incoming("filler", lab.answered(tiny["release"], GOOD, [(AFTER_IMPORTS, DISK_FILL)]),
                                           "holes")])
    finally:
        stop.set()
        watcher.join()
    result = results["filler"]
    assert result.score == 3 and has(result.flags, "disk-quota"), result.flags
    text = executed(tiny, "filler")
    assert "FILL STOPPED" in text and "OSError" in text, text
    stopped_at = int(text.split("FILL STOPPED")[1].split()[0])
    assert stopped_at <= LIMITS.disk >> 20, text
    assert before - lowest[0] < LIMITS.disk, f"the host lost {(before - lowest[0]) >> 20} MiB during the fill"


def test_without_bwrap_the_scratch_folder_is_checked(tiny, monkeypatch):
    monkeypatch.setenv(sandbox.SANDBOX_VARIABLE, "none")
    sandbox.bwrap_problem.cache_clear()
    try:
        limits = sandbox.Limits(cell_timeout=20, notebook_timeout=60, memory=1 << 30, disk=32 << 20)
        results, batch = grade(tiny, [Incoming("filler-unsandboxed", lab.answered(
            tiny["release"], GOOD, [(AFTER_IMPORTS, DISK_FILL)]), "holes")], limits)
    finally:
        sandbox.bwrap_problem.cache_clear()
    result = results["filler-unsandboxed"]
    assert "limits only" in batch.sandbox
    assert has(result.flags, "disk-quota") and "FILL STOPPED 32 MiB" in executed(tiny, "filler-unsandboxed"), \
        result.flags


# --- 6. every limit declared once -------------------------------------------------------------------


def test_limits_flags_are_built_from_the_declarations(capsys):
    from autograder.__main__ import main
    from course import selfcheck

    parser = argparse.ArgumentParser()
    sandbox.Limits.add_arguments(parser)
    limits = sandbox.Limits.from_arguments(parser.parse_args(["--memory", "2", "--disk", "0.5", "--processes", "99",
                                                              "--cell-timeout", "30", "--network"]))
    assert limits == sandbox.Limits(memory=2 << 30, disk=512 << 20, processes=99, cell_timeout=30.0, network=True)
    assert sandbox.Limits.from_arguments(parser.parse_args([])) == sandbox.Limits()
    with pytest.raises(ValueError, match="--memory must be positive"):
        sandbox.Limits.from_arguments(parser.parse_args(["--memory", "0"]))
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    text = capsys.readouterr().out
    for spec in dataclasses.fields(sandbox.Limits):
        assert "--" + spec.name.replace("_", "-") in text and spec.metadata["help"][:30] in " ".join(text.split())
    assert pipeline.load_config().ExecutePreprocessor.timeout == sandbox.Limits().cell_timeout == selfcheck.CELL_TIMEOUT
