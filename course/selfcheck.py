"""Self-check for students: run a lab's test cells again and see which exercises pass.

In the lab notebook, after running it (JupyterLab, Colab or plain Jupyter; nbgrader is not needed)::

    from course import selfcheck
    selfcheck.check()

It reads the notebook (the saved file in Jupyter, the open notebook on Colab, or ``notebook=``),
re-runs every test cell (the cells nbgrader grades, recognised by their metadata) in the notebook's
namespace, prints one line per test with its points, and raises :class:`SelfCheckFailed` when one
fails. Only the visible tests are in the student release: the hidden ones run when the lab is graded.

From a shell, on a saved notebook (exit status 1 when a test fails, unlike ``nbgrader validate``)::

    python -m course.selfcheck mnist-cnn.ipynb        # or: python -m autograder check mnist-cnn.ipynb

runs it top to bottom in a fresh kernel (fast mode, like the autograder, unless ``--full``) and
reports every test cell from the kernel's replies.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from course import testcells

# Seconds a cell may run: here, in nbgrader's config and as the default of the batch grader's
# autograder.sandbox.Limits.cell_timeout (which documents it). Labs train models: nbgrader's 30 s is too short.
CELL_TIMEOUT = 600.0


class SelfCheckFailed(AssertionError):
    """At least one test cell failed."""


@dataclass(frozen=True)
class Outcome:
    grade_id: str
    points: float
    error: str  # empty when the test passed

    @property
    def passed(self) -> bool:
        return not self.error


def _current_notebook() -> dict:
    """The notebook this kernel runs: from Colab's front end, or the file Jupyter started it for."""
    try:
        from google.colab import _message  # only on Colab
    except ImportError:
        pass
    else:
        return _message.blocking_request("get_ipynb", timeout_sec=30)["ipynb"]
    path = os.environ.get("JPY_SESSION_NAME")  # set by Jupyter Server 2 for each kernel it starts
    if path and Path(path).is_file():
        return json.loads(Path(path).read_text(encoding="utf-8"))
    raise FileNotFoundError("cannot tell which notebook this is: call selfcheck.check(notebook='path/to/lab.ipynb')")


def graded_cells(notebook: dict) -> list[tuple[str, float, str]]:
    """``(grade_id, points, source)`` of each autograded test cell, in notebook order."""
    return [(testcells.grade_id(cell) or "?", testcells.points(cell), testcells.source(cell))
            for cell in notebook.get("cells", []) if testcells.is_test(cell)]


def run_graded(notebook: dict, namespace: dict) -> list[Outcome]:
    """Run each test cell of ``notebook`` in ``namespace``; never stops at a failure."""
    results = []
    for grade_id, points, source in graded_cells(notebook):
        value, error = testcells.run(source, namespace, f"<test {grade_id}>")
        _, status, message = testcells.score(points, error, value)
        results.append(Outcome(grade_id, points, message if status != "passed" else ""))
    return results


def check(notebook: str | Path | None = None, namespace: dict | None = None) -> list[Outcome]:
    """Re-run the notebook's tests, print a summary, raise :class:`SelfCheckFailed` if one fails."""
    content = json.loads(Path(notebook).read_text(encoding="utf-8")) if notebook else _current_notebook()
    if namespace is None:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            raise RuntimeError("selfcheck.check() runs inside a notebook; elsewhere pass namespace=")
        namespace = shell.user_ns
    results = run_graded(content, namespace)
    if not results:
        raise ValueError("this notebook has no autograded test cells")
    print(summary(results))
    passed = [r for r in results if r.passed]
    if len(passed) < len(results):
        failed = ", ".join(r.grade_id for r in results if not r.passed)
        raise SelfCheckFailed(f"{len(results) - len(passed)} test(s) failed: {failed}")
    return results


def summary(results: list[Outcome]) -> str:
    width = max(len(r.grade_id) for r in results)
    lines = []
    for r in results:
        status = "ok    " if r.passed else "FAILED"
        line = f"{status}  {r.grade_id:{width}s}  {r.points:g} point{'s' if r.points != 1 else ''}"
        lines.append(line + (f"  {r.error.splitlines()[-1]}" if r.error else ""))
    passed = [r for r in results if r.passed]
    earned, total = sum(r.points for r in passed), sum(r.points for r in results)
    lines.append(f"{len(passed)} of {len(results)} tests pass: {earned:g} of {total:g} points from the tests you can see.")
    return "\n".join(lines)


def run_file(notebook: str | Path, fast: bool = True, timeout: float = CELL_TIMEOUT) -> tuple[list[Outcome], str]:
    """Execute a saved notebook in a fresh kernel, in its folder; return the outcome of each test cell
    (from the kernel's replies) and, if the run stopped early, why."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook not found: {notebook} (save it, then pass its path)")
    nb = nbformat.read(notebook, as_version=4)
    replies: dict[int, dict] = {}
    client = NotebookClient(
        nb, timeout=int(timeout), allow_errors=True, kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
        on_cell_executed=lambda cell, cell_index, execute_reply: replies.__setitem__(cell_index, execute_reply))
    problem = ""
    try:
        client.execute(env=dict(os.environ, COURSE_FAST="1" if fast else "0"))
    except DeadKernelError:
        problem = "the kernel died (out of memory, or the code exited the interpreter)"
    except Exception as exc:  # noqa: BLE001 (a timeout, or a kernel that cannot start)
        problem = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
    results = []
    for index, cell in enumerate(nb.cells):
        if not testcells.is_test(cell):
            continue
        reply = replies.get(index, {}).get("content")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if reply is None:
            error = "did not run"
        elif reply.get("status") != "ok" or errors:
            source = reply if reply.get("status") != "ok" else errors[0]
            error = f"{source.get('ename', 'Error')}: {source.get('evalue', '')}".strip().rstrip(":")
        else:
            error = ""
        results.append(Outcome(testcells.grade_id(cell) or "?", testcells.points(cell), error))
    return results, problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.selfcheck", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook")
    parser.add_argument("--full", action="store_true", help="full mode (default: fast mode, like the autograder)")
    parser.add_argument("--timeout", type=float, default=CELL_TIMEOUT, help=f"seconds per cell (default {CELL_TIMEOUT:g})")
    args = parser.parse_args(argv)
    try:
        results, problem = run_file(args.notebook, fast=not args.full, timeout=args.timeout)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if results:
        print(summary(results))
    else:
        print("no autograded test cells: is this a lab notebook?")
    if problem:
        print(f"the run stopped early: {problem}")
    return 0 if results and not problem and all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
