"""Udacity deep-learning "Batch Normalization - Lesson": a 3x100 ReLU MLP started from N(0, 5^2) weights.

SOURCE: github.com/udacity/deep-learning, batch-norm/Batch_Normalization_Lesson.ipynb (the Udacity Deep
Learning Nanodegree's lesson), section "Comparisons between identical networks, with and without batch
normalization", the cell ``train_and_test(True, 0.01, tf.nn.relu)`` ("a ReLU activation function, a
learning rate of 0.01, and bad starting weights"). The lesson's program (``NeuralNet`` and
``train_and_test``): MNIST as 784 inputs in [0, 1], one-hot labels; 784 -> 100 -> 100 -> 100 -> 10, ReLU
on the hidden layers, a linear output; every weight matrix drawn from ``np.random.normal(scale=5.0)``
(the notebook's "bad starting weights"; its good ones use scale 0.05), biases from zero; the mean of
``softmax_cross_entropy_with_logits``; ``GradientDescentOptimizer(0.01)``; 50,000 steps of
``mnist.train.next_batch(60)``; accuracy by argmax on the validation and test images. The notebook
reports the network without batch normalization at 0.098 on the test set ("never learns anything at
all") and the same network with batch normalization at 0.799.
MNIST needs a download: here scikit-learn's 8x8 digits enlarged to 28x28 (784 inputs) in [0, 1], 600 of
them held out (the notebook's 5,000 validation images), the other 1,197 the training images (20 batches
of 60 an epoch, reshuffled each epoch). Cut: 250 epochs (5,000 steps) instead of 50,000 steps, to keep
each run short.
SYMPTOM: validation and test accuracy about 0.10 from start to end: the network without batch
normalization learns nothing from the bad starting weights.
FIX: the lesson's cure: the same network and the same starting weights with batch normalization on each
hidden layer, as its ``fully_connected`` builds it: the hidden layers lose their bias and
``tf.layers.batch_normalization`` (momentum 0.99, epsilon 1e-3, gamma 1, beta 0; its population
statistics updated through UPDATE_OPS) sits between the matrix product and the ReLU; the output layer
is unchanged. (The weights the two versions start from are the same draws, as the notebook shares them.)
The mechanism: with std-5 weights each layer multiplies the scale of its input by about 5 * sqrt(fan_in /
2): on a first batch the pre-activations' std is ~55 in the first hidden layer, ~2,000 in the second,
~60,000 in the third and ~2e6 at the logits, so the softmax is one-hot on every image, a wrong
prediction's loss is in the millions and its gradient as large; the first steps of lr 0.01 throw the
weights further out and within 5-6 steps the loss overflows (NaN; fit stops there, keeping the last
finite weights, as the notebook's run went on with weights that predict one class). Batch normalization
rescales each hidden layer's pre-activations to unit variance whatever the weights' scale, so the same
weights train.
Run plainly (seeds 0, 1, 2): validation accuracy 0.085 / 0.100 / 0.097 (the loss is non-finite at step
6 / 5 / 5 of the first epoch: NaN, NaN, then 1.8e31 before non-finite gradients); fixed version 0.867 /
0.862 / 0.890 (training loss 30-36 -> 0.14-0.24; validation accuracy 0.11-0.14 after the first epoch,
0.75-0.80 after 25). Each run under 8 seconds.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import digits_784

SOURCE = ("github.com/udacity/deep-learning, batch-norm/Batch_Normalization_Lesson.ipynb, "
          "train_and_test(True, 0.01, tf.nn.relu) (ReLU, lr 0.01, N(0, 5^2) starting weights; cure: the "
          "same network with batch normalization); MNIST -> sklearn digits enlarged to 28x28, [0, 1]")
SYMPTOM = "with std-5 starting weights the ReLU network never learns: accuracy ~0.10"
FIX = "the lesson's cure: batch normalization (no bias) before each hidden ReLU, same starting weights"
SPLIT = "heldout"
ROUND = 19
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"dead_relu", "non_finite", "unstable_loss", "saturated_activations", "underfitting",
                     "slow_convergence"})

SIZES = (784, 100, 100, 100, 10)
LR, BATCH, EPOCHS, WEIGHT_STD, N_VAL = 0.01, 60, 250, 5.0, 600


def _program(seed: int, batch_norm: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16, n_val=N_VAL)
    rp.manual_seed(seed)
    draw = np.random.default_rng(seed)
    weights = [draw.normal(scale=WEIGHT_STD, size=(n_in, n_out)).astype(np.float32)
               for n_in, n_out in pairwise(SIZES)]
    layers: list[nn.Module] = []
    for index, w in enumerate(weights):
        hidden = index < len(weights) - 1
        layer = nn.Linear(*w.shape, bias=not (batch_norm and hidden))
        layer.weight.data[...] = w.T  # the notebook's (fan_in, fan_out) matrices, shared by both versions
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
        layers.append(layer)
        if hidden:
            if batch_norm:  # tf.layers.batch_normalization: momentum 0.99 (PyTorch's 0.01), epsilon 1e-3
                layers.append(nn.BatchNorm1d(w.shape[1], eps=1e-3, momentum=0.01))
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    return Program(model, rp.optim.SGD(model.parameters(), lr=LR), x_train, y_train, x_val, y_val,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, batch_norm=False)


def fixed(seed: int) -> Program:
    return _program(seed, batch_norm=True)
