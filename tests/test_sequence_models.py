"""The sequence-models lab's reference code against Keras, and its hidden tests against wrong answers.

The NumPy RNN and LSTM of the solution notebook are run here directly (not through the notebook) on
random weights and sequences and must match Keras's layers to 1e-5 at every time step.
"""

import keras
import nbformat
import numpy as np
import pytest
from keras import layers

from autograder import pipeline
from course import runtime
from course.callbacks import EpochTimer

LAB = pipeline.SOLUTIONS / "sequence-models" / "sequence-models.ipynb"


def cells_by_grade_id() -> dict[str, str]:
    nb = nbformat.read(LAB, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if "nbgrader" in c.metadata}


def helper_cell(prefix: str) -> str:
    nb = nbformat.read(LAB, as_version=4)
    (source,) = [c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith(prefix)]
    return source


CELLS = cells_by_grade_id()


@pytest.fixture(scope="module")
def reference() -> dict:
    """The namespace of the solution's NumPy and model-building cells."""
    namespace = {"np": np, "keras": keras, "layers": layers, "NUM_WORDS": 10000}
    exec(helper_cell("def sigmoid"), namespace)
    for grade_id in ("simple_rnn_forward", "lstm_gate_weights", "lstm_forward", "recurrent_params",
                     "build_lstm_model", "build_bidirectional_model", "build_conv1d_model"):
        exec(CELLS[grade_id], namespace)
    return namespace


def random_weights(layer, input_shape, rng):
    """Random weights, biases included, of Keras's scale (1/sqrt(fan-in)) so the recurrence is not chaotic."""
    layer.build(input_shape)
    weights = [(rng.normal(size=w.shape) / np.sqrt(w.shape[0])).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


SHAPES = [(1, 1, 1, 1), (4, 12, 5, 8), (2, 50, 3, 16), (3, 7, 20, 2)]  # batch, steps, features, units


@pytest.mark.parametrize("batch, steps, features, units", SHAPES)
def test_numpy_simple_rnn_matches_keras(reference, batch, steps, features, units):
    rng = np.random.default_rng(steps * 31 + units)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    keras_rnn = layers.SimpleRNN(units, return_sequences=True)
    weights = random_weights(keras_rnn, (None, steps, features), rng)
    expected = keras.ops.convert_to_numpy(keras_rnn(x))
    np.testing.assert_allclose(reference["simple_rnn_forward"](x, *weights), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("batch, steps, features, units", SHAPES)
def test_numpy_lstm_matches_keras(reference, batch, steps, features, units):
    rng = np.random.default_rng(steps * 17 + units)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    keras_lstm = layers.LSTM(units, return_sequences=True)
    weights = random_weights(keras_lstm, (None, steps, features), rng)
    expected = keras.ops.convert_to_numpy(keras_lstm(x))
    np.testing.assert_allclose(reference["lstm_forward"](x, *weights), expected, atol=1e-5, rtol=0)


def test_numpy_lstm_matches_a_freshly_initialised_keras_lstm(reference):
    x = np.random.default_rng(0).normal(size=(2, 30, 6)).astype("float32")
    keras_lstm = layers.LSTM(10, return_sequences=True)
    expected = keras.ops.convert_to_numpy(keras_lstm(x))
    np.testing.assert_allclose(reference["lstm_forward"](x, *keras_lstm.get_weights()), expected, atol=1e-5, rtol=0)


def test_parameter_counts_and_models_match_keras(reference):
    for input_dim, units in [(1, 1), (32, 32), (64, 64), (128, 64), (7, 300)]:
        for layer, count in [(layers.SimpleRNN(units), "simple_rnn_params"), (layers.LSTM(units), "lstm_params")]:
            layer.build((None, None, input_dim))
            assert reference[count](input_dim, units) == layer.count_params()
    assert reference["build_lstm_model"]().count_params() == 673_089  # the COMP5318 printout
    assert reference["build_bidirectional_model"]().count_params() == 804_993
    assert reference["build_conv1d_model"]().count_params() == 1_315_937  # Chollet 6.4's printout


def hidden_tests_pass(grade_id: str, namespace: dict) -> bool:
    """Run a graded cell (visible and hidden tests) on ``namespace``; False when an assert fails."""
    try:
        exec(CELLS[grade_id], {"np": np, "keras": keras, "layers": layers, **namespace})
    except AssertionError:
        return False
    return True


def test_hidden_tests_accept_the_reference(reference):
    for grade_id in ("test_simple_rnn_forward", "test_lstm_gate_weights", "test_lstm_forward", "test_recurrent_params",
                     "test_build_bidirectional_model", "test_build_conv1d_model"):
        assert hidden_tests_pass(grade_id, reference), grade_id


def test_specified_builders_reject_models_that_only_match_some_of_the_specification(reference):
    """The bidirectional and 1-D convnet exercises give shapes and a parameter count, not a layer list."""

    def conv1d(kernel, pool, second_kernel):
        return lambda: keras.Sequential([
            keras.Input(shape=(None,), dtype="int32"), layers.Embedding(10000, 128),
            layers.Conv1D(32, kernel, activation="relu"), layers.MaxPooling1D(pool),
            layers.Conv1D(32, second_kernel, activation="relu"), layers.GlobalMaxPooling1D(),
            layers.Dense(1, activation="sigmoid")])

    def stacked(first, second):
        return lambda: keras.Sequential([keras.Input(shape=(None,), dtype="int32"), layers.Embedding(10000, 64), first(),
                                         second(), layers.Dense(1, activation="sigmoid")])

    def both_ways(**kwargs):
        return lambda: layers.Bidirectional(layers.LSTM(64, **kwargs))

    assert hidden_tests_pass("test_build_conv1d_model", {"build_conv1d_model": conv1d(7, 5, 7)})
    assert not hidden_tests_pass("test_build_conv1d_model", {"build_conv1d_model": conv1d(7, 4, 7)})  # (B, 23, 32)
    assert not hidden_tests_pass("test_build_conv1d_model", {"build_conv1d_model": conv1d(5, 5, 9)})
    namespace = {"lstm_params": reference["lstm_params"]}
    assert hidden_tests_pass("test_build_bidirectional_model", {
        **namespace, "build_bidirectional_model": stacked(both_ways(return_sequences=True), both_ways())})
    one_way = lambda: layers.LSTM(128, return_sequences=True)  # noqa: E731  the shapes, but forwards only
    assert not hidden_tests_pass("test_build_bidirectional_model", {
        **namespace, "build_bidirectional_model": stacked(one_way, both_ways())})
    summed = lambda: layers.Bidirectional(layers.LSTM(64, return_sequences=True), merge_mode="sum")  # noqa: E731
    assert not hidden_tests_pass("test_build_bidirectional_model", {
        **namespace, "build_bidirectional_model": stacked(summed, both_ways())})


def test_hidden_tests_accept_correct_float32_answers():
    """A student computing in float32 (the dtype of Keras's weights) rounds differently but must pass."""

    def rnn_float32(x, kernel, recurrent_kernel, bias):
        y, out = np.zeros((x.shape[0], kernel.shape[1]), dtype="float32"), []
        for t in range(x.shape[1]):
            y = np.tanh(x[:, t] @ kernel + y @ recurrent_kernel + bias)
            out.append(y)
        return np.stack(out, axis=1)

    def lstm_float32(x, kernel, recurrent_kernel, bias):
        def sigmoid(z):
            return 1 / (1 + np.exp(-z))

        h = c = np.zeros((x.shape[0], recurrent_kernel.shape[0]), dtype="float32")
        out = []
        for t in range(x.shape[1]):
            i, f, g, o = np.split(x[:, t] @ kernel + h @ recurrent_kernel + bias, 4, axis=-1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            out.append(h)
        return np.stack(out, axis=1)

    assert hidden_tests_pass("test_simple_rnn_forward", {"simple_rnn_forward": rnn_float32})
    assert hidden_tests_pass("test_lstm_forward", {"lstm_forward": lstm_float32})


def test_hidden_tests_reject_common_mistakes(reference):
    sigmoid, gate_weights = reference["sigmoid"], reference["lstm_gate_weights"]

    def rnn_untransposed(x, kernel, recurrent_kernel, bias):  # U instead of U^T
        return reference["simple_rnn_forward"](x, kernel, recurrent_kernel.T, bias)

    def rnn_last_step_only(x, kernel, recurrent_kernel, bias):
        return reference["simple_rnn_forward"](x, kernel, recurrent_kernel, bias)[:, -1:]

    def gates_in_pytorch_order_with_g_and_o_swapped(kernel, recurrent_kernel, bias):
        gates = gate_weights(kernel, recurrent_kernel, bias)
        return {**gates, "g": gates["o"], "o": gates["g"]}

    def gates_not_transposed(kernel, recurrent_kernel, bias):
        return {name: (W.T, U.T, b) for name, (W, U, b) in gate_weights(kernel, recurrent_kernel, bias).items()}

    def lstm_with_input_and_forget_swapped(x, kernel, recurrent_kernel, bias):
        gates = gate_weights(kernel, recurrent_kernel, bias)
        batch, units = x.shape[0], recurrent_kernel.shape[0]
        h, c, out = np.zeros((batch, units)), np.zeros((batch, units)), []
        act = {"i": sigmoid, "f": sigmoid, "g": np.tanh, "o": sigmoid}
        for t in range(x.shape[1]):
            z = {n: act[n](x[:, t] @ W.T + h @ U.T + b) for n, (W, U, b) in gates.items()}
            c = z["f"] * z["g"] + z["i"] * c
            h = z["o"] * np.tanh(c)
            out.append(h)
        return np.stack(out, axis=1)

    assert not hidden_tests_pass("test_simple_rnn_forward", {"simple_rnn_forward": rnn_untransposed})
    assert not hidden_tests_pass("test_simple_rnn_forward", {"simple_rnn_forward": rnn_last_step_only})
    assert not hidden_tests_pass("test_lstm_gate_weights", {"lstm_gate_weights": gates_in_pytorch_order_with_g_and_o_swapped})
    assert not hidden_tests_pass("test_lstm_gate_weights", {"lstm_gate_weights": gates_not_transposed})
    assert not hidden_tests_pass("test_lstm_forward", {"lstm_forward": lstm_with_input_and_forget_swapped})
    assert not hidden_tests_pass(
        "test_recurrent_params",
        {"simple_rnn_params": reference["simple_rnn_params"], "lstm_params": lambda d, u: 4 * (u * d + u * u)},
    )


@pytest.fixture(scope="module")
def imposed(data_dir) -> dict:
    """The lab cell of exercise 8 (imposed training: reviews, epochs, threshold) in fast mode."""
    namespace = {"rt": runtime.Runtime(fast=True, seed=0)}
    exec(helper_cell("from course import training\n\nIMPOSED_REVIEWS"), namespace)
    return namespace


def test_the_improved_model_test_trains_the_builder_and_holds_the_bar(reference, imposed):
    assert 0.5 < imposed["IMPOSED_THRESHOLD"] < 1 and imposed["MAX_IMPOSED_PARAMS"] == 673_089
    exec(CELLS["build_improved_model"], reference)
    improved = reference["build_improved_model"]
    assert hidden_tests_pass("test_build_improved_model", {**imposed, "build_improved_model": improved})

    def frozen():  # the reference's model with a step of 0: it never learns
        model = improved()
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0), loss="binary_crossentropy")
        return model

    def too_large():  # a 100,000-word embedding: over the budget before any training
        model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"), layers.Embedding(100_000, 8),
                                  layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        return model

    assert not hidden_tests_pass("test_build_improved_model", {**imposed, "build_improved_model": frozen})
    assert not hidden_tests_pass("test_build_improved_model", {**imposed, "build_improved_model": too_large})
    uncompiled = lambda: reference["build_lstm_model"]()  # noqa: E731
    with pytest.raises(AssertionError, match="compile the model"):
        exec(CELLS["test_build_improved_model"], {"np": np, "keras": keras, **imposed, "build_improved_model": uncompiled})


def test_epoch_timer_records_every_epoch_and_restarts_with_each_fit():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((8, 3), dtype="float32"), np.zeros(8, dtype="float32")
    timer = EpochTimer()
    model.fit(x, y, epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.seconds) == 3 and all(s > 0 for s in timer.seconds)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[timer])
    assert len(timer.seconds) == 2
