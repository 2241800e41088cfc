"""The trusted grading kernel: where test cells run, next to (never inside) the student's kernel.

* :func:`plan` is the static pass over a lab (run at release time on the solutions notebook, stored
  in the master's metadata): every name a test cell reads is sorted into *lab* (the last cell before
  the test that binds it is the lab's own code, computed without answers), *answer* (an answer cell
  binds it, or a lab cell computes it from answers), *test* (an earlier test cell binds it) or a
  builtin. The lab cells that the tests need, and the lab cells those need, are marked to run here.
  A needed lab cell that also calls answers, or any cell that reads a name only a test defines, is a
  :class:`LabPlanError` (CI fails).
* :class:`GradingKernel` is a plain namespace in the worker process that never executes student code:
  it runs the marked lab cells from the master, then each test with the answer names it reads
  fetched from the student's kernel as data or call proxies (:mod:`autograder.boundary`).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import os
from pathlib import Path

from course import testcells

META = "course_grading"  # cell metadata key written into the master


class LabPlanError(ValueError):
    """A lab cell the tests need depends on an answer or a test: the lab cannot be graded safely."""


def _bound_and_read(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds at module level, names it reads before binding them or from nested scopes)."""
    bound, read = set(), set()
    for names, reads in _statements(source):
        read |= reads - bound
        bound |= names
    return bound, read


def _statements(source: str) -> list[tuple[set[str], set[str]]]:
    """(names bound, names read) of each top-level statement of a cell."""
    try:
        tree = ast.parse(testcells.to_python(source))
    except SyntaxError:
        return []
    bound: set[str] = set()
    read: set[str] = set()

    def targets(node) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}

    def scope_reads(node) -> set[str]:
        """Free names of a function, lambda, class or comprehension."""
        local = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        local |= {a.arg for n in ast.walk(node) if isinstance(n, ast.arguments)
                  for a in n.args + n.posonlyargs + n.kwonlyargs + [x for x in (n.vararg, n.kwarg) if x]}
        local |= {n.name for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n is not node}
        local |= {(a.asname or a.name).split(".")[0] for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))
                  for a in n.names}
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local

    def visit(node):
        """Reads of one module-level statement, in evaluation order (roughly: values before targets)."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                             ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            read.update(scope_reads(node) - bound)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for decorator in node.decorator_list:
                    visit(decorator)
                bound.add(node.name)
            return
        if isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
            return
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and node.id not in bound:
                read.add(node.id)
            elif isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            return
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            if isinstance(node, ast.AugAssign):
                visit(ast.Name(node.target.id, ast.Load()) if isinstance(node.target, ast.Name) else node.target)
            if node.value is not None:
                visit(node.value)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in bound:
                        read.add(sub.id)
                bound.update(targets(target))
            return
        if isinstance(node, (ast.For, ast.AsyncFor)):
            visit(node.iter)
            bound.update(targets(node.target))
            for child in node.body + node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    result = []
    for statement in tree.body:
        bound, read = set(), set()
        visit(statement)
        result.append((bound, read))
    return result


def plan(solution) -> dict:
    """``{"tests": {grade_id: {"answer": [...], "lab": [...], "test": [...]}}, "lab_cells": [index, ...]}``
    for a lab's solutions notebook (answers in place). A name a lab cell computes from answers
    (``counts = count_letters(...)``) is the student's: it is fetched like an answer. Raises
    :class:`LabPlanError` for a lab cell that mixes lab data a test reads with calls of answers, and
    for a cell that reads a name only a test cell defines (tests never run in the student's kernel)."""
    cells = solution.cells
    kinds, statements = [], []
    for cell in cells:
        code = cell.cell_type == "code"
        kinds.append(None if not code else "test" if testcells.is_test(cell)
                     else "answer" if testcells.is_answer(cell) else "lab")
        statements.append(_statements(testcells.source(cell)) if code else [])
    bindings = [set().union(*(b for b, _ in st)) if st else set() for st in statements]
    builtin = set(dir(builtins)) | {"get_ipython", "display", "__file__"}

    def label(index: int) -> str:
        return f"cell {index} ({testcells.grade_id(cells[index]) or kinds[index]})"

    def definer(name: str, before: int) -> int | None:
        for index in range(before - 1, -1, -1):
            if name in bindings[index]:
                return index
        return None

    memo: dict = {}

    def statement_derived(index: int, k: int) -> bool:
        """Whether statement k of lab cell ``index`` computes with answers (directly or through other names)."""
        if (index, k) not in memo:
            memo[(index, k)] = False
            _, reads = statements[index][k]
            found = False
            for name in reads:
                earlier = [j for j in range(k) if name in statements[index][j][0]]
                found = statement_derived(index, earlier[-1]) if earlier else derived(name, index)
                if found:
                    break
            memo[(index, k)] = found
        return memo[(index, k)]

    def derived(name: str, before: int) -> bool:
        where = definer(name, before)
        if where is None or kinds[where] == "test":
            return where is None and name not in builtin
        if kinds[where] == "answer":
            return True
        k = max(j for j, (b, _) in enumerate(statements[where]) if name in b)
        return statement_derived(where, k)

    def pure(index: int) -> bool:
        return not any(statement_derived(index, k) for k in range(len(statements[index])))

    for index, kind in enumerate(kinds):  # tests never run in the student's kernel
        if kind in ("lab", "answer"):
            for name in _bound_and_read(testcells.source(cells[index]))[1]:
                where = definer(name, index)
                if where is not None and kinds[where] == "test" and not any(
                        name in bindings[i] and kinds[i] != "test" for i in range(index)):
                    raise LabPlanError(f"{label(index)} reads {name!r}, which only test {label(where)} defines: "
                                       "tests do not run in the student's kernel, define it in a lab cell")

    tests, needed = {}, set()

    def need(index: int, reader: str) -> None:
        if index in needed:
            return
        if not pure(index):
            raise LabPlanError(f"{label(index)}, which {reader} needs, calls answers: a lab cell that tests depend "
                               "on must not mix lab and answer names (split it)")
        needed.add(index)
        for name in _bound_and_read(testcells.source(cells[index]))[1]:
            where = definer(name, index)
            if where is not None and kinds[where] == "lab":
                need(where, label(index))

    for index, cell in enumerate(cells):
        if kinds[index] != "test":
            continue
        gid = testcells.grade_id(cell)
        names = {"answer": set(), "lab": set(), "test": set()}
        for name in _bound_and_read(testcells.source(cell))[1]:
            where = definer(name, index)
            if where is None:
                if name not in builtin:
                    names["answer"].add(name)  # defined by no cell: the student's (or a NameError there)
            elif kinds[where] == "lab" and derived(name, index):
                names["answer"].add(name)  # computed from answers in the student's kernel
            else:
                names[kinds[where]].add(name)
                if kinds[where] == "lab":
                    need(where, f"test {gid}")
        tests[gid] = {k: sorted(v) for k, v in names.items()}
    return {"tests": tests, "lab_cells": sorted(needed)}


def mark(master, solution) -> None:
    """Store the plan of ``solution`` in the cells of ``master`` (the same cells, answers stubbed)."""
    result = plan(solution)
    for index, cell in enumerate(master.cells):
        cell.metadata.pop(META, None)
        if index in result["lab_cells"]:
            cell.metadata[META] = {"trusted": True}
        elif testcells.is_test(cell):
            cell.metadata[META] = result["tests"][testcells.grade_id(cell)]


def is_trusted_lab_cell(cell) -> bool:
    return bool(cell.get("metadata", {}).get(META, {}).get("trusted"))


def answer_names(cell) -> list[str]:
    meta = cell.get("metadata", {}).get(META)
    if not isinstance(meta, dict) or not isinstance(meta.get("answer"), list):
        raise LabPlanError(f"test {testcells.grade_id(cell)} has no grading plan: release the lab again")
    return meta["answer"]


class GradingKernel:
    """The namespace where the master's lab cells and the test cells run (the worker's own process)."""

    def __init__(self, folder: Path, env: dict | None = None, shared: Path | None = None):
        """``folder``: the working folder (the lab's files); ``shared``: where the tests' temporary
        files go (``tempfile``, ``$TMPDIR``), a folder the student's kernel sees too, so that a test can
        hand a file to a student's function."""
        self.folder = Path(folder)
        self.namespace: dict = {"__name__": "__main__"}
        self.env = dict(env or {})
        if shared is not None:
            self.env["TMPDIR"] = str(shared)
        self.shared = shared

    @contextlib.contextmanager
    def _here(self):
        import tempfile

        previous_dir, previous_env = os.getcwd(), {k: os.environ.get(k) for k in self.env}
        previous_tmp = tempfile.tempdir
        os.chdir(self.folder)
        os.environ.update(self.env)
        if self.shared is not None:
            tempfile.tempdir = str(self.shared)
        try:
            yield
        finally:
            tempfile.tempdir = previous_tmp
            os.chdir(previous_dir)
            for key, value in previous_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def run(self, source: str, name: str) -> tuple[object, str, str]:
        """Run one cell: ``(value of its last expression, error or "", captured output)``."""
        out = io.StringIO()
        with self._here(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("default")
                value, error = testcells.run(source, self.namespace, name)
        return value, error, out.getvalue()

    def run_test(self, cell, fetch) -> tuple[float, str, str, str]:
        """``(points, status, message, output)`` of one test; ``fetch(name)`` brings a student's value."""
        maximum = testcells.points(cell)
        for name in answer_names(cell):
            try:
                self.namespace[name] = fetch(name)
            except Exception as exc:  # noqa: BLE001 (missing, unsupported or garbled: this test fails)
                self.namespace.pop(name, None)
                return 0.0, "failed", testcells.error_text(exc), ""
        value, error, output = self.run(testcells.source(cell), f"<test {testcells.grade_id(cell)}>")
        points, status, message = testcells.score(maximum, error, value)
        return points, status, message, output
