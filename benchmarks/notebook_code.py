"""Functions (and constants) taken straight from a course notebook, so that benchmarks time the
notebooks' own models instead of copies of them."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat


def functions(notebook: str | Path, *names: str, constants: tuple[str, ...] = ()) -> dict:
    """Define the named top-level functions of ``notebook``'s code cells, with the notebook's imports,
    and the named top-level constants (``NUM_WORDS = 10000``) they use. A function the notebook imports
    (``from course.encoding import one_hot``) is taken from that import.

    Only ``import`` statements, the requested ``def``s and the requested assignments are executed:
    nothing trains, nothing is printed. Raises ``LookupError`` naming the notebook when a function or
    constant is missing.
    """
    nb = nbformat.read(notebook, as_version=4)
    imports, found, values, imported = [], {}, {}, set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics: such cells hold nothing we need
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(node)
                imported |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
            elif isinstance(node, ast.FunctionDef) and node.name in names:
                found[node.name] = node
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                  and node.targets[0].id in constants):
                values[node.targets[0].id] = node
    missing = [n for n in names if n not in found and n not in imported] + [c for c in constants if c not in values]
    if missing:
        raise LookupError(f"{notebook} defines no {', '.join(missing)}")
    module = ast.Module(body=imports + [values[c] for c in constants] + [found[n] for n in names if n in found],
                        type_ignores=[])
    namespace: dict = {"__name__": f"notebook:{Path(notebook).stem}"}
    exec(compile(module, str(notebook), "exec"), namespace)
    return {n: namespace[n] for n in (*names, *constants)}
