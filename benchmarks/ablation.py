"""CIFAR-10 on 4,000 images: the cifar10 lab's recipe (``course.cifar_recipe``), and the same recipe
without each of its ingredients, one training per row and seed, so that every ingredient is justified by a
measurement on this machine."""

from __future__ import annotations

from pathlib import Path

from benchmarks import report
from benchmarks.options import Options

NAME = "ablation"
TITLE = "CIFAR-10 on 4,000 images: the recipe and its ablation"
INTRO = """
`course.cifar_recipe` (the recipe of the cifar10 lab's section on small training sets) trained on the first
4,000 training images of CIFAR-10 (all that the mirror has; no validation split) and measured on the 1,000
test images of the mirror; then the same recipe with one ingredient taken away per row, everything else equal.
Each row trains from seed 1 (`--ablation-seeds N`: from seeds 1 to N, the same for every row); *test accuracy*
is the mean over its seeds, *by seed* each one. *±* is one binomial standard error of the accuracy on the test
images, sqrt(p(1-p)/n). *change* is the row minus the recipe, averaged over the seeds both were trained from
(a row and the recipe are compared seed by seed); an ingredient counts (**yes**) only when taking it away
costs more than the recipe's ±, and the recipe is *better without* it when taking it away gains more than
that. Test-time flips need no training of their own: their row is the recipe's own models, predicting each
test image once. *seconds* is the time in `fit` (the mean over the seeds). Smoke runs (`--smoke`) train a tiny
network for one epoch on 256 images.
"""
RECIPE = "recipe"


def _ingredients():
    from course.cifar_recipe import INGREDIENTS

    return INGREDIENTS


def items(options: Options) -> list[str]:
    # Test-time flips are measured with the recipe itself (the same trained model, predicted both ways).
    return [RECIPE] + [f"without-{name}" for name in _ingredients() if name != "test_time_flips"]


def _setting(options: Options):
    """The recipe and the data of the ablation (tiny in smoke runs)."""
    from course.cifar_recipe import Recipe
    from course.datasets import cifar10

    (train_images, train_labels), (test_images, test_labels) = cifar10.load_data()
    if options.smoke:
        return (Recipe(width=4, epochs=1), train_images[:256], train_labels[:256], test_images[:200],
                test_labels[:200])
    return Recipe(), train_images[:4000], train_labels[:4000], test_images[:1000], test_labels[:1000]


def measure(selected: list[str], options: Options):
    import keras

    from course import cifar_recipe, training

    recipe, train_images, train_labels, test_images, test_labels = _setting(options)
    seeds = range(1, options.ablation_seeds + 1)
    for item in selected:
        ingredient = item.removeprefix("without-")
        trained = recipe if item == RECIPE else recipe.without(ingredient)
        results = {}
        for seed in seeds:
            print(f"[ablation] {item}, seed {seed}: training ({trained.epochs} epochs on {len(train_images):,} "
                  "images) ...", flush=True)
            keras.backend.clear_session()
            results[seed] = cifar_recipe.train_and_evaluate(trained, train_images, train_labels, test_images,
                                                            test_labels, seed=seed, verbose=2)
            print(f"[ablation] {item}, seed {seed}: test accuracy {results[seed]['test_accuracy']:.4f} in "
                  f"{results[seed]['seconds']:.0f} s", flush=True)
        first = results[seeds[0]]
        common = {"seconds": round(sum(r["seconds"] for r in results.values()) / len(results), 1),
                  "parameters": first["parameters"], "epochs": trained.epochs, "train_images": len(train_images),
                  "test_images": len(test_images)}
        rows = [_row(item, {seed: r["test_accuracy"] for seed, r in results.items()}, common)]
        if item == RECIPE:
            rows.append(_row("without-test_time_flips",
                             {seed: r["test_accuracy_without_flips"] for seed, r in results.items()}, common))
        yield item, {"rows": rows, "meta": {"hardware": training.hardware_summary()}}


def _row(name: str, by_seed: dict[int, float], common: dict) -> dict:
    return {"name": name, "test_accuracy": sum(by_seed.values()) / len(by_seed),
            "accuracies": {str(seed): accuracy for seed, accuracy in by_seed.items()}, **common}


def _by_seed(row: dict) -> dict[str, float]:
    # Rows stored before --ablation-seeds hold one seed.
    return row.get("accuracies") or {str(row["seed"]): row["test_accuracy"]}


def _rows(entries: dict) -> list[tuple[dict, str]]:
    return [(row, entry["run"]) for entry in entries.values() for row in entry["rows"]]


def markdown(entries: dict) -> str:
    from course.cifar_recipe import INGREDIENTS, binomial_interval

    rows = _rows(entries)
    recipe = next((row for row, _ in rows if row["name"] == RECIPE), None)
    body = []
    for row, run in rows:
        interval = binomial_interval(row["test_accuracy"], row["test_images"])
        ingredient = row["name"].removeprefix("without-")
        change = counts = ""
        if recipe is not None and row is not recipe:
            paired = _paired_change(row, recipe)
            if paired is not None:
                difference, recipe_accuracy = paired
                change = f"{difference:+.4f}"
                interval_of_recipe = binomial_interval(recipe_accuracy, recipe["test_images"])
                counts = ("**yes**" if -difference > interval_of_recipe
                          else "no: better without" if difference > interval_of_recipe else "no")
            else:
                change = "no common seed"
        what = "the recipe" if row is recipe else INGREDIENTS.get(ingredient, "")
        seconds = "" if ingredient == "test_time_flips" else f"{row['seconds']:.0f}"
        by_seed = ", ".join(f"{seed}: {accuracy:.3f}" for seed, accuracy in sorted(_by_seed(row).items()))
        body.append([f"`{row['name']}`", what, f"{row['test_accuracy']:.4f} ± {interval:.3f}", by_seed, change,
                     counts, seconds, f"{row['parameters']:,}", f"{row['epochs']} x {row['train_images']:,}", run])
    table = report.table(["row", "what changes", "test accuracy", "by seed", "change", "counts", "seconds",
                          "parameters", "epochs x images", "run"], body,
                         {"test accuracy", "change", "seconds", "parameters"})
    return table


def _paired_change(row: dict, recipe: dict) -> tuple[float, float] | None:
    """The row minus the recipe, averaged over the seeds both trained from, and the recipe's mean on those
    seeds; None when they share no seed."""
    mine, theirs = _by_seed(row), _by_seed(recipe)
    common = sorted(set(mine) & set(theirs))
    if not common:
        return None
    recipe_accuracy = sum(theirs[seed] for seed in common) / len(common)
    return sum(mine[seed] for seed in common) / len(common) - recipe_accuracy, recipe_accuracy


def plot(entries: dict, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from course.cifar_recipe import binomial_interval

    rows = [row for row, _ in _rows(entries)]
    accuracy = np.array([row["test_accuracy"] for row in rows])
    errors = [binomial_interval(row["test_accuracy"], row["test_images"]) for row in rows]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.2))
    positions = np.arange(len(rows))
    colors = ["tab:green" if row["name"] == RECIPE else "tab:blue" for row in rows]
    ax.barh(positions, accuracy, xerr=errors, color=colors, capsize=3)
    ax.set_yticks(positions, [row["name"] for row in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(max(0.0, accuracy.min() - 0.1), min(1.0, accuracy.max() + 0.05))
    ax.set_xlabel("test accuracy (± one binomial standard error)")
    ax.set_title("CIFAR-10, 4,000 training images: the recipe without each ingredient")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
