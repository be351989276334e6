"""TheDeepChecker GitHub example TFE_368: TensorFlow-Examples' ``neural_network_raw`` with no activations.

SOURCE: TheDeepChecker, GH_buggy_examples/TFE_368/tfe_368_under_test.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/GH_buggy_examples/TFE_368), a bug of
aymericdamien/TensorFlow-Examples reported in its issues #207, #262 and #270 ("no activation function in
MLP": https://github.com/aymericdamien/TensorFlow-Examples/issues/270). 784 -> 256 -> 256 -> 10 with no
activation between the layers, every weight and bias from ``tf.random_normal`` (std 1), softmax
cross-entropy on the logits, Adam at lr 0.1, batch 128, 500 steps. MNIST (needs a download) is replaced by
scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1]; 20 epochs (about 190 steps).
SYMPTOM: the "network" is a linear model: accuracy no better than logistic regression (92 % against 94-95 %
with ReLUs, issue #262 and pull requests #299 / #327), and a loss that falls slowly from a huge start.
FIX: pull request #299: a ReLU after each hidden layer; it also notes that lr 0.1 is too large "even for an
example" and points to 1e-2 to 1e-4, so the fixed version uses ReLUs and Adam at lr 0.01.

NOT REPRODUCED in accuracy on this data: the digits are nearly linearly separable, so the linear
"network" reaches 0.947-0.962 validation accuracy against the fixed version's 0.937-0.965 (seeds 0-2, 20
epochs); its loss starts near 2.5e4 and its validation loss ends near 300 (against about 20).
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits_784, fill_normal, normal_init

SOURCE = "TheDeepChecker GH_buggy_examples/TFE_368 (aymericdamien/TensorFlow-Examples #270; MNIST -> digits)"
SYMPTOM = "accuracy of a linear model; huge, slowly falling loss"
FIX = "ReLU after each hidden layer (PR #299), Adam at lr 0.01"
SPLIT = "heldout"
EXPECTED = ["missing_nonlinearity"]
ALLOWED = ["exploding_gradients", "unstable_loss", "overfitting", "underfitting", "slow_convergence"]


def _program(seed: int, buggy: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    layers: list[nn.Module] = []
    for n_in, n_out in ((784, 256), (256, 256), (256, 10)):
        layer = dense(n_in, n_out, init=normal_init(1.0))
        fill_normal(layer.bias, 1.0)
        layers.append(layer)
        if n_out != 10 and not buggy:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    optimizer = rp.optim.Adam(model.parameters(), lr=0.1 if buggy else 0.01)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=20,
                   batch_size=128)


def buggy(seed: int) -> Program:
    return _program(seed, buggy=True)


def fixed(seed: int) -> Program:
    return _program(seed, buggy=False)
