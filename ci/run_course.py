"""``make run``: execute the whole course headlessly in fast mode and print one table.

1. every lecture and solution notebook through papermill into ``build/executed/``;
2. the student release regenerated into ``labs/``;
3. each lab's reference solution and untouched release autograded in a scratch gradebook
   (``build/grading/``), so the table shows the score each one gets.
"""

from __future__ import annotations

import shutil
import time
import sys

from autograder import pipeline
from ci import env
from ci.execute import EXECUTED, Execution, course_notebooks, execute, progress, write_report


def main() -> int:
    env.prepare()
    out = EXECUTED
    grading = env.BUILD / "grading"
    shutil.rmtree(grading, ignore_errors=True)
    results: list[Execution] = []
    scores: dict[str, str] = {}
    notebooks, labs = course_notebooks(), pipeline.lab_names()
    for number, notebook in enumerate(notebooks, 1):
        print(f"[{number}/{len(notebooks)}] executing {notebook.relative_to(env.ROOT)} ...", flush=True)
        results.append(execute(notebook, out))
        print(progress(results), flush=True)
    for number, lab in enumerate(labs, 1):
        print(f"[{number}/{len(labs)}] releasing and autograding {lab} ...", flush=True)
        pipeline.release(lab, grading_dir=grading)
        for who, notebook in [
            ("reference-solution", pipeline.SOLUTIONS / lab / f"{lab}.ipynb"),
            ("untouched-release", pipeline.LABS / lab / f"{lab}.ipynb"),
        ]:
            name = f"{notebook.relative_to(env.ROOT)} (autograded)"
            start = time.perf_counter()
            try:
                score = pipeline.autograde(lab, notebook, who, grading_dir=grading, feedback=True)
                status, scores[name] = "ok", f"{score.score:g}/{score.max_score:g}"
                error = ""
            except pipeline.GradingError as exc:
                status, error = "failed", str(exc).splitlines()[0]
            results.append(Execution(name, time.perf_counter() - start, status, error))
            print(progress(results), flush=True)
    print(write_report(results, out, scores))
    pipeline.export_grades(out / "grades.csv", grading_dir=grading)
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
