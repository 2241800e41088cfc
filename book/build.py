"""Build the course website: one page per lecture and per released lab, with Sphinx and myst-nb.

    python -m book [--out build/book/html] [--no-execute]      (``make book``)

1. Stages the pages in ``build/book/src``: a home page made from the README's contents table, the
   lectures with outputs, the labs from the student release ``labs/`` (never ``solutions/``) without
   outputs, and the Colab badge image (the notebooks' badge points at the site's own copy).
   A lecture's outputs come from its executed copy in ``build/executed/lectures/`` (written by
   ``make run``, ``python -m ci.execute`` and the notebook tests; fast mode, or full mode after
   ``python -m ci.execute --full``) when that copy ran the committed cells without error; otherwise the
   lecture is executed now in fast mode into that folder, or, with ``--no-execute``, published from the
   committed notebook without outputs. The build prints which, for every page.
2. Runs Sphinx (``book/conf.py``; nothing is fetched: the theme, MathJax and the badge are local).
3. Runs the leak check (:mod:`book.leaks`): the build fails if a line of solution code, a model answer
   or a hidden test appears in any file of the site.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import nbformat

from autograder import pipeline
from book import leaks
from ci import colab, env
from ci.execute import EXECUTED, execute

ROOT = env.ROOT
BOOK = Path(__file__).resolve().parent
STAGE = env.BUILD / "book" / "src"
SITE = env.BUILD / "book" / "html"
BADGE = "images/colab-badge.svg"  # staged copy of book/_static/colab-badge.svg, relative to the source root
INJECTED = "injected-parameters"  # papermill's tag on the cell it adds


def contents_rows(readme: Path = ROOT / "README.md") -> list[dict]:
    """The README's contents table: one dict per unit (unit, lecture path or None, lab name or None)."""
    text = readme.read_text()
    section = re.search(r"^## Contents\n(.*?)(?=^## )", text, re.M | re.S)
    if not section:
        raise ValueError(f"{readme}: no '## Contents' section with the course's table")
    rows = []
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 4 or cells[0] in ("unit", "") or set(cells[0]) <= {"-"}:
            continue
        lecture, lab = (c.strip("`") for c in cells[1:3])
        rows.append({"unit": cells[0], "lecture": None if lecture == "-" else lecture,
                     "lab": None if lab == "-" else lab, "reproduces": cells[3]})
    if not rows:
        raise ValueError(f"{readme}: the '## Contents' table has no rows")
    for row in rows:
        for path in filter(None, (row["lecture"], row["lab"] and f"labs/{row['lab']}/{row['lab']}.ipynb")):
            if not (ROOT / path).is_file():
                raise ValueError(f"{readme}: the contents table names {path}, which does not exist")
    return rows


def page_of(row: dict, kind: str) -> str | None:
    """The staged document (without suffix) of a row's lecture or lab."""
    if kind == "lecture":
        return row["lecture"] and row["lecture"].removesuffix(".ipynb")
    return row["lab"] and f"labs/{row['lab']}/{row['lab']}"


def home_page(rows: list[dict], readme: Path = ROOT / "README.md") -> str:
    """index.md: the README's title and opening paragraph, the contents table with links, the sidebar."""
    text = readme.read_text()
    title = re.search(r"^#\s+(.+)$", text, re.M).group(1)
    intro = text.split("\n\n")[1].strip()
    lines = [f"# {title}", "", intro, "",
             "Every lecture page shows the outputs of a run in CI; every lab page shows the student release, "
             "without outputs. The badge on each page opens the notebook in Colab.", "",
             "| unit | lecture | lab | reproduces |", "|---|---|---|---|"]
    order = []
    for row in rows:
        links = []
        for kind in ("lecture", "lab"):
            page = page_of(row, kind)
            links.append(f"[{kind}]({page}.ipynb)" if page else "-")
            order += [page] if page else []
        lines.append(f"| {row['unit']} | {links[0]} | {links[1]} | {row['reproduces']} |")
    lines += ["", "```{toctree}", ":hidden:", ":caption: The course", ""]
    lines += order  # the sidebar shows each page's own title
    return "\n".join(lines + ["```", ""])


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if INJECTED not in c.metadata.get("tags", [])]


def executed_copy(lecture: Path, executed_dir: Path = EXECUTED):
    """The executed copy of a lecture if it ran exactly the committed cells without error, else None."""
    copy = executed_dir / lecture.relative_to(ROOT)
    try:
        nb = nbformat.read(copy, as_version=4)
    except (OSError, ValueError, json.JSONDecodeError):
        return None
    errors = any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    ran = all(c.get("execution_count") for c in nb.cells if c.cell_type == "code" and c.source.strip())
    if errors or not ran or _code(nb) != _code(nbformat.read(lecture, as_version=4)):
        return None
    return nb


def mode_of(nb) -> str:
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    return "full mode" if "Mode: FULL" in text else "fast mode" if "Mode: FAST" in text else "mode unknown"


def lecture_notebook(lecture: Path, run: bool):
    """(notebook to publish, where its outputs come from)."""
    nb = executed_copy(lecture)
    if nb is not None:
        return nb, f"outputs of {(EXECUTED / lecture.relative_to(ROOT)).relative_to(ROOT)} ({mode_of(nb)})"
    if not run:
        return nbformat.read(lecture, as_version=4), "committed notebook, no outputs (--no-execute)"
    print(f"  executing {lecture.relative_to(ROOT)} in fast mode (no up-to-date executed copy) ...", flush=True)
    result = execute(lecture, EXECUTED, fast=True)
    if result.status != "ok":
        raise RuntimeError(f"{result.notebook} failed in fast mode: {result.error}")
    if (nb := executed_copy(lecture)) is None:
        raise RuntimeError(f"{result.output}: the executed copy does not match {lecture}")
    return nb, f"executed now in fast mode ({result.seconds:.0f} s) into {EXECUTED}"


def for_the_web(nb, clear_outputs: bool, badge: str):
    """Drop papermill's parameters cell and the Colab set-up cell (the badge is the web's way to Colab),
    point the badge at the site's copy, optionally clear outputs."""
    nb.cells = [c for c in nb.cells if not {INJECTED, colab.SETUP_TAG} & set(c.metadata.get("tags", []))]
    for cell in nb.cells:
        if colab.BADGE_TAG in cell.metadata.get("tags", []):
            cell.source = cell.source.replace(colab.BADGE_IMAGE, badge)
        if cell.cell_type == "code" and clear_outputs:
            cell.outputs, cell.execution_count = [], None
    return nb


def write_if_changed(path: Path, text: str) -> None:
    """Unchanged files keep their time stamp, so Sphinx rebuilds only the pages that changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def stage(stage_dir: Path = STAGE, run: bool = True) -> list[tuple[str, str]]:
    """Write the site's sources into ``stage_dir``; return (page, where its content comes from)."""
    rows, pages = contents_rows(), []
    for row in rows:
        for kind in ("lecture", "lab"):
            page = page_of(row, kind)
            if not page:
                continue
            if kind == "lecture":
                nb, origin = lecture_notebook(ROOT / row["lecture"], run)
            else:
                nb, origin = nbformat.read(ROOT / f"{page}.ipynb", as_version=4), "student release, no outputs"
            badge = "../" * (len(Path(page).parts) - 1) + BADGE
            nb = for_the_web(nb, clear_outputs=kind == "lab", badge=badge)
            write_if_changed(stage_dir / f"{page}.ipynb", nbformat.writes(nb))
            pages.append((f"{page}.ipynb", origin))
    labs = {row["lab"] for row in rows if row["lab"]}
    if missing := sorted(set(pipeline.lab_names()) - labs):
        raise ValueError(f"README.md's contents table has no row for the lab(s) {', '.join(missing)}")
    write_if_changed(stage_dir / "index.md", home_page(rows))
    write_if_changed(stage_dir / BADGE, (BOOK / "_static" / "colab-badge.svg").read_text())
    staged = {stage_dir / p for p, _ in pages} | {stage_dir / "index.md", stage_dir / BADGE}
    for stale in [p for p in stage_dir.rglob("*") if p.is_file() and p not in staged]:
        stale.unlink()  # e.g. a lecture removed from the table
    return [("index.md", "README.md's contents table")] + pages


def sphinx(stage_dir: Path, out: Path) -> int:
    from sphinx.cmd.build import build_main

    doctrees = out.parent / f"{out.name}.doctrees"
    return build_main(["-b", "html", "-q", "-c", str(BOOK), "-d", str(doctrees), str(stage_dir), str(out)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SITE, help=f"folder of the site (default {SITE})")
    parser.add_argument("--no-execute", dest="execute", action="store_false",
                        help="publish a lecture without an executed copy from the committed notebook "
                             "(no outputs) instead of executing it in fast mode")
    args = parser.parse_args(argv)
    env.prepare()
    start = time.perf_counter()
    out = args.out.resolve()
    for page, origin in stage(STAGE, run=args.execute):
        print(f"  {page}: {origin}", flush=True)
    if status := sphinx(STAGE, out):
        print(f"Sphinx failed (exit {status})", file=sys.stderr)
        return status
    problems = leaks.check(out)
    for problem in problems:
        print(f"LEAK {problem}", file=sys.stderr)
    if problems:
        print(f"the site leaks {len(problems)} solution/hidden line(s): not publishable", file=sys.stderr)
        return 1
    count = sum("_static" not in p.relative_to(out).parts for p in out.rglob("*.html"))
    print(f"site: {out}/index.html, {count} HTML pages, no solution line in it; {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
