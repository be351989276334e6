"""StackOverflow 47240308: Nielsen's 784-30-10 sigmoid network with weights and biases from np.random.rand.

SOURCE: https://stackoverflow.com/questions/47240308 ("Differences between numpy.random.rand vs
numpy.random.randn in Python"). The asker re-implements the network of Michael Nielsen's "Neural
Networks and Deep Learning" (``network.py``, chapter 1) unchanged except for one line each for the
weights and the biases: ``np.random.rand`` (uniform on [0, 1)) where the book draws ``np.random.randn``
(N(0, 1)). The book's program as the question runs it: ``Network([784, 30, 10])``, a sigmoid after both
layers (the output included), the quadratic cost (output error ``(a - y) * sigmoid'(z)`` against one-hot
targets), ``SGD(training_data, 30, 10, 3.0)``: 30 epochs, mini-batches of 10 reshuffled every epoch, eta
3.0 applied as ``eta / 10`` times the summed gradient; MNIST in [0, 1]; accuracy = argmax of the output.
MNIST needs a download: here scikit-learn's 8x8 digits enlarged to 28x28 (784 inputs) in [0, 1], 600 of
them held out (the book reports its test set). The quadratic cost is written as a loss module (half the
squared error summed over the 10 outputs, averaged over the batch: the same gradient per step). Nothing
else is cut; 30 epochs of the smaller data set are 3,600 steps where the book's are 150,000.
SYMPTOM: "the network won't learn and the weights and biases will not change".
FIX: the accepted answer: initialize around zero (the book's ``np.random.randn``, which the fixed version
uses, or Xavier's range): all-positive weights of mean 0.5 on ~290 lit pixels (intensities summing to
~176) put every hidden pre-activation near +88 and every output pre-activation near +15, where the
sigmoid is flat, so the gradient that reaches any weight is tiny.
Run plainly (seeds 0, 1, 2): validation accuracy 0.107 / 0.093 / 0.105 (training loss 4.50 -> 4.50, 4.50 ->
4.50, 4.50 -> 4.09: every output sits at 1, half the squared error of nine wrong ones); fixed version
0.953 / 0.847 / 0.947 (training loss 0.33-0.44 -> 0.005-0.055). Each run under 2 seconds.
"""

from __future__ import annotations

from typing import Any

import retroprop as rp
from retroprop import nn
from retroprop.tensor import Tensor

from . import Program
from ._qa_common import QuadraticCost, digits_784

SOURCE = ("https://stackoverflow.com/questions/47240308 (Nielsen's network.py with np.random.rand "
          "weights and biases); MNIST -> sklearn digits enlarged to 28x28, [0, 1]")
SYMPTOM = "the network won't learn; the weights and biases do not change"
FIX = "draw weights and biases around zero: the book's np.random.randn (N(0, 1)) instead of np.random.rand"
SPLIT = "heldout"
ROUND = 13
EXPECTED = frozenset({"saturated_activations"})
ALLOWED = frozenset({"vanishing_gradients", "slow_convergence", "underfitting", "loss_output_mismatch",
                     "exploding_gradients"})

EPOCHS, BATCH, ETA = 30, 10, 3.0


def _uniform01(parameter: Tensor) -> None:
    """``np.random.rand``: uniform on [0, 1), from retroprop's seeded generator."""
    parameter.data[...] = rp.default_generator().random(parameter.shape).astype(parameter.dtype)


def _standard_normal(parameter: Tensor) -> None:
    """``np.random.randn``: N(0, 1), from retroprop's seeded generator."""
    parameter.data[...] = rp.default_generator().standard_normal(parameter.shape).astype(parameter.dtype)


def _layer(n_in: int, n_out: int, fill: Any) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, init=fill)
    fill(layer.bias)
    return layer


def _program(seed: int, fill: Any) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(_layer(784, 30, fill), nn.Sigmoid(), _layer(30, 10, fill), nn.Sigmoid())
    return Program(model, rp.optim.SGD(model.parameters(), lr=ETA), x_train, y_train, x_val, y_val,
                   loss=QuadraticCost(), epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, _uniform01)


def fixed(seed: int) -> Program:
    return _program(seed, _standard_normal)
