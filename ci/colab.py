"""The "Open in Colab" badge and the Colab set-up cell at the top of every notebook.

    python -m ci.colab stamp    add or update both cells in every lecture and lab, then re-release changed labs
    python -m ci.colab check    exit 1 naming every notebook whose cells are missing or stale

Both cells are built from ``[tool.course] repository`` in pyproject.toml, the one place that names the
public repository: a fork changes that line and runs ``stamp``. The sources are stamped
(``lectures/*.ipynb``, ``solutions/<lab>/<lab>.ipynb``); ``labs/`` is never edited here but regenerated
by nbgrader, so a lab's badge opens the student release ``labs/<lab>/<lab>.ipynb``. Stamping is
idempotent: an up-to-date notebook is not rewritten.

The set-up cell does nothing outside Colab. On Colab it installs the ``course`` package from the
repository; its dependencies are few and unpinned, so pip keeps Colab's TensorFlow and Keras.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ci import env

ROOT = env.ROOT
BADGE_TAG = "colab-badge"
SETUP_TAG = "colab-setup"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"  # the website ships a copy (book/)
_GITHUB = re.compile(r"https://github\.com/(?P<slug>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)")


@dataclass(frozen=True)
class Repository:
    url: str  # https://github.com/<owner>/<name>
    branch: str

    @property
    def slug(self) -> str:
        return self.url.removeprefix("https://github.com/")

    def colab_url(self, path: str) -> str:
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.branch}/{path}"

    def pip_requirement(self) -> str:
        return f"course @ git+{self.url}@{self.branch}"


def repository(pyproject: Path = ROOT / "pyproject.toml") -> Repository:
    """The repository setting of pyproject.toml, checked."""
    settings = tomllib.loads(pyproject.read_text()).get("tool", {}).get("course", {})
    url, branch = settings.get("repository", ""), settings.get("branch", "main")
    if not (match := _GITHUB.fullmatch(url.rstrip("/"))):
        raise ValueError(f"{pyproject}: [tool.course] repository must be https://github.com/<owner>/<name>, got {url!r}")
    if not re.fullmatch(r"[A-Za-z0-9_./-]+", branch):
        raise ValueError(f"{pyproject}: [tool.course] branch {branch!r} is not a branch name")
    return Repository(f"https://github.com/{match['slug']}", branch)


def opened_path(notebook: Path) -> str:
    """The repository path Colab opens: a lab's badge opens the student release, not the solution."""
    relative = notebook.resolve().relative_to(ROOT)
    if relative.parts[0] == "solutions":
        return Path("labs", *relative.parts[1:]).as_posix()
    return relative.as_posix()


def badge_cell(repo: Repository, path: str):
    cell = nbformat.v4.new_markdown_cell(
        f"[![Open In Colab]({BADGE_IMAGE})]({repo.colab_url(path)})"
    )
    cell.metadata["tags"] = [BADGE_TAG]
    cell["id"] = BADGE_TAG
    return cell


def setup_cell(repo: Repository):
    cell = nbformat.v4.new_code_cell(
        "# On Colab: install the course's helper package (it leaves Colab's TensorFlow and Keras as they are).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "{repo.pip_requirement()}"'
    )
    cell.metadata["tags"] = [SETUP_TAG]
    cell["id"] = SETUP_TAG
    return cell


def _tagged(cell, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def stamped(nb, repo: Repository, path: str):
    """``nb`` with the badge and set-up cells (re)placed at the top, in that order."""
    cells = [c for c in nb.cells if not (_tagged(c, BADGE_TAG) or _tagged(c, SETUP_TAG))]
    nb.cells = [badge_cell(repo, path), setup_cell(repo)] + cells
    return nb


def _comparable(cell) -> dict:
    return {"cell_type": cell.cell_type, "source": cell.source, "tags": cell.metadata.get("tags", [])}


def problems_of(notebook: Path, repo: Repository) -> list[str]:
    """What is missing or stale in ``notebook``'s Colab cells (empty when in sync)."""
    nb = nbformat.read(notebook, as_version=4)
    expected = [badge_cell(repo, opened_path(notebook)), setup_cell(repo)]
    top = [_comparable(c) for c in nb.cells[:2]]
    if top == [_comparable(c) for c in expected]:
        extra = sum(_tagged(c, BADGE_TAG) or _tagged(c, SETUP_TAG) for c in nb.cells[2:])
        return [f"{notebook}: {extra} extra Colab cell(s) below the top"] if extra else []
    if not any(_tagged(c, BADGE_TAG) for c in nb.cells):
        return [f"{notebook}: no Colab badge"]
    return [f"{notebook}: Colab badge or set-up cell missing, stale or not the first two cells"]


def stamp(notebook: Path, repo: Repository) -> bool:
    """Stamp one notebook in place; return whether it changed."""
    if not problems_of(notebook, repo):
        return False
    nb = stamped(nbformat.read(notebook, as_version=4), repo, opened_path(notebook))
    nbformat.write(nb, notebook)
    return True


def sources() -> list[Path]:
    from ci.execute import course_notebooks

    return course_notebooks()


def releases() -> list[Path]:
    """The released lab notebooks (checked, never stamped: nbgrader copies the cells over)."""
    from autograder import pipeline

    return [notebook for lab in pipeline.lab_names() for notebook in sorted((pipeline.LABS / lab).glob("*.ipynb"))]


def check(repo: Repository | None = None) -> list[str]:
    repo = repo or repository()
    problems = [p for notebook in sources() for p in problems_of(notebook, repo)]
    problems += [p for notebook in releases() for p in problems_of(notebook, repo)]
    return [p.replace(f"{ROOT}/", "") for p in problems]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.colab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["stamp", "check"])
    args = parser.parse_args(argv)
    repo = repository()
    if args.command == "stamp":
        from autograder import pipeline

        changed = [notebook for notebook in sources() if stamp(notebook, repo)]
        for notebook in changed:
            print(f"stamped {notebook.relative_to(ROOT)}")
        # Re-release the labs whose release lacks the current cells (their solution just changed, or
        # a merge brought a stale release): nbgrader copies the cells over, labs/ is never edited here.
        for lab in pipeline.lab_names():
            released = pipeline.LABS / lab / f"{lab}.ipynb"
            if not released.is_file() or problems_of(released, repo):
                print(f"released {pipeline.release(lab).relative_to(ROOT)}")
        print(f"{len(changed)} notebook(s) stamped, {len(sources()) - len(changed)} already up to date ({repo.url})")
    problems = check(repo)
    for problem in problems:
        print("colab check:", problem)
    if problems:
        print("Run `python -m ci.colab stamp` (and commit lectures/, solutions/ and labs/).")
        return 1
    if args.command == "check":
        print(f"Colab badge and set-up cell in sync in {len(sources()) + len(releases())} notebook(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
