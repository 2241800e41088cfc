"""Command line of the grading pipeline.

    python -m autograder release [LAB ...]               regenerate labs/ from solutions/
    python -m autograder grade LAB NOTEBOOK --student ID  autograde one notebook, print its score
    python -m autograder export [CSV]                     write the gradebook's scores to a CSV
"""

from __future__ import annotations

import argparse
import sys

from autograder import pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="regenerate the student release in labs/")
    release.add_argument("labs", nargs="*", help="default: every lab in solutions/")
    grade = commands.add_parser("grade", help="autograde one notebook")
    grade.add_argument("lab")
    grade.add_argument("notebook")
    grade.add_argument("--student", required=True)
    grade.add_argument("--feedback", action="store_true", help="also write HTML feedback")
    export = commands.add_parser("export", help="write grades to CSV")
    export.add_argument("csv", nargs="?", default=str(pipeline.grading_root() / "grades.csv"))
    args = parser.parse_args(argv)

    try:
        if args.command == "release":
            for lab in args.labs or pipeline.lab_names():
                print(f"released {pipeline.release(lab).relative_to(pipeline.ROOT)}")
        elif args.command == "grade":
            score = pipeline.autograde(args.lab, args.notebook, args.student, feedback=args.feedback)
            print(f"{score.student} {score.lab}: {score.score:g}/{score.max_score:g}")
        elif args.command == "export":
            print(f"wrote {pipeline.export_grades(args.csv)}")
    except pipeline.GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
