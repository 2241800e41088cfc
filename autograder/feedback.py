"""HTML feedback for one student: every test's result and points, never a hidden test.

The feedback notebook is built from the executed one: test cells show only their released
(visible) source and a one-line verdict (the error type and message, no traceback, since a
traceback quotes the failing hidden line); other cells keep their outputs. Any line of a hidden
test that still appears anywhere (a submission could print the code of the cells it sees run) is
replaced by ``[hidden test line removed]`` before rendering, and the HTML is checked once more.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

from autograder import integrity

REDACTED = "[hidden test line removed]"
MARK = {"passed": "PASSED", "failed": "FAILED", "not-run": "NOT RUN"}


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


def notebook(executed, master, result) -> nbformat.NotebookNode:
    """The feedback notebook (no hidden test source, no test traceback)."""
    secrets = integrity.hidden_lines(master)
    tests = {t.grade_id: t for t in result.tests}
    rows = "\n".join(
        f"| `{t.grade_id}` | {t.points:g} / {t.max_points:g} | {MARK[t.status]} | {html.escape(t.message)[:200]} |"
        for t in result.tests)
    flags = ", ".join(f"`{f}`" for f in result.flags) or "none"
    summary = (f"# Feedback: {result.lab}, {result.student}\n\n**Score: {result.score:g} / {result.max_score:g}**"
               f"\n\n| test | points | result | message |\n|---|---|---|---|\n{rows}\n\nFlags: {flags}\n")
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
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=verdict + "\n")]
        for output in cell.get("outputs", []):
            _redact_output(output, secrets)
        cell.source = _redact(cell.source, secrets)
        nb.cells.append(cell)
    return nb


def write(executed, master, result, path: Path) -> Path:
    from nbconvert import HTMLExporter

    feedback = notebook(executed, master, result)
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
