# Seed 001_ade7af9e656fd5e6.txt: EDAN95 lecture 6 slides, "Structure of a Network" (Chollet, Listing 6.7:
# Embedding(10000, 8) + Flatten + Dense on the first 20 words of each review), run as a script.
# Edits (every other line is the seed's, verbatim and in order; tests/test_benchmarks.py checks it):
# edit 1: the slide shows only the model: its imports, and x_train, y_train and maxlen as in Chollet's
#         listing 6.6 (10,000 words, the last 20 words of each review), are added, with IMDB from
#         course.datasets (the offline mirror) and Keras 3's pad_sequences.
# note: not edited: Embedding(..., input_length=maxlen) runs on Keras 3 (a deprecation warning; the argument
#        is ignored).
# --- seed code ---
from keras.models import Sequential  # edit 1
from keras.layers import Dense, Embedding, Flatten  # edit 1
from keras.utils import pad_sequences  # edit 1
from course.datasets import imdb  # edit 1
max_features = 10000  # edit 1
maxlen = 20  # edit 1
(x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=max_features)  # edit 1
x_train = pad_sequences(x_train, maxlen=maxlen)  # edit 1

model = Sequential()
model.add(Embedding(10000, 8, input_length=maxlen))
model.add(Flatten())
model.add(Dense(1, activation='sigmoid'))
model.compile(optimizer='rmsprop',
  loss='binary_crossentropy',
  metrics=['acc'])
model.summary()
history = model.fit(x_train, y_train,
  epochs=10,
  batch_size=32,
  validation_split=0.2)
