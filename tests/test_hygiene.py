"""Notebook hygiene: stripping restores the committed bytes; the pre-commit hooks are make lint's."""

import copy
import shutil

import nbformat
import pytest
import yaml

from autograder import pipeline
from ci import strip
from ci.env import ROOT


def dirty_copy(notebook, folder):
    """``notebook`` as JupyterLab/papermill leave it after a run: outputs, counts, run metadata."""
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata.language_info = {"name": "python", "version": "3.11.2", "mimetype": "text/x-python"}
    nb.metadata.papermill = {"parameters": {"FAST": True}}
    for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Mode: FAST\n")]
        cell.metadata.execution = {"iopub.status.busy": "2026-01-01T00:00:00"}
        cell.metadata.scrolled = True
    dirty = folder / notebook.name
    nbformat.write(nb, dirty)
    return dirty


@pytest.mark.parametrize("notebook", [pipeline.SOLUTIONS / n / f"{n}.ipynb" for n in pipeline.lab_names()]
                         + [pipeline.LABS / n / f"{n}.ipynb" for n in pipeline.lab_names()],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_stripping_a_run_notebook_gives_back_the_committed_bytes(notebook, tmp_path):
    dirty = dirty_copy(notebook, tmp_path)
    assert strip.strip(dirty, check_only=True) is True
    assert strip.main(["--check", str(dirty)]) == 1
    assert strip.strip(dirty) is True
    assert dirty.read_bytes() == notebook.read_bytes()
    assert strip.strip(dirty) is False and strip.main(["--check", str(dirty)]) == 0


def test_stripping_keeps_tags_and_nbgrader_metadata(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("FAST = None")])
    nb.cells[0].metadata = {"tags": ["parameters"], "nbgrader": {"grade": False}, "collapsed": True}
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="x")]
    clean = strip.stripped(copy.deepcopy(nb))
    assert clean.cells[0].metadata == {"tags": ["parameters"], "nbgrader": {"grade": False}}
    assert clean.cells[0].outputs == []


def test_every_committed_notebook_is_clean():
    assert strip.course_notebooks()
    assert [n for n in strip.course_notebooks() if strip.strip(n, check_only=True)] == []


def test_pre_commit_runs_the_course_tools_from_the_venv_without_download():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert [r["repo"] for r in config["repos"]] == ["local"], "remote hooks would need the network"
    hooks = {h["id"]: h for h in config["repos"][0]["hooks"]}
    assert set(hooks) == {"strip-notebooks", "ruff", "colab", "release-sync"}
    assert all(h["language"] == "system" and h["entry"].startswith(".venv/bin/") for h in hooks.values())
    assert "jupyter" in hooks["ruff"]["types_or"] and "python" in hooks["ruff"]["types_or"]
    assert "pre-commit run --all-files" in (ROOT / "Makefile").read_text(), "make lint must run the same hooks"
    for hook in hooks.values():  # each entry is a runnable command of this checkout
        program = hook["entry"].split()
        assert (ROOT / program[0]).exists() or shutil.which(program[0]), program
