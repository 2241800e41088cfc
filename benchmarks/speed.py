"""Training speed: examples per second of the course's models, fed the seeds' way (NumPy arrays
straight into ``fit``) and through a ``tf.data`` input pipeline (cache, shuffle, batch, prefetch),
measured in the same run, interleaved, repeated.

Models are registered in :data:`MODELS`; their builders are taken from the solution notebooks
(:mod:`benchmarks.notebook_code`), never copied. To add one (a text model, CIFAR-10), append a
:class:`SpeedModel` whose ``data`` returns the arrays the notebook passes to ``fit``.
"""

from __future__ import annotations

import importlib.util
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from benchmarks import notebook_code, report
from benchmarks.options import Options
from ci import env

NAME = "speed"
TITLE = "Training speed"
INTRO = """
One training epoch at a time on the first *N* training examples, each variant in turn, repeated (after
one untimed warm-up epoch per variant, which also fills the `tf.data` cache), timed from the start to the
end of the epoch by a Keras callback (the set-up `fit` does around it is left out): *numpy* is the seeds' code as
written (arrays straight into `fit`), *tf.data* the same model fed by
`Dataset.from_tensor_slices(...).cache().shuffle(N).batch(B).prefetch(AUTOTUNE)`. Throughput is the median
over the repeats, with the slowest and fastest. The speed-up is the median over the repeats of the
ratio within each repeat (the two variants' epochs run back to back, under the same load), with its range. With a GPU visible to Keras's backend, variants
with XLA off and on, in float32 and mixed precision, are added (Keras's default `jit_compile="auto"`, which
the notebooks use, turns XLA on where a GPU is present, and always on the JAX backend). Where TensorFlow is
not installed (a GPU machine with Keras on JAX, results merged with `--merge`), `tf.data` does not exist:
those variants are fed NumPy arrays and named accordingly.
"""
MNIST_LAB = env.ROOT / "solutions" / "mnist-cnn" / "mnist-cnn.ipynb"
SEQUENCE_LAB = env.ROOT / "solutions" / "sequence-models" / "sequence-models.ipynb"
CIFAR_LAB = env.ROOT / "solutions" / "cifar10" / "cifar10.ipynb"


@dataclass(frozen=True)
class SpeedModel:
    name: str
    build: Callable[[], object]  # a new, uncompiled keras.Model
    compile_args: Callable[[], dict]  # compile() arguments as in the notebook (a new optimizer each call)
    data: Callable[[int], tuple]  # (x, y): the first n examples as the notebook passes them to fit
    batch_size: int
    unit: str = "images"  # "tokens": reviews x words per review (the padded length), per second

    def amount(self, x) -> int:
        """How many units one epoch over ``x`` processes."""
        return len(x) * (x.shape[1] if self.unit == "tokens" else 1)


@dataclass(frozen=True)
class Variant:
    name: str
    pipeline: bool  # tf.data instead of NumPy arrays
    jit_compile: bool | str = "auto"
    mixed_precision: bool = False
    gpu_only: bool = False


# numpy and tf.data keep Keras's default jit_compile="auto" (as the notebooks do: XLA off on a CPU, on
# where a GPU is present); the GPU variants set XLA and mixed precision explicitly. The XLA and
# precision columns report what each model actually used.
VARIANTS = [
    Variant("numpy", pipeline=False),
    Variant("tf.data", pipeline=True),
    Variant("tf.data, XLA off", pipeline=True, jit_compile=False, gpu_only=True),
    Variant("tf.data, XLA on", pipeline=True, jit_compile=True, gpu_only=True),
    Variant("tf.data, mixed precision, XLA off", pipeline=True, jit_compile=False, mixed_precision=True, gpu_only=True),
    Variant("tf.data, mixed precision, XLA on", pipeline=True, jit_compile=True, mixed_precision=True, gpu_only=True),
]
BASELINE = "numpy"


def _notebook_function(notebook: Path, name: str, constants: tuple[str, ...] = ()) -> Callable:
    return lambda *args: notebook_code.functions(notebook, name, constants=constants)[name](*args)


def _mnist(labels: str) -> Callable[[int], tuple]:
    """MNIST training images prepared by the lab's own functions; one-hot or integer labels."""

    def load(n: int) -> tuple:
        from course.datasets import mnist

        code = notebook_code.functions(MNIST_LAB, "prepare_images", "one_hot")
        (images, digits), _ = mnist.load_data()
        x = code["prepare_images"](images[:n])
        return x, code["one_hot"](digits[:n]) if labels == "one-hot" else digits[:n]

    return load


def _imdb_reviews(n: int) -> tuple:
    """IMDB reviews as the sequence-models lab feeds them: its vocabulary size and padded length."""
    import keras

    from course.datasets import imdb

    lab = notebook_code.functions(SEQUENCE_LAB, constants=("NUM_WORDS", "MAXLEN"))
    (sequences, labels), _ = imdb.load_data(num_words=lab["NUM_WORDS"])
    return keras.utils.pad_sequences(sequences[:n], maxlen=lab["MAXLEN"]), labels[:n].astype("float32")


def _cifar_images(n: int) -> tuple:
    """CIFAR-10 training images as the CIFAR-10 lab feeds them (uint8: the model rescales)."""
    from course.datasets import cifar10

    (images, labels), _ = cifar10.load_data()
    return images[:n], labels[:n].ravel()


def _rmsprop(learning_rate: float) -> Callable[[], dict]:
    def compile_args() -> dict:
        import keras

        return {"optimizer": keras.optimizers.RMSprop(learning_rate=learning_rate), "loss": "binary_crossentropy"}

    return compile_args


def _adadelta() -> dict:
    import keras

    # As in the lab: Keras 2's defaults (learning rate 1.0, rho 0.95), not Keras 3's.
    return {"optimizer": keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95), "loss": "categorical_crossentropy"}


MODELS = [
    SpeedModel("mnist/chollet", _notebook_function(MNIST_LAB, "build_chollet_model"),
               lambda: {"optimizer": "rmsprop", "loss": "categorical_crossentropy"}, _mnist("one-hot"), 64),
    SpeedModel("mnist/comp5318", _notebook_function(MNIST_LAB, "build_comp5318_model"),
               lambda: {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, _mnist("sparse"), 128),
    SpeedModel("mnist/adadelta", _notebook_function(MNIST_LAB, "build_adadelta_model"), _adadelta,
               _mnist("one-hot"), 128),
    SpeedModel("cifar10/baseline", _notebook_function(CIFAR_LAB, "build_baseline"),
               lambda: {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}, _cifar_images, 128),
    SpeedModel("imdb/lstm", _notebook_function(SEQUENCE_LAB, "build_lstm_model", ("NUM_WORDS",)),
               lambda: {"optimizer": "adam", "loss": "binary_crossentropy"}, _imdb_reviews, 32, unit="tokens"),
    SpeedModel("imdb/conv1d", _notebook_function(SEQUENCE_LAB, "build_conv1d_model", ("NUM_WORDS",)),
               _rmsprop(1e-4), _imdb_reviews, 128, unit="tokens"),
]


def items(options: Options) -> list[str]:
    # The smoke run times one model; tests/test_benchmarks.py builds every registered one.
    return [m.name for m in (MODELS[:1] if options.smoke else MODELS)]


def input_pipeline(x, y, batch_size: int, seed: int):
    """The tf.data pipeline: in-memory slices, cached, reshuffled every epoch, batched, prefetched."""
    import tensorflow as tf

    return (tf.data.Dataset.from_tensor_slices((x, y)).cache()
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))


def _trainer(spec: SpeedModel, variant: Variant, x, y, seed: int = 42):
    """Build and compile the model for a variant, run the warm-up epoch; return (time one epoch, model)."""
    import keras

    from course.callbacks import EpochTimer

    keras.utils.set_random_seed(seed)
    if variant.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = spec.build()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(**spec.compile_args(), metrics=["accuracy"], jit_compile=variant.jit_compile)
    if variant.pipeline:
        dataset = input_pipeline(x, y, spec.batch_size, seed)

        def epoch(timer):
            model.fit(dataset, epochs=1, shuffle=False, verbose=0, callbacks=[timer])  # the pipeline shuffles
    else:

        def epoch(timer):
            model.fit(x, y, batch_size=spec.batch_size, epochs=1, shuffle=True, verbose=0, callbacks=[timer])

    # From the start to the end of the epoch: the time fit() spends around it (here sporadic stalls of
    # up to a whole epoch) is left out.
    timer = EpochTimer()

    def timed() -> float:
        epoch(timer)
        return timer.seconds[-1]

    timed()  # warm-up: traces and compiles the train step, fills the cache
    return timed, model


def accelerators() -> tuple[list[str], str]:
    """The GPUs Keras's backend will train on, and a description of the device for the report."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                for g in tf.config.list_physical_devices("GPU")]
    elif backend == "jax":
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    else:
        gpus = []
    device = ", ".join(gpus) or "CPU"
    return gpus, device if backend == "tensorflow" else f"{device}, Keras on {backend}"


def variants_for(gpus: list[str], options: Options, pipelines: bool | None = None) -> list[Variant]:
    """The variants to time: the GPU ones only with a GPU; without TensorFlow, NumPy-fed instead of tf.data."""
    chosen = [v for v in VARIANTS if gpus or not v.gpu_only or options.all_variants]
    if pipelines is None:
        pipelines = importlib.util.find_spec("tensorflow") is not None
    if not pipelines:
        chosen = [replace(v, name=v.name.replace("tf.data", BASELINE), pipeline=False)
                  for v in chosen if v.name != "tf.data"]
    return chosen


def measure(selected: list[str], options: Options):
    gpus, device = accelerators()
    variants = variants_for(gpus, options)
    for spec in [m for m in MODELS if m.name in selected]:
        x, y = spec.data(options.speed_images)
        print(f"[speed] {spec.name}: {spec.amount(x):,} {spec.unit} per epoch, {options.repeats} repeats, "
              f"{', '.join(v.name for v in variants)} on {device} ...", flush=True)
        trainers = {v.name: _trainer(spec, v, x, y) for v in variants}
        seconds: dict[str, list[float]] = {v.name: [] for v in variants}
        for _ in range(options.repeats):
            for v in variants:  # interleaved: a busy spell on the machine hits every variant alike
                seconds[v.name].append(trainers[v.name][0]())
        rows = []
        for v in variants:
            rates = [spec.amount(x) / s for s in seconds[v.name]]
            model = trainers[v.name][1]
            rows.append({"name": v.name, "per_second": statistics.median(rates), "slowest": min(rates),
                         "fastest": max(rates), "spread_percent": 100 * (max(rates) - min(rates)) / statistics.median(rates),
                         "unit": spec.unit, "examples": len(x), "batch_size": spec.batch_size,
                         "repeats": options.repeats, "xla": bool(model.jit_compile),
                         "precision": model.dtype_policy.name, "device": device})
        base = seconds[BASELINE]
        for v in variants:
            if v.name != BASELINE:
                # Speed-up within each repeat (the two epochs ran back to back, under the same load):
                # its median is robust to the machine's load changing between repeats.
                paired = [b / s for b, s in zip(base, seconds[v.name])]
                rows.append({"name": f"{v.name} / {BASELINE}", "ratio": statistics.median(paired),
                             "ratio_low": min(paired), "ratio_high": max(paired),
                             "ratio_of_medians": statistics.median(base) / statistics.median(seconds[v.name])})
        for row in rows:
            print("[speed]  ", _describe(row), flush=True)
        yield spec.name, {"rows": rows}


def _describe(row: dict) -> str:
    if "ratio" in row:
        return f"{row['name']}: {row['ratio']:.2f}x (repeats {row['ratio_low']:.2f}-{row['ratio_high']:.2f})"
    return (f"{row['name']}: {row['per_second']:.0f} {row['unit']}/s "
            f"({row['slowest']:.0f}-{row['fastest']:.0f}, spread {row['spread_percent']:.0f} %)")


def markdown(entries: dict) -> str:
    header = ["model", "variant", "per second (median)", "slowest-fastest", "spread", "XLA", "precision",
              "examples x repeats", "run"]
    rows, ratios = [], []
    for name, entry in entries.items():
        for row in entry["rows"]:
            if "ratio" in row:
                of_medians = row.get("ratio_of_medians")
                also = f"; ratio of the median throughputs {of_medians:.2f}" if of_medians else ""
                ratios.append(f"- `{name}`: **{row['name']} = {row['ratio']:.2f}x** (repeats {row['ratio_low']:.2f}-"
                              f"{row['ratio_high']:.2f}{also}; run {entry['run']})")
                continue
            rows.append([name, row["name"], f"{row['per_second']:,.0f} {row['unit']}/s",
                         f"{row['slowest']:,.0f}-{row['fastest']:,.0f}", f"{row['spread_percent']:.0f} %",
                         "on" if row["xla"] else "off", row["precision"],
                         f"{row['examples']:,} x {row['repeats']} ({row['device']})", entry["run"]])
    table = report.table(header, rows, {"per second (median)", "slowest-fastest", "spread"})
    return table + "\n\nSpeed-up over the seeds' way (median of the per-repeat ratios):\n\n" + "\n".join(ratios)


def plot(entries: dict, path: Path) -> bool:
    """One panel per unit (images, tokens), log scale: a GPU's rows sit beside a CPU's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    measured = {m: [r for r in e["rows"] if "per_second" in r] for m, e in entries.items()}
    units = list(dict.fromkeys(rows[0]["unit"] for rows in measured.values() if rows))
    if not units:
        return False
    panels = [(unit, [m for m, rows in measured.items() if rows and rows[0]["unit"] == unit]) for unit in units]
    widths = [max(3.0, 1.3 * len(models) + 1) for _, models in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(sum(widths) + 1, 4.5), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    for ax, (unit, models) in zip(axes[0], panels):
        variants = list(dict.fromkeys(r["name"] for m in models for r in measured[m]))
        width = 0.8 / len(variants)
        for i, variant in enumerate(variants):
            found = [next((r for r in measured[m] if r["name"] == variant), None) for m in models]
            median = np.array([r["per_second"] if r else np.nan for r in found])
            x = np.arange(len(models)) + (i - (len(variants) - 1) / 2) * width
            ax.bar(x, median, width, label=variant)
            ax.vlines(x, [r["slowest"] if r else np.nan for r in found], [r["fastest"] if r else np.nan for r in found],
                      color="black", linewidth=1.2)  # slowest-fastest repeat
        ax.set_xticks(np.arange(len(models)), [m.replace(" @ ", "\n@ ") for m in models], fontsize=7, rotation=20)
        ax.set_yscale("log")
        ax.set_ylabel(f"{unit} per second (median, slowest-fastest)")
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3)
    fig.suptitle("Training throughput by input feeding, XLA and precision")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
