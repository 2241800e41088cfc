"""The trusted side of the boundary: answer values fetched from the student's kernel as data, and
call proxies for the student's functions.

Every request is one silent execution in the student's kernel of :mod:`autograder.wire`'s ``serve``
(its source is sent with the first request and kept in the kernel) with a request file naming a
fresh folder under the kernel's scratch folder.
The student's side writes the value there; this side reads it with :func:`wire.decode` once the
kernel has finished the request. The kernel's replies and messages only say *when* to look: a reply
the student forged makes the value file missing or incomplete, and that student's test fails. No
verdict is ever read from the kernel.

* :meth:`Boundary.fetch` ``name``: the student's global as a value (:class:`StudentNameError` when
  the student's notebook never defined it, :class:`wire.Unsupported` for a type that cannot cross).
* A function or other object arrives as a :class:`Proxy`: calling it (or reading an attribute,
  ``len``, indexing, ``numpy.asarray``) sends the arguments into the student's kernel
  (:func:`wire.encode`), runs the operation there under the cell timeout, and brings back the
  result the same way. Warnings the function issued are replayed here with their category and
  message; an exception is raised here with its type (a built-in exception type, otherwise its
  nearest built-in ancestor other than ``Exception``, else :class:`StudentException`) and message; arguments the function mutated are copied back into the
  caller's lists, dicts and writeable arrays.
* A Keras model is rebuilt here from its config and weights after :func:`check_keras_config`: only
  built-in layer classes from Keras's own modules, no ``Lambda`` or custom objects, weight shapes
  equal to the rebuilt model's.
"""

from __future__ import annotations

import builtins
import json
import secrets
import shutil
import warnings
from pathlib import Path

from autograder import wire

WIRE_SOURCE = Path(wire.__file__).read_text()


class StudentNameError(NameError):
    """The student's notebook did not define a name a test reads."""


class StudentException(Exception):
    """A student's function raised an exception whose type is not a built-in one."""


class BoundaryError(RuntimeError):
    """The student's kernel did not answer a request in time (or at all)."""


# Keras classes a model may be rebuilt from: Keras's own layers, initializers, regularizers and
# constraints, and (its compile_config: a builder's choice is part of the answer) optimizers, schedules,
# losses and metrics, looked up in those modules; never the classes that run arbitrary code.
KERAS_MODULES = ("keras.layers", "keras.initializers", "keras.regularizers", "keras.constraints", "keras.optimizers",
                 "keras.optimizers.schedules", "keras.losses", "keras.metrics")
KERAS_CODE_LAYERS = {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer", "Layer", "InputSpec",
                     "LossFunctionWrapper", "MeanMetricWrapper"}
KERAS_MODELS = {"Sequential": {"keras", "keras.models"}, "Functional": {"keras", "keras.src.models.functional", "keras.models"},
                "DTypePolicy": {"keras"}, "FloatDTypePolicy": {"keras"},
                "__keras_tensor__": {None}}  # a functional model's reference to a layer's output


def keras_classes() -> dict[str, set[str]]:
    """Allowed ``class_name`` -> allowed ``module`` values in a model config."""
    import importlib

    allowed = {name: set(modules) for name, modules in KERAS_MODELS.items()}
    for module_name in KERAS_MODULES:
        module = importlib.import_module(module_name)
        for name in dir(module):
            if isinstance(getattr(module, name), type) and name not in KERAS_CODE_LAYERS and not name.startswith("_"):
                allowed.setdefault(name, set()).add(module_name)
    return allowed


KERAS_MAX_CONFIG = 4 << 20


def check_keras_config(config, depth: int = 0, allowed: dict | None = None) -> None:
    """Raise :class:`wire.Unsupported` unless every object in a model config is an allowed Keras class."""
    allowed = keras_classes() if allowed is None else allowed
    if depth > 64:
        raise wire.Unsupported("Keras config nested too deeply")
    if isinstance(config, dict):
        if "class_name" in config:
            name, module = config.get("class_name"), config.get("module")
            if name not in allowed or module not in allowed[name] or config.get("registered_name") not in (None, name):
                raise wire.Unsupported(f"Keras model with a {module}.{name} object: only Keras's built-in layers "
                                       f"(not {', '.join(sorted(KERAS_CODE_LAYERS))}) are accepted")
        for key, item in config.items():
            if key in ("function", "function_type", "output_shape_type"):
                raise wire.Unsupported("Keras config with code (a Lambda or custom function) cannot be graded")
            check_keras_config(item, depth + 1, allowed)
    elif isinstance(config, list):
        for item in config:
            check_keras_config(item, depth + 1, allowed)
    elif not isinstance(config, (str, int, float, bool, type(None))):
        raise wire.WireError("malformed Keras config")


def rebuild_keras(config_path: str, weights_path: str):
    import keras
    import numpy as np

    if Path(config_path).stat().st_size > KERAS_MAX_CONFIG:
        raise wire.WireError("Keras config too big")
    try:
        config = json.loads(Path(config_path).read_text())
    except ValueError:
        raise wire.WireError("garbled Keras config") from None
    if not isinstance(config, dict) or config.get("class_name") not in ("Sequential", "Functional"):
        raise wire.Unsupported("only Sequential and functional Keras models are accepted")
    # The optimizer, loss and metrics cross too (a builder's choice is part of the answer), after the same
    # allow-list check as the layers: only Keras's own classes, or names Keras resolves to them.
    check_keras_config(config)
    with keras.saving.custom_object_scope({}):
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    try:
        with np.load(weights_path, allow_pickle=False) as archive:
            weights = [archive[f"arr_{i}"] for i in range(len(archive.files))]
    except (OSError, ValueError, KeyError) as exc:
        raise wire.WireError(f"garbled Keras weights ({type(exc).__name__})") from None
    expected = [tuple(w.shape) for w in model.weights]
    if [tuple(w.shape) for w in weights] != expected or any(w.dtype.hasobject for w in weights):
        raise wire.WireError("Keras weights do not match the model's config")
    model.set_weights(weights)
    return model


def _copy_back(original, changed) -> None:
    """Make ``original`` (an argument) equal ``changed`` (its state after the student's call), in place."""
    import numpy as np

    if isinstance(original, np.ndarray) and isinstance(changed, np.ndarray):
        if original.flags.writeable and original.shape == changed.shape:
            original[...] = changed
    elif isinstance(original, list) and isinstance(changed, list):
        for i, (a, b) in enumerate(zip(original, changed)):
            if type(a) in (list, dict) or isinstance(a, np.ndarray):
                _copy_back(a, b)
            else:
                original[i] = b
        original[len(changed):] = []
        original.extend(changed[len(original):])
    elif isinstance(original, dict) and isinstance(changed, dict):
        original.clear()
        original.update(changed)


class Boundary:
    """Requests to one student kernel. ``runner(code, timeout) -> bool`` executes code silently in the
    kernel and says whether the kernel finished it within ``timeout`` seconds."""

    def __init__(self, runner, folder: Path, timeout: float, kernel_folder: Path | None = None):
        # ``folder`` as this process sees it; ``kernel_folder``: the same folder as the kernel sees it
        self.runner, self.folder, self.timeout = runner, Path(folder), timeout
        self.kernel_folder = Path(kernel_folder or folder)
        self.key = "_course_boundary_" + secrets.token_hex(8)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.calls = 0
        # The student's side of wire is sent (and compiled) once, then called by name: the student could
        # replace it, as they could patch anything it uses; what comes back is read as data either way.
        self.loaded = False

    def _request(self, request: dict):
        name = secrets.token_hex(8)
        exchange, seen = self.folder / name, self.kernel_folder / name
        out = exchange / "out"
        out.mkdir(parents=True)
        try:
            if "args" in request:
                (exchange / "args").mkdir()
                wire.encode(request["args"], exchange / "args", register=self._register)
                request["args"] = str(seen / "args")
            (exchange / "request.json").write_text(json.dumps({**request, "key": self.key, "out": str(seen / "out")}))
            path, entry = str(seen / "request.json"), self.key + "_serve"
            if self.loaded:  # wire's serve, kept in the kernel by the first request (not compiled again)
                code = f"__import__('sys').__dict__[{entry!r}]({path!r})"
            else:
                code = (f"(lambda ns: exec({WIRE_SOURCE!r}, ns) or __import__('sys').__dict__.__setitem__("
                        f"{entry!r}, ns['serve']) or ns['serve']({path!r}))({{}})")
            if not self.runner(code, self.timeout):
                raise BoundaryError(f"the student's code ran longer than {self.timeout:g} s")
            reply = wire.decode(out, proxy=self._proxy, keras_model=rebuild_keras)
            self.loaded = True
            if isinstance(reply, dict) and set(reply) == {"failed"}:
                raise wire.WireError(f"the notebook could not send the value ({str(reply['failed'])[:300]})")
            return reply
        finally:
            shutil.rmtree(exchange, ignore_errors=True)

    def _register(self, value) -> int:
        if isinstance(value, Proxy):
            return object.__getattribute__(value, "_ref")
        raise wire.Unsupported(f"a {type(value).__name__} cannot be passed to a student's function")

    def _proxy(self, ref: int, kind: str) -> "Proxy":
        return Proxy(self, ref, kind)

    def fetch(self, name: str):
        try:
            reply = self._request({"op": "get", "name": name})
        except wire.Unsupported as exc:
            raise wire.Unsupported(f"{name}: {exc}") from None
        except wire.WireError as exc:
            raise wire.WireError(f"{name}: the value could not be read back from the notebook ({exc})") from None
        if not (isinstance(reply, dict) and set(reply) == {"found", "value"}):
            raise wire.WireError(f"{name}: malformed reply")
        if reply["found"] is not True:
            raise StudentNameError(f"name '{name}' is not defined")
        value = reply["value"]
        if isinstance(value, Proxy):
            object.__setattr__(value, "_name", name)
        return value

    def apply(self, proxy: "Proxy", operation: str, args: tuple = (), kwargs: dict | None = None):
        """Run ``operation`` (``call``, ``getattr``, ``asarray``, ...) on the student's object; bring the result back."""
        kwargs = kwargs or {}
        self.calls += 1
        label = object.__getattribute__(proxy, "_name")
        try:
            reply = self._request({"op": operation, "ref": object.__getattribute__(proxy, "_ref"),
                                   "args": [list(args), dict(kwargs)]})
        except wire.Unsupported as exc:
            raise TypeError(f"{label}: {exc}") from None
        except wire.WireError as exc:
            raise wire.WireError(f"{label}: the result could not be read back ({exc})") from None
        if not (isinstance(reply, dict) and set(reply) == {"result", "error", "args", "warnings"}
                and isinstance(reply["warnings"], list) and isinstance(reply["args"], list) and len(reply["args"]) == 2):
            raise wire.WireError(f"{label}: malformed reply")
        for original, changed in zip(list(args) + list(kwargs.values()),
                                     list(reply["args"][0]) + list(dict(reply["args"][1]).values())):
            _copy_back(original, changed)
        for item in reply["warnings"]:
            if isinstance(item, list) and len(item) == 2 and all(isinstance(s, str) for s in item):
                category = getattr(builtins, item[0], None)
                category = category if isinstance(category, type) and issubclass(category, Warning) else UserWarning
                warnings.warn(item[1], category, stacklevel=3)
        error = reply["error"]
        if error is not None:
            if not (isinstance(error, list) and len(error) == 3 and all(isinstance(s, str) for s in error)):
                raise wire.WireError(f"{label}: malformed error")
            name, message, builtin = error
            if name == "KeyboardInterrupt":
                raise BoundaryError(f"{label} ran longer than {self.timeout:g} s")
            # a built-in type is raised as itself; another as its nearest built-in ancestor (so that `except
            # KeyError` catches a KeyError subclass), its name in the message; StudentException otherwise
            own = getattr(builtins, name, None)
            kind = own if own is not None else getattr(builtins, builtin, None)
            exc = StudentException(f"{name}: {message}")
            if isinstance(kind, type) and issubclass(kind, Exception) and kind is not StopIteration and (
                    own is not None or kind is not Exception):
                try:
                    exc = kind(message if own is not None else f"{name}: {message}")
                except Exception:  # noqa: BLE001 (exception types with other signatures)
                    pass
            raise exc
        result = reply["result"]
        if isinstance(result, Proxy) and operation == "getattr":
            object.__setattr__(result, "_name", f"{label}.{args[0]}")
        return result


class Proxy:
    """A student's object on the trusted side: calling it, reading its attributes, ``len``, indexing,
    iterating or ``numpy.asarray`` run in the student's kernel on copies; identity and ``==`` stay local."""

    __slots__ = ("_boundary", "_ref", "_kind", "_name")

    def __init__(self, boundary: Boundary, ref: int, kind: str):
        for key, value in (("_boundary", boundary), ("_ref", ref), ("_kind", kind), ("_name", f"a student's {kind}")):
            object.__setattr__(self, key, value)

    def _apply(self, operation, *args, **kwargs):
        return object.__getattribute__(self, "_boundary").apply(self, operation, args, kwargs)

    def __call__(self, *args, **kwargs):
        return self._apply("call", *args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._apply("getattr", name)

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        return np.asarray(self._apply("asarray"), dtype=dtype)

    def __len__(self):
        return self._apply("len")

    def __iter__(self):
        return iter(self._apply("list"))

    def __getitem__(self, key):
        return self._apply("getitem", key)

    def __float__(self):
        return self._apply("float")

    def __int__(self):
        return self._apply("int")

    def __bool__(self):
        return self._apply("bool")

    def __str__(self):
        return self._apply("str")

    def __repr__(self):
        return f"<student {object.__getattribute__(self, '_kind')} {object.__getattribute__(self, '_name')}>"


CallProxy = Proxy  # a function is a proxy that is called
