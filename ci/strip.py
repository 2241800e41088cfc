"""Strip what running a notebook adds, so that notebooks are committed clean (like nbstripout).

    python -m ci.strip [NOTEBOOK ...]           strip in place (default: every course notebook)
    python -m ci.strip --check [NOTEBOOK ...]   exit 1 naming the notebooks that need stripping

Removes outputs, execution counts, per-run cell metadata (papermill's, timings, collapsed/scrolled
views) and the interpreter details JupyterLab writes into ``language_info``. Everything else (tags,
nbgrader metadata, cell ids) is kept, so a stripped notebook is byte-identical to what the notebook
scripts and nbgrader write. The pre-commit hook and ``make lint`` run it.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

from ci import env

CELL_KEYS = ("collapsed", "scrolled", "ExecuteTime", "execution", "heading_collapsed", "hidden", "papermill")
NOTEBOOK_KEYS = ("widgets", "signature", "papermill", "toc", "varInspector")


def course_notebooks() -> list[Path]:
    return sorted(p for folder in ("lectures", "solutions", "labs") for p in (env.ROOT / folder).rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def stripped(nb):
    nb = copy.deepcopy(nb)
    for key in NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    if "language_info" in nb.metadata:
        nb.metadata.language_info = {"name": nb.metadata.language_info.get("name", "python")}
    for cell in nb.cells:
        for key in CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        elif "attachments" in cell and not cell.attachments:
            del cell["attachments"]
    return nb


def strip(notebook: Path, check_only: bool = False) -> bool:
    """Return whether ``notebook`` needed stripping; rewrite it unless ``check_only``."""
    nb = nbformat.read(notebook, as_version=4)
    clean = stripped(nb)
    if clean == nb:
        return False
    if not check_only:
        nbformat.write(clean, notebook)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.strip", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook needs stripping")
    args = parser.parse_args(argv)
    dirty = [n for n in args.notebooks or course_notebooks() if strip(n, check_only=args.check)]
    for notebook in dirty:
        print(f"{'needs stripping' if args.check else 'stripped'}: {notebook}")
    if dirty and args.check:
        print("Commit notebooks without outputs: run `python -m ci.strip` (the pre-commit hook does it).")
    # pre-commit notices rewritten files by itself and fails the hook so that they are re-staged.
    return 1 if dirty and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
