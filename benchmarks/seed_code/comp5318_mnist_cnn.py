# Seed 004_434a8cc11c76ebba.txt: COMP5318/COMP4318 week 8 lab, part 2 "Convolutional Neural Network using
# Keras" (MNIST), cells In [1] to In [8], run as a script.
# Edits (every other line is the seed's, verbatim and in order; tests/test_benchmarks.py checks it):
# edit 1: MNIST comes from course.datasets (the offline mirror) instead of keras.datasets.
# edit 2: the cell prompts ("In [2]:") and the outputs printed below the cells are not code: left out.
# edit 3: the end of In [1] (an IPython magic, matplotlib rc settings whose names the text lost, three
#         plotting helpers) and In [5] (model.summary()) are left out: nothing here plots.
# edit 4: the text broke `train_size=0.9` over two lines ("train_s" / "size=0.9)"): joined.
# --- seed code ---
import sys
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import sklearn
import time

# Import our deep learning libraries which were installed last week
import tensorflow as tf
from tensorflow import keras

from sklearn.model_selection import train_test_split

# Make the notebook's output stable across runs
np.random.seed(42)
tf.random.set_seed(42)
keras.backend.clear_session()
from course.datasets import mnist  # edit 1

# Load the MNIST data
(X_train_full, y_train_full), (X_test, y_test) = mnist.load_data()  # edit 1

# Scale the data to the range 0-1
X_train_full = X_train_full / 255.
X_test = X_test / 255.

# Create validation set from the training set
X_train, X_valid, y_train, y_valid = train_test_split(X_train_full, y_train_full, train_size=0.9)  # edit 4

print(f"Shape of X_train: {X_train.shape}")

# Add an extra dimension to our data
X_train = np.expand_dims(X_train, -1)
X_valid = np.expand_dims(X_valid, -1)
X_test = np.expand_dims(X_test, -1)

print(f"New shape of X_train: {X_train.shape}")

model = keras.Sequential([

    # Specify the input shape
    keras.Input(shape=(28, 28, 1)),

    # Conv and pool block 1
    keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
    keras.layers.MaxPooling2D(pool_size=(2, 2)),

    # Conv and pool block 2
    keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
    keras.layers.MaxPooling2D(pool_size=(2, 2)),

    # Flatten and classify using dense output layer
    keras.layers.Flatten(),
    keras.layers.Dropout(0.5),
    keras.layers.Dense(10, activation="softmax"),
    ])

# Compile model with loss, optimiser, and metrics
model.compile(loss='sparse_categorical_crossentropy',
              optimizer="adam",
              metrics=['accuracy'])

# Train the model for 10 epochs with batch size 128
batch_size = 128
epochs = 10
history = model.fit(X_train, y_train, batch_size=batch_size,
                    epochs=epochs, validation_data=(X_valid, y_valid))

loss, accuracy = model.evaluate(X_test, y_test)
print(f"Accuracy on test data: {accuracy:.4f}")
