"""HTML feedback for one student: every test's result and points, never a hidden test.

The feedback notebook is built from the executed one: test cells show only their released
(visible) source and a one-line verdict (the error type and message, no traceback, since a
traceback quotes the failing hidden line); other cells keep their outputs. Any line of a hidden
test that still appears anywhere (a submission could print the code of the cells it sees run) is
replaced by ``[hidden test line removed]`` before rendering, and the HTML is checked once more.

Points and comments given by hand in nbgrader's formgrader (written answers, or an override of a
test's points) come from the gradebook (:func:`hand_grades`); they appear in the table, under
their cell and in the total. :func:`refresh` rewrites a lab's feedback after grading by hand.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import integrity

REDACTED = "[hidden test line removed]"
MARK = {"passed": "PASSED", "failed": "FAILED", "not-run": "NOT RUN"}


@dataclass
class HandGrade:
    """What the instructor gave a cell in formgrader."""

    grade_id: str
    points: float | None  # manual points; None: not given (a written answer not graded yet)
    max_points: float
    comment: str = ""
    needs_grading: bool = False  # a written answer not graded yet, or changed since it was graded
    extra_credit: float = 0.0


def hand_grades(book, lab: str, student: str, written: set[str] = frozenset()) -> dict[str, HandGrade]:
    """The gradebook's manual points and comments of one submission: every written answer (grade ids
    in ``written``) and every other cell given points or a comment by hand."""
    submission = book.find_submission(lab, student)
    found: dict[str, HandGrade] = {}
    for notebook in submission.notebooks:
        comments = {c.cell.name: (c.manual_comment or "").strip() for c in notebook.comments}
        for grade in notebook.grades:
            name = grade.cell.name
            if name in written or grade.manual_score is not None or grade.extra_credit or comments.get(name):
                found[name] = HandGrade(name, grade.manual_score, float(grade.max_score), comments.get(name, ""),
                                        bool(grade.needs_manual_grade) and name in written,
                                        float(grade.extra_credit or 0.0))
        for name, comment in comments.items():
            if comment and name not in found:
                found[name] = HandGrade(name, None, 0.0, comment)
    return found


def totals(result, hand: dict[str, HandGrade] | None = None) -> tuple[float, float]:
    """(score, max score): the tests' points (or the points given by hand instead) plus the written answers'."""
    hand = hand or {}
    tests = {t.grade_id for t in result.tests}
    score = sum(hand[t.grade_id].points if t.grade_id in hand and hand[t.grade_id].points is not None else t.points
                for t in result.tests)
    written = [h for h in hand.values() if h.grade_id not in tests and h.max_points]
    extra = sum(h.extra_credit for h in hand.values())
    return score + extra + sum(h.points or 0.0 for h in written), result.max_score + sum(h.max_points for h in written)


def _hand_line(grade: HandGrade) -> str:
    if grade.points is None:
        line = f"Not graded yet ({grade.max_points:g} points)."
    else:
        line = f"Graded by hand: {grade.points:g} / {grade.max_points:g} points."
        if grade.extra_credit:
            line = line[:-1] + f" + {grade.extra_credit:g} extra credit."
        if grade.needs_grading:
            line += " (The answer changed since; it will be graded again.)"
    return line + (f" Comment: {grade.comment}" if grade.comment else "")


class FeedbackLeak(RuntimeError):
    """A hidden line survived redaction: the feedback is not written."""


def _redact(text: str, secrets: set[str]) -> str:
    lines = text.split("\n")
    return "\n".join(REDACTED if any(s in line for s in secrets) else line for line in lines)


def _redact_output(output, secrets: set[str]):
    if output.get("output_type") == "stream":
        output["text"] = _redact(output.get("text", ""), secrets)
    elif output.get("output_type") == "error":
        output["traceback"] = [_redact(line, secrets) for line in output.get("traceback", [])]
        output["evalue"] = _redact(output.get("evalue", ""), secrets)
    else:
        for mime, value in list(output.get("data", {}).items()):
            if isinstance(value, str) and mime.startswith(("text/", "application/json")):
                output["data"][mime] = _redact(value, secrets)
    return output


def _cell(text: str, limit: int = 200) -> str:
    """Text for one cell of a Markdown table: escaped, on one line, no column separator."""
    return html.escape(" ".join(text.split()))[:limit].replace("|", "&#124;")


def notebook(executed, master, result, hand: dict[str, HandGrade] | None = None) -> nbformat.NotebookNode:
    """The feedback notebook (no hidden test source, no test traceback), with ``hand`` grades and comments
    (without them, the written answers are shown as not graded yet)."""
    if hand is None:
        hand = {integrity.grade_id(c): HandGrade(integrity.grade_id(c), None, integrity.points(c), needs_grading=True)
                for c in master.cells if integrity.is_written(c)}
    secrets = integrity.hidden_lines(master)
    tests = {t.grade_id: t for t in result.tests}
    rows = []
    for t in result.tests:
        by_hand = hand.get(t.grade_id)
        points = by_hand.points if by_hand and by_hand.points is not None else t.points
        note = f" (by hand: {_cell(by_hand.comment)})" if by_hand and by_hand.comment else ""
        rows.append(f"| `{t.grade_id}` | {points:g} / {t.max_points:g} | {MARK[t.status]} | "
                    f"{html.escape(t.message)[:200]}{note} |")
    for h in hand.values():
        if h.grade_id not in tests and h.max_points:
            shown = "-" if h.points is None else f"{h.points:g}"
            rows.append(f"| `{h.grade_id}` (written) | {shown} / {h.max_points:g} | "
                        f"{'NOT GRADED YET' if h.points is None else 'GRADED BY HAND'} | {_cell(h.comment)} |")
    rows = "\n".join(rows)
    score, maximum = totals(result, hand)
    flags = ", ".join(f"`{f}`" for f in result.flags) or "none"
    summary = (f"# Feedback: {result.lab}, {result.student}\n\n**Score: {score:g} / {maximum:g}**"
               f"\n\n| item | points | result | message |\n|---|---|---|---|\n{rows}\n\nFlags: {flags}\n")
    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
    nb.cells.append(nbformat.v4.new_markdown_cell(_redact(summary, secrets)))
    for cell in executed.cells:
        cell = nbformat.from_dict(dict(cell))
        cid = integrity.grade_id(cell)
        if integrity.is_test(cell):
            test = tests.get(cid)
            cell.source = integrity.visible_source(cell.source)
            verdict = (f"{MARK[test.status]}: {test.points:g} / {test.max_points:g} points"
                       + (f"\n{test.message}" if test.message else "")) if test else "not graded"
            if cid in hand and hand[cid].comment:
                verdict += f"\nComment: {hand[cid].comment}"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=verdict + "\n")]
        for output in cell.get("outputs", []):
            _redact_output(output, secrets)
        cell.source = _redact(cell.source, secrets)
        nb.cells.append(cell)
        if cid in hand and not integrity.is_test(cell):
            nb.cells.append(nbformat.v4.new_markdown_cell(_redact(f"> **{html.escape(_hand_line(hand[cid]))}**",
                                                                  secrets)))
    return nb


def write(executed, master, result, path: Path, hand: dict[str, HandGrade] | None = None) -> Path:
    from nbconvert import HTMLExporter

    feedback = notebook(executed, master, result, hand)
    for attempt in ("full", "summary only"):
        body, _ = HTMLExporter(template_name="classic").from_notebook_node(feedback)
        visible = html.unescape(re.sub(r"<[^>]+>", "", body))
        leaked = [s for s in integrity.hidden_lines(master) if s in visible]
        if not leaked:
            break
        feedback.cells = feedback.cells[:1]  # a redaction gap: keep only the table of results
    else:
        raise FeedbackLeak(f"hidden test lines in the feedback of {result.student}: {leaked[:3]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def refresh(lab: str, grading_dir=None, db_url: str | None = None, hand_graded_only: bool = False,
            context=None) -> list[Path]:
    """Rewrite the feedback of every graded submission of ``lab`` with the gradebook's hand grades
    (``hand_graded_only``: only where the instructor gave points or comments)."""
    from autograder import pipeline

    context = pipeline.Context.of(grading_dir, None, db_url, context)
    grading = context.grading_dir
    master_path = grading / "master" / lab / f"{lab}.ipynb"
    if not master_path.is_file():
        raise pipeline.GradingError(f"{lab} has not been graded in {grading}: run the batch grader first")
    master = nbformat.read(master_path, as_version=4)
    written = {integrity.grade_id(c) for c in master.cells if integrity.is_written(c)}
    written_paths = []
    with context.gradebook() as book:
        students = sorted(s.student_id for s in book.find_assignment(lab).submissions)
        for student in students:
            executed = grading / "autograded" / student / lab / f"{lab}.ipynb"
            if not executed.is_file() or not (grading / "results" / lab / f"{student}.json").is_file():
                continue  # recorded by another tool (e.g. nbgrader autograde), not by the batch grader
            hand = hand_grades(book, lab, student, written)
            if hand_graded_only and not any(h.points is not None or h.comment for h in hand.values()):
                continue
            result = pipeline.result_of(lab, student, context=context)
            path = grading / "feedback" / student / lab / f"{lab}.html"
            written_paths.append(write(nbformat.read(executed, as_version=4), master, result, path, hand))
    return written_paths
