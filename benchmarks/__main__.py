"""python -m benchmarks [--only SELECTOR[,SELECTOR...]] [--smoke] [--out DIR] [--list] [--render]
                       [--submissions N|LAB=N ...] [--no-dask] [--ours-repeats N|PAIR=N ...]
                       [--ablation-seeds N]
                       [--merge RESULTS_JSON [--label LABEL]]

A selector is a section (accuracy, ablation, seeds, speed, budget, grading), ``section:text`` (that section's items
containing text), or ``text`` (the items of every section containing text, e.g. ``mnist``).

``--merge`` adds the results of a run made on another machine (typically a lent GPU: run
``python -m benchmarks --only ... --out DIR`` there, bring back ``DIR/results.json``) beside this
machine's rows, each item named ``<item> @ <label>`` (default label: that run's first GPU).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from benchmarks import machine, report
from benchmarks.options import Options
from benchmarks.sections import RUN_ORDER, SECTIONS
from ci import env


def select(selectors: list[str], available: dict[str, list[str]]) -> dict[str, list[str]]:
    """Resolve --only selectors to the items to measure, per section; a selector matching nothing is an error."""
    if not selectors:
        return {name: list(found) for name, found in available.items()}
    chosen: dict[str, list[str]] = {}
    for selector in selectors:
        section, _, text = selector.partition(":") if ":" in selector else (selector, "", "")
        if section in available:
            matched = {section: [i for i in available[section] if text.lower() in i.lower()]}
        elif ":" in selector:
            raise SystemExit(f"--only {selector}: no section '{section}' (sections: {', '.join(available)})")
        else:
            matched = {name: [i for i in found if selector.lower() in i.lower()] for name, found in available.items()}
        if not any(matched.values()):
            listing = "; ".join(f"{name}: {', '.join(found) or '(none)'}" for name, found in available.items())
            raise SystemExit(f"--only {selector}: matches nothing. Sections and items: {listing}")
        for name, found in matched.items():
            for item in found:
                if item not in chosen.setdefault(name, []):
                    chosen[name].append(item)
    return {name: found for name, found in chosen.items() if found}


def run(selectors: list[str], options: Options) -> list[Path]:
    env.prepare()
    options.work_dir.mkdir(parents=True, exist_ok=True)
    available = {name: SECTIONS[name].items(options) for name in SECTIONS}
    chosen = select(selectors, available)
    run_info = machine.describe(smoke=options.smoke)
    run_id = f"{run_info['date']} {uuid.uuid4().hex[:6]}"
    # A section selected as a whole also forgets items that no longer exist; otherwise only the
    # measured items change.
    whole = set(SECTIONS) if not selectors else {s for s in selectors if s in SECTIONS}
    with report.locked(options.out_dir) as store:
        if any(bool(run.get("smoke")) != options.smoke for run in store["runs"].values()):
            kind = "smoke" if not options.smoke else "real"
            raise SystemExit(f"{options.out_dir / report.STORE} holds {kind} results: smoke and real results are "
                             "never mixed (choose another --out)")
        report.offer(store, available)
        for name in whole & set(chosen):
            report.retain(store, name, available[name])
        written = report.save(store, options.out_dir, SECTIONS)
    for name in [n for n in RUN_ORDER if n in chosen]:
        for item, entry in SECTIONS[name].measure(chosen[name], options):
            with report.locked(options.out_dir) as store:  # after each item: an interrupted run keeps it
                report.update(store, name, item, run_id, run_info, entry)
                written = report.save(store, options.out_dir, SECTIONS)
    return written


def merge_results(path: Path, label: str | None, options: Options) -> list[Path]:
    if not path.is_file():
        raise SystemExit(f"--merge {path}: no such file (the results.json of a run made elsewhere)")
    other = report.load(path.parent) if path.name == report.STORE else None
    if other is None:
        raise SystemExit(f"--merge {path}: expected a file named {report.STORE}")
    if not label:
        gpus = [g for run in other["runs"].values() for g in run.get("gpus") or []]
        label = gpus[0].split(",")[0].strip() if gpus else "other machine"
    with report.locked(options.out_dir) as store:
        count = report.merge(store, other, label, str(path))
        print(f"merged {count} item(s) from {path} as '<item> @ {label}'")
        return report.save(store, options.out_dir, SECTIONS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated selectors (default: everything)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI; writes to build/bench-smoke")
    parser.add_argument("--out", type=Path, help="folder for results.* and plots (default: benchmarks/)")
    parser.add_argument("--list", action="store_true", help="list the sections and their items, run nothing")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: regenerate results.md, results.csv and the plots from results.json")
    parser.add_argument("--repeats", type=int, help="timed epochs per variant in the speed section")
    parser.add_argument("--speed-images", type=int, help="images per timed epoch in the speed section")
    parser.add_argument("--ours-repeats", action="append", default=[], metavar="N|PAIR=N",
                        help="seeds: train ours this many times (the notebook's seed, then seeds 1, 2, ...) for the "
                             "run-to-run spread: N for every pair, PAIR=N for one (repeatable, default 1)")
    parser.add_argument("--ablation-seeds", type=int, help="ablation: train each row from seeds 1 to N (default 1)")
    parser.add_argument("--submissions", action="append", default=[], metavar="N|LAB=N",
                        help="submissions per method in the grading section: N for every lab, LAB=N for one "
                             "(repeatable, e.g. --submissions 100 --submissions mnist-cnn=12)")
    parser.add_argument("--no-dask", action="store_true",
                        help="grading: skip the batch grader on a local Dask cluster (the two graders only)")
    parser.add_argument("--merge", type=Path, metavar="RESULTS_JSON",
                        help="measure nothing: add another machine's results.json beside this machine's rows")
    parser.add_argument("--label", help="with --merge: the name its items get after '@' (default: its GPU)")
    parser.add_argument("--all-variants", action="store_true", help="speed: mixed precision and XLA variants even on a CPU")
    args = parser.parse_args(argv)
    if args.smoke:
        options = Options.smoke_sizes(args.out or env.BUILD / "bench-smoke")
    else:
        options = Options(out_dir=args.out) if args.out else Options()
    for name in ("repeats", "speed_images", "ablation_seeds"):
        value = getattr(args, name)
        if value is not None:
            if value < 1:
                parser.error(f"--{name.replace('_', '-')} must be at least 1")
            setattr(options, name, value)
    for flag, everywhere, per_item, name in (("--submissions", "submissions", options.lab_submissions, "LAB"),
                                             ("--ours-repeats", "ours_repeats", options.pair_ours_repeats, "PAIR")):
        for value in getattr(args, everywhere):
            item, _, count = value.rpartition("=")
            if not count.isdigit() or int(count) < 1:
                parser.error(f"{flag} {value}: expected N or {name}=N, N at least 1")
            if item:
                per_item[item] = int(count)
            else:
                setattr(options, everywhere, int(count))
    options.grading_dask = not args.no_dask
    options.all_variants = args.all_variants
    selectors = [s.strip() for s in args.only.split(",") if s.strip()]
    if args.list:
        env.prepare()
        for name, module in SECTIONS.items():
            print(f"{name}: {', '.join(module.items(options)) or '(none)'}")
        return 0
    if args.merge:
        written = merge_results(args.merge, args.label, options)
    elif args.render:
        with report.locked(options.out_dir) as store:
            written = report.save(store, options.out_dir, SECTIONS)
    else:
        written = run(selectors, options)
    print("wrote", ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
