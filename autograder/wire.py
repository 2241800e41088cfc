"""How a value crosses between the student's kernel and the trusted grading side: as data, in files.

A value is written into a folder both sides see: ``value.json`` (a tree of tagged nodes) plus one
``.npy`` file per NumPy array (``allow_pickle=False``) and, for a Keras model, its config (JSON)
and weights (``.npz``). Nothing is pickled and no code crosses. What may cross:

* ``None``, bools, numbers, strings, bytes, paths and lists, tuples, dicts, sets of them (subclasses arrive
  as the plain type: an ``__eq__`` that always agrees does not travel);
* NumPy arrays and scalars (subclasses arrive as plain ``ndarray``); arrays of dtype object only with
  items that may cross themselves (each item crosses on its own, e.g. ragged sequences);
* pandas Series and DataFrames (index, columns and object columns as lists of the values above);
* Keras models, as config plus weights (checked against an allow-list before they are rebuilt);
* other objects (functions, scikit-learn estimators, tensors, ...), as a reference the other side turns
  into a proxy (calls, attributes, ``len``, items, ``numpy.asarray`` run on the student's side);
* classes, modules and arrays of dtype object arrive as ``unsupported`` nodes naming their type.

Reading is strict (:func:`decode`): sizes capped, nesting bounded, every node checked; a file that
is garbled, forged or too big raises :class:`WireError`. This module's source is also executed in
the student's kernel (in a fresh namespace, see :func:`serve`), so it imports only the standard
library and, lazily, NumPy.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import sys

MAX_BYTES = 256 << 20  # all files of one value together
MAX_JSON = 32 << 20  # the value.json tree
MAX_DEPTH = 32  # nesting of containers
MAX_NODES = 1_000_000  # nodes in one value
MAX_INT_DIGITS = 4300
ACCEPTED = ("None, bool, int, float, complex, str, bytes, paths, list/tuple/dict/set of these, NumPy arrays and scalars "
            "(of dtype object: holding these), pandas Series and DataFrames, Keras models, dataclasses of the course "
            "package (e.g. course.datasets.reuters.Story), functions and other objects (as proxies), not classes or "
            "modules")
# Dataclasses defined here cross field by field (the lab's own record types, e.g. a Reuters story): the
# class is trusted code that both sides import; only its fields are data.
RECORD_PACKAGE = "course"
_FILE = re.compile(r"^[akw]\d{1,7}\.(npy|json|npz)$")


class WireError(ValueError):
    """A value file is missing, garbled, forged or over the limits."""


class Unsupported(TypeError):
    """A value of a type that cannot cross."""


def encode(value, folder, register=None) -> None:
    """Write ``value`` into ``folder``; ``register(obj) -> int`` turns other objects into references
    (without it they are unsupported)."""
    state = {"files": 0, "nodes": 0}

    def new_file(prefix: str, suffix: str) -> str:
        state["files"] += 1
        return f"{prefix}{state['files']}.{suffix}"

    def node(v, depth: int):
        state["nodes"] += 1
        if depth > MAX_DEPTH or state["nodes"] > MAX_NODES:
            raise WireError("value too deeply nested or too large")
        np = sys.modules.get("numpy")
        if v is None:
            return ["none"]
        if isinstance(v, bool):
            return ["bool", bool(v)]
        if isinstance(v, int):
            return ["int", str(int(v))]
        if isinstance(v, float):
            return ["float", float(v).hex()]
        if isinstance(v, complex):
            return ["complex", float(v.real).hex(), float(v.imag).hex()]
        if isinstance(v, str):
            return ["str", str(v)]
        if isinstance(v, (bytes, bytearray)):
            return ["bytes", base64.b64encode(bytes(v)).decode()]
        if isinstance(v, os.PathLike) and isinstance(os.fspath(v), str):
            return ["path", os.fspath(v)]
        if isinstance(v, (list, tuple, set, frozenset)):
            kind = next(k for k in (list, tuple, frozenset, set) if isinstance(v, k)).__name__
            return [kind, [node(item, depth + 1) for item in list(v)]]
        if isinstance(v, dict):
            return ["dict", [[node(k, depth + 1), node(item, depth + 1)] for k, item in list(v.items())]]
        if np is not None and isinstance(v, (np.ndarray, np.generic)):
            array = np.array(v, copy=True, subok=False)
            if array.dtype.hasobject:  # e.g. ragged sequences: each item crosses as a value of its own
                if array.dtype != object:
                    return ["unsupported", f"numpy array of dtype {array.dtype}"]
                return ["objarray", [int(n) for n in array.shape], [node(item, depth + 1) for item in array.ravel()]]
            name = new_file("a", "npy")
            np.save(os.path.join(folder, name), array, allow_pickle=False)
            return ["array" if isinstance(v, np.ndarray) else "npscalar", name]
        pandas = sys.modules.get("pandas")
        if pandas is not None and isinstance(v, (pandas.Series, pandas.DataFrame)):
            def column(values):
                values = np.asarray(values)
                return node(values.tolist() if values.dtype.hasobject else values, depth + 1)

            index = node(list(v.index), depth + 1)
            if isinstance(v, pandas.Series):
                return ["series", index, column(v.to_numpy()), node(v.name, depth + 1)]
            return ["dataframe", index, node(list(v.columns), depth + 1),
                    [column(v[c].to_numpy()) for c in v.columns]]
        cls = type(v)
        if dataclasses.is_dataclass(cls) and cls.__module__.split(".")[0] == RECORD_PACKAGE:
            return ["record", f"{cls.__module__}:{cls.__qualname__}",
                    [[f.name, node(getattr(v, f.name), depth + 1)] for f in dataclasses.fields(cls) if f.init]]
        keras = sys.modules.get("keras")
        if keras is not None and isinstance(v, keras.Model):
            config, weights = new_file("k", "json"), new_file("w", "npz")
            with open(os.path.join(folder, config), "w") as handle:
                json.dump(keras.saving.serialize_keras_object(v), handle)
            np.savez(os.path.join(folder, weights), *[np.asarray(w) for w in v.get_weights()])
            return ["keras", config, weights]
        if register is not None and not isinstance(v, (type, type(sys))):
            return ["proxy", int(register(v)), type(v).__name__]
        return ["unsupported", f"{type(v).__module__}.{type(v).__qualname__}"]

    tree = node(value, 0)
    temporary = os.path.join(folder, "value.json.tmp")
    with open(temporary, "w") as handle:
        json.dump(tree, handle)
    os.replace(temporary, os.path.join(folder, "value.json"))


def decode(folder, proxy=None, keras_model=None):
    """Read the value in ``folder`` strictly. ``proxy(ref, type_name)`` makes a call proxy,
    ``keras_model(config_path, weights_path)`` rebuilds a model; without them these are unsupported."""
    import numpy as np

    folder = os.fspath(folder)
    path = os.path.join(folder, "value.json")
    try:
        if os.path.islink(path) or os.path.getsize(path) > MAX_JSON:
            raise WireError("the value file is missing, a link or too big")
        with open(path, "rb") as handle:
            tree = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise WireError(f"unreadable value file ({type(exc).__name__})") from None
    state = {"nodes": 0, "bytes": 0}

    def data_file(name) -> str:
        if not isinstance(name, str) or not _FILE.match(name):
            raise WireError(f"bad file name {name!r}")
        full = os.path.join(folder, name)
        if os.path.islink(full) or not os.path.isfile(full):
            raise WireError(f"missing data file {name}")
        state["bytes"] += os.path.getsize(full)
        if state["bytes"] > MAX_BYTES:
            raise WireError(f"the value is larger than {MAX_BYTES:,} bytes")
        return full

    def load_array(name):
        full = data_file(name)
        try:
            array = np.load(full, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise WireError(f"garbled array file ({type(exc).__name__})") from None
        if not isinstance(array, np.ndarray) or array.dtype.hasobject:
            raise WireError("not a plain array")
        return array

    def expect(condition):
        if not condition:
            raise WireError("malformed value tree")

    def value(n, depth: int):
        state["nodes"] += 1
        expect(depth <= MAX_DEPTH and state["nodes"] <= MAX_NODES)
        expect(isinstance(n, list) and n and isinstance(n[0], str))
        tag, args = n[0], n[1:]
        if tag == "none":
            expect(not args)
            return None
        if tag == "bool":
            expect(len(args) == 1 and isinstance(args[0], bool))
            return args[0]
        if tag == "int":
            expect(len(args) == 1 and isinstance(args[0], str) and re.fullmatch(r"-?\d{1,%d}" % MAX_INT_DIGITS, args[0]))
            return int(args[0])
        if tag in ("float", "complex"):
            expect(len(args) == (1 if tag == "float" else 2) and all(isinstance(a, str) and len(a) < 40 for a in args))
            try:
                numbers = [float.fromhex(a) for a in args]
            except (ValueError, OverflowError):
                raise WireError("malformed number") from None
            return numbers[0] if tag == "float" else complex(*numbers)
        if tag == "str":
            expect(len(args) == 1 and isinstance(args[0], str))
            return args[0]
        if tag == "path":
            import pathlib

            expect(len(args) == 1 and isinstance(args[0], str))
            return pathlib.Path(args[0])
        if tag == "bytes":
            expect(len(args) == 1 and isinstance(args[0], str))
            try:
                return base64.b64decode(args[0], validate=True)
            except ValueError:
                raise WireError("malformed bytes") from None
        if tag in ("list", "tuple", "set", "frozenset"):
            expect(len(args) == 1 and isinstance(args[0], list))
            items = [value(item, depth + 1) for item in args[0]]
            try:
                return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
            except TypeError:
                raise WireError("unhashable set item") from None
        if tag == "dict":
            expect(len(args) == 1 and isinstance(args[0], list))
            result = {}
            for pair in args[0]:
                expect(isinstance(pair, list) and len(pair) == 2)
                key, item = value(pair[0], depth + 1), value(pair[1], depth + 1)
                try:
                    result[key] = item
                except TypeError:
                    raise WireError("unhashable dict key") from None
            return result
        if tag == "array":
            expect(len(args) == 1)
            return load_array(args[0])
        if tag == "objarray":
            expect(len(args) == 2 and isinstance(args[0], list) and isinstance(args[1], list) and len(args[0]) <= 32)
            expect(all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in args[0]))
            expect(int(np.prod(args[0], dtype=np.int64)) == len(args[1]))
            array = np.empty(len(args[1]), dtype=object)
            for i, item in enumerate(args[1]):
                array[i] = value(item, depth + 1)
            return array.reshape(args[0])
        if tag == "npscalar":
            expect(len(args) == 1)
            array = load_array(args[0])
            expect(array.shape == ())
            return array[()]
        if tag in ("series", "dataframe"):
            import pandas

            expect(len(args) == 3)
            index = value(args[0], depth + 1)
            expect(isinstance(index, list))
            if tag == "series":
                data = value(args[1], depth + 1)
                expect(isinstance(data, (list, np.ndarray)) and len(data) == len(index))
                return pandas.Series(data, index=index, name=value(args[2], depth + 1))
            columns = value(args[1], depth + 1)
            expect(isinstance(columns, list) and isinstance(args[2], list) and len(args[2]) == len(columns))
            data = [value(c, depth + 1) for c in args[2]]
            expect(all(isinstance(d, (list, np.ndarray)) and len(d) == len(index) for d in data))
            frame = pandas.DataFrame({i: d for i, d in enumerate(data)}, index=index)
            frame.columns = columns
            return frame
        if tag == "record":
            expect(len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], list))
            module_name, _, qualname = args[0].partition(":")
            expect(module_name.split(".")[0] == RECORD_PACKAGE and re.fullmatch(r"[A-Za-z_][\w.]{0,100}", module_name)
                   and re.fullmatch(r"[A-Za-z_]\w{0,100}", qualname))
            import importlib

            try:
                cls = getattr(importlib.import_module(module_name), qualname)
            except (ImportError, AttributeError):
                raise WireError(f"unknown record type {args[0][:200]}") from None
            expect(isinstance(cls, type) and dataclasses.is_dataclass(cls))
            fields = {}
            for pair in args[1]:
                expect(isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and pair[0] not in fields)
                fields[pair[0]] = value(pair[1], depth + 1)
            expect(set(fields) == {f.name for f in dataclasses.fields(cls) if f.init})
            try:
                return cls(**fields)
            except (TypeError, ValueError) as exc:
                raise WireError(f"{qualname}: {str(exc)[:200]}") from None
        if tag == "keras" and keras_model is not None:
            expect(len(args) == 2)
            return keras_model(data_file(args[0]), data_file(args[1]))
        if tag == "proxy" and proxy is not None:
            expect(len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str))
            return proxy(args[0], args[1][:100])
        if tag in ("unsupported", "keras", "proxy"):
            what = args[0] if tag == "unsupported" and args and isinstance(args[0], str) else tag
            raise Unsupported(f"a value of type {what[:200]} cannot be graded (accepted: {ACCEPTED})")
        raise WireError(f"unknown node {tag[:40]!r}")

    return value(tree, 0)


def _rebuild_keras(config_path: str, weights_path: str):
    """A Keras model the trusted side hands to a student's function (e.g. an augmentation model): built
    from the instructor's own config, so no allow-list is needed on this side."""
    import keras
    import numpy

    with open(config_path) as handle:
        model = keras.saving.deserialize_keras_object(json.load(handle))
    with numpy.load(weights_path, allow_pickle=False) as archive:
        model.set_weights([archive[f"arr_{i}"] for i in range(len(archive.files))])
    return model


def serve(request_path: str) -> None:
    """The student's side of one request (run in the student's kernel): ``get`` a global, or apply an
    operation (``call``, ``getattr``, ``asarray``, ``len``, ...) to a registered object with arguments
    read from a folder, recording its warnings and exception and copying the arguments back afterwards
    (so input mutation is visible)."""
    import warnings

    with open(request_path) as handle:
        request = json.load(handle)
    store = sys.__dict__.setdefault(request["key"], {"refs": {}})
    refs = store["refs"]

    def register(obj) -> int:
        for ref, known in refs.items():
            if known is obj:
                return ref
        refs[len(refs) + 1] = obj
        return len(refs)

    if request["op"] == "get":
        from IPython import get_ipython

        namespace = get_ipython().user_ns
        name = request["name"]
        reply = {"found": name in namespace, "value": namespace.get(name)}
    else:
        target = refs[request["ref"]]
        try:
            args, kwargs = decode(request["args"], proxy=lambda ref, kind: refs[ref], keras_model=_rebuild_keras)
        except Exception as exc:  # noqa: BLE001 (the trusted side reports it: that test fails)
            encode({"failed": f"arguments: {type(exc).__name__}: {str(exc)[:500]}"}, request["out"])
            return
        operation = request["op"]
        if operation == "call":
            function = target
        elif operation == "asarray":
            import numpy

            function = lambda: numpy.asarray(target)  # noqa: E731
        else:
            function = {"getattr": lambda name: getattr(target, name), "len": lambda: len(target),
                        "list": lambda: list(target), "getitem": lambda key: target[key],
                        "float": lambda: float(target), "int": lambda: int(target), "bool": lambda: bool(target),
                        "str": lambda: str(target)}[operation]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result, error = function(*args, **kwargs), None
            except BaseException as exc:  # noqa: BLE001 (replayed on the trusted side)
                import builtins

                # with its nearest built-in ancestor, so that `except KeyError` also catches a KeyError subclass
                builtin = next(c.__name__ for c in type(exc).__mro__ if getattr(builtins, c.__name__, None) is c)
                result, error = None, [type(exc).__name__, str(exc)[:2000], builtin]
        reply = {"result": result, "error": error, "args": [list(args), dict(kwargs)],
                 "warnings": [[w.category.__name__, str(w.message)[:2000]] for w in caught[:100]]}
    try:
        encode(reply, request["out"], register)
    except Exception as exc:  # noqa: BLE001 (the trusted side reports it: that test fails)
        encode({"failed": f"{type(exc).__name__}: {str(exc)[:500]}"}, request["out"])
