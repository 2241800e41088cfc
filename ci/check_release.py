"""Release checks: ``labs/`` must be exactly what nbgrader generates from ``solutions/``, and leak-free.

    python -m ci.check_release        # exit 1 with a list of problems, 0 when in sync and clean

Regenerates every lab into a temporary folder (with a scratch gradebook) and compares file by file,
so a hand-edited or stale release is caught. Leak check: no solution or hidden-test marker, and no
line of a hidden test or of a solution block appears in the released notebook. Written answers (markdown
cells graded by hand) are checked harder: no line of ``MODEL_ANSWER_MIN`` characters or more of a model
answer may appear anywhere in any notebook of ``labs/``, not even inside a longer line, and each such
cell must carry points and a model answer between the solution markers.
"""

from __future__ import annotations

import filecmp
import re
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder import pipeline

MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS|BEGIN MARK SCHEME")
BLOCK = re.compile(
    r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL
)
ANSWER = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.DOTALL)
MODEL_ANSWER_MIN = 20  # characters: a model answer's line at least this long must not appear in labs/


MARK_SCHEME = re.compile(r"=== BEGIN MARK SCHEME ===\n(.*?)=== END MARK SCHEME ===", re.DOTALL)


def secret_lines(solution: Path) -> set[str]:
    """Lines only the instructor may see and nowhere else: inside solution/hidden-test blocks and mark
    schemes, and the whole of a solution cell without markers (nbgrader replaces it in the release,
    e.g. a manually graded answer cell's model answer)."""
    hidden, public = set(), set()
    for cell in nbformat.read(solution, as_version=4).cells:
        blocks = [block for _, block in BLOCK.findall(cell.source)] + MARK_SCHEME.findall(cell.source)
        whole = cell.metadata.get("nbgrader", {}).get("solution") and not BLOCK.search(cell.source)
        for block in [cell.source] if whole else blocks:
            hidden.update(s for line in block.splitlines() if len(s := line.strip()) > 12)
        if not whole:
            public.update(line.strip() for line in MARK_SCHEME.sub("", BLOCK.sub("", cell.source)).splitlines())
    return hidden - public


def leaks(solution: Path, release: Path) -> list[str]:
    problems = []
    secrets = secret_lines(solution)
    for index, cell in enumerate(nbformat.read(release, as_version=4).cells):
        if MARKERS.search(cell.source):
            problems.append(f"{release.name} cell {index}: solution/hidden-test marker")
        shown = {line.strip() for line in cell.source.splitlines()}
        for line in sorted(secrets & shown):
            problems.append(f"{release.name} cell {index}: leaks solution/hidden line {line!r}")
    return problems


def written_answers(solution: Path) -> list[tuple[str, NotebookNode]]:
    """The manually graded answer cells (markdown, ``solution`` and ``grade``) as (grade id, cell)."""
    found = []
    for cell in nbformat.read(solution, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("solution") and meta.get("grade"):
            found.append((meta.get("grade_id", "?"), cell))
    return found


def model_answer_lines(solution: Path) -> set[str]:
    """Every line of ``MODEL_ANSWER_MIN`` characters or more of the lab's model answers."""
    lines = set()
    for _, cell in written_answers(solution):
        for block in ANSWER.findall(cell.source):
            lines.update(s for line in block.splitlines() if len(s := line.strip()) >= MODEL_ANSWER_MIN)
    return lines


def written_answer_problems(solution: Path) -> list[str]:
    """A written answer needs points and a model answer between the markers (the release replaces it)."""
    problems = []
    for grade_id, cell in written_answers(solution):
        if not float(cell.metadata["nbgrader"].get("points", 0) or 0) > 0:
            problems.append(f"{solution.name}: written answer {grade_id} has no points")
        if not any(block.strip() for block in ANSWER.findall(cell.source)):
            problems.append(f"{solution.name}: written answer {grade_id} has no model answer between "
                            "### BEGIN SOLUTION and ### END SOLUTION")
    return problems


def answer_leaks(solutions: list[Path], releases: list[Path]) -> list[str]:
    """Lines of model answers found anywhere in the released notebooks (substrings count)."""
    texts = {release: "\n".join(c.source for c in nbformat.read(release, as_version=4).cells) for release in releases}
    problems = []
    for solution in solutions:
        for line in sorted(model_answer_lines(solution)):
            problems += [f"{release.parent.name}/{release.name}: shows a line of a model answer of "
                         f"{solution.name}: {line!r}" for release, text in texts.items() if line in text]
    return problems


def differences(expected_dir: Path, actual_dir: Path) -> list[str]:
    problems = []
    comparison = filecmp.dircmp(expected_dir, actual_dir, ignore=[".ipynb_checkpoints", "__pycache__"])
    problems += [f"missing from labs/: {name}" for name in comparison.left_only]
    problems += [f"not produced by the release: labs/{actual_dir.name}/{name}" for name in comparison.right_only]
    for name in comparison.common_files:
        if (expected_dir / name).read_bytes() != (actual_dir / name).read_bytes():
            problems.append(f"labs/{actual_dir.name}/{name} differs from the generated release")
    return problems


def check(labs_dir: Path = pipeline.LABS) -> list[str]:
    problems = []
    names = pipeline.lab_names()
    stray = sorted(p.name for p in labs_dir.iterdir() if p.is_dir() and p.name not in names) if labs_dir.is_dir() else []
    problems += [f"labs/{name} has no source in solutions/{name}" for name in stray]
    with tempfile.TemporaryDirectory(prefix="release-check-") as scratch:
        scratch = Path(scratch)
        for lab in names:
            generated = pipeline.release(lab, release_dir=scratch / "labs", grading_dir=scratch / "grading")
            if not (labs_dir / lab).is_dir():
                problems.append(f"labs/{lab} is missing: run `make release`")
                continue
            problems += differences(generated, labs_dir / lab)
            for notebook in sorted((labs_dir / lab).glob("*.ipynb")):
                problems += leaks(pipeline.SOLUTIONS / lab / notebook.name, notebook)
    solutions = [pipeline.SOLUTIONS / lab / f"{lab}.ipynb" for lab in names]
    for solution in solutions:
        problems += written_answer_problems(solution)
    releases = sorted(labs_dir.glob("*/*.ipynb")) if labs_dir.is_dir() else []
    problems += answer_leaks(solutions, releases)
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print("release check:", problem)
    if problems:
        print("The student release is out of sync or leaks: run `make release` and commit labs/.")
        return 1
    print(f"release in sync and leak-free for {len(pipeline.lab_names())} lab(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
