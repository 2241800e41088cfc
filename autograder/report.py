"""Batch reports: a table per submission, a class summary and a grade histogram.

Written to ``grading/reports/<lab>/``: ``grades.csv`` (student, score, max_score, percent, flags,
seconds, one column per test), ``report.md`` (the table and the summary) and ``histogram.png``.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path


def table(results) -> str:
    width = max([len(r.student) for r in results] + [7])
    lines = [f"{'student':{width}s}  {'score':>7s}  {'max':>5s}  {'seconds':>7s}  flags", "-" * (width + 40)]
    for r in results:
        lines.append(f"{r.student:{width}s}  {r.score:7g}  {r.max_score:5g}  {r.seconds:7.1f}  {', '.join(r.flags) or '-'}")
    return "\n".join(lines)


def summary(results, seconds: float, workers: int, sandbox: str, graded: int | None = None) -> str:
    graded = len(results) if graded is None else graded
    scores = [r.score for r in results]
    maximum = max((r.max_score for r in results), default=0)
    flagged = sum(bool(r.flags) for r in results)
    lines = [
        f"submissions: {len(results)}, flagged: {flagged}, full marks: {sum(s == maximum for s in scores)}",
        f"score (of {maximum:g}): mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g}, "
        f"min {min(scores):g}, max {max(scores):g}",
        f"wall time {seconds:.1f} s with {workers} workers: graded {graded} "
        f"({60 * graded / seconds:.1f} submissions/minute), reused {len(results) - graded} unchanged results",
        f"isolation: {sandbox}",
    ]
    return "\n".join(lines)


def histogram(results, path: Path) -> Path:
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    maximum = max((r.max_score for r in results), default=1) or 1
    figure, axis = plt.subplots(figsize=(6, 3.5))
    bins = [x - 0.5 for x in range(int(maximum) + 2)] if float(maximum).is_integer() and maximum <= 40 else 10
    axis.hist([r.score for r in results], bins=bins, color="#4477aa", edgecolor="white")
    axis.set_xlabel(f"score (of {maximum:g})")
    axis.set_ylabel("submissions")
    axis.set_title(f"{results[0].lab}: {len(results)} submissions" if results else "no submissions")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write(lab: str, results, out_dir: Path, seconds: float, workers: int, sandbox: str,
          graded: int | None = None) -> tuple[Path, Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    test_ids = [t.grade_id for t in results[0].tests] if results else []
    grades = out_dir / "grades.csv"
    with open(grades, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "lab", "score", "max_score", "percent", "flags", "seconds", *test_ids])
        for r in results:
            by_id = {t.grade_id: t.points for t in r.tests}
            percent = 100 * r.score / r.max_score if r.max_score else 0
            writer.writerow([r.student, lab, f"{r.score:g}", f"{r.max_score:g}", f"{percent:.1f}", ";".join(r.flags),
                             f"{r.seconds:.1f}", *[f"{by_id.get(t, 0):g}" for t in test_ids]])
    picture = histogram(results, out_dir / "histogram.png")
    markdown = out_dir / "report.md"
    markdown.write_text(f"# Grades: {lab}\n\n```\n{summary(results, seconds, workers, sandbox, graded)}\n```\n\n"
                        f"![grade histogram](histogram.png)\n\n```\n{table(results)}\n```\n")
    return grades, markdown, picture
