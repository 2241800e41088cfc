"""The seeds' own code beside the course's version: each seed recipe whose code is in the seed material,
run as written (only the edits its file lists), and the course's version of it, in the same run.

The seeds' code is stored in ``benchmarks/seed_code/<file>.py``: the seed's lines verbatim and in order,
every changed or added line marked ``# edit N``, and the edits listed in the file's header (which
results.md repeats). The course's side takes its builders, preparation functions and constants from the
notebooks (:mod:`benchmarks.notebook_code`), with the notebook's training settings; a builder that the
notebook no longer defines fails that side with the notebook's name and the missing function.

Each side runs in a fresh Python process (``python -m benchmarks.seeds PAIR SIDE RESULT_JSON``): fresh
TensorFlow state, fair timing. In that process ``keras.Model.fit`` and ``evaluate`` are wrapped to time the
training and keep the accuracies; with ``Options.seed_examples`` (the smoke run) every ``fit``, ``evaluate``
and ``predict`` sees only the first examples, ``fit`` runs one epoch and models run eagerly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from benchmarks import notebook_code, report
from benchmarks.options import Options
from ci import env

NAME = "seeds"
TITLE = "The seeds' code beside ours (same run)"
INTRO = """
Each seed recipe whose code is in the seed material, run as written (`benchmarks/seed_code/`: the seed's
lines verbatim, with the data from `course.datasets` and the other edits listed below, each marked `# edit N`
in the file), and the course's version of it (*ours*: the notebook's own builders and preparation functions,
with the notebook's full-mode training settings). Each side runs in a fresh Python process, one after the other.
*accuracy* is what the seed reports: test accuracy after the last `evaluate`, or the last epoch's validation
accuracy; *seed reports* is the seed's printed number. *seconds* is the time spent in `fit` (training, with
its per-epoch validation), *process* the whole process (TensorFlow import, data, evaluation included);
*ratio* is ours / seed's code for the `fit` seconds (below 1: ours trains faster). Each side prints as it is
written: the seeds' `fit` mostly with Keras's progress bar (`verbose=1`), ours one line per epoch. Smoke runs
(`--smoke`) keep the data loading and preparation but let every `fit`, `evaluate` and `predict` see only the
first 256 examples, for one epoch, run eagerly (no graph tracing); they measure the quickest pair only.
With `--ours-repeats N` (or `PAIR=N` for one pair), ours also trains from seeds 1 to N-1 (each in a fresh
process), and a line under the table gives the run-to-run spread of ours and how far the seed's reported
number lies from it.
"""
SEED_CODE = Path(__file__).resolve().parent / "seed_code"
MNIST_LAB = env.ROOT / "solutions" / "mnist-cnn" / "mnist-cnn.ipynb"
SEQUENCE_LAB = env.ROOT / "solutions" / "sequence-models" / "sequence-models.ipynb"
EMBEDDINGS_LECTURE = env.ROOT / "lectures" / "word-embeddings.ipynb"
# Where the seed texts are (only tests/test_benchmarks.py reads them: it checks the files in seed_code/
# against them). Default: the folder `seeds` beside the data mirror ($COURSE_DATA_DIR/../seeds).
SEEDS_VARIABLE = "COURSE_SEEDS_DIR"
SIDES = ("seed", "ours")
EDIT = re.compile(r"#\s*edit (\d+)\b")
HEADER_END = "# --- seed code ---"


@dataclass(frozen=True)
class Pair:
    name: str
    seed_file: str  # in seed_code/
    seed_text: str  # the seed material's file name
    metric: str  # "test_accuracy" (the last evaluate) or "val_accuracy" (the last epoch of the last fit)
    reported: float  # what the seed reports for that metric
    ours: Callable[[int | None], None]  # the course's version, from a seed (None: the notebook's own)
    ours_means: str  # what "ours" is, for results.md


def seeds_dir() -> Path:
    if os.environ.get(SEEDS_VARIABLE):
        return Path(os.environ[SEEDS_VARIABLE]).expanduser()
    data = os.environ.get("COURSE_DATA_DIR")
    if not data:
        raise LookupError(f"set {SEEDS_VARIABLE} (the seed texts) or COURSE_DATA_DIR (the seeds are beside it)")
    return Path(data).expanduser().resolve().parent / "seeds"


def edits(path: Path) -> dict[int | str, str]:
    """The edits a seed-code file lists in its header, {number: text}, and its notes on what was not
    edited, {"note": text}."""
    listed: dict[int | str, str] = {}
    key = None
    for line in path.read_text().split(HEADER_END)[0].splitlines():
        match = re.match(r"#\s*(edit (\d+)|note):\s*(.*)", line)
        if match:
            key = int(match[2]) if match[2] else "note"
            listed[key] = (listed[key] + " " if key in listed else "") + match[3]
        elif key is not None and line.startswith("#        "):  # a continuation line
            listed[key] += " " + line.lstrip("# ").strip()
        else:
            key = None
    return listed


def unlisted_changes(code: str, seed_text: str) -> list[str]:
    """The lines of a seed-code file that are neither the seed's (verbatim, in the seed's order) nor marked
    ``# edit N`` with N listed in its header; also markers of edits the header does not list.

    The seed text's cell prompts (``In [4]:``) and trailing spaces do not count.
    """
    header, _, body = code.partition(HEADER_END)
    listed = {int(n) for n in re.findall(r"^#\s*edit (\d+):", header, flags=re.M)}
    source = [re.sub(r"^In \[[0-9 ]*\]: ", "", line).rstrip() for line in seed_text.splitlines()]
    problems, position = [], 0
    for line in body.splitlines():
        marker = EDIT.search(line)
        if marker:
            if int(marker[1]) not in listed:
                problems.append(f"{line!r}: edit {marker[1]} is not listed in the header")
        elif line.strip():
            try:
                position = source.index(line.rstrip(), position) + 1
            except ValueError:
                problems.append(f"{line!r}: not in the seed (after its line {position}) and not marked '# edit N'")
    if not body:
        problems.append(f"no {HEADER_END!r} line")
    return problems


def _setup(seed: int, **kwargs) -> None:
    from course import runtime

    runtime.setup(fast=False, seed=seed, report=False, **kwargs)


def _ours_mnist(seed: int | None, builder: str, compile_args: Callable[[], dict], labels: str, epochs: int,
                batch_size: int, **fit_args) -> None:
    """The MNIST lab's model: its prepare_images and one_hot, trained on all 60,000 images and evaluated on
    the test set, as its fit_and_evaluate does in full mode."""
    from course.datasets import mnist

    lab = notebook_code.functions(MNIST_LAB, builder, "prepare_images", "one_hot", constants=("SEED",))
    _setup(lab["SEED"] if seed is None else seed)
    (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
    x, x_test = lab["prepare_images"](train_images), lab["prepare_images"](test_images)
    y, y_test = (lab["one_hot"](train_labels), lab["one_hot"](test_labels)) if labels == "one-hot" else (
        train_labels, test_labels)
    if fit_args.pop("validation_data", None) == "test":
        fit_args["validation_data"] = (x_test, y_test)
    model = lab[builder]()
    model.compile(**compile_args(), metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=2, **fit_args)
    model.evaluate(x_test, y_test, verbose=0)


def _ours_chollet(seed: int | None = None) -> None:
    _ours_mnist(seed, "build_chollet_model", lambda: {"optimizer": "rmsprop", "loss": "categorical_crossentropy"},
                "one-hot", epochs=5, batch_size=64)


def _ours_comp5318_mnist(seed: int | None = None) -> None:
    _ours_mnist(seed, "build_comp5318_model", lambda: {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
                "sparse", epochs=10, batch_size=128, validation_split=0.1)


def _adadelta() -> dict:
    import keras

    # As in the lab: Keras 2's defaults (learning rate 1.0, rho 0.95), not Keras 3's.
    return {"optimizer": keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95), "loss": "categorical_crossentropy"}


def _ours_adadelta(seed: int | None = None) -> None:
    _ours_mnist(seed, "build_adadelta_model", _adadelta, "one-hot", epochs=12, batch_size=128, validation_data="test")


def _ours_lstm(seed: int | None = None) -> None:
    """The sequence-models lab: its vocabulary and padded length, the last tenth of the training reviews for
    validation, its LSTM trained with Adam, 3 epochs, batch 32."""
    import keras

    from course.datasets import imdb

    lab = notebook_code.functions(SEQUENCE_LAB, "build_lstm_model", constants=("SEED", "NUM_WORDS", "MAXLEN"))
    _setup(lab["SEED"] if seed is None else seed, exact_float32=True)
    (train_sequences, train_labels), _ = imdb.load_data(num_words=lab["NUM_WORDS"])
    x = keras.utils.pad_sequences(train_sequences, maxlen=lab["MAXLEN"])
    y = train_labels.astype("float32")
    validation_size = len(x) // 10
    model = lab["build_lstm_model"]()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:-validation_size], y[:-validation_size], epochs=3, batch_size=32,
              validation_data=(x[-validation_size:], y[-validation_size:]), verbose=2)


def _ours_listing_6_7(seed: int | None = None) -> None:
    """The word-embeddings lecture's listing 6.7 cell: its constants and its model (the lecture builds it
    inline, as `model = keras.Sequential(..., name="listing_6_7")`), 10 epochs, batch 32, 20 % validation."""
    import keras

    from course.datasets import imdb

    lecture = notebook_code.functions(EMBEDDINGS_LECTURE, constants=("SEED", "MAX_FEATURES", "MAXLEN", "model"))
    model = lecture["model"]
    if model.name != "listing_6_7":
        raise LookupError(f"{EMBEDDINGS_LECTURE}: its `model = ...` is {model.name!r}, not the listing 6.7 model")
    _setup(lecture["SEED"] if seed is None else seed)
    model = keras.models.clone_model(model)  # new weights, drawn after seeding
    (x_train, y_train), _ = imdb.load_data(num_words=lecture["MAX_FEATURES"])
    x_train = keras.utils.pad_sequences(x_train, maxlen=lecture["MAXLEN"])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, batch_size=32, validation_split=0.2, verbose=2)


PAIRS = [
    Pair("listing-6.7", "listing_6_7.py", "001_ade7af9e656fd5e6.txt", "val_accuracy", 0.75, _ours_listing_6_7,
         "`lectures/word-embeddings.ipynb`'s listing 6.7 cell (MAX_FEATURES, MAXLEN and its model), all 25,000 "
         "training reviews, rmsprop, 10 epochs, batch 32, validation_split=0.2"),
    Pair("comp5318-imdb-lstm", "comp5318_imdb_lstm.py", "004_434a8cc11c76ebba.txt", "val_accuracy", 0.8352,
         _ours_lstm, "`solutions/sequence-models`: build_lstm_model, NUM_WORDS, MAXLEN; 22,500 reviews, the last "
         "2,500 for validation, Adam, 3 epochs, batch 32"),
    Pair("chollet-5.1-mnist", "chollet_5_1.py", "002_45cebddea8908d62.txt", "test_accuracy", 0.9919, _ours_chollet,
         "`solutions/mnist-cnn`: build_chollet_model, prepare_images, one_hot; rmsprop, 5 epochs, batch 64"),
    Pair("comp5318-mnist-cnn", "comp5318_mnist_cnn.py", "004_434a8cc11c76ebba.txt", "test_accuracy", 0.9905,
         _ours_comp5318_mnist, "`solutions/mnist-cnn`: build_comp5318_model, prepare_images; Adam, 10 epochs, "
         "batch 128, validation_split=0.1"),
    Pair("keras-adadelta-mnist", "keras_adadelta_mnist.py", "003_fa27b7149face062.txt", "test_accuracy", 0.9922,
         _ours_adadelta, "`solutions/mnist-cnn`: build_adadelta_model, prepare_images, one_hot; "
         "Adadelta(learning_rate=1.0, rho=0.95), 12 epochs, batch 128, the test set as validation data"),
]


def items(options: Options) -> list[str]:
    # The smoke run measures the quickest pair (each side imports TensorFlow afresh: about 10 s);
    # tests/test_benchmarks.py runs every pair's two sides in its own process, on a few examples.
    unknown = sorted(set(options.pair_ours_repeats) - {p.name for p in PAIRS})
    if unknown:
        raise SystemExit(f"--ours-repeats {unknown[0]}=N: no such pair (pairs: {', '.join(p.name for p in PAIRS)})")
    return [p.name for p in (PAIRS[:1] if options.smoke else PAIRS)]


class Probe:
    """Wraps ``keras.Model.fit``, ``evaluate`` and ``predict`` in this process (undone on leaving the block):
    times the training, keeps the last history and evaluation, and with ``examples`` cuts every call to that
    many examples and one epoch, and compiles every model to run eagerly."""

    def __init__(self, examples: int | None):
        self.examples = examples
        self.fit_seconds = 0.0
        self.fits: list[dict] = []
        self.evaluation: dict | None = None

    def cut(self, data):
        if self.examples and isinstance(data, (tuple, list)):
            return type(data)(self.cut(d) for d in data)
        return data[:self.examples] if self.examples and hasattr(data, "shape") else data

    def __enter__(self) -> "Probe":
        import keras

        self._originals = keras.Model.compile, keras.Model.fit, keras.Model.evaluate, keras.Model.predict
        compile_, fit, evaluate, predict = self._originals
        probe = self

        def eager_compile(model, *args, **kwargs):
            # On a few examples, tracing the train, test and predict graphs takes longer than running eagerly.
            return compile_(model, *args, **{**kwargs, "run_eagerly": True})

        def timed_fit(model, x=None, y=None, *args, **kwargs):
            if probe.examples:
                x, y = probe.cut(x), probe.cut(y)
                kwargs["epochs"] = 1
                if kwargs.get("validation_data") is not None:
                    kwargs["validation_data"] = probe.cut(kwargs["validation_data"])
            start = time.perf_counter()
            history = fit(model, x, y, *args, **kwargs)
            probe.fit_seconds += time.perf_counter() - start
            probe.fits.append({"examples": len(x), "epochs": len(history.epoch),
                               "last_epoch": {k: float(v[-1]) for k, v in history.history.items()}})
            return history

        def kept_evaluate(model, x=None, y=None, *args, **kwargs):
            result = evaluate(model, probe.cut(x), probe.cut(y), *args, **kwargs)
            probe.evaluation = {k: float(v) for k, v in model.get_metrics_result().items()}
            return result

        def cut_predict(model, x, *args, **kwargs):
            return predict(model, probe.cut(x), *args, **kwargs)

        keras.Model.fit, keras.Model.evaluate, keras.Model.predict = timed_fit, kept_evaluate, cut_predict
        if self.examples:
            keras.Model.compile = eager_compile
        return self

    def __exit__(self, *exc) -> None:
        import keras

        keras.Model.compile, keras.Model.fit, keras.Model.evaluate, keras.Model.predict = self._originals

    def accuracy(self, metric: str) -> float:
        if metric == "test_accuracy":
            if self.evaluation is None:
                raise RuntimeError("the code never called evaluate(): no test accuracy")
            found = self.evaluation
        else:
            if not self.fits:
                raise RuntimeError("the code never called fit()")
            found = {k.removeprefix("val_"): v for k, v in self.fits[-1]["last_epoch"].items() if k.startswith("val_")}
        value = found.get("accuracy", found.get("acc"))
        if value is None:
            raise RuntimeError(f"no accuracy for {metric} among {sorted(found)}")
        return value


def run_side(pair: Pair, side: str, examples: int | None, seed: int | None = None) -> dict:
    """Run one side of a pair in this process (ours from ``seed`` when given); return what it measured."""
    with Probe(examples) as probe:
        if side == "seed":
            import runpy

            runpy.run_path(str(SEED_CODE / pair.seed_file), run_name="__main__")
        else:
            pair.ours(seed)
    return {"accuracy": probe.accuracy(pair.metric), "fit_seconds": probe.fit_seconds,
            "epochs": sum(f["epochs"] for f in probe.fits), "examples": probe.fits[-1]["examples"]}


def _subprocess(pair: Pair, side: str, options: Options, seed: int | None = None) -> dict:
    folder = options.work_dir / "seeds"
    folder.mkdir(parents=True, exist_ok=True)
    name = side if seed is None else f"{side}, seed {seed}"
    stem = f"{pair.name}.{side}" + ("" if seed is None else f".seed-{seed}")
    result, log = folder / f"{stem}.json", folder / f"{stem}.log"
    result.unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.seeds", pair.name, side, str(result)]
    if seed is not None:
        command += ["--seed", str(seed)]
    if options.seed_examples:
        command += ["--examples", str(options.seed_examples)]
    environment = {**os.environ, "MPLBACKEND": "Agg",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(env.ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    with open(log, "w") as output:
        try:
            code = subprocess.run(command, cwd=folder, env=environment, stdout=output, stderr=subprocess.STDOUT,
                                  timeout=options.cell_timeout).returncode
        except subprocess.TimeoutExpired:
            code = f"timed out after {options.cell_timeout} s"
    seconds = time.perf_counter() - start
    if code != 0 or not result.is_file():
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        return {"name": name, "status": "failed", "error": f"exit {code}: {lines[-1] if lines else ''} (log: {log})",
                "process_seconds": round(seconds, 1)}
    return {"name": name, "status": "ok", **json.loads(result.read_text()), "process_seconds": round(seconds, 1)}


def measure(selected: list[str], options: Options):
    for pair in [p for p in PAIRS if p.name in selected]:
        rows = []
        for side in SIDES:
            print(f"[seeds] {pair.name}: {side} in a fresh process ...", flush=True)
            rows.append(_subprocess(pair, side, options))
            print(f"[seeds]   {_describe(rows[-1])}", flush=True)
        seed, ours = rows
        if seed["status"] == ours["status"] == "ok":
            rows.append({"name": "ours / seed", "ratio": ours["fit_seconds"] / seed["fit_seconds"],
                         "process_ratio": ours["process_seconds"] / seed["process_seconds"],
                         "accuracy_difference": ours["accuracy"] - seed["accuracy"]})
            print(f"[seeds]   ours / seed: {rows[-1]['ratio']:.2f}x the fit seconds", flush=True)
        for seed in range(1, options.ours_repeats_of(pair.name)):  # the run-to-run spread of ours, in fresh processes too
            print(f"[seeds] {pair.name}: ours from seed {seed} in a fresh process ...", flush=True)
            rows.append(_subprocess(pair, "ours", options, seed))
            print(f"[seeds]   {_describe(rows[-1])}", flush=True)
        yield pair.name, {"rows": rows, "meta": {"metric": pair.metric, "reported": pair.reported}}


def _describe(row: dict) -> str:
    if row["status"] != "ok":
        return f"{row['name']}: FAILED {row['error']}"
    return (f"{row['name']}: accuracy {row['accuracy']:.4f}, fit {row['fit_seconds']:.1f} s "
            f"({row['epochs']} epochs x {row['examples']:,}), process {row['process_seconds']:.0f} s")


def markdown(entries: dict) -> str:
    header = ["pair", "metric", "seed reports", "seed's code", "ours", "ours - seed's code", "seconds: seed's code",
              "ours", "ratio", "epochs x examples: seed's code", "ours", "run"]
    rows, notes = [], []
    for item, entry in entries.items():
        found = {r["name"]: r for r in entry["rows"]}
        seed, ours, ratio = found.get("seed", {}), found.get("ours", {}), found.get("ours / seed", {})
        for side in (seed, ours):
            if side.get("status") == "failed":
                notes.append(f"- `{item}`, {side['name']}: **failed**: {side['error']}")

        def accuracy(side):
            return f"{side['accuracy']:.4f}" if side.get("status") == "ok" else "failed"

        def seconds(side):
            return f"{side['fit_seconds']:,.1f} ({side['process_seconds']:,.0f})" if side.get("status") == "ok" else ""

        def size(side):
            return f"{side['epochs']} x {side['examples']:,}" if side.get("status") == "ok" else ""

        meta = entry.get("meta", {})
        spread = [ours] + [r for r in entry["rows"] if r["name"].startswith("ours, seed ")]
        if len(spread) > 1:
            notes.append(_spread(item, spread, meta.get("reported")))
        difference = f"{ratio['accuracy_difference']:+.4f}" if ratio else ""
        rows.append([f"`{item}`", meta.get("metric", ""), report.number(meta.get("reported")), accuracy(seed),
                     accuracy(ours), difference, seconds(seed), seconds(ours),
                     f"**{ratio['ratio']:.2f}**" if ratio else "", size(seed), size(ours), entry["run"]])
    numeric = {"seed reports", "seed's code", "ours", "ours - seed's code", "seconds: seed's code", "ratio"}
    lines = [report.table(header, rows, numeric), "",
             "Seconds: in `fit` (whole process in brackets). Ratio: ours / seed's code, `fit` seconds.", *notes, "",
             "What each side runs (the edits are those listed in each file's header, marked `# edit N` in its lines):",
             ""]
    for pair in PAIRS:
        found = edits(SEED_CODE / pair.seed_file)
        listed = " ".join(f"({n}) {text}" for n, text in found.items() if n != "note")
        listed += f" Note: {found['note']}" if "note" in found else ""
        lines.append(f"- `{pair.name}`: seed's code `benchmarks/seed_code/{pair.seed_file}` (from "
                     f"`{pair.seed_text}`), edits: {listed} Ours: {pair.ours_means}.")
    return "\n".join(lines)


def _spread(item: str, runs: list[dict], reported: float | None) -> str:
    """One line on the run-to-run spread of ours: each seed's accuracy, their mean and sample sd, and how far
    the seed's reported number lies from that mean."""
    import statistics

    measured = [(r["name"].removeprefix("ours, seed ") if r["name"] != "ours" else "the notebook's", r["accuracy"])
                for r in runs if r.get("status") == "ok"]
    values = [v for _, v in measured]
    listed = ", ".join(f"{v:.4f} (seed: {s})" for s, v in measured)
    if len(values) < 2:
        return f"- `{item}`, ours over seeds: {listed or 'no run succeeded'}"
    mean, sd = statistics.mean(values), statistics.stdev(values)
    where = ""
    if reported is not None:
        where = (f"; the seed reports {reported:.4f}, "
                 + (f"{(reported - mean) / sd:+.1f} sd from our mean" if sd > 0 else f"{reported - mean:+.4f} from it"))
    return f"- `{item}`, ours over {len(values)} seeds: {listed}; mean {mean:.4f}, sd {sd:.4f}{where}."


def plot(entries: dict, path: Path) -> bool:
    return False  # the table says it: two numbers per pair


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seeds",
                                     description="Run one side of a seeds pair in this process (make bench does this).")
    parser.add_argument("pair", choices=[p.name for p in PAIRS])
    parser.add_argument("side", choices=SIDES)
    parser.add_argument("result", type=Path, help="JSON file to write the measurements to")
    parser.add_argument("--seed", type=int, help="ours: train from this seed instead of the notebook's SEED")
    parser.add_argument("--examples", type=int, help="every fit/evaluate/predict sees only the first N examples, "
                        "fit runs one epoch (the smoke run)")
    args = parser.parse_args(argv)
    if args.examples is not None and args.examples < 1:
        parser.error("--examples must be at least 1")
    pair = next(p for p in PAIRS if p.name == args.pair)
    measured = run_side(pair, args.side, args.examples, args.seed)
    args.result.write_text(json.dumps(measured) + "\n")
    print("measured:", measured)
    return 0


if __name__ == "__main__":
    sys.exit(main())
