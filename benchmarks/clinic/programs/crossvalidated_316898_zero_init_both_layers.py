"""Cross Validated 316898: the TensorFlow MNIST tutorial plus a sigmoid hidden layer, all weights zero.

SOURCE: https://stats.stackexchange.com/questions/316898 ("Choice of initial value for weights in
Tensorflow MNIST Tutorial"; closed as a duplicate of stats.stackexchange.com/questions/27112, "Danger of
setting all initial weights to zero in Backpropagation"). The question's program is the TensorFlow MNIST
tutorial, whose training the question does not show and keeps (``mnist_softmax.py``: pixels in [0, 1],
one-hot labels, ``softmax_cross_entropy_with_logits`` averaged over the batch,
``GradientDescentOptimizer(0.5)``, 1000 steps of ``next_batch(100)``), extended with a hidden layer:
``W = zeros([784, 100])``, ``b = zeros([100])``, ``h1 = sigmoid(x W + b)``, ``W2 = zeros([100, 10])``,
``b2 = zeros([10])``, logits ``h1 W2 + b2``. MNIST needs a download: here
scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1], 600 of them held out as the test set;
84 epochs of 12 batches of 100 (1008 steps, the tutorial's 1000). The softmax is inside the loss
(``cross_entropy`` on the logits, the same function). Nothing is cut.
SYMPTOM: the asker reports test accuracy "~ 25%" with ``W2 = tf.zeros`` against "> 92%" with
``W2 = tf.random_normal``. Mechanism: every hidden unit starts with the same (zero) weights and outputs
0.5, and the output layer weighs the hidden units alike, so every hidden unit receives the same gradient
and the same update at every step: the 100 units stay copies of one unit, and one sigmoid feature cannot
separate ten digits (on the 8x8 digits stand-in that one feature reaches 34-41 %, against the
asker's ~25 % on MNIST).
FIX: the question's own contrast, the answer of the question it duplicates (random initial weights
break the symmetry): ``W2 = tf.random_normal([100, 10])`` (standard deviation 1); the first layer, the
loss, optimizer, batch and steps unchanged.
Run plainly (seeds 0, 1, 2): validation accuracy 0.405 / 0.340 / 0.343 (the 100 hidden units end the
run exactly equal, as do the output layer's weights on them; training loss 2.35 -> 1.42-1.56); fixed
version 0.972 / 0.965 / 0.973 (training loss 0.02). Each run about a second.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import digits_784, normal_init

SOURCE = ("https://stats.stackexchange.com/questions/316898 (the TensorFlow MNIST tutorial with a zero-"
          "initialized sigmoid hidden layer; MNIST -> sklearn digits enlarged to 28x28, [0, 1])")
SYMPTOM = "test accuracy about 25 % with both layers initialized to zeros (above 92 % with W2 random)"
FIX = "initialize the output layer's weights at random (tf.random_normal, std 1), breaking the symmetry"
SPLIT = "heldout"
ROUND = 8
EXPECTED = frozenset({"symmetric_units"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "vanishing_gradients"})

EPOCHS, BATCH = 84, 100


def _program(seed: int, random_w2: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    hidden = nn.Linear(784, 100, init="zeros")
    nn.init.zeros_(hidden.bias)
    output = nn.Linear(100, 10, init=normal_init(1.0) if random_w2 else "zeros")
    nn.init.zeros_(output.bias)
    model = nn.Sequential(hidden, nn.Sigmoid(), output)  # logits; the softmax is in the loss
    optimizer = rp.optim.SGD(model.parameters(), lr=0.5)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, random_w2=False)


def fixed(seed: int) -> Program:
    return _program(seed, random_w2=True)
