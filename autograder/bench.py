"""``make bench``: grading throughput of our batch command against ``nbgrader autograde``.

Both grade the same ``n`` submissions (copies of the lab's reference solution, fast mode) in one
run on this machine, each in its own grading folder under ``build/bench/``: ours with ``workers``
parallel sandboxed workers, nbgrader with its CLI (one start-up, submissions one after another).
Both must give every submission full marks, so they did the same work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from autograder import pipeline
from ci import env


def _submissions(lab: str, n: int, folder: Path) -> Path:
    solution = (pipeline.SOLUTIONS / lab / f"{lab}.ipynb").read_bytes()
    for i in range(n):
        target = folder / f"student-{i:03d}" / lab / f"{lab}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(solution)
    return folder


def _nbgrader(lab: str, grading: Path) -> float:
    pipeline.release(lab, release_dir=grading / "release", grading_dir=grading)
    environment = dict(os.environ, COURSE_GRADING_DIR=str(grading))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", lab, "--force"], cwd=pipeline.ROOT,
                   env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run(lab: str = "mnist-cnn", n: int = 100, workers: int | None = None) -> str:
    env.prepare()
    root = env.BUILD / "bench" / lab
    shutil.rmtree(root, ignore_errors=True)
    ours_dir, theirs_dir = root / "batch", root / "nbgrader"
    submitted = _submissions(lab, n, theirs_dir / "submitted")

    pipeline.master_notebook(lab, ours_dir)  # release and master before the clock starts, as for nbgrader
    start = time.perf_counter()
    batch = pipeline.grade_batch(lab, submitted, grading_dir=ours_dir, workers=workers, feedback=False, force=True)
    ours = time.perf_counter() - start
    theirs = _nbgrader(lab, theirs_dir)

    with pipeline.gradebook(theirs_dir) as book:
        nbgrader_full = sum(abs(s.score - s.max_score) < 1e-9 for s in book.find_assignment(lab).submissions)
    ours_full = sum(abs(r.score - r.max_score) < 1e-9 for r in batch.results)
    rate_ours, rate_theirs = 60 * n / ours, 60 * n / theirs
    lines = [
        f"benchmark: {n} submissions of {lab} (fast mode), {os.cpu_count()} cores",
        f"  ours (batch, {batch.workers} workers, sandboxed): {ours:8.1f} s  {rate_ours:6.2f} submissions/minute  "
        f"full marks {ours_full}/{n}",
        f"  nbgrader autograde (CLI):          {theirs:8.1f} s  {rate_theirs:6.2f} submissions/minute  "
        f"full marks {nbgrader_full}/{n}",
        f"  ratio: {rate_ours / rate_theirs:.2f}x",
    ]
    report = "\n".join(lines)
    (root / "bench.txt").write_text(report + "\n")
    return report
