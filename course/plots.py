"""Plots used across the notebooks: image grids and training curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def show_images(images, labels=None, predictions=None, class_names=None, n=10, cols=10, size=1.4):
    """Show the first ``n`` images in a grid, titled with labels (and predictions, red when wrong)."""
    images = np.asarray(images)[:n]
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.15), squeeze=False)
    name = (lambda k: class_names[int(k)]) if class_names is not None else (lambda k: str(int(k)))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        image = images[i]
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        title, color = "", "black"
        if labels is not None:
            title = name(np.ravel(labels)[i])
        if predictions is not None:
            predicted = np.ravel(predictions)[i]
            title = f"{name(predicted)} ({title})" if labels is not None else name(predicted)
            if labels is not None and predicted != np.ravel(labels)[i]:
                color = "red"
        ax.set_title(title, fontsize=9, color=color)
    fig.tight_layout()
    plt.show()
    return fig


def plot_history(history, metrics=("loss", "accuracy"), title=None):
    """Plot training (and validation) curves of a Keras ``History`` or its ``.history`` dict."""
    logs = getattr(history, "history", history)
    metrics = [m for m in metrics if m in logs]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        epochs = np.arange(1, len(logs[metric]) + 1)
        ax.plot(epochs, logs[metric], "o-", label=f"training {metric}")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], "s--", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()
    return fig


def plot_confusion_matrix(matrix, class_names, title=None, size=6.5):
    """Show a confusion matrix (rows: true class, columns: predicted class) as row percentages.

    ``matrix`` holds counts, e.g. from ``sklearn.metrics.confusion_matrix(true, predicted)``. Each row
    is divided by its total, so the diagonal reads as the recall of each class.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape != (len(class_names), len(class_names)):
        raise ValueError(f"expected a {len(class_names)}x{len(class_names)} matrix of counts, got shape {matrix.shape}")
    totals = matrix.sum(axis=1, keepdims=True)
    percent = 100 * matrix / np.maximum(totals, 1)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    for (row, col), value in np.ndenumerate(percent):
        if matrix[row, col]:
            ax.text(col, row, f"{value:.0f}", ha="center", va="center", fontsize=8,
                    color="white" if value > 50 else "black")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "Confusion matrix (% of each true class)")
    fig.tight_layout()
    plt.show()
    return fig
