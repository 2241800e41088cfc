"""Batch reports: a table per submission, a class summary, a grade histogram and an item analysis.

Written to ``grading/reports/<lab>/``: ``grades.csv`` (student, score, max_score, percent, flags,
seconds, one column per test), ``report.md`` and the same as ``report.html`` (the summary, the item
analysis and the table), ``histogram.png`` and ``pass_rates.png``.

The item analysis gives, per test: its pass rate, its mean points and the correlation of its points
with the rest of the score (the score without this test: a test that good students fail and weak
students pass correlates negatively). A test that nobody passes, that everybody passes, or that
correlates negatively is called out as "check this test".
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
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


@dataclass
class Item:
    grade_id: str
    max_points: float
    pass_rate: float  # fraction of submissions that passed
    mean_points: float
    rest_correlation: float | None  # Pearson r of its points with the rest of the score; None: undefined
    checks: list[str]  # why to check this test; empty when nothing stands out


def item_analysis(results) -> list[Item]:
    """One :class:`Item` per test, in the lab's order (tests missing from a result count as 0 points, not run)."""
    ids = list(dict.fromkeys(t.grade_id for r in results for t in r.tests))
    items = []
    for grade_id in ids:
        tests = [next((t for t in r.tests if t.grade_id == grade_id), None) for r in results]
        points = [t.points if t else 0.0 for t in tests]
        rest = [r.score - p for r, p in zip(results, points)]
        maximum = max((t.max_points for t in tests if t), default=0.0)
        passed = sum(bool(t) and t.status == "passed" for t in tests) / len(results)
        correlation = _pearson(points, rest)
        checks = []
        if passed == 0:
            checks.append("nobody passes")
        elif passed == 1:
            checks.append("everybody passes")
        if correlation is not None and correlation < 0:
            checks.append(f"negative correlation with the rest of the score ({correlation:.2f})")
        items.append(Item(grade_id, maximum, passed, statistics.fmean(points), correlation, checks))
    return items


def _pearson(x: list[float], y: list[float]) -> float | None:
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None  # constant points (or too few submissions): no correlation to speak of
    return statistics.correlation(x, y)


def items_table(items: list[Item], submissions: int) -> str:
    """The item analysis as a Markdown table, with the "check this test" call-outs under it."""
    lines = [f"Item analysis ({submissions} submissions; r = correlation of the test's points with the rest "
             "of the score):", "", "| test | points | pass rate | mean points | r | check |", "|---|---:|---:|---:|---:|---|"]
    for i in items:
        r = "-" if i.rest_correlation is None else f"{i.rest_correlation:.2f}"
        lines.append(f"| `{i.grade_id}` | {i.max_points:g} | {100 * i.pass_rate:.0f}% | {i.mean_points:.2f} | {r} | "
                     f"{'check this test: ' + '; '.join(i.checks) if i.checks else ''} |")
    flagged = [i for i in items if i.checks]
    lines.append("")
    lines += [f"- **check this test** `{i.grade_id}`: {'; '.join(i.checks)}" for i in flagged] or ["No test stands out."]
    return "\n".join(lines)


def pass_rate_plot(items: list[Item], lab: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(max(5.0, 0.6 * len(items) + 2), 3.5))
    colors = ["#cc6677" if i.checks else "#4477aa" for i in items]
    bars = axis.bar(range(len(items)), [100 * i.pass_rate for i in items], color=colors)
    axis.bar_label(bars, labels=[f"{100 * i.pass_rate:.0f}%" for i in items], fontsize=8)
    axis.set_xticks(range(len(items)), [i.grade_id for i in items], rotation=45, ha="right", fontsize=8)
    axis.set_ylim(0, 110)
    axis.set_ylabel("pass rate (%)")
    axis.set_title(f"{lab}: pass rate per test (red: check this test)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


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
    items = item_analysis(results) if results else []
    pass_rate_plot(items, lab, out_dir / "pass_rates.png")
    markdown = out_dir / "report.md"
    text = (f"# Grades: {lab}\n\n```\n{summary(results, seconds, workers, sandbox, graded)}\n```\n\n"
            f"![grade histogram](histogram.png)\n\n## Item analysis\n\n{items_table(items, len(results))}\n\n"
            f"![pass rate per test](pass_rates.png)\n\n## Submissions\n\n```\n{table(results)}\n```\n")
    markdown.write_text(text)
    _html(text, lab, out_dir / "report.html")
    return grades, markdown, picture


def _html(markdown: str, lab: str, path: Path) -> Path:
    import html

    import mistune  # nbconvert's Markdown renderer

    body = mistune.create_markdown(escape=True, plugins=["table"])(markdown)  # raw HTML in flags stays text
    path.write_text(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Grades: {html.escape(lab)}</title>"
                    "<style>body{font-family:sans-serif;max-width:60em;margin:auto} table{border-collapse:collapse}"
                    " td,th{border:1px solid #ccc;padding:2px 8px}</style></head>\n"
                    f"<body>\n{body}</body></html>\n")
    return path
