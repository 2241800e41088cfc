"""Accuracy against the seeds: the solution notebooks in FULL mode, as a student would run them.

Each notebook reports what it measured with ``rt.record(experiment, test_accuracy=..., reference=...,
epochs=..., seconds=...)``; executed here with ``$COURSE_RESULTS`` set, those records become the rows.
The benchmark never re-implements a notebook's model: the notebook is the experiment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmarks import report
from benchmarks.options import SMOKE_NOTEBOOK, Options
from ci import execute as ci_execute
from course import runtime

NAME = "accuracy"
TITLE = "Accuracy against the seeds (full mode)"
INTRO = """
Every lecture and solution notebook that calls `rt.record(...)`, executed in full mode (`FAST=False`) on the data
in the mirror; each row is one `rt.record` call. *seed* is the value the seed material reports and the
notebook records next to its own; *difference* is measured minus seed.
"""
# The measured value of a record: the key it names in "compared" (the metric its seed reference is
# on), else the first of these keys it has.
METRICS = ("test_accuracy", "val_accuracy", "validation_accuracy", "accuracy")
FIXED = ("experiment", "mode", "reference", "compared")


def items(options: Options) -> list[str]:
    if options.smoke:
        return [_relative(SMOKE_NOTEBOOK)]
    # Lectures record results too (e.g. Chollet's IMDB LSTM in the sequence-models lecture).
    return [_relative(p) for p in ci_execute.course_notebooks() if ".record(" in p.read_text()]


def measure(selected: list[str], options: Options):
    """Yield ``(item, entry)`` as each notebook finishes."""
    for item in selected:
        results = options.work_dir / "records" / (item.replace("/", "__") + ".jsonl")
        results.parent.mkdir(parents=True, exist_ok=True)
        results.unlink(missing_ok=True)
        previous = os.environ.get(runtime.RESULTS_VARIABLE)
        os.environ[runtime.RESULTS_VARIABLE] = str(results)  # the kernel inherits it
        try:
            print(f"[accuracy] executing {item} in full mode ...", flush=True)
            execution = ci_execute.execute(ci_execute.ROOT / item, options.work_dir / "executed-full", fast=False,
                                           timeout=options.cell_timeout)
        finally:
            if previous is None:
                os.environ.pop(runtime.RESULTS_VARIABLE, None)
            else:
                os.environ[runtime.RESULTS_VARIABLE] = previous
        records = [json.loads(line) for line in results.read_text().splitlines()] if results.is_file() else []
        rows = [row_of(r) for r in records if r.get("mode") == "full"]
        print(f"[accuracy] {item}: {execution.status} in {execution.seconds:.0f} s, {len(rows)} results", flush=True)
        yield item, {"rows": rows, "meta": {"status": execution.status, "notebook_seconds": round(execution.seconds, 1),
                                            "error": execution.error}}


def row_of(record: dict) -> dict:
    compared = record.get("compared")
    metric = compared if isinstance(record.get(compared), (int, float)) else next(
        (m for m in METRICS if isinstance(record.get(m), (int, float))), None)
    measured = record.get(metric) if metric else None
    reference = record.get("reference")
    difference = measured - reference if isinstance(measured, (int, float)) and isinstance(reference, (int, float)) else None
    extra = {k: v for k, v in record.items() if k not in FIXED and k != metric}
    return {"name": record["experiment"], "metric": metric or "", "measured": measured, "reference": reference,
            "difference": difference, **extra}


def markdown(entries: dict) -> str:
    header = ["experiment", "metric", "measured", "seed", "difference", "epochs", "seconds", "details", "run"]
    rows, notes = [], []
    for item, entry in entries.items():
        meta = entry.get("meta", {})
        if meta.get("status") != "ok":
            notes.append(f"- `{item}` **failed** after {meta.get('notebook_seconds', 0):.0f} s: {meta.get('error', '')}")
        elif not entry["rows"]:
            notes.append(f"- `{item}` ran ({meta.get('notebook_seconds', 0):.0f} s) but recorded no full-mode result")
        else:
            notes.append(f"- `{item}`: {meta['notebook_seconds']:.0f} s in full mode (run {entry['run']})")
        for row in entry["rows"]:
            details = ", ".join(f"{k}={report.number(v) if isinstance(v, (int, float)) else v}"
                                for k, v in row.items()
                                if k not in {"name", "metric", "measured", "reference", "difference", "epochs", "seconds"})
            rows.append([row["name"], row["metric"], _accuracy(row["measured"]), _accuracy(row["reference"]),
                         _signed(row["difference"]), report.number(row.get("epochs")),
                         report.number(row.get("seconds"), 3), details, entry["run"]])
    numeric = {"measured", "seed", "difference", "epochs", "seconds"}
    return (report.table(header, rows, numeric) if rows else "_No results recorded._") + "\n\n" + "\n".join(notes)


def plot(entries: dict, path: Path) -> bool:
    rows = [r for e in entries.values() for r in e["rows"] if isinstance(r.get("measured"), (int, float))]
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = [r["name"] for r in rows]
    y = np.arange(len(rows))
    measured = np.array([r["measured"] for r in rows], dtype=float)
    seeds = np.array([r["reference"] if isinstance(r.get("reference"), (int, float)) else np.nan for r in rows])
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(rows) + 1.6))
    # Dots rather than bars: the labs' accuracies range from about 0.5 to 0.99.
    ax.hlines(y, np.fmin(measured, seeds), np.fmax(measured, seeds), color="gray", linewidth=1)
    ax.plot(measured, y, "o", color="tab:blue", label="measured (full mode)")
    ax.plot(seeds, y, "|", color="tab:red", markersize=14, markeredgewidth=2, label="seed")
    ax.set_yticks(y, names, fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("accuracy (the metric each notebook records)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(rows) < 6 else -0.12), ncol=2, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Measured against the seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _accuracy(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) and abs(value) <= 1 else report.number(value)


def _signed(value) -> str:
    return "" if value is None else f"{value:+.4f}"


def _relative(path: Path) -> str:
    return str(Path(path).resolve().relative_to(ci_execute.ROOT))
