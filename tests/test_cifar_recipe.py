"""The CIFAR-10 small-data recipe: each ingredient can be taken away alone, and taking it away changes
the network or its training the way its description says."""

import dataclasses

import numpy as np
import pytest

from course import cifar_recipe
from course.cifar_recipe import INGREDIENTS, Recipe


def _kinds(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("ingredient", INGREDIENTS)
def test_without_takes_away_exactly_one_ingredient(ingredient):
    recipe = Recipe()
    changed = {f.name for f in dataclasses.fields(Recipe)
               if getattr(recipe, f.name) != getattr(recipe.without(ingredient), f.name)}
    assert changed == {ingredient}
    assert not getattr(recipe.without(ingredient), ingredient)


def test_unknown_ingredient_is_refused_with_the_list():
    with pytest.raises(ValueError, match="residual"):
        Recipe().without("dropout")


def test_constant_rate_is_the_mean_of_the_schedule():
    recipe = Recipe()
    steps = 400
    schedule = recipe.learning_rate(steps)
    mean = float(np.mean([float(schedule(step)) for step in range(steps)]))
    assert float(schedule(0)) < recipe.peak_learning_rate / 10
    assert recipe.without("schedule").learning_rate(steps) == pytest.approx(mean, rel=0.02)


def test_network_follows_the_ingredients():
    images = np.random.default_rng(0).integers(0, 256, size=(8, 32, 32, 3)).astype("float32")
    full = cifar_recipe.build_model(Recipe(width=4), images)
    assert full.input_shape == (None, 32, 32, 3) and full.output_shape == (None, 10)
    assert _kinds(full).count("Add") == 2 and "BatchNormalization" in _kinds(full)
    assert "augmentation" in [layer.name for layer in full.layers]
    assert "Add" not in _kinds(cifar_recipe.build_model(Recipe(width=4).without("residual"), images))
    plain = cifar_recipe.build_model(Recipe(width=4).without("batch_norm"), images)
    assert "BatchNormalization" not in _kinds(plain)
    assert all(layer.use_bias for layer in plain.layers if type(layer).__name__ == "Conv2D")
    unaugmented = cifar_recipe.build_model(Recipe(width=4).without("augmentation"), images)
    assert "augmentation" not in [layer.name for layer in unaugmented.layers]
    # Standardised inside the model: the training images come out with mean 0 per channel.
    normalization = next(layer for layer in full.layers if type(layer).__name__ == "Normalization")
    standardised = np.asarray(normalization(images / 255))
    assert np.allclose(standardised.mean(axis=(0, 1, 2)), 0, atol=1e-4)


def test_train_and_evaluate_reports_both_ways_of_predicting():
    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, size=(64, 32, 32, 3)), rng.integers(0, 10, size=(64, 1))
    result = cifar_recipe.train_and_evaluate(Recipe(width=2, epochs=1, batch_size=32), images, labels, images[:20],
                                             labels[:20], seed=3, verbose=0)
    assert result["test_accuracy"] == result["test_accuracy_with_flips"]
    assert 0 <= result["test_accuracy_without_flips"] <= 1 and result["seconds"] > 0
    assert result["parameters"] == result["model"].count_params()
    assert cifar_recipe.binomial_interval(0.7, 1000) == pytest.approx(0.0145, abs=5e-4)
