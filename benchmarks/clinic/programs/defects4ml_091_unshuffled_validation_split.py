"""Defects4ML bug 091 (StackOverflow 56103207): class-sorted data split by Keras's ``validation_split``, so
the validation set holds only the last class, which training never sees.

SOURCE: Defects4ML, the faultload benchmark of "Bugs in Machine Learning-based Systems: A Faultload
Benchmark" (github.com/mohmehmo/defects4ml, bugs/091: buggy/script.py, fixed/script.py, conf.ini,
data/y.npy), StackOverflow question 56103207. conf.ini: "Missing preprocessing", symptom "Bad
performance": "because of skipping necessary preprocessing step (data shuffling), accuracy of the model
stays at near 0". The program: ``x = np.load('x.npy')`` (60,000 28x28x1 images) and one-hot ``y`` of five
classes stored in class order (data/y.npy: 12,000 rows of class 0, then of class 1, ... class 4);
``Conv2D(32, 5, relu)``, ``MaxPooling2D()``, ``Conv2D(16, 3, relu)``, ``MaxPooling2D()``, ``Flatten``,
``Dense(128, relu)``, ``Dense(64, relu)``, ``Dense(5, softmax)`` (Keras's Glorot-uniform kernels, zero
biases); categorical cross-entropy; Adam at Keras's defaults (lr 0.001, eps 1e-7); ``fit(x, y,
batch_size=100, epochs=20, validation_split=0.2)``. Keras's ``validation_split`` takes the *last* 20 % of
the arrays as given (before its per-epoch shuffling of the training part), which here is exactly the 12,000
rows of class 4: the network is trained on classes 0-3 and validated on a class it never saw. The images
(data/x.zip) are not in the stored benchmark: here scikit-learn's 8x8 digits of classes 0-4 enlarged to
28x28 (each pixel 3x3, padded by 2) on [0, 1], channels first (N, 1, 28, 28), put in class order as the
asker's arrays are; the same Keras split then leaves classes 0-3 (720 rows: 178 + 182 + 177 + 183) for
training and all 181 rows of class 4 for validation, as in the original. The softmax is inside the loss
(``cross_entropy`` on the logits, the same function). Cut: 10 epochs instead of 20.
SYMPTOM: the validation accuracy stays at (near) 0 while the training accuracy climbs (the benchmark's test
asks for 0.85).
FIX: Defects4ML's fixed script: shuffle x and y together (``np.random.permutation``) before ``fit``; the
same split, network and training.
Run plainly (seeds 0, 1, 2): validation accuracy 0.000 / 0.000 / 0.000 (every validation row is a 4,
a class absent from the training rows, while the training loss falls from 1.4-1.5 to 0.007-0.012, as in the
fixed version); fixed version 0.983 / 0.983 / 0.994. Each run about 8 seconds on one free CPU thread.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("Defects4ML bugs/091 (github.com/mohmehmo/defects4ml: buggy/script.py, fixed/script.py, "
          "data/y.npy); StackOverflow question 56103207; data: scikit-learn's digits 0-4 enlarged to "
          "28x28 on [0, 1], in class order, instead of the asker's images")
SYMPTOM = ("validation accuracy near 0: validation_split takes the last 20 % of class-ordered data, a class "
           "the network is never trained on")
FIX = "shuffle x and y together before fit (Defects4ML's fixed script)"
SPLIT = "heldout"
ROUND = 9
EXPECTED = frozenset({"validation_mismatch"})
ALLOWED = frozenset({"unshuffled_data", "overfitting"})

EPOCHS, BATCH = 10, 100
VALIDATION_SPLIT = 0.2


def _conv(in_channels: int, out_channels: int, size: int) -> nn.Conv2d:
    """A Keras ``Conv2D(out, size)`` ('valid' padding): Glorot-uniform kernel, zero bias."""
    layer = nn.Conv2d(in_channels, out_channels, size)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, shuffle: bool) -> Program:
    x, y = rp.data.load_digits()
    keep = y < 5
    x, y = x[keep], y[keep].astype(np.int64)
    order = np.argsort(y, kind="stable")  # the asker's arrays: class 0 first, class 4 last
    x, y = x[order], y[order]
    images = np.kron(x.reshape(-1, 8, 8) / 16.0, np.ones((1, 3, 3)))
    images = np.pad(images, ((0, 0), (2, 2), (2, 2))).reshape(-1, 1, 28, 28).astype(np.float32)
    if shuffle:  # the fix: p = np.random.permutation(len(x)); x = x[p]; y = y[p]
        p = np.random.default_rng(seed).permutation(len(images))
        images, y = images[p], y[p]
    split_at = int(len(images) * (1.0 - VALIDATION_SPLIT))  # Keras's validation_split: the last 20 %
    x_train, y_train, x_val, y_val = images[:split_at], y[:split_at], images[split_at:], y[split_at:]
    rp.manual_seed(seed)
    model = nn.Sequential(_conv(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), _conv(32, 16, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), dense(16 * 5 * 5, 128), nn.ReLU(), dense(128, 64),
                          nn.ReLU(), dense(64, 5))  # the softmax is in the loss
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, shuffle=False)


def fixed(seed: int) -> Program:
    return _program(seed, shuffle=True)
