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
from ci.execute import Execution, course_notebooks, execute, write_report


def main() -> int:
    env.prepare()
    out = env.BUILD / "executed"
    grading = env.BUILD / "grading"
    shutil.rmtree(grading, ignore_errors=True)
    results: list[Execution] = []
    scores: dict[str, str] = {}
    for notebook in course_notebooks():
        print(f"executing {notebook.relative_to(env.ROOT)} ...", flush=True)
        results.append(execute(notebook, out))
        print(f"  {results[-1].status} in {results[-1].seconds:.1f} s", flush=True)
    for lab in pipeline.lab_names():
        print(f"releasing and autograding {lab} ...", flush=True)
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
    print(write_report(results, out, scores))
    pipeline.export_grades(out / "grades.csv", grading_dir=grading)
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
