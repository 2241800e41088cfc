# Seed 002_45cebddea8908d62.txt: "classify handwritten digits using CNN architecure" (Chollet, Deep Learning
# with Python, 5.1), cells In [1] to In [4], run as a script.
# Edits (every other line is the seed's, verbatim and in order; tests/test_benchmarks.py checks it):
# edit 1: MNIST comes from course.datasets (the offline mirror) instead of keras.datasets.
# edit 2: the outputs printed between the cells (model summary, epoch log, 0.9919...) are not code: left out.
# --- seed code ---
# imorting necessary libraries
from course.datasets import mnist  # edit 1
from keras.utils import to_categorical
from keras import layers
from keras import models

# Loading the MNIST dataset in Keras and split data into train and test
(train_images, train_labels), (test_images, test_labels) = mnist.load_data()

# Preparing the image data as per network requirement
train_images = train_images.reshape((60000, 28, 28, 1))
train_images = train_images.astype('float32') / 255
test_images = test_images.reshape((10000, 28, 28, 1))
test_images = test_images.astype('float32') / 255

# Preparing the labels as per network requirement
train_labels = to_categorical(train_labels)
test_labels = to_categorical(test_labels)

#  network architecture
# Sequential class used only for linear stacks of layers
# functional API used for directed acyclic graphs of layers
model = models.Sequential()
# Convolution layer with 32 filters and 3X3 kernel
model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
# Maxpooling layer
model.add(layers.MaxPooling2D((2, 2)))
# Convolution layer with 64 filters and 3X3 kernel
model.add(layers.Conv2D(64, (3, 3), activation='relu'))
# Maxpooling layer
model.add(layers.MaxPooling2D((2, 2)))
# Convolution layer with 32 filters and 3X3 kernel
model.add(layers.Conv2D(64, (3, 3), activation='relu'))
# Flattening layer
model.add(layers.Flatten())
# fully connected layer with 64 filters
model.add(layers.Dense(64, activation='relu'))
# fully connected layer with 10 filters
model.add(layers.Dense(10, activation='softmax'))
model.summary()


# compilation step
# binary crossentropy for a two-class classification problem
# categorical crossentropy for a many-class classification problem
# meansquared error for a regression problem
# connectionist temporal classification for a sequence-learning problem
model.compile(optimizer='rmsprop',loss='categorical_crossentropy',metrics=['accuracy'])

# training step
model.fit(train_images, train_labels, epochs=5, batch_size=64)

# evaluation step
test_loss, test_acc = model.evaluate(test_images, test_labels)
test_acc
