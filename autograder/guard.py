"""Code the worker runs inside the kernel (as silent requests) to keep test cells honest.

Student code and tests share one Python process, so a submission can try to make failing tests
pass: patch ``InteractiveShell.showtraceback`` so errors are not shown, register a custom exception
handler, monkeypatch ``numpy.testing``, shadow ``isinstance`` or ``len`` with a function that
always agrees, or patch at test time from inside a function the test calls. The guard:

1. **snapshot** (before any student code): the ``builtins`` namespace, the modules the lab's test
   cells import (and their submodules, classes and functions, including each function's code
   object), and the IPython/ipykernel machinery that reports errors;
2. **before** every test cell: restores all of it, clears trace/profile functions, custom exception
   handlers and the event hooks and input/AST transformers added since the snapshot, and hides
   student globals that shadow builtins (put back afterwards);
3. **after** every test cell: compares the state with the snapshot again. Any change made while the
   test ran (student code called by the test tampered) fails that test.

Each step runs as a user expression and returns a JSON list of findings through ``user_expressions``, which the worker turns into
flags. The worker grades a test from the kernel's execute *reply* (not from the error output a patched
shell may hide) and counts a test that never ran (kernel exit or death) as failed. The guard is
re-sent from source each time; its snapshot lives in the kernel under a per-grading random name.
This stops the known cheats; a student who reads this file can still attack the snapshot itself
from inside the process, so such code is also flagged by the static scan in ``integrity``.
"""

from __future__ import annotations

import ast
import json

_GUARD = r'''
def _course_guard(action, key, modules=()):
    import builtins, json, os, sys, types
    from IPython import get_ipython
    store = sys.__dict__.setdefault(key, {})
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    machinery = [c for c in type(shell).__mro__ if c.__module__.startswith(("IPython", "ipykernel"))]
    if kernel is not None:
        machinery += [c for c in type(kernel).__mro__ if c.__module__.startswith(("ipykernel", "IPython"))]
    events = shell.events.callbacks
    routines = (types.FunctionType, types.BuiltinFunctionType, staticmethod, classmethod, property, type)

    def routines_of(namespace):
        return {k: v for k, v in namespace.items() if isinstance(v, routines) and k != "__class__"}

    def code_of(namespace):
        return {k: (v.__code__, v.__defaults__, v.__kwdefaults__)
                for k, v in namespace.items() if isinstance(v, types.FunctionType)}

    def watched_modules():
        found = {}
        for name in [m for m in modules if m in sys.modules]:
            found[name] = sys.modules[name]
            for other in list(sys.modules):
                if other.startswith(name + ".") and other.count(".") == name.count(".") + 1:
                    found[other] = sys.modules[other]
        return {n: m for n, m in found.items() if isinstance(m, types.ModuleType)}

    def student_made(function):
        code = getattr(function, "__code__", None) or getattr(getattr(function, "__func__", None), "__code__", None)
        return code is not None and not code.co_filename.startswith(store["trusted"])

    if action == "snapshot":
        for name in modules:
            try:
                __import__(name)  # a dotted attribute path that is not a module simply fails here
            except Exception:
                pass
        watched = watched_modules()
        classes = {}
        for module in watched.values():
            for value in list(vars(module).values()):
                if isinstance(value, type) and id(value) not in classes:
                    classes[id(value)] = (value, routines_of(vars(value)), code_of(vars(value)))
        for cls in machinery:
            classes[id(cls)] = (cls, routines_of(vars(cls)), code_of(vars(cls)))
        trusted = {sys.prefix, sys.base_prefix, os.path.dirname(os.__file__)}
        trusted |= {os.path.dirname(m.__file__) for m in watched.values() if getattr(m, "__file__", None)}
        store.update(
            trusted=tuple(sorted(trusted)), builtins=dict(vars(builtins)), modules=dict(watched),
            dicts={n: routines_of(vars(m)) for n, m in watched.items()},
            code={n: code_of(vars(m)) for n, m in watched.items()}, classes=classes,
            excepthook=sys.excepthook, displayhook=sys.displayhook, shadowed={},
        )
        return "[]"

    findings = []
    restore = action == "before"

    def note(what):
        if what not in findings:
            findings.append(what)

    def check_code(namespace, saved, label):
        for attr, (code, defaults, kwdefaults) in saved.items():
            function = namespace.get(attr)
            if isinstance(function, types.FunctionType) and (
                    function.__code__ is not code or function.__defaults__ is not defaults
                    or function.__kwdefaults__ is not kwdefaults):
                note("patched code of " + label + "." + attr)
                if restore:
                    function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults

    def check_namespace(live, saved, label, setter):
        for attr, value in saved.items():
            if live.get(attr, saved) is not value:
                note("monkeypatched " + label + "." + attr)
                if restore:
                    setter(attr, value)

    if action == "after":
        for name, value in store["shadowed"].items():
            shell.user_ns.setdefault(name, value)
        store["shadowed"] = {}
    check_namespace(vars(builtins), {k: v for k, v in store["builtins"].items() if k != "_"}, "builtins",
                    lambda k, v: setattr(builtins, k, v))
    for name, module in store["modules"].items():
        if sys.modules.get(name) is not module:
            note("replaced module " + name)
            if restore:
                sys.modules[name] = module
        check_namespace(vars(module), store["dicts"][name], name, lambda k, v, m=module: setattr(m, k, v))
        check_code(vars(module), store["code"][name], name)
    for cls, saved, code in store["classes"].values():
        check_namespace(dict(vars(cls)), saved, cls.__qualname__, lambda k, v, c=cls: setattr(c, k, v))
        check_code(dict(vars(cls)), code, cls.__qualname__)
    for obj in (shell, kernel):
        for attr, value in list(vars(obj).items()) if obj is not None else ():
            if callable(value) and isinstance(getattr(type(obj), attr, None), types.FunctionType) \
                    and student_made(value):
                note("patched " + type(obj).__name__ + "." + attr)
                if restore:
                    delattr(obj, attr)
    if shell.custom_exceptions:
        note("custom exception handler")
        if restore:
            shell.set_custom_exc((), None)
    for name, callbacks in events.items():
        for callback in [c for c in callbacks if student_made(c)]:
            note("event hook " + name)
            if restore:
                callbacks.remove(callback)
    for live in (shell.input_transformers_post, shell.input_transformer_manager.cleanup_transforms,
                 shell.input_transformer_manager.line_transforms, shell.ast_transformers):
        for transformer in [t for t in live if student_made(t) or student_made(getattr(t, "visit", None))]:
            note("input or AST transformer")
            if restore:
                live.remove(transformer)
    if sys.gettrace() is not None or sys.getprofile() is not None:
        note("trace or profile function")
        if restore:
            sys.settrace(None)
            sys.setprofile(None)
    for hook in ("excepthook", "displayhook"):
        if getattr(sys, hook) is not store[hook]:
            note("patched sys." + hook)
            if restore:
                setattr(sys, hook, store[hook])
    if restore:
        for name in [n for n in list(shell.user_ns) if n in store["builtins"] and not n.startswith("_")]:
            if shell.user_ns[name] is not store["builtins"][name]:
                store["shadowed"][name] = shell.user_ns.pop(name)
    return json.dumps(findings)
'''


def request(action: str, key: str, modules: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """The ``user_expressions`` of one guard step (``snapshot``, ``before`` or ``after``).

    The worker sends them with empty code: user expressions are evaluated by the kernel directly,
    without the input and AST transformers a submission may have installed, and run in a fresh
    namespace, so no student code ever holds the guard.
    """
    source = _GUARD + f"\nresult = _course_guard({action!r}, {key!r}, {tuple(modules)!r})\n"
    return {"findings": f"(lambda ns: exec({source!r}, ns) or ns['result'])({{}})"}


def parse(reply: dict | None) -> list[str] | None:
    """Findings from a guard reply; None when the guard itself failed (it was tampered with)."""
    if not reply or reply.get("content", {}).get("status") != "ok":
        return None
    expression = reply["content"].get("user_expressions", {}).get("findings", {})
    if expression.get("status") != "ok":
        return None
    try:
        return json.loads(ast.literal_eval(expression["data"]["text/plain"]))
    except (KeyError, ValueError, TypeError, SyntaxError):
        return None
