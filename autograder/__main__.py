"""Command line of the grading pipeline.

    python -m autograder release [LAB ...]                  regenerate labs/ from solutions/
    python -m autograder batch LAB SUBMISSIONS [options]    grade a folder or zip of submissions in parallel
    python -m autograder grade LAB NOTEBOOK --student ID     autograde one notebook, print its score
    python -m autograder check NOTEBOOK                      student self-check: exit 1 if a test fails
    python -m autograder export [OUT] --format canvas|moodle|csv [--roster FILE]   grades for an LMS
    python -m autograder feedback LAB                        rewrite feedback with the points given by hand

SUBMISSIONS is nbgrader's submitted/<student>/<lab>/ folder, a folder of <student>.ipynb files or an
LMS zip export. The gradebook is grading/gradebook.db unless COURSE_GRADEBOOK_URL (or --db) names
another SQLAlchemy URL (e.g. postgresql://grader@localhost/course).
"""

from __future__ import annotations

import argparse
import sys

from autograder import export, pipeline
from autograder.sandbox import Limits
from course.selfcheck import CELL_TIMEOUT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="regenerate the student release in labs/")
    release.add_argument("labs", nargs="*", help="default: every lab in solutions/")

    batch = commands.add_parser("batch", help="grade every submission of a lab in parallel")
    batch.add_argument("lab")
    batch.add_argument("submissions", help="a submitted/ folder, a folder of <student>.ipynb, or a zip")
    batch.add_argument("--workers", type=int, default=None, help="parallel gradings (default: one per core)")
    limits = batch.add_argument_group("limits per submission (autograder.sandbox.Limits)")
    Limits.add_arguments(limits)
    batch.add_argument("--force", action="store_true", help="regrade submissions graded before")
    batch.add_argument("--no-feedback", action="store_true", help="skip the HTML feedback")
    batch.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: COURSE_GRADEBOOK_URL or SQLite)")
    batch.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="grade on the Dask cluster of this scheduler, e.g. tcp://head:8786 (default: "
                            "COURSE_DASK_SCHEDULER, else this machine's process pool; README: Grading on a cluster)")

    grade = commands.add_parser("grade", help="autograde one notebook")
    grade.add_argument("lab")
    grade.add_argument("notebook")
    grade.add_argument("--student", required=True)
    grade.add_argument("--feedback", action="store_true", help="also write HTML feedback")
    Limits.add_arguments(grade.add_argument_group("limits (autograder.sandbox.Limits)"))

    check = commands.add_parser("check", help="run a notebook and its visible tests; exit 1 if any fails")
    check.add_argument("notebook")
    check.add_argument("--full", action="store_true", help="full mode (default: fast mode, like the autograder)")
    check.add_argument("--timeout", type=float, default=CELL_TIMEOUT, help=f"seconds per cell (default {CELL_TIMEOUT:g})")

    exporting = commands.add_parser("export", help="write grades (automatic + by hand) to a CSV or an LMS import file")
    exporting.add_argument("csv", nargs="?", default=None,
                           help="output file (default: grading/grades.csv, grading/canvas.csv or grading/moodle.csv)")
    exporting.add_argument("--format", default="csv", choices=list(export.FORMATS),
                           help="csv: every graded submission; canvas: Canvas's gradebook import CSV; "
                                "moodle: Moodle's grade import CSV (default: csv)")
    exporting.add_argument("--roster", default=None,
                           help="the LMS's students: Canvas's gradebook export or Moodle's grading worksheet")
    exporting.add_argument("--lab", action="append", default=None, help="only this lab (repeatable; default: all)")

    refresh = commands.add_parser("feedback", help="rewrite a lab's HTML feedback with the points and comments "
                                                   "given by hand in formgrader")
    refresh.add_argument("lab")

    args = parser.parse_args(argv)

    try:
        context = pipeline.Context.of(db_url=getattr(args, "db", None))  # the folders and gradebook, resolved once
        if args.command == "release":
            for lab in args.labs or context.labs():
                print(f"released {pipeline.release(lab, context=context).relative_to(pipeline.ROOT)}")
        elif args.command == "batch":
            from autograder import report

            result = pipeline.grade_batch(args.lab, args.submissions, workers=args.workers,
                                          limits=Limits.from_arguments(args),
                                          feedback=not args.no_feedback, force=args.force,
                                          scheduler=args.scheduler, context=context)
            print(report.table(result.results))
            print(report.summary(result.results, result.seconds, result.workers, result.sandbox, result.graded))
            print(f"wrote {result.csv}, {result.report}, {result.histogram}")
        elif args.command == "grade":
            score = pipeline.autograde(args.lab, args.notebook, args.student, feedback=args.feedback,
                                       limits=Limits.from_arguments(args), context=context)
            flags = pipeline.result_of(args.lab, args.student, context=context).flags
            print(f"{score.student} {score.lab}: {score.score:g}/{score.max_score:g}"
                  + (f"  flags: {', '.join(flags)}" if flags else ""))
        elif args.command == "check":
            from course import selfcheck

            return selfcheck.main([args.notebook, "--timeout", str(args.timeout)] + (["--full"] if args.full else []))
        elif args.command == "export":
            out = args.csv or context.grading_dir / ("grades.csv" if args.format == "csv" else f"{args.format}.csv")
            print(export.describe(export.write(out, args.format, args.roster, args.lab, context=context)))
        elif args.command == "feedback":
            from autograder import feedback

            paths = feedback.refresh(args.lab, context=context)
            print(f"wrote the feedback of {len(paths)} submissions of {args.lab} "
                  f"in {context.grading_dir / 'feedback'}")
    except (pipeline.GradingError, export.ExportError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
