"""What a test cell is and how it scores: the one rule shared by the grader, its feedback and ``selfcheck``.

A *test cell* is an nbgrader-graded code cell that is not an answer (``grade: true``, ``solution:
false``); it is worth ``points``. A test passes when its code runs to the end without an exception;
like nbgrader, a number as the cell's last expression gives partial credit (clipped to the points).

Standard library only: this module ships to Colab with :mod:`course.selfcheck`.
"""

from __future__ import annotations

import ast
import numbers
import traceback


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def is_test(cell) -> bool:
    """An autograded test cell: a graded code cell that is not an answer."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_answer(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_written(cell) -> bool:
    """A written answer graded by hand (nbgrader's "manually graded answer"): graded and an answer."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and bool(meta.get("solution"))


def points(cell) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0)


def source(cell) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def to_python(text: str) -> str:
    """Cell source as plain Python (``%magics`` rewritten when IPython is there)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return text
    return TransformerManager().transform_cell(text)


def run(text: str, namespace: dict, name: str = "<test>") -> tuple[object, str]:
    """Run a cell's code in ``namespace``: ``(value of its last expression or None, error)``, where
    ``error`` is ``""`` when it ran to the end, else ``"Type: message"``."""
    try:
        tree = ast.parse(to_python(text), filename=name)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, name, "exec"), namespace)
        value = eval(compile(ast.Expression(last.value), name, "eval"), namespace) if last is not None else None
    except Exception as exc:  # noqa: BLE001 (a student's code may raise anything)
        return None, error_text(exc)
    return value, ""


def error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip() or type(exc).__name__


def score(maximum: float, error: str, value=None) -> tuple[float, str, str]:
    """``(points, status, message)`` of a test that ran: ``status`` is ``passed`` or ``failed``."""
    if error:
        return 0.0, "failed", error
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        partial = max(0.0, min(maximum, float(value)))
        return partial, "passed" if partial >= maximum else "failed", "partial credit"
    return maximum, "passed", ""
