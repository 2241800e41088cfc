"""Colab: every notebook carries the badge and set-up cell, and a lab runs with only what Colab has.

The Colab-like environment is a fresh venv with TensorFlow, Keras and Colab's generic stack (resolved
freely, not the course's pins) and without nbgrader, papermill or anything else of requirements.txt.
A stub ``google.colab`` makes the kernel look like Colab's, so the notebook's own set-up cell installs
``course`` with pip, from a snapshot of this checkout that git serves in place of the GitHub URL.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder import pipeline
from ci import colab
from ci.env import BUILD, ROOT
from course import testcells

REPO = colab.repository()
LAB = "mnist-cnn"
# What Colab has preinstalled, of what the course needs (Colab has much more: scipy, scikit-learn, ...).
COLAB_PACKAGES = ["tensorflow-cpu", "keras", "ipykernel", "matplotlib", "numpy", "pandas", "requests", "tqdm",
                  "setuptools"]


def test_every_lecture_and_lab_is_stamped():
    assert colab.sources() and colab.releases()
    assert colab.check() == []


@pytest.mark.parametrize("notebook", colab.sources() + colab.releases(),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_badge_opens_a_committed_notebook_and_setup_installs_the_course(notebook):
    badge, setup = nbformat.read(notebook, as_version=4).cells[:2]
    target = badge.source.split("/blob/")[1].rstrip(")")
    branch, path = target.split("/", 1)
    assert branch == REPO.branch and (ROOT / path).is_file()
    assert badge.source.startswith(f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                                   f"(https://colab.research.google.com/github/{REPO.slug}/blob/")
    if notebook.is_relative_to(pipeline.SOLUTIONS) or notebook.is_relative_to(pipeline.LABS):
        assert path.startswith("labs/"), "a lab's badge opens the student release"
    assert setup.cell_type == "code" and f"git+{REPO.url}@{REPO.branch}" in setup.source
    assert "tensorflow" not in setup.source.split("%pip")[1].lower(), "the install must not name TensorFlow/Keras"


def test_stamp_is_idempotent_and_follows_the_repository_setting(tmp_path, monkeypatch):
    monkeypatch.setattr(colab, "ROOT", tmp_path)
    notebook = tmp_path / "lectures" / "demo.ipynb"
    notebook.parent.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Demo"), nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, notebook)
    assert colab.problems_of(notebook, REPO) == [f"{notebook}: no Colab badge"]

    assert colab.stamp(notebook, REPO) is True
    first = notebook.read_bytes()
    assert colab.stamp(notebook, REPO) is False and notebook.read_bytes() == first
    assert [c.source for c in nbformat.read(notebook, as_version=4).cells[2:]] == ["# Demo", "x = 1"]

    fork = colab.Repository("https://github.com/someone/fork", "main")
    assert colab.problems_of(notebook, fork), "a changed repository setting makes the notebook stale"
    assert colab.stamp(notebook, fork) is True
    text = notebook.read_text()
    assert "someone/fork" in text and REPO.slug not in text
    assert len(nbformat.read(notebook, as_version=4).cells) == 4, "restamping replaces, never duplicates"


def test_moved_or_duplicated_colab_cells_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(colab, "ROOT", tmp_path)
    notebook = tmp_path / "lectures" / "demo.ipynb"
    notebook.parent.mkdir()
    nb = colab.stamped(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), REPO, "lectures/demo.ipynb")
    nb.cells = nb.cells[1:] + nb.cells[:1]  # badge moved to the bottom
    nbformat.write(nb, notebook)
    assert "not the first two cells" in colab.problems_of(notebook, REPO)[0]
    colab.stamp(notebook, REPO)
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(colab.badge_cell(REPO, "lectures/demo.ipynb"))
    nb.cells[-1]["id"] = "copied-badge"
    nbformat.write(nb, notebook)
    assert "extra Colab cell" in colab.problems_of(notebook, REPO)[0]


def test_a_bad_repository_setting_is_a_clear_error(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.course]\nrepository = "git@github.com:owner/name.git"\n')
    with pytest.raises(ValueError, match=r"\[tool.course\] repository must be https://github.com/<owner>/<name>"):
        colab.repository(pyproject)


def test_the_course_needs_nothing_that_colab_lacks():
    import tomllib

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].lower() for d in dependencies}
    assert names <= set(COLAB_PACKAGES), f"pip would install {names - set(COLAB_PACKAGES)} on Colab"
    assert all(not re.search(r"[<>=~]", d) for d in dependencies), "pinned dependencies would replace Colab's"


# --- a lab's solution in a Colab-like environment ---------------------------------------------------

STUB = {
    # Colab's kernel imports google.colab at start-up; its front end hands the open notebook to
    # google.colab._message.blocking_request("get_ipynb"): here, the file named by FAKE_COLAB_NOTEBOOK.
    "google/colab/__init__.py": "",
    "google/colab/_message.py": (
        "import json, os\n\n\n"
        "def blocking_request(request_type, request='', timeout_sec=5, parent=None):\n"
        "    assert request_type == 'get_ipynb', request_type\n"
        "    with open(os.environ['FAKE_COLAB_NOTEBOOK']) as handle:\n"
        "        return {'ipynb': json.load(handle)}\n"
    ),
    "fake_colab.pth": "import google.colab\n",
}


def _run(*command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory):
    """A venv with tensorflow, keras and Colab's generic stack; a snapshot repository of `course`."""
    root = tmp_path_factory.mktemp("colab-like")
    venv = root / "venv"
    uv = shutil.which("uv") or os.path.join(os.path.dirname(sys.executable), "uv")
    _run(uv, "venv", "--quiet", "--seed", str(venv), "--python", sys.executable)
    python = venv / "bin" / "python"
    _run(uv, "pip", "install", "--quiet", "--python", str(python), *COLAB_PACKAGES)
    site = _run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    for name, text in STUB.items():
        os.makedirs(os.path.dirname(os.path.join(site, name)), exist_ok=True)
        with open(os.path.join(site, name), "w") as handle:
            handle.write(text)

    snapshot = root / "repository"  # what GitHub would serve: the course package of this checkout
    shutil.copytree(ROOT / "course", snapshot / "course", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, snapshot / name)
    git = ("git", "-C", str(snapshot), "-c", "user.name=test", "-c", "user.email=test@localhost")
    _run(*git[:3], "init", "--quiet", "--initial-branch", REPO.branch)
    _run(*git, "add", ".")
    _run(*git, "commit", "--quiet", "-m", "snapshot")
    return python, snapshot


def _versions(python) -> dict:
    out = _run(str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check").stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}


@pytest.mark.notebook
def test_solution_runs_on_colab_with_only_tensorflow_keras_and_course(colab_like, tmp_path, data_dir):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    python, snapshot = colab_like
    before = _versions(python)
    assert "course" not in before and {"tensorflow-cpu", "keras"} <= set(before)
    assert not {"nbgrader", "papermill", "jupyterlab", "pytest"} & set(before), "what Colab lacks must be absent"

    solution = pipeline.SOLUTIONS / LAB / f"{LAB}.ipynb"
    workdir = tmp_path / LAB
    workdir.mkdir()
    kernels = tmp_path / "kernels" / "colab-like"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python",
        "env": {
            "COURSE_FAST": "1",  # Colab has no papermill: fast mode through the environment
            "COURSE_DATA_DIR": str(data_dir),
            "FAKE_COLAB_NOTEBOOK": str(solution),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",  # Colab's, not the tests' agg
            # git fetches the set-up cell's GitHub URL from the snapshot; pip may not download anything,
            # so it cannot replace TensorFlow or Keras (and builds with the venv's own setuptools).
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.file://{snapshot}.insteadOf",
            "GIT_CONFIG_VALUE_0": REPO.url,
            "PIP_NO_INDEX": "1",
            "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        },
    }))
    nb = nbformat.read(solution, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("from course import selfcheck\n\nresults = selfcheck.check()"))
    km = KernelManager(kernel_name="colab-like", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels.parent)]))
    NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(workdir)}}).execute()
    (BUILD / "colab-like").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, BUILD / "colab-like" / f"{LAB}.ipynb")  # kept as a CI artefact

    def text_of(cell):
        outputs = cell.get("outputs", [])
        return "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)

    assert "ERROR" not in text_of(nb.cells[1]), text_of(nb.cells[1])  # %pip reports failures without raising
    everything = "\n".join(text_of(c) for c in nb.cells)
    assert "Mode: FAST" in everything
    assert "On Colab: Runtime > Change runtime type > Hardware accelerator: GPU" in everything
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    test_ids = [testcells.grade_id(c) for c in nb.cells if testcells.is_test(c)]  # written answers are graded by hand
    report = text_of(nb.cells[-1])
    assert f"{len(test_ids)} of {len(test_ids)} tests pass" in report, report
    assert all(f"ok      {grade_id}" in report for grade_id in test_ids), report

    after = _versions(python)
    assert after.pop("course") == "0.1.0"
    assert after == before, "installing the course must not change any package Colab already has"
