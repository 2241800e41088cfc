"""A CIFAR-10 training recipe for a few thousand labelled images, written once: the cifar10 lab trains it,
and ``make bench`` trains it again without each of its ingredients (the ablation that justifies them).

The network is a small ResNet in the style of David Page's ResNet-9 (*How to train your ResNet*, 2018):
a convolution, then three stages that double the channels and halve the image, the first and the last
with a residual block of two convolutions, global max pooling and a softmax layer. The training follows the
fast CIFAR-10 records: SGD with Nesterov momentum, a warm-up then cosine decay of the learning rate, label
smoothing, weight decay, flips and shifts of the training images, and flips of the test images.

Each ingredient is one field of :class:`Recipe`, so that ``recipe.without("residual")`` is the same
recipe with that one thing taken away.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

# What taking each ingredient away means (the rows of the ablation).
INGREDIENTS = {
    "augmentation": "no flips or shifts of the training images",
    "batch_norm": "no batch normalisation (convolutions with a bias instead)",
    "residual": "no residual connections (the same convolutions, stacked)",
    "label_smoothing": "one-hot targets (no label smoothing)",
    "schedule": "a constant learning rate (the schedule's mean) instead of warm-up and cosine decay",
    "weight_decay": "no weight decay",
    "test_time_flips": "each test image predicted once, not averaged with its mirror image",
}


@dataclass(frozen=True)
class Recipe:
    """Every setting of the recipe; the boolean and rate fields are the ingredients an ablation removes."""

    width: int = 16  # channels of the first convolution; the stages have 2, 4 and 8 times as many
    epochs: int = 60
    batch_size: int = 64
    peak_learning_rate: float = 0.1
    warmup_fraction: float = 0.2  # of the training steps, from a twentieth of the peak up to it
    augmentation: bool = True
    shift: float = 0.125  # the largest shift, as a fraction of the image: 4 pixels of 32
    batch_norm: bool = True
    residual: bool = True
    label_smoothing: float = 0.2
    schedule: bool = True
    weight_decay: float = 5e-4
    test_time_flips: bool = True

    def without(self, ingredient: str) -> "Recipe":
        """The same recipe with one ingredient (a key of :data:`INGREDIENTS`) taken away."""
        if ingredient not in INGREDIENTS:
            raise ValueError(f"unknown ingredient {ingredient!r}; the ingredients are {', '.join(INGREDIENTS)}")
        off = 0.0 if isinstance(getattr(self, ingredient), float) else False
        return dataclasses.replace(self, **{ingredient: off})

    def learning_rate(self, steps: int):
        """The learning rate of ``steps`` training steps: warm-up then cosine decay, or the schedule's mean."""
        import keras

        if not self.schedule:
            # The mean of the schedule below, so that only its shape changes, not the total step size.
            return self.peak_learning_rate * (self.warmup_fraction * 0.525 + (1 - self.warmup_fraction) * 0.5)
        warmup = max(1, round(steps * self.warmup_fraction))
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=self.peak_learning_rate / 20, decay_steps=max(1, steps - warmup),
            warmup_target=self.peak_learning_rate, warmup_steps=warmup,
        )


def build_model(recipe: Recipe, train_images: np.ndarray):
    """The recipe's network (uncompiled): raw images (0-255) in, 10 class probabilities out. The
    per-channel mean and variance of ``train_images`` standardise the pixels inside the model."""
    import keras
    from keras import layers

    pixels = np.asarray(train_images, dtype="float64").reshape(-1, 3) / 255.0

    def conv_bn(x, filters):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not recipe.batch_norm)(x)
        if recipe.batch_norm:
            x = layers.BatchNormalization(momentum=0.9)(x)
        return layers.ReLU()(x)

    def residual_block(x, filters):
        y = conv_bn(conv_bn(x, filters), filters)
        return layers.Add()([x, y]) if recipe.residual else y

    inputs = keras.Input(shape=(32, 32, 3))
    x = inputs
    if recipe.augmentation:
        x = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomTranslation(recipe.shift, recipe.shift)],
                             name="augmentation")(x)
    x = layers.Rescaling(1 / 255)(x)
    x = layers.Normalization(mean=pixels.mean(axis=0), variance=pixels.var(axis=0))(x)
    width = recipe.width
    x = conv_bn(x, width)
    x = layers.MaxPooling2D()(conv_bn(x, 2 * width))  # 16x16
    x = residual_block(x, 2 * width)
    x = layers.MaxPooling2D()(conv_bn(x, 4 * width))  # 8x8
    x = layers.MaxPooling2D()(conv_bn(x, 8 * width))  # 4x4
    x = residual_block(x, 8 * width)
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(10, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="small_resnet")


def compile_model(model, recipe: Recipe, steps: int) -> None:
    import keras

    optimizer = keras.optimizers.SGD(
        learning_rate=recipe.learning_rate(steps), momentum=0.9, nesterov=True,
        weight_decay=recipe.weight_decay or None,
    )
    model.compile(optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
                  metrics=["accuracy"])


def predict(model, images: np.ndarray, test_time_flips: bool) -> np.ndarray:
    """Class probabilities; with test-time flips, the mean over each image and its mirror image."""
    probabilities = model.predict(images, batch_size=500, verbose=0)
    if test_time_flips:
        probabilities = (probabilities + model.predict(images[:, :, ::-1], batch_size=500, verbose=0)) / 2
    return probabilities


def train_and_evaluate(recipe: Recipe, train_images, train_labels, test_images, test_labels, *,
                       seed: int, verbose: int | str = 2, callbacks=()) -> dict:
    """Train the recipe's network from ``seed`` on all the training images (no validation split: the
    recipe's settings are fixed in advance) and measure it on the test images.

    Returns the test accuracy with and without test-time flips (the same trained model), the seconds spent
    in ``fit``, the parameter count, the model and its history.
    """
    import keras

    keras.utils.set_random_seed(seed)
    train_images = np.asarray(train_images, dtype="float32")
    test_images = np.asarray(test_images, dtype="float32")
    train_labels, test_labels = np.asarray(train_labels).ravel(), np.asarray(test_labels).ravel()
    model = build_model(recipe, train_images)
    steps = recipe.epochs * int(np.ceil(len(train_images) / recipe.batch_size))
    compile_model(model, recipe, steps)
    start = time.perf_counter()
    history = model.fit(train_images, keras.utils.to_categorical(train_labels, 10), epochs=recipe.epochs,
                        batch_size=recipe.batch_size, verbose=verbose, callbacks=list(callbacks))
    seconds = time.perf_counter() - start
    accuracy = {flips: float(np.mean(predict(model, test_images, flips).argmax(axis=-1) == test_labels))
                for flips in (False, True)}
    return {
        "test_accuracy": accuracy[recipe.test_time_flips],
        "test_accuracy_without_flips": accuracy[False],
        "test_accuracy_with_flips": accuracy[True],
        "seconds": seconds,
        "parameters": model.count_params(),
        "model": model,
        "history": history,
    }


def binomial_interval(accuracy: float, n: int) -> float:
    """One standard error of an accuracy measured on ``n`` independent test images (about 0.014 at 0.7
    on 1,000): differences smaller than this are not evidence."""
    return float(np.sqrt(accuracy * (1 - accuracy) / n))
