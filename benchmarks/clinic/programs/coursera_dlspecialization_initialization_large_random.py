"""deeplearning.ai's "Initialization" assignment: a 3-layer ReLU network whose weights start as N(0, 1) x 10.

SOURCE: the Deep Learning Specialization (Coursera, deeplearning.ai), course 2 "Improving Deep Neural
Networks", week 1 programming assignment "Initialization" (mirrored on GitHub, e.g.
Kulbear/deep-learning-coursera, "Improving Deep Neural Networks Hyperparameter tuning, Regularization and
Optimization/Initialization.ipynb", with its ``init_utils.py``). Its program: ``load_dataset()`` draws
``make_circles(n_samples=300, noise=.05)`` after ``np.random.seed(1)`` for training and 100 points after
``np.random.seed(2)`` for testing (raw coordinates, about [-1.1, 1.1]); LINEAR -> RELU -> LINEAR -> RELU ->
LINEAR -> SIGMOID with ``layers_dims = [2, 10, 5, 1]``; the mean logistic loss; full-batch gradient descent
(``update_parameters``), learning rate 0.01, 15,000 iterations. ``initialize_parameters_random`` draws
every weight as ``np.random.randn(...) * 10`` (biases zero): the assignment's "large random
initialization". Seed ``s`` draws the training circles with ``random_state = 1 + s`` and the test circles
with ``random_state = 2 + s`` (seed 0 gives the assignment's points). The sigmoid output under the logistic
loss is the logits form here (``bce_with_logits``: the same gradient, ``(a3 - Y) / m`` at the output, but a
finite loss where the assignment's ``log`` of a saturated sigmoid gives inf). Cut: 7,500 iterations
(epochs of the one full batch) instead of 15,000.
SYMPTOM: "Cost after iteration 0: inf", then a slow fall; train accuracy 0.83, test 0.86 after 15,000
iterations, against 0.99 / 0.96 with He initialization. The assignment's observations: with large
random-valued weights the last activation outputs results very close to 0 or 1 and a wrong example costs a
huge loss; "poor initialization can lead to vanishing/exploding gradients, which also slows down the
optimization algorithm"; "initializing with overly large random numbers slows down the optimization".
FIX: the assignment's He initialization, ``np.random.randn(...) * np.sqrt(2 / layers_dims[l - 1])``,
biases zero (same data, network, loss, learning rate and iterations).
Run plainly (seeds 0, 1, 2): validation accuracy 0.84 / 0.70 / 0.84 (training loss 4,088 -> 0.21, 115 ->
0.43, 640 -> 0.25: logits in the hundreds to thousands at the start; training accuracy 0.90 / 0.70 / 0.89);
fixed version 0.96 / 0.94 / 0.93 (training loss 1.39 -> 0.27, 0.69 -> 0.41, 0.71 -> 0.27, still falling;
training accuracy 0.97 / 0.95 / 0.96). At the full 15,000 iterations: 0.86 / 0.75 / 0.84 against 0.95 /
0.98 / 0.96 (seed 0's 0.86 is the assignment's test accuracy). Each run 3-10 seconds on a loaded machine.
"""

from __future__ import annotations

import math

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = ("Deep Learning Specialization (deeplearning.ai), course 2 week 1 assignment 'Initialization' "
          "(mirrored at github.com/Kulbear/deep-learning-coursera, Initialization.ipynb); data generated "
          "as there (sklearn make_circles)")
SYMPTOM = ("cost inf at iteration 0, then a slow fall; train accuracy 0.83 and test 0.86 after 15,000 "
           "iterations (0.99 / 0.96 with He initialization): every weight drawn as randn * 10")
FIX = "He initialization, randn * sqrt(2 / fan_in) (the assignment's fix)"
SPLIT = "heldout"
ROUND = 11
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"dead_relu", "slow_convergence", "unstable_loss", "overfitting", "underfitting"})

ITERATIONS = 7500


def _linear(n_in: int, n_out: int, std: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, init=lambda w: nn.init.normal_(w, 0.0, std))
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, large: bool) -> Program:
    from sklearn.datasets import make_circles

    x_train, y_train = make_circles(n_samples=300, noise=0.05, random_state=1 + seed)
    x_test, y_test = make_circles(n_samples=100, noise=0.05, random_state=2 + seed)
    rp.manual_seed(seed)
    dims = [2, 10, 5, 1]
    layers: list[nn.Module] = []
    for i in range(1, len(dims)):
        std = 10.0 if large else math.sqrt(2.0 / dims[i - 1])
        layers.append(_linear(dims[i - 1], dims[i], std))
        if i < len(dims) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)  # the output sigmoid is inside the loss
    optimizer = rp.optim.SGD(model.parameters(), lr=0.01)
    y_train = y_train.astype(np.float32).reshape(-1, 1)
    y_test = y_test.astype(np.float32).reshape(-1, 1)
    return Program(model, optimizer, x_train.astype(np.float32), y_train, x_test.astype(np.float32), y_test,
                   loss="bce_with_logits", epochs=ITERATIONS, batch_size=300, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, large=True)


def fixed(seed: int) -> Program:
    return _program(seed, large=False)
