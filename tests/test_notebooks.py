"""Every lecture and solution notebook executes headlessly in fast mode, and is committed clean."""

import nbformat
import pytest

from ci.execute import EXECUTED, ROOT, course_notebooks, execute

NOTEBOOKS = course_notebooks()


def test_the_course_has_notebooks():
    assert any(p.parent.name == "lectures" for p in NOTEBOOKS), "no lecture notebook found"
    assert any(p.parent.parent.name == "solutions" for p in NOTEBOOKS), "no solution notebook found"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_committed_clean_with_one_parameters_cell(notebook):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.outputs or c.execution_count for c in code), "commit notebooks without outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected exactly one cell tagged 'parameters', found {len(tagged)}"
    assert "FAST" in tagged[0].source, "the parameters cell must define FAST"


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_executes_in_fast_mode(notebook, tmp_path):
    # Executed lectures are kept where `make run` keeps them: the website (test_book.py) shows their outputs.
    result = execute(notebook, EXECUTED if notebook.parent.name == "lectures" else tmp_path, fast=True)
    assert result.status == "ok", f"{result.notebook} failed: {result.error}"
    executed = nbformat.read(result.output, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert any("Mode: FAST" in o.get("text", "") for c in executed.cells for o in c.get("outputs", [])), \
        "the notebook must call course.runtime.setup and run in fast mode"
