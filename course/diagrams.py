"""Diagrams of recurrent networks, drawn with matplotlib so they render alike in Colab, JupyterLab and CI.

The three figures of EDAN95 lecture 6 ("The RNN Architecture", "The Unfolded RNN Architecture", "The LSTM
Architecture"), with the lecture's notation:

* :func:`simple_rnn`: input ``x_t``, output ``y_t = tanh(W x_t + U y_(t-1) + b)`` fed back through a delay;
  the trainable connections are dashed, as on the slide.
* :func:`unfolded_rnn`: the same network unfolded over ``steps`` time steps, one copy per step, all
  sharing ``W``, ``U`` and ``b``.
* :func:`lstm_cell`: one LSTM unit with its unit input ``g_t``, input gate ``i_t``, forget gate ``f_t``,
  output gate ``o_t``, long-term state ``c_t`` and output ``h_t`` (activation functions omitted, as on the
  slide; the products are element-wise).

Each function returns the :class:`matplotlib.figure.Figure`; a notebook shows it with ``plt.show()``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

TRAINABLE = dict(linestyle="--", color="tab:blue")  # trainable connections: dashed, as on the slides
FIXED = dict(linestyle="-", color="black")  # copies and element-wise operations: nothing to learn


def _box(ax, xy, text, width=1.0, height=0.6, color="white", fontsize=12):
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.05", facecolor=color, edgecolor="black"))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _node(ax, xy, text, radius=0.22, color="white", fontsize=12):
    ax.add_patch(Circle(xy, radius, facecolor=color, edgecolor="black"))
    ax.text(*xy, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, label=None, style=FIXED, rad=0.0, label_offset=(0.0, 0.0), fontsize=10):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, lw=1.4,
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=14, shrinkB=14, **style))
    if label:
        x = (start[0] + end[0]) / 2 + label_offset[0]
        y = (start[1] + end[1]) / 2 + label_offset[1]
        ax.text(x, y, label, ha="center", va="center", fontsize=fontsize, color=style["color"])


def _canvas(width, height, xlim, ylim, title):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    return fig, ax


def simple_rnn():
    """The simple recurrent network: x_t in, y_t out, y_(t-1) fed back; dashed = trainable (W, U, b)."""
    fig, ax = _canvas(4.2, 4.2, (-2.2, 2.2), (-2.0, 2.3), "A simple recurrent network")
    _node(ax, (0, -1.5), "$\\mathbf{x}_t$", color="#e8f0ff")
    _box(ax, (0, 0), "$\\tanh$", width=1.2)
    _node(ax, (0, 1.6), "$\\mathbf{y}_t$", color="#fff2cc")
    _box(ax, (1.5, 0.0), "delay", width=0.9, height=0.5, fontsize=9)
    _arrow(ax, (0, -1.5), (0, 0), "$\\mathbf{W}$", TRAINABLE, label_offset=(-0.3, 0))
    _arrow(ax, (0, 0), (0, 1.6))
    _arrow(ax, (0, 1.6), (1.5, 0.0), "$\\mathbf{y}_{t-1}$", FIXED, rad=-0.3, label_offset=(0.75, 0.25))
    _arrow(ax, (1.5, 0.0), (0, 0), "$\\mathbf{U}$", TRAINABLE, label_offset=(0, -0.3))
    ax.text(-1.05, 0.45, "$+\\,\\mathbf{b}$", fontsize=11, color=TRAINABLE["color"])
    ax.text(0, -2.0, "$\\mathbf{y}_t = \\tanh(\\mathbf{W}\\mathbf{x}_t + \\mathbf{U}\\mathbf{y}_{t-1} + \\mathbf{b})$",
            ha="center", fontsize=11)
    fig.tight_layout()
    return fig


def unfolded_rnn(steps: int = 4):
    """The simple RNN unfolded in time over ``steps`` steps: one copy per step, the same W, U, b in each."""
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 12:
        raise ValueError(f"steps={steps!r}: draw between 1 and 12 time steps")
    gap = 1.8
    width = gap * (steps + 1)
    fig, ax = _canvas(min(1.9 * (steps + 1), 16), 3.6, (-gap * 0.8, width - gap * 0.4), (-1.9, 2.0),
                      f"The network unfolded in time ({steps} steps, weights shared)")
    _node(ax, (0, 0), "$\\mathbf{y}_0$", color="#f2f2f2")
    for t in range(1, steps + 1):
        x = t * gap
        _node(ax, (x, -1.4), f"$\\mathbf{{x}}_{{{t}}}$", color="#e8f0ff")
        _box(ax, (x, 0), "$\\tanh$", width=0.9)
        _node(ax, (x, 1.5), f"$\\mathbf{{y}}_{{{t}}}$", color="#fff2cc")
        _arrow(ax, (x, -1.4), (x, 0), "$\\mathbf{W}$", TRAINABLE, label_offset=(-0.28, 0))
        _arrow(ax, (x, 0), (x, 1.5))
        _arrow(ax, ((t - 1) * gap, 0), (x, 0), "$\\mathbf{U}$", TRAINABLE, label_offset=(0, 0.22))
    fig.tight_layout()
    return fig


def lstm_cell():
    """One LSTM unit: g_t, the gates i_t, f_t, o_t, the long-term state c_t and the output h_t."""
    fig, ax = _canvas(7.5, 5.2, (-1.0, 9.4), (-1.2, 6.2), "An LSTM unit (activation functions omitted)")
    # Long-term state: c_(t-1) -> (x f_t) -> (+ i_t g_t) -> c_t, along the top.
    _node(ax, (0, 4.8), "$\\mathbf{c}_{t-1}$", radius=0.34, color="#f2f2f2", fontsize=10)
    _node(ax, (3.0, 4.8), "$\\circ$", radius=0.25)
    _node(ax, (5.0, 4.8), "$+$", radius=0.25)
    _node(ax, (8.6, 4.8), "$\\mathbf{c}_t$", radius=0.34, color="#f2f2f2", fontsize=10)
    _arrow(ax, (0, 4.8), (3.0, 4.8))
    _arrow(ax, (3.0, 4.8), (5.0, 4.8))
    _arrow(ax, (5.0, 4.8), (8.6, 4.8))
    # Inputs: x_t and h_(t-1), merged into one bus feeding the four dense blocks.
    _node(ax, (0, 0.0), "$\\mathbf{h}_{t-1}$", radius=0.34, color="#f2f2f2", fontsize=10)
    _node(ax, (2.0, -0.8), "$\\mathbf{x}_t$", radius=0.3, color="#e8f0ff", fontsize=10)
    blocks = {"f": 3.0, "i": 4.2, "g": 5.4, "o": 6.6}
    names = {"f": "forget gate", "i": "input gate", "g": "unit input", "o": "output gate"}
    for name, x in blocks.items():
        _box(ax, (x, 1.7), f"$\\mathbf{{{name}}}_t$", width=0.8, height=0.55,
             color="#fff2cc" if name == "g" else "#e6f4e6")
        ax.text(x, 1.15, names[name], ha="center", va="top", fontsize=7)
        _arrow(ax, (x, 0.0), (x, 1.7), style=TRAINABLE)
    ax.plot([0.34, blocks["o"]], [0, 0], color="black", lw=1.4)
    ax.plot([2.0, 2.0], [-0.5, 0], color="black", lw=1.4)
    ax.text(4.8, -0.35, "$\\mathbf{W}\\mathbf{x}_t + \\mathbf{U}\\mathbf{h}_{t-1} + \\mathbf{b}$ (dashed: trainable)",
            ha="center", fontsize=8, color=TRAINABLE["color"])
    # f_t gates the old state; i_t gates g_t; o_t gates tanh(c_t).
    _node(ax, (4.8, 3.3), "$\\circ$", radius=0.25)
    _arrow(ax, (blocks["f"], 1.7), (3.0, 4.8))
    _arrow(ax, (blocks["i"], 1.7), (4.8, 3.3))
    _arrow(ax, (blocks["g"], 1.7), (4.8, 3.3))
    _arrow(ax, (4.8, 3.3), (5.0, 4.8))
    _node(ax, (7.6, 3.3), "$\\circ$", radius=0.25)
    _box(ax, (7.6, 4.15), "tanh", width=0.7, height=0.35, fontsize=8)
    _arrow(ax, (7.1, 4.8), (7.6, 4.15))
    _arrow(ax, (7.6, 4.15), (7.6, 3.3))
    _arrow(ax, (blocks["o"], 1.7), (7.6, 3.3))
    _node(ax, (8.6, 1.7), "$\\mathbf{h}_t$", radius=0.34, color="#fff2cc", fontsize=10)
    _arrow(ax, (7.6, 3.3), (8.6, 1.7))
    _arrow(ax, (8.6, 1.7), (8.6, 0.3), "$= \\mathbf{y}_t$, to step $t+1$", label_offset=(0.0, -0.55), fontsize=8)
    ax.text(6.0, 5.35, "$\\mathbf{c}_t = \\mathbf{i}_t \\circ \\mathbf{g}_t + \\mathbf{f}_t \\circ \\mathbf{c}_{t-1}$",
            ha="center", fontsize=10)
    ax.text(8.1, 2.6, "$\\mathbf{h}_t = \\mathbf{o}_t \\circ \\tanh(\\mathbf{c}_t)$", ha="right", fontsize=9)
    fig.tight_layout()
    return fig


def labels(fig) -> list[str]:
    """The texts written on a figure (its title excluded), e.g. to check which quantities a diagram names."""
    return [text.get_text() for ax in fig.axes for text in ax.texts]
