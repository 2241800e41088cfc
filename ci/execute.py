"""Execute the course's notebooks headlessly with papermill and report time and status.

    python -m ci.execute [--full] [--out build/executed] [NOTEBOOK ...]

With no notebook given, runs every lecture (``lectures/*.ipynb``) and every solution notebook
(``solutions/<lab>/<lab>.ipynb``). Writes the executed copies and ``report.md``/``report.csv`` into
the output folder, prints the table, and exits 1 if any notebook failed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ci import env

ROOT = env.ROOT
EXECUTED = env.BUILD / "executed"  # where `make run` keeps the executed copies (the website shows the lectures')


@dataclass
class Execution:
    notebook: str
    seconds: float
    status: str  # "ok" or "failed"
    error: str = ""
    output: Path | None = None


def course_notebooks() -> list[Path]:
    lectures = sorted((ROOT / "lectures").glob("*.ipynb"))
    solutions = sorted(p for p in (ROOT / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)
    return lectures + solutions


def execute(notebook: Path, out_dir: Path, fast: bool = True, timeout: int = 1800) -> Execution:
    """Run one notebook with papermill (``FAST`` injected as a parameter) in its own folder."""
    import papermill

    notebook = Path(notebook).resolve()
    relative = notebook.relative_to(ROOT) if notebook.is_relative_to(ROOT) else Path(notebook.name)
    output = (out_dir / relative).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters={"FAST": fast},
            cwd=str(notebook.parent),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=timeout,
        )
    except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
        message = str(exc).strip().splitlines()
        return Execution(str(relative), time.perf_counter() - start, "failed", " | ".join(message[-3:]), output)
    return Execution(str(relative), time.perf_counter() - start, "ok", "", output)


def progress(results: list[Execution]) -> str:
    """One line after each notebook: its status and time, and the time so far."""
    last = results[-1]
    return f"  {last.status} in {last.seconds:.1f} s ({sum(r.seconds for r in results):.0f} s so far)"


def write_report(results: list[Execution], out_dir: Path, scores: dict[str, str] | None = None) -> str:
    """Write report.csv and report.md; return the table as text."""
    scores = scores or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "report.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["notebook", "seconds", "status", "score", "error"])
        for r in results:
            writer.writerow([r.notebook, f"{r.seconds:.1f}", r.status, scores.get(r.notebook, ""), r.error])
    width = max([len(r.notebook) for r in results] + [8])
    lines = [f"{'notebook':{width}s}  {'seconds':>8s}  {'status':7s}  score", "-" * (width + 30)]
    for r in results:
        lines.append(f"{r.notebook:{width}s}  {r.seconds:8.1f}  {r.status:7s}  {scores.get(r.notebook, '-')}")
    total = sum(r.seconds for r in results)
    lines.append("-" * (width + 30))
    lines.append(f"{'total':{width}s}  {total:8.1f}  {sum(r.status == 'ok' for r in results)}/{len(results)} ok")
    for r in results:
        if r.error:
            lines.append(f"  {r.notebook}: {r.error}")
    table = "\n".join(lines)
    (out_dir / "report.md").write_text("```\n" + table + "\n```\n")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--full", action="store_true", help="full mode (FAST=False): slow, reproduces the seeds")
    parser.add_argument("--out", type=Path, default=EXECUTED, help=f"folder of the executed copies (default {EXECUTED})")
    args = parser.parse_args(argv)
    env.prepare()
    results = []
    notebooks = args.notebooks or course_notebooks()
    for number, notebook in enumerate(notebooks, 1):
        print(f"[{number}/{len(notebooks)}] executing {notebook} ...", flush=True)
        results.append(execute(notebook, args.out, fast=not args.full))
        print(progress(results), flush=True)
    print(write_report(results, args.out))
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
