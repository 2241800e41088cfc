"""course.encoding: the one-hot labels that labs import once the text-encoding lab has exercised them."""

import keras
import numpy as np
import pytest

from course.encoding import one_hot


def test_one_hot_equals_keras_to_categorical():
    labels = np.random.default_rng(3).integers(0, 7, size=40)
    encoded = one_hot(labels, 7)
    assert encoded.dtype == np.float32 and encoded.shape == (40, 7)
    np.testing.assert_array_equal(encoded, keras.utils.to_categorical(labels, 7))
    np.testing.assert_array_equal(one_hot(labels[:, None], 7), encoded)  # CIFAR-10's (N, 1) labels
    assert one_hot([], 3).shape == (0, 3)
    assert one_hot(np.array([3.0, 0.0]), 4).tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]]


@pytest.mark.parametrize("labels, num_classes, message", [
    ([0, 10], 10, "whole numbers in 0..9"),
    ([-1], 10, "whole numbers in 0..9"),
    ([0.5], 10, "whole numbers"),
    ([[0, 1], [1, 0]], 2, "vector of class indices"),
    ([0], 0, "at least 1"),
])
def test_one_hot_rejects_labels_it_cannot_encode(labels, num_classes, message):
    with pytest.raises(ValueError, match=message):
        one_hot(labels, num_classes)
