"""DeepLocalize / DeepFD case 15 (StackOverflow 59325381): a CNN whose labels, not test images, are /255.

SOURCE: DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/59325381/
Buggy Code/59325381.py and Correct Code/59325381.py; Benchmark/StackOverflow/Benchmark.xlsx, row 15) and
DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark/Benchmark-with-patches.xlsx, case 15: ground
truth "loss, wrong preprocess"), StackOverflow question 59325381. The program: MNIST;
``x_train = x_train/255`` and then ``y_train = y_train/255`` where ``x_test = x_test/255`` was meant, so
the test images stay at 0-255 and the training labels become 0, 1/255, ..., 9/255;
``Conv2D(64, 3x3, 'same')``, ``MaxPooling2D(2)``, ``Conv2D(32, 3x3, 'same')``, ``MaxPooling2D(2)`` (no
activation after either convolution), ``Flatten``, ``Dense(128)`` + ReLU, ``Dense(10)`` + softmax (Keras's
Glorot-uniform kernels, zero biases); sparse categorical cross-entropy, which casts the float labels to
integers, so every training label is 0; Adam with its defaults; Keras's default batch 32; 2 epochs;
evaluated on the test set. MNIST needs a download: here scikit-learn's bundled 8x8 digits on the same
0-255 scale (x * 255 / 16), 600 of them held out as the test set (channels first, (N, 1, 8, 8)), so the
flattened layer has 32 * 2 * 2 inputs. The softmax is inside the loss (``cross_entropy`` on the logits,
the same function). Nothing else is cut.
SYMPTOM: the test accuracy is 0.098 (DeepLocalize's run), the share of the digit 0: the network learns to
answer 0 for everything, which every training label says, and is shown unscaled test images.
FIX: DeepLocalize's correct program: ``x_test = x_test/255`` instead of ``y_train = y_train/255`` (and
one-hot labels with categorical cross-entropy, the same loss); same network, optimizer, batch and epochs.
The mechanism (corrupted training labels) is none of the doctor's problems: EXPECTED names what a user
sees, a training loss that falls to zero while the validation accuracy stays at one class's share.
Run plainly (seeds 0, 1, 2): validation accuracy 0.085 / 0.100 / 0.098 (the share of the digit 0; training
loss 0.33-0.42 in the first epoch, 0.000 in the second, training accuracy 1.000 on the all-0 labels,
validation loss 4,200-4,800); fixed version 0.892 / 0.887 / 0.898. Each run about a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import split

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/59325381: "
          "Buggy Code/59325381.py, Correct Code/59325381.py); DeepFD benchmark case 15; StackOverflow "
          "question 59325381; data: scikit-learn's 8x8 digits on the 0-255 scale instead of MNIST")
SYMPTOM = ("the test accuracy is one class's share (0.098): the labels were divided by 255 (every training "
           "label becomes 0) and the test images were not")
FIX = "divide the test images by 255 instead of the training labels (DeepLocalize's correct program)"
SPLIT = "heldout"
ROUND = 6
EXPECTED = frozenset({"overfitting"})
ALLOWED = frozenset({"unscaled_inputs", "underfitting"})

N_VAL = 600
EPOCHS, BATCH = 2, 32


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A Keras ``Conv2D(out, (3, 3), padding='same')``: Glorot-uniform kernel, zero bias."""
    layer = nn.Conv2d(in_channels, out_channels, 3, padding=1)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _dense(in_features: int, out_features: int) -> nn.Linear:
    layer = nn.Linear(in_features, out_features)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, bug: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x.reshape(-1, 1, 8, 8) * (255.0 / 16.0)).astype(np.float32)  # MNIST's 0-255 pixels
    x_train, y_train, x_test, y_test = split(images, y.astype(np.int64), seed, N_VAL)
    x_train = x_train / 255
    if bug:
        y_train = (y_train / 255).astype(np.int64)  # y_train / 255, cast to int by the sparse loss: all 0
    else:
        x_test = x_test / 255
    rp.manual_seed(seed)
    model = nn.Sequential(_conv(1, 64), nn.MaxPool2d(2), _conv(64, 32), nn.MaxPool2d(2), nn.Flatten(),
                          _dense(32 * 2 * 2, 128), nn.ReLU(), _dense(128, 10))  # softmax in the loss
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_train.astype(np.float32), y_train, x_test.astype(np.float32), y_test,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
