"""The results store (``results.json``) and what is rendered from it: results.md, results.csv, plots.

The store keeps, per section and per item (a notebook, a model, a lab), the rows last measured and
the run that measured them. Rendering always starts from the whole store, so a partial run
regenerates every file while changing only the items it measured.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
from pathlib import Path

from benchmarks import machine

STORE = "results.json"


def load(out_dir: Path) -> dict:
    path = out_dir / STORE
    if not path.is_file() or not path.read_text().strip():
        return {"runs": {}, "sections": {}}
    store = json.loads(path.read_text())
    if not isinstance(store, dict) or not {"runs", "sections"} <= store.keys():
        raise ValueError(f"{path} is not a benchmark results store (expected 'runs' and 'sections')")
    return store


@contextlib.contextmanager
def locked(out_dir: Path):
    """The store, read under an exclusive lock held for the block (call :func:`save` in it): runs of
    different sections at the same time then keep each other's results instead of overwriting them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / STORE, "a") as lock:  # save() rewrites this same file in place
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield load(out_dir)


def update(store: dict, section: str, item: str, run_id: str, run: dict, entry: dict) -> None:
    """Replace one item's results with a new measurement."""
    store["runs"][run_id] = run
    store["sections"].setdefault(section, {})[item] = {"run": run_id, **entry}


def offer(store: dict, available: dict[str, list[str]]) -> None:
    """Remember what each section can measure, so that the report lists what has not been measured."""
    store["available"] = available


def retain(store: dict, section: str, items: list[str]) -> None:
    """Forget the stored items of a section that it no longer has (a lab removed, a model renamed).
    Items merged from another machine's run stay: this machine cannot measure them again."""
    entries = store["sections"].get(section) or {}
    store["sections"][section] = {item: entry for item, entry in entries.items()
                                  if item in items or entry.get("merged_from")}


def merge(store: dict, other: dict, label: str, source: str) -> int:
    """Add another machine's results (e.g. a lent GPU's ``results.json``) under ``"<item> @ <label>"``,
    so that they sit beside this machine's rows instead of replacing them; return how many items."""
    if any(run.get("smoke") for run in other["runs"].values()):
        raise SystemExit(f"{source} holds smoke results: only real runs are merged")
    merged = 0
    for section, items in other["sections"].items():
        for item, entry in items.items():
            if entry.get("merged_from"):  # already merged there: keep its own label
                store["sections"].setdefault(section, {})[item] = entry
            else:
                store["sections"].setdefault(section, {})[f"{item} @ {label}"] = {**entry, "merged_from": source}
            store["runs"][entry["run"]] = other["runs"][entry["run"]]
            merged += 1
    return merged


def entries_of(store: dict, section: str) -> dict:
    """A section's stored items in a fixed order (as the section lists them, then by name), whatever
    order the store holds them in."""
    entries = store["sections"].get(section) or {}
    order = store.get("available", {}).get(section, [])
    def rank(item: str):
        base = item.split(" @ ")[0]  # a merged item ("<item> @ <machine>") follows its item
        return order.index(base) if base in order else len(order), item != base, item

    ranked = sorted(entries, key=rank)
    return {item: entries[item] for item in ranked}


def _prune_runs(store: dict) -> None:
    used = {entry["run"] for items in store["sections"].values() for entry in items.values()}
    store["runs"] = {k: v for k, v in sorted(store["runs"].items()) if k in used}


def run_labels(store: dict) -> dict[str, str]:
    """Short labels (A, B, ...) for the runs, oldest first."""
    return {run_id: chr(ord("A") + i) if i < 26 else f"R{i}" for i, run_id in enumerate(sorted(store["runs"]))}


def save(store: dict, out_dir: Path, sections: dict) -> list[Path]:
    """Write results.json, results.md, results.csv and each section's plot; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _prune_runs(store)
    written = [out_dir / STORE]
    (out_dir / STORE).write_text(json.dumps(store, indent=1, default=float) + "\n")
    labels = run_labels(store)
    plots = {}
    for name, module in sections.items():
        entries = entries_of(store, name)
        path = out_dir / f"{name}.png"
        if entries and module.plot(entries, path):
            plots[name] = path.name
            written.append(path)
        else:
            path.unlink(missing_ok=True)
    (out_dir / "results.md").write_text(markdown(store, sections, labels, plots))
    write_csv(store, out_dir / "results.csv", labels, list(sections))
    return written + [out_dir / "results.md", out_dir / "results.csv"]


def markdown(store: dict, sections: dict, labels: dict[str, str], plots: dict[str, str]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m benchmarks`); do not edit by hand. Each row says which run",
        "measured it; a partial run (`make bench ONLY=...`) replaces only the rows it measured.",
        "",
        "## Runs",
        "",
    ]
    for run_id, label in labels.items():
        lines.append(f"- **{label}** {machine.summary(store['runs'][run_id])}")
    for name, module in sections.items():
        lines += ["", f"## {module.TITLE}", "", module.INTRO.strip(), ""]
        entries = entries_of(store, name)
        missing = [i for i in store.get("available", {}).get(name, [])
                   if i not in entries and not any(e.startswith(f"{i} @ ") for e in entries)]
        if entries:
            labelled = {item: {**entry, "run": labels[entry["run"]]} for item, entry in entries.items()}
            lines.append(module.markdown(labelled).strip())
        if missing or not entries:
            what = ", ".join(f"`{i}`" for i in missing) if missing else "everything"
            lines += ["", f"_Not measured yet: {what} (`make bench ONLY={name}` or `ONLY={name}:<item>`)._"]
        if name in plots:
            lines += ["", f"![{module.TITLE}]({plots[name]})"]
    return "\n".join(lines) + "\n"


def write_csv(store: dict, path: Path, labels: dict[str, str], order: list[str]) -> None:
    """Long format, one measured value per line: easy to filter or pivot."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section", "item", "name", "metric", "value", "run", "date"])
        for section in order:
            for item, entry in entries_of(store, section).items():
                run = entry["run"]
                date = store["runs"][run]["date"]
                for metric, value in (entry.get("meta") or {}).items():
                    writer.writerow([section, item, "", metric, _cell(value), labels[run], date])
                for row in entry.get("rows", []):
                    for metric, value in row.items():
                        if metric != "name":
                            writer.writerow([section, item, row.get("name", ""), metric, _cell(value), labels[run], date])


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else str(value)


def table(header: list[str], rows: list[list], numeric: set[str] = frozenset()) -> str:
    """A Markdown table (columns named in ``numeric`` right-aligned); cells are formatted by the caller."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if h in numeric else "---" for h in header) + "|"]
    out += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def number(value, digits: int = 4) -> str:
    """A measured number for a table; blank when missing."""
    if value is None or value == "":
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"
