"""Grade files from the gradebook: a plain CSV, or the file an LMS imports.

    python -m autograder export [OUT] [--format csv|canvas|moodle] [--roster FILE] [--lab LAB ...]

Every total is the gradebook's score: the automatic points of the tests plus the points given by
hand in formgrader (written answers, overrides).

* ``csv``: one row per graded submission: student, lab, score, max_score, auto_score,
  manual_score, needs_manual_grade, flagged.
* ``canvas``: Canvas's gradebook CSV, the layout Canvas exports and accepts back (Grades > Import):
  ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per lab, and under the header
  the ``Points Possible`` row that Canvas's own export has. The roster is Canvas's gradebook export
  (Grades > Export); a lab whose assignment is already a column there (``mnist-cnn (12345)``) keeps
  that header so the import updates it, any other lab becomes a new assignment.
* ``moodle``: Moodle's grade import CSV (Grades > Import > CSV file): an ``Email address`` column
  (map it to the user's email when importing), then one column per lab (map each to its grade
  item). The roster is the assignment's grading worksheet (``Identifier`` = ``Participant <id>``,
  ``Full name``, ``Email address``, ...).

Students are matched to the roster by the LMS id kept when their submission came in an LMS zip
(Canvas's user id, Moodle's participant id), else by their student id being the roster's SIS login
or user id (Canvas) or email address or its local part (Moodle). Roster students without a graded
submission stay in the file with blank grades; graded students missing from the roster cannot be
written to it: both lists are returned (and printed by the command), never dropped silently.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("csv", "canvas", "moodle")
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_POSSIBLE = "Points Possible"
MOODLE_IDENTIFIER, MOODLE_EMAIL = "Identifier", "Email address"
MOODLE_PARTICIPANT = re.compile(r"^\s*Participant\s+(?P<id>\d+)\s*$", re.IGNORECASE)


class ExportError(ValueError):
    """The roster or the request cannot make a grade file; the message says why."""


@dataclass
class Grade:
    student: str
    lab: str
    score: float  # auto + manual
    max_score: float
    auto_score: float
    manual_score: float  # points given by hand, extra credit included
    needs_manual_grade: int  # cells still to grade by hand
    flagged: bool


@dataclass
class RosterEntry:
    row: dict  # the roster's own row, as read
    lms_id: str  # Canvas user ID / Moodle participant id
    aliases: set[str]  # other names a student id may match: SIS login/user id, email, email local part


@dataclass
class Export:
    path: Path
    rows: int
    not_in_roster: list[str] = field(default_factory=list)  # graded students the LMS file cannot hold
    without_grade: list[str] = field(default_factory=list)  # roster students with no graded submission
    needs_manual_grade: list[str] = field(default_factory=list)  # "student lab": written answers to grade


def grades(grading_dir=None, db_url: str | None = None, labs: list[str] | None = None, context=None):
    """(max score per lab, {student: {lab: Grade}}, {student: LMS id}) from the gradebook."""
    from autograder import pipeline

    maxima: dict[str, float] = {}
    found: dict[str, dict[str, Grade]] = {}
    with pipeline.Context.of(grading_dir, None, db_url, context).gradebook() as book:
        names = [a.name for a in book.assignments]
        unknown = [lab for lab in labs or [] if lab not in names]
        if unknown:
            raise ExportError(f"no grades for {', '.join(unknown)} in the gradebook (labs graded: {', '.join(names)})")
        lms_ids = {s.id: s.lms_user_id for s in book.students if s.lms_user_id}
        for assignment in book.assignments:
            if labs and assignment.name not in labs:
                continue
            maxima[assignment.name] = float(assignment.max_score)
            for submission in assignment.submissions:
                cells = [g for nb in submission.notebooks for g in nb.grades]
                manual = sum(g.manual_score for g in cells if g.manual_score is not None) + sum(
                    g.extra_credit or 0.0 for g in cells)  # formgrader's extra credit is given by hand too
                auto = sum(g.auto_score or 0.0 for g in cells if g.manual_score is None)
                found.setdefault(submission.student_id, {})[assignment.name] = Grade(
                    submission.student_id, assignment.name, float(submission.score), float(submission.max_score),
                    float(auto), float(manual), sum(bool(g.needs_manual_grade) for g in cells),
                    any(nb.flagged for nb in submission.notebooks))
    return maxima, found, lms_ids


def _read(path: Path) -> tuple[list[str], list[dict]]:
    if not Path(path).is_file():
        raise ExportError(f"roster not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as handle:  # LMS exports may start with a BOM
        reader = csv.DictReader(handle)
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
        return [h.strip() for h in reader.fieldnames or []], rows


def _require(header: list[str], needed: list[str], path: Path, what: str) -> None:
    missing = [h for h in needed if h not in header]
    if missing:
        raise ExportError(f"{path} is not {what}: no column {', '.join(repr(m) for m in missing)} "
                          f"(columns: {', '.join(header)})")


def canvas_roster(path: Path) -> tuple[list[str], list[RosterEntry]]:
    """Canvas's gradebook export: (its header, one entry per student; the Points Possible row skipped)."""
    header, rows = _read(path)
    _require(header, ["Student", "ID"], path, "a Canvas gradebook export")
    entries = []
    for row in rows:
        if row.get("Student") == CANVAS_POINTS_POSSIBLE or not row.get("ID"):
            continue  # the points row, and the "read only" marker rows of some exports
        aliases = {row.get("SIS Login ID", ""), row.get("SIS User ID", "")} - {""}
        entries.append(RosterEntry(row, row["ID"], aliases))
    return header, entries


def moodle_roster(path: Path) -> tuple[list[str], list[RosterEntry]]:
    """Moodle's grading worksheet: one entry per participant."""
    header, rows = _read(path)
    _require(header, [MOODLE_IDENTIFIER, MOODLE_EMAIL], path, "a Moodle grading worksheet")
    entries = []
    for line, row in enumerate(rows, start=2):
        match = MOODLE_PARTICIPANT.match(row[MOODLE_IDENTIFIER])
        if not match:
            raise ExportError(f"{path} line {line}: Identifier {row[MOODLE_IDENTIFIER]!r} is not 'Participant <id>'")
        email = row[MOODLE_EMAIL]
        entries.append(RosterEntry(row, match["id"], {email, email.split("@")[0]} - {""}))
    return header, entries


def match(entries: list[RosterEntry], students, lms_ids: dict[str, str]) -> dict[int, str]:
    """roster index -> student id: by LMS id first, then by alias (case-insensitive)."""
    by_lms = {e.lms_id: i for i, e in enumerate(entries)}
    by_alias = {a.lower(): i for i, e in enumerate(entries) for a in e.aliases}
    matched: dict[int, str] = {}
    for student in sorted(students):
        index = by_lms.get(lms_ids.get(student, ""))
        if index is None:
            index = by_alias.get(student.lower())
        if index is not None and index not in matched:
            matched[index] = student
    return matched


def _points(value: float) -> str:
    return f"{round(value, 4):g}"


def write(out: str | Path, fmt: str = "csv", roster: str | Path | None = None, labs: list[str] | None = None,
          grading_dir=None, db_url: str | None = None, context=None) -> Export:
    """Write the grade file ``out`` in format ``fmt`` (see the module's docstring)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "csv" and roster:
        raise ExportError("--roster is for the canvas and moodle formats; csv lists every graded submission")
    if fmt != "csv" and not roster:
        raise ExportError(f"the {fmt} format needs --roster: "
                          + ("Canvas's gradebook export (Grades > Export)" if fmt == "canvas"
                             else "Moodle's grading worksheet of the assignment (Download grading worksheet)"))
    maxima, found, lms_ids = grades(grading_dir, db_url, labs, context)
    order = sorted(maxima)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pending = [f"{g.student} {g.lab}" for by_lab in found.values() for g in by_lab.values() if g.needs_manual_grade]
    if fmt == "csv":
        with open(out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["student", "lab", "score", "max_score", "auto_score", "manual_score",
                             "needs_manual_grade", "flagged"])
            rows = [found[s][lab] for lab in order for s in sorted(found) if lab in found[s]]
            for g in rows:
                writer.writerow([g.student, g.lab, _points(g.score), _points(g.max_score), _points(g.auto_score),
                                 _points(g.manual_score), g.needs_manual_grade, int(g.flagged)])
        return Export(out, len(rows), needs_manual_grade=sorted(pending))

    header, entries = canvas_roster(Path(roster)) if fmt == "canvas" else moodle_roster(Path(roster))
    matched = match(entries, found, lms_ids)
    if fmt == "canvas":
        columns = {lab: next((h for h in header if re.fullmatch(rf"{re.escape(lab)} \(\d+\)", h)), lab) for lab in order}
        identity = CANVAS_IDENTITY
        first = [CANVAS_POINTS_POSSIBLE] + [""] * (len(identity) - 1) + [_points(maxima[lab]) for lab in order]
    else:
        columns, identity, first = {lab: lab for lab in order}, [MOODLE_EMAIL], None
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(identity + [columns[lab] for lab in order])
        if first:
            writer.writerow(first)
        for index, entry in enumerate(entries):
            by_lab = found.get(matched.get(index, ""), {})
            writer.writerow([entry.row.get(h, "") for h in identity]
                            + [_points(by_lab[lab].score) if lab in by_lab else "" for lab in order])
    names = {i: entries[i].row.get("Student") or entries[i].row.get("Full name") or entries[i].lms_id
             for i in range(len(entries))}
    return Export(out, len(entries),
                  not_in_roster=sorted(set(found) - set(matched.values())),
                  without_grade=[f"{names[i]} ({entries[i].lms_id})" for i in range(len(entries)) if i not in matched],
                  needs_manual_grade=sorted(pending))


def describe(result: Export) -> str:
    """What the command prints: the file and every student it could not place."""
    lines = [f"wrote {result.path} ({result.rows} rows)"]
    if result.not_in_roster:
        lines.append(f"NOT IN THE ROSTER, not in the file ({len(result.not_in_roster)}): "
                     + ", ".join(result.not_in_roster))
    if result.without_grade:
        lines.append(f"in the roster without a graded submission, left blank ({len(result.without_grade)}): "
                     + ", ".join(result.without_grade))
    if result.needs_manual_grade:
        lines.append(f"written answers still to grade in formgrader ({len(result.needs_manual_grade)}): "
                     + ", ".join(result.needs_manual_grade))
    return "\n".join(lines)
