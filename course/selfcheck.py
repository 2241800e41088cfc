"""Self-check for students: run a lab's test cells again and see which exercises pass.

In the lab notebook, after running it (JupyterLab, Colab or plain Jupyter; nbgrader is not needed)::

    from course import selfcheck
    selfcheck.check()

It reads the notebook (the saved file in Jupyter, the open notebook on Colab, or ``notebook=``),
re-runs every test cell (the cells nbgrader grades, recognised by their metadata) in the notebook's
namespace, prints one line per test with its points, and raises :class:`SelfCheckFailed` when one
fails. Only the visible tests are in the student release: the hidden ones run when the lab is graded.
"""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import dataclass
from pathlib import Path


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


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def graded_cells(notebook: dict) -> list[tuple[str, float, str]]:
    """``(grade_id, points, source)`` of each autograded test cell, in notebook order."""
    tests = []
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("grade"):
            tests.append((meta.get("grade_id", "?"), float(meta.get("points", 0)), _source(cell)))
    return tests


def run_graded(notebook: dict, namespace: dict) -> list[Outcome]:
    """Run each test cell of ``notebook`` in ``namespace``; never stops at a failure."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        to_python = TransformerManager().transform_cell  # test cells may use %magics
    except ImportError:
        def to_python(source):
            return source
    results = []
    for grade_id, points, source in graded_cells(notebook):
        try:
            exec(compile(to_python(source), f"<test {grade_id}>", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 (a student's code may raise anything)
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            results.append(Outcome(grade_id, points, error or type(exc).__name__))
        else:
            results.append(Outcome(grade_id, points, ""))
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
    width = max(len(r.grade_id) for r in results)
    for r in results:
        status = "ok    " if r.passed else "FAILED"
        line = f"{status}  {r.grade_id:{width}s}  {r.points:g} point{'s' if r.points != 1 else ''}"
        print(line + (f"  {r.error.splitlines()[-1]}" if r.error else ""))
    passed = [r for r in results if r.passed]
    earned, total = sum(r.points for r in passed), sum(r.points for r in results)
    print(f"{len(passed)} of {len(results)} tests pass: {earned:g} of {total:g} points from the tests you can see.")
    if len(passed) < len(results):
        failed = ", ".join(r.grade_id for r in results if not r.passed)
        raise SelfCheckFailed(f"{len(results) - len(passed)} test(s) failed: {failed}")
    return results
