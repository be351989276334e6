"""ShahariarRabby/deeplearning.ai issue 9: the course's He initialization under Python 2 zeroes a layer.

SOURCE: https://github.com/ShahariarRabby/deeplearning.ai/issues/9 ("COURSE-2-Week-2 Utils Function
Error"), on the ``opt_utils.py`` of the Deep Learning Specialization's (Coursera, deeplearning.ai) course 2
week 2 assignment "Optimization methods": ``initialize_parameters`` draws ``np.random.randn(layer_dims[l],
layer_dims[l - 1]) * np.sqrt(2 / layer_dims[l - 1])``. The issue's author, running Python 2.7, asked for
``np.sqrt(2. / ...)``: there ``2 / n`` is integer division, 0 for every fan-in above 2 (the same report for
the course's other He initializations: github.com/andersy005/deep-learning-specialization-coursera pull
request 7, "for cases where layer_dims[l-1] > 2, 2/layer_dims[l-1] becomes 0 and then parameters['Wl'] = 0.
So all the results were wrong"). The assignment's network, ``layers_dims = [2, 5, 2, 1]``: under Python 2
W1 (fan-in 2) is ``randn * 1``, W2 (fan-in 5) is all zeros, W3 (fan-in 2) is ``randn * 1``; biases zero.
LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, the mean logistic loss, mini-batches of 64 reshuffled
every epoch, the assignment's best optimizer (``optimizer="adam"``: learning rate 0.0007, beta1 0.9, beta2
0.999, epsilon 1e-8), 10,000 epochs, on ``make_moons(n_samples=300, noise=.2)`` drawn after
``np.random.seed(3)``. With W2 and b2 zero, the second layer's ReLUs see exactly 0: they output 0 and pass
no gradient, so W2 never moves, and W3's gradient (times those zeros) is 0 too: only the output bias learns.
The assignment reports training accuracy only: here the validation data is a second draw of the same
generator (``make_moons(300, noise=.2, random_state=4)``); seed ``s`` draws the weights and the shuffling.
The sigmoid output under the logistic loss is the logits form here (``bce_with_logits``). Cut: 2,500 epochs
instead of 10,000.
SYMPTOM: "all the results were wrong" (pull request 7): the network predicts one class.
FIX: the issue's ``np.sqrt(2. / layer_dims[l - 1])`` (Python 3's division): He initialization in every
layer; same data, network, optimizer and epochs.
Run plainly (seeds 0, 1, 2): validation accuracy 0.500 / 0.500 / 0.500 (training loss 0.693 from the first
epoch to the last, training accuracy 0.500: one class predicted); fixed version 0.947 / 0.950 / 0.957
(training loss 0.72 -> 0.20, 0.69 -> 0.14, 0.69 -> 0.14). Each run 3-10 seconds on a loaded machine.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = ("https://github.com/ShahariarRabby/deeplearning.ai/issues/9 (opt_utils.py of deeplearning.ai's "
          "course 2 week 2 'Optimization methods' under Python 2; also andersy005/"
          "deep-learning-specialization-coursera pull request 7); data generated as there (sklearn "
          "make_moons), validation on a second draw")
SYMPTOM = "integer division makes sqrt(2 / 5) zero: the second layer starts (and stays) at zero weights"
FIX = "np.sqrt(2. / layer_dims[l - 1]): He initialization in every layer"
SPLIT = "heldout"
ROUND = 12
EXPECTED = frozenset({"dead_relu"})
ALLOWED = frozenset({"symmetric_units", "vanishing_gradients", "loss_output_mismatch", "underfitting",
                     "slow_convergence"})

LR = 0.0007
EPOCHS, BATCH = 2500, 64
DIMS = [2, 5, 2, 1]


def _layer(n_in: int, n_out: int, python2: bool) -> nn.Linear:
    scale = float(np.sqrt(2 // n_in if python2 else 2.0 / n_in))  # Python 2's 2 / n on ints is 2 // n
    layer = nn.Linear(n_in, n_out, init=lambda w: nn.init.normal_(w, 0.0, scale))
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, python2: bool) -> Program:
    from sklearn.datasets import make_moons

    x_tr, y_tr = make_moons(n_samples=300, noise=0.2, random_state=3)
    x_va, y_va = make_moons(n_samples=300, noise=0.2, random_state=4)
    rp.manual_seed(seed)
    model = nn.Sequential(_layer(2, 5, python2), nn.ReLU(), _layer(5, 2, python2), nn.ReLU(),
                          _layer(2, 1, python2))  # the output sigmoid is in the loss
    optimizer = rp.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)
    return Program(model, optimizer, x_tr.astype(np.float32), y_tr.astype(np.float32).reshape(-1, 1),
                   x_va.astype(np.float32), y_va.astype(np.float32).reshape(-1, 1), loss="bce_with_logits",
                   epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, python2=True)


def fixed(seed: int) -> Program:
    return _program(seed, python2=False)
