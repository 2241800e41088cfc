# Seed 004_434a8cc11c76ebba.txt: COMP5318/COMP4318 week 8 lab, part 3 "LSTM using Keras" (IMDB), cells
# In [1], In [10], In [20] and In [22] to In [26], run as a script.
# Edits (every other line is the seed's, verbatim and in order; tests/test_benchmarks.py checks it):
# edit 1: IMDB comes from course.datasets (the offline mirror) instead of tf.keras.datasets, same arguments.
# edit 2: the cell prompts ("In [10]:") and the outputs printed below the cells are not code: left out.
# edit 3: the end of In [1] (an IPython magic, matplotlib rc settings whose names the text lost, three
#         plotting helpers) and the exploration cells In [11] to In [19] (they print and decode reviews,
#         train nothing) are left out.
# edit 4: the text broke `train_size=0.9` over two lines ("train_s" / "ize=0.9)"): joined.
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
from course.datasets import imdb  # edit 1

# Specify first index for words
INDEX_FROM = 3

# Include this number of the most common words in our vocabulary
NUM_WORDS = 10000

(X_train_full, y_train_full), (X_test, y_test) = imdb.load_data(  # edit 1
    num_words=NUM_WORDS,
    start_char=1,
    oov_char=2,
    index_from=INDEX_FROM,
)

# Pad/truncate sequences to length of 100
X_train_full = keras.preprocessing.sequence.pad_sequences(X_train_full, maxlen=100)
X_test = keras.preprocessing.sequence.pad_sequences(X_test, maxlen=100)

# Create validation set from 10% of the training set
X_train, X_valid, y_train, y_valid = train_test_split(X_train_full, y_train_full, train_size=0.9)  # edit 4

# Implement a simple, single layer LSTM model
model = keras.models.Sequential([

    # Embedding Layer maps words to dense vectors
    keras.layers.Embedding(NUM_WORDS, 64),

    # LSTM Layer with 64 units
    keras.layers.LSTM(64),

    # Fully conncted Layer performs classification on the LSTM output
    keras.layers.Dense(1, activation="sigmoid")
])

model.summary()

# Compile the model, specifying optimiser, loss and metrics
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])

"""Running this cell could take several minutes"""

# Train the model for 3 epochs
model.fit(X_train, y_train, batch_size=32, epochs=3, validation_data=(X_valid, y_valid))
