"""Machine-dependent training switches (mixed precision, pretrained weights) and the confusion-matrix plot."""

import keras
import matplotlib
import numpy as np
import pytest

from course import plots, training
from tests.test_datasets import closed_port_url

matplotlib.use("agg")


@pytest.fixture
def restore_policy():
    yield
    keras.config.set_dtype_policy("float32")


def test_mixed_precision_only_with_a_gpu(restore_policy):
    assert training.enable_mixed_precision(gpus=["/physical_device:GPU:0"]) == "mixed_float16"
    assert keras.config.dtype_policy().name == "mixed_float16"
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    assert (layer.compute_dtype, layer.variable_dtype) == ("float16", "float32")
    assert training.enable_mixed_precision(gpus=[]) == "float32"
    assert keras.config.dtype_policy().name == "float32"


def test_mixed_precision_follows_the_machine(restore_policy):
    expected = "mixed_float16" if training.gpu_names() else "float32"
    assert training.enable_mixed_precision() == expected


def test_hardware_summary_names_the_device():
    summary = training.hardware_summary()
    assert summary and (("CPU only" in summary) != bool(training.gpu_names()))


def test_pretrained_weights_offline_give_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    origin = closed_port_url("weights_no_top.h5")
    problem = training.pretrained_weights_problem("weights_no_top.h5", origin, timeout=1)
    assert problem and "weights_no_top.h5" in problem and "127.0.0.1" in problem and origin in problem


def test_cached_pretrained_weights_need_no_network(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "keras" / "models").mkdir(parents=True)
    (tmp_path / "keras" / "models" / "weights_no_top.h5").write_bytes(b"weights")
    assert training.pretrained_weights_problem("weights_no_top.h5", closed_port_url("weights_no_top.h5")) is None


def test_confusion_matrix_plot_shows_row_percentages():
    names = ["cat", "dog", "frog"]
    fig = plots.plot_confusion_matrix(np.array([[3, 1, 0], [0, 2, 2], [0, 0, 0]]), names)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert texts == {"75", "25", "50"}  # row totals 4 and 4; empty cells and the empty row stay blank
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == names
    with pytest.raises(ValueError, match="3x3"):
        plots.plot_confusion_matrix(np.ones((2, 2)), names)


def test_score_builder_trains_a_fresh_model_and_refuses_bad_builders():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")

    def build():
        model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy")
        return model

    first = training.score_builder(build, x, y, x, y, epochs=5, batch_size=32, seed=1)
    assert first > 0.9 and first == training.score_builder(build, x, y, x, y, epochs=5, batch_size=32, seed=1)
    assert training.score_builder(build, x, y, x, y, epochs=0, batch_size=32, seed=1) < first
    with pytest.raises(TypeError, match="function that builds"):
        training.score_builder(build(), x, y, x, y, epochs=1, batch_size=32, seed=1)
    with pytest.raises(TypeError, match="must return a keras.Model"):
        training.score_builder(lambda: "model", x, y, x, y, epochs=1, batch_size=32, seed=1)
    uncompiled = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1, activation="sigmoid")])
    with pytest.raises(ValueError, match="compiled model"):
        training.score_builder(lambda: uncompiled, x, y, x, y, epochs=1, batch_size=32, seed=1)
