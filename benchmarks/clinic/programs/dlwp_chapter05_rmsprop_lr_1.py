"""Deep Learning with Python (2nd ed.), chapter 5: "Training a MNIST model with an incorrectly high
learning rate" - RMSprop(1.0) on a 512-ReLU MLP.

SOURCE: François Chollet, "Deep Learning with Python", second edition, section 5.3.1 "Tuning key gradient
descent parameters", listings "Training a MNIST model with an incorrectly high learning rate" and "The
same model with a more appropriate learning rate" (companion notebook
github.com/fchollet/deep-learning-with-python-notebooks, second_edition/chapter05_fundamentals-of-ml.ipynb).
The program: MNIST flattened to 784 inputs, ``/ 255`` (in [0, 1]); ``Dense(512, relu)`` then
``Dense(10, softmax)`` (Keras's Glorot-uniform kernels, zero biases); ``sparse_categorical_crossentropy``
(on a softmax output TensorFlow 2.6 computes it from the logits); ``RMSprop(1.)`` (Keras's rho 0.9,
epsilon 1e-7, accumulators from zero); ``fit(epochs=10, batch_size=128, validation_split=0.2)``. The book
reports that training and validation accuracy climb quickly to between 30% and 40% and stay there.
MNIST needs a download: here scikit-learn's 8x8 digits enlarged to 28x28 (784 inputs) in [0, 1]; 20% of
them (360) held out as validation_split=0.2 holds out MNIST's last 12,000 (the digits shuffled first, the
seed drawing the split). The 1,437 training images make 12 batches of 128 an epoch: 60 epochs (720 steps)
stand for the book's 10 epochs of 375 steps (3,750 steps), cut to keep each run near 5 seconds.
SYMPTOM: training and validation accuracy stuck in the 30-40% range.
FIX: the book's: ``RMSprop(1e-2)``, the same model, data and training otherwise (with it, the book says,
the model trains normally).
The mechanism: RMSprop divides each gradient by its running RMS, so every weight moves by about the
learning rate each step whatever its gradient: at 1.0 each first-layer weight (Glorot-uniform, mean
|w| 0.034 at the start) jumps by ~1 per step. On seed 0 the first layer's mean |weight| ends at 1.9
(0.06 in the fixed run), the training loss jumps from epoch to epoch between ~1 and ~1,000 (59,500 in
the first epoch, then 671, 38, 72, 6.6, 853, 1,250, ...; the fixed run: 9.1, then 0.43 and below), and
96% of the 512 hidden ReLUs end dead on every training image (72% in the fixed run).
Run plainly (seeds 0, 1, 2): validation accuracy 0.489 / 0.817 / 0.617 (training loss 5.95e4 -> 1.03,
6.58e4 -> 0.37, 6.00e4 -> 0.78, jumping on the way; validation accuracy swings between 0.39 and 0.95
from epoch to epoch); fixed version 0.989 / 0.972 / 0.975 (training loss 8-9 -> 0.35 or below). Each
run about 5 seconds.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import digits_784

SOURCE = ("Deep Learning with Python, 2nd ed., section 5.3.1 (github.com/fchollet/deep-learning-with-python-"
          "notebooks, second_edition/chapter05_fundamentals-of-ml.ipynb: MNIST with RMSprop(1.)); "
          "MNIST -> sklearn digits enlarged to 28x28, [0, 1]")
SYMPTOM = "with RMSprop(1.) the accuracy reaches 30-40% and cannot get past that"
FIX = "the book's RMSprop(1e-2)"
SPLIT = "heldout"
ROUND = 19
EXPECTED = frozenset({"unstable_loss"})
ALLOWED = frozenset({"exploding_gradients", "dead_relu", "non_finite", "underfitting",
                     "saturated_activations"})

EPOCHS, BATCH, N_VAL = 60, 128, 360


def _program(seed: int, lr: float) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16, n_val=N_VAL)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(784, 512), nn.ReLU(), dense(512, 10))  # the softmax is in the loss
    optimizer = rp.optim.RMSprop(model.parameters(), lr=lr, alpha=0.9, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, lr=1.0)


def fixed(seed: int) -> Program:
    return _program(seed, lr=1e-2)
