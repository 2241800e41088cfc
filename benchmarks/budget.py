"""Fast-mode budget: seconds of each lecture and lab under fast mode (as `make run` and CI execute
them, through ``ci.execute``), the total, and the aim of the whole course in under 10 minutes."""

from __future__ import annotations

from pathlib import Path

from benchmarks import report
from benchmarks.options import SMOKE_NOTEBOOK, Options
from ci import execute as ci_execute

NAME = "budget"
TITLE = "Fast-mode budget"
INTRO = """
Each lecture and solution notebook executed in fast mode (`FAST=True`) by `ci.execute`, one after the
other, as `make run` and CI do (kernel start, TensorFlow import and training included; `make run` adds
the autograding). Aim: the whole course in under 10 minutes on this machine.
"""
AIM_SECONDS = 600


def items(options: Options) -> list[str]:
    notebooks = [SMOKE_NOTEBOOK] if options.smoke else ci_execute.course_notebooks()
    return [str(Path(p).resolve().relative_to(ci_execute.ROOT)) for p in notebooks]


def measure(selected: list[str], options: Options):
    executions = []
    for item in selected:
        print(f"[budget] executing {item} in fast mode ...", flush=True)
        execution = ci_execute.execute(ci_execute.ROOT / item, options.work_dir / "executed-fast", fast=True)
        executions.append(execution)
        print(f"[budget] {item}: {execution.status} in {execution.seconds:.1f} s", flush=True)
        yield item, {"rows": [{"name": item, "seconds": round(execution.seconds, 1), "status": execution.status,
                               "error": execution.error}]}
    ci_execute.write_report(executions, options.work_dir / "executed-fast")  # ci's own report.md/csv, as `make run`


def markdown(entries: dict) -> str:
    rows = [(entry["rows"][0], entry["run"]) for entry in entries.values()]
    table = report.table(
        ["notebook", "seconds", "status", "run"],
        [[f"`{r['name']}`", f"{r['seconds']:.1f}", r["status"] + (f": {r['error']}" if r["error"] else ""), run]
         for r, run in rows],
        {"seconds"},
    )
    total = sum(r["seconds"] for r, _ in rows)
    verdict = "within" if total <= AIM_SECONDS else "OVER"
    runs = sorted({run for _, run in rows})
    mixed = f" (summed over runs {', '.join(runs)})" if len(runs) > 1 else ""
    failed = sum(r["status"] != "ok" for r, _ in rows)
    lines = [table, "", f"**Total: {total:.0f} s for {len(rows)} notebook(s){mixed}: {verdict} the {AIM_SECONDS} s aim "
             f"({100 * total / AIM_SECONDS:.0f} % of it).**"]
    if failed:
        lines.append(f"**{failed} notebook(s) failed**: their seconds are only up to the failure.")
    return "\n".join(lines)


def plot(entries: dict, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [entry["rows"][0] for entry in entries.values()]
    seconds = [r["seconds"] for r in rows] + [sum(r["seconds"] for r in rows)]
    names = [r["name"] for r in rows] + ["total"]
    colors = ["tab:blue" if r["status"] == "ok" else "tab:red" for r in rows] + ["tab:gray"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.4))
    ax.barh(np.arange(len(names)), seconds, color=colors)
    ax.axvline(AIM_SECONDS, color="black", linestyle="--", label=f"aim for the total: {AIM_SECONDS} s")
    ax.set_yticks(np.arange(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds in fast mode (red: failed)")
    ax.set_title(f"Fast mode: {seconds[-1]:.0f} s for {len(rows)} notebooks")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
