"""Nielsen's "Neural Networks and Deep Learning", chapter 1: the 784-30-10 sigmoid network at eta = 100.

SOURCE: Michael Nielsen, "Neural Networks and Deep Learning", chapter 1 "Using neural nets to recognize
handwritten digits" (http://neuralnetworksanddeeplearning.com/chap1.html), the passage on debugging
hyper-parameters that runs ``network.Network([784, 30, 10])`` with ``net.SGD(training_data, 30, 10, 100.0,
test_data=test_data)``; the code is the book's ``src/network.py`` (github.com/mnielsen/neural-networks-
and-deep-learning). The program: weights and biases drawn from ``np.random.randn`` (N(0, 1)), a sigmoid
after both layers (the output included), the quadratic cost (output error ``(a - y) * sigmoid'(z)``
against one-hot targets), 30 epochs of mini-batches of 10 reshuffled every epoch, each step moving by
``eta / 10`` times the summed gradient, i.e. eta times the batch mean; MNIST in [0, 1]; accuracy = argmax
of the output on the 10,000 test images. MNIST needs a download: here scikit-learn's 8x8 digits
enlarged to 28x28 (784 inputs) in [0, 1], 600 of them held out as the test images. The quadratic cost is
a loss module (half the squared error summed over the 10 outputs, averaged over the batch: the same
step). Nothing else is cut; 30 epochs of the smaller data set are 3,600 steps where the book's are
150,000.
SYMPTOM: the book's run: "Epoch 0: 1009 / 10000" through "Epoch 29: 982 / 10000", about chance; "we've
actually gone too far, and the learning rate is too high".
FIX: the book's: decrease the learning rate, back to the eta = 3.0 of its first, successful run of the
same network (``net.SGD(training_data, 30, 10, 3.0, test_data=test_data)``); everything else unchanged.
The mechanism: a step of 100 times the gradient moves the weights by tens at once; the hidden and output
pre-activations are thrown far out on the flat tails of the sigmoid, where sigmoid' is ~0, so the error
signal that reaches any weight vanishes and the outputs freeze (here all ten pinned at ~0 whatever the
image, so the cost sits at 0.5, the one target unit missed): the network stops learning at chance.
Run plainly (seeds 0, 1, 2): validation accuracy 0.110 / 0.100 / 0.112 (training loss 0.51 in the first
epoch, 0.500 from then on on every seed); fixed version 0.953 / 0.847 / 0.947 (training loss 0.33-0.44 ->
0.005-0.055). Each run under 2 seconds.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn
from retroprop.tensor import Tensor

from . import Program
from ._qa_common import QuadraticCost, digits_784

SOURCE = ("http://neuralnetworksanddeeplearning.com/chap1.html (Nielsen's network.py, Network([784, 30, 10]) "
          "with net.SGD(training_data, 30, 10, 100.0)); MNIST -> sklearn digits enlarged to 28x28, [0, 1]")
SYMPTOM = "test accuracy stays at chance (1009 / 10000 ... 982 / 10000) for all 30 epochs"
FIX = "the book's: lower the learning rate to the 3.0 of its successful run of the same network"
SPLIT = "heldout"
ROUND = 17
EXPECTED = frozenset({"unstable_loss", "saturated_activations"})
ALLOWED = frozenset({"exploding_gradients", "vanishing_gradients", "underfitting"})

EPOCHS, BATCH = 30, 10


def _standard_normal(parameter: Tensor) -> None:
    """``np.random.randn``: N(0, 1), from retroprop's seeded generator."""
    parameter.data[...] = rp.default_generator().standard_normal(parameter.shape).astype(parameter.dtype)


def _layer(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, init=_standard_normal)
    _standard_normal(layer.bias)
    return layer


def _program(seed: int, eta: float) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(_layer(784, 30), nn.Sigmoid(), _layer(30, 10), nn.Sigmoid())
    return Program(model, rp.optim.SGD(model.parameters(), lr=eta), x_train, y_train, x_val, y_val,
                   loss=QuadraticCost(), epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, eta=100.0)


def fixed(seed: int) -> Program:
    return _program(seed, eta=3.0)
