"""course.diagrams: the lecture's RNN, unfolded-RNN and LSTM figures name what the slides name."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course import diagrams  # noqa: E402


def names(fig):
    return " ".join(diagrams.labels(fig))


def test_simple_rnn_shows_input_output_and_the_trainable_weights():
    fig = diagrams.simple_rnn()
    text = names(fig)
    for symbol in ("mathbf{x}_t", "mathbf{y}_t", "mathbf{y}_{t-1}", "mathbf{W}", "mathbf{U}", "mathbf{b}"):
        assert symbol in text, symbol
    plt.close(fig)


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_unfolded_rnn_has_one_copy_per_step(steps):
    fig = diagrams.unfolded_rnn(steps)
    text = diagrams.labels(fig)
    assert sum(label.startswith("$\\mathbf{x}_{") for label in text) == steps
    assert sum(label.startswith("$\\mathbf{y}_{") for label in text) == steps
    assert text.count("$\\mathbf{W}$") == steps and text.count("$\\mathbf{U}$") == steps, "shared weights at each step"
    assert f"{steps} steps" in fig.axes[0].get_title()
    plt.close(fig)


@pytest.mark.parametrize("steps", [0, 13, 2.5, True])
def test_unfolded_rnn_rejects_a_bad_number_of_steps(steps):
    with pytest.raises(ValueError, match="between 1 and 12"):
        diagrams.unfolded_rnn(steps)


def test_lstm_cell_names_g_i_f_o_c_h_as_in_the_slides():
    fig = diagrams.lstm_cell()
    text = names(fig)
    for gate in "gifo":
        assert f"mathbf{{{gate}}}_t" in text, gate
    for state in ("mathbf{c}_{t-1}", "mathbf{c}_t", "mathbf{h}_{t-1}", "mathbf{h}_t", "mathbf{x}_t"):
        assert state in text, state
    assert "forget gate" in text and "output gate" in text
    fig.canvas.draw()  # the mathtext parses and renders
    plt.close(fig)
