"""Grading throughput: issue 9's batch grader against plain ``nbgrader autograde``, side by side.

All grade the same copies of a lab's reference solution, in fast mode (as autograding runs), one
method after the other in the same run, each lab released into its gradebook before the clock
starts and no feedback written: submissions per minute, how many got full marks (all must grade
all of them fully, or they did not do the same work), and the ratio.

The batch grader is :func:`autograder.pipeline.grade_batch` (issue 9), with its process pool and
with a local Dask cluster (:mod:`autograder.executors`, issue 19).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import report
from benchmarks.options import SMOKE_NOTEBOOK, Options
from ci import env

NAME = "grading"
TITLE = "Grading throughput"
INTRO = """
Copies of a lab's reference solution graded in fast mode, three times over the same folder in one run:
by `nbgrader autograde` (the CLI, one submission after another), by the course's batch grader
(`autograder.pipeline.grade_batch`, issue 9: parallel workers, sandboxed kernels) with its local
process pool, and by the same batch grader through a Dask cluster started on this machine (issue 19:
as many one-thread worker processes as the pool's workers, each submission sent as bytes and its
results sent back), which measures what the cluster executor costs on top of the grading.
"""
SMOKE_LAB = "smoke"


def items(options: Options) -> list[str]:
    from autograder import pipeline

    labs = [SMOKE_LAB] if options.smoke else pipeline.lab_names()
    unknown = sorted(set(options.lab_submissions) - set(labs))
    if unknown:
        raise SystemExit(f"--submissions {unknown[0]}=N: no such lab (labs: {', '.join(labs)})")
    return labs


def measure(selected: list[str], options: Options):
    for lab in selected:
        yield lab, {"rows": _side_by_side(lab, options)}


def _side_by_side(lab: str, options: Options) -> list[dict]:
    work = options.work_dir / "grading" / lab
    shutil.rmtree(work, ignore_errors=True)
    course = _course_with(lab, work / "course", options)
    students = [f"student{i:03d}" for i in range(options.submissions_of(lab))]
    solution = course / "solutions" / lab / f"{lab}.ipynb"
    # One folder of submissions in nbgrader's submitted/<student>/<lab>/<lab>.ipynb layout, graded by both.
    plain = work / "plain"
    submitted = plain / "submitted"
    for student in students:
        target = submitted / student / lab / f"{lab}.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copyfile(solution, target)
    rows = []

    # Plain nbgrader: generate_assignment records the lab in the gradebook (untimed), then autograde
    # grades the submitted folder one submission after another.
    _nbgrader("generate_assignment", lab, course, plain)
    print(f"[grading] {lab}: nbgrader autograde, {len(students)} submissions ...", flush=True)
    start = time.perf_counter()
    _nbgrader("autograde", lab, course, plain)
    rows.append(_row("nbgrader autograde", len(students), time.perf_counter() - start, workers=1,
                     full_marks=_nbgrader_full_marks(lab, plain)))

    # The batch grader on the same folder, the lab also released untimed, without feedback (nbgrader
    # autograde writes none).
    from autograder import pipeline

    batch_dir = work / "batch"
    pipeline.release(lab, release_dir=batch_dir / "release", grading_dir=batch_dir, course_dir=course)
    print(f"[grading] {lab}: batch grader, {len(students)} submissions ...", flush=True)
    start = time.perf_counter()
    batch = pipeline.grade_batch(lab, submitted, grading_dir=batch_dir, course_dir=course, feedback=False, force=True,
                                 progress=False)
    rows.append(_row("batch grader", len(students), time.perf_counter() - start, workers=batch.workers,
                     full_marks=sum(abs(r.score - r.max_score) < 1e-9 for r in batch.results)))
    rows.append({"name": "ratio (batch / nbgrader)",
                 "ratio": rows[1]["submissions_per_minute"] / rows[0]["submissions_per_minute"]})

    if not options.grading_dask:
        return rows
    # The batch grader again, through a Dask cluster on this machine (issue 19): as many one-thread
    # worker processes as the pool had workers, started untimed; every submission travels as bytes.
    from distributed import LocalCluster

    dask_dir = work / "dask"
    pipeline.release(lab, release_dir=dask_dir / "release", grading_dir=dask_dir, course_dir=course)
    with LocalCluster(n_workers=batch.workers, threads_per_worker=1, dashboard_address=None,
                      local_directory=str(work / "dask-space")) as cluster:
        print(f"[grading] {lab}: batch grader on a local Dask cluster, {len(students)} submissions ...", flush=True)
        start = time.perf_counter()
        remote = pipeline.grade_batch(lab, submitted, grading_dir=dask_dir, course_dir=course, feedback=False,
                                      force=True, progress=False, scheduler=cluster.scheduler_address)
        rows.append(_row("batch grader on a local Dask cluster", len(students), time.perf_counter() - start,
                         workers=remote.workers,
                         full_marks=sum(abs(r.score - r.max_score) < 1e-9 for r in remote.results)))
    rows.append({"name": "ratio (Dask cluster / process pool)",
                 "ratio": rows[3]["submissions_per_minute"] / rows[1]["submissions_per_minute"]})
    return rows


def _course_with(lab: str, course: Path, options: Options) -> Path:
    """A scratch course folder holding only this lab, so that nbgrader's release never touches labs/
    (the smoke notebook is a one-exercise lab)."""
    target = course / "solutions" / lab
    if options.smoke:
        target.mkdir(parents=True)
        shutil.copyfile(SMOKE_NOTEBOOK, target / f"{lab}.ipynb")
    else:
        shutil.copytree(env.ROOT / "solutions" / lab, target)
    return course


def _nbgrader(command: str, lab: str, course: Path, grading: Path) -> None:
    """The nbgrader CLI with the course's configuration, on a scratch course and grading folder."""
    # nbgrader runs `alembic` from PATH when it creates a gradebook.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    environment = {**os.environ, "COURSE_GRADING_DIR": str(grading), "PATH": path}
    args = [sys.executable, "-m", "nbgrader", command, lab, "--force", f"--CourseDirectory.root={course}"]
    done = subprocess.run(args, cwd=env.ROOT, env=environment, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"nbgrader {command} {lab} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def _nbgrader_full_marks(lab: str, grading: Path) -> int:
    """Submissions with every autograded point (written answers, graded by hand, count for neither method)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{grading / 'gradebook.db'}") as book:
        return sum(abs(s.code_score - s.max_code_score) < 1e-9 for s in book.find_assignment(lab).submissions)


def _row(name: str, submissions: int, seconds: float, **extra) -> dict:
    return {"name": name, "submissions": submissions, "seconds": round(seconds, 1),
            "submissions_per_minute": 60 * submissions / seconds, **extra}


def markdown(entries: dict) -> str:
    rows = []
    for lab, entry in entries.items():
        for row in entry["rows"]:
            if "ratio" in row:
                rows.append([lab, row["name"], "", "", "", "", f"**{row['ratio']:.2f}x**", entry["run"]])
            else:
                rows.append([lab, row["name"], row["submissions"], row.get("workers", ""), f"{row['seconds']:.0f}",
                             report.number(row["submissions_per_minute"], 3), row.get("full_marks", ""), entry["run"]])
    header = ["lab", "method", "submissions", "workers", "seconds", "submissions/min", "full marks / result", "run"]
    warnings = [f"- **{lab}, {row['name']}: only {row['full_marks']} of {row['submissions']} copies of the reference "
                "solution got full marks**: the two methods did not do the same work; the ratio is not comparable."
                for lab, entry in entries.items() for row in entry["rows"]
                if "full_marks" in row and row["full_marks"] != row["submissions"]]
    table = report.table(header, rows, {"submissions", "workers", "seconds", "submissions/min"})
    return "\n\n".join([table, "\n".join(warnings)]) if warnings else table


def plot(entries: dict, path: Path) -> bool:
    measured = [(lab, r) for lab, e in entries.items() for r in e["rows"] if "submissions_per_minute" in r]
    if not measured:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.5 * len(measured) + 1.2))
    ax.barh([f"{lab}: {r['name']}" for lab, r in measured], [r["submissions_per_minute"] for _, r in measured])
    ax.invert_yaxis()
    ax.set_xlabel("submissions per minute")
    ax.set_title("Grading throughput (fast mode)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
