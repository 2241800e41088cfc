# Seed 003_fa27b7149face062.txt: "Keras - Convolutional Neural Network (CNN)" (MNIST, Adadelta), steps 1 to 8,
# run as a script.
# Edits (every other line is the seed's, verbatim and in order; tests/test_benchmarks.py checks it):
# edit 1: MNIST comes from course.datasets (the offline mirror) instead of keras.datasets.
# edit 2: the outputs shown between the steps (epoch log, test loss and accuracy, predictions) are not code: left out.
# note: not edited although Keras changed under it: Adadelta() takes Keras 3's defaults (learning rate
#        0.001, rho 0.95), while the Keras that printed the seed's log used learning rate 1.0; and epochs=20
#        as written (the log shows 12 epochs).
# --- seed code ---
import keras
from course.datasets import mnist  # edit 1
from keras.models import Sequential
from keras.layers import Dense, Dropout, Flatten
from keras.layers import Conv2D, MaxPooling2D
from keras import backend as K
import numpy as np

###Step 2 − Load data
(x_train, y_train), (x_test, y_test) = mnist.load_data()

###Step 3 − Process the data

img_rows, img_cols = 28, 28

if K.image_data_format() == 'channels_first':
   x_train = x_train.reshape(x_train.shape[0], 1, img_rows, img_cols)
   x_test = x_test.reshape(x_test.shape[0], 1, img_rows, img_cols)
   input_shape = (1, img_rows, img_cols)
else:
   x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1)
   x_test = x_test.reshape(x_test.shape[0], img_rows, img_cols, 1)
   input_shape = (img_rows, img_cols, 1)

x_train = x_train.astype('float32')
x_test = x_test.astype('float32')
x_train /= 255
x_test /= 255

y_train = keras.utils.to_categorical(y_train, 10)
y_test = keras.utils.to_categorical(y_test, 10)


###Step 4 − Create the model

model = Sequential()
model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=input_shape))
model.add(Conv2D(64, (3, 3), activation='relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Flatten())
model.add(Dense(128, activation='relu'))
model.add(Dropout(0.5))
model.add(Dense(10, activation='softmax'))

###Step 5 − Compile the model

model.compile(loss=keras.losses.categorical_crossentropy,
              optimizer=keras.optimizers.Adadelta(),
              metrics=['accuracy'])

###Step 6 − Train the model

model.fit(
    x_train, y_train,
    batch_size=128,
    epochs=20,
    verbose=1,
    validation_data=(x_test, y_test)
)

score = model.evaluate(x_test, y_test, verbose=0)

pred = model.predict(x_test)
pred = np.argmax(pred, axis=1)[:5]
label = np.argmax(y_test, axis=1)[:5]

print(pred)
print(label)
