"""DeepFD case 25 (StackOverflow 47352366): a ReLU output layer under categorical cross-entropy on MNIST.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 25: ground
truth "activation", patch ``Dense(10, relu)`` -> ``Dense(10, softmax)``) with the code as collected in
DeepLocalize's benchmark (Benchmark/StackOverflow/47352366): MNIST as [0, 1] pixels (TensorFlow's
``input_data``), two 5x5 ReLU convolutions (32 and 64 filters, max-pooling) feeding ``Dense(1024, relu)``
(biases starting at 0.1), ``Dropout(0.5)``, ``Dense(10, relu)``; Keras's categorical cross-entropy (outputs
divided by their sum, clipped to [1e-7, 1 - 1e-7]), Adam (lr 0.001), 600 steps of 50 images. retroprop
has no convolutions: the two convolution blocks are left out (the pixels go straight into the
``Dense(1024)`` layer, as in the dense stand-ins of the other ported CNNs), in both versions. MNIST needs a
download: scikit-learn's digits enlarged to 28x28 (784 inputs) in [0, 1]; 12 epochs of batch 50 (about 290
steps).
SYMPTOM: the accuracy stays low: a ReLU output is not a distribution; classes whose output is 0 get no
gradient and, when every output of a sample is 0, Keras's normalization divides 0 by 0.
FIX: DeepFD's patch: a softmax output (``Dense(10, softmax)``).
Run plainly (seed 0): the loss turns NaN in the second epoch (plain ``fit`` stops there) at validation
accuracy 0.627; fixed version 0.965.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import CategoricalCrossentropy, dense
from ._qa_common import digits_784

SOURCE = ("DeepFD benchmark case 25 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 47352366; code from "
          "DeepLocalize's benchmark (Benchmark/StackOverflow/47352366); "
          "convolutions left out; MNIST -> sklearn digits enlarged to 28x28, [0, 1]")
SYMPTOM = "low accuracy: the ReLU outputs are no distribution for the categorical cross-entropy"
FIX = "a softmax output layer instead of the ReLU (DeepFD's patch)"
SPLIT = "heldout"
ROUND = 2
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"non_finite", "dead_relu", "unstable_loss", "slow_convergence", "underfitting"})

EPOCHS = 12


def _program(seed: int, output: nn.Module) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    rp.manual_seed(seed)
    hidden = dense(784, 1024)
    nn.init.constant_(hidden.bias, 0.1)
    model = nn.Sequential(hidden, nn.ReLU(), nn.Dropout(0.5), dense(1024, 10), output)
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-3), x_train, y_train, x_val, y_val,
                   loss=CategoricalCrossentropy(), epochs=EPOCHS, batch_size=50, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, nn.ReLU())


def fixed(seed: int) -> Program:
    return _program(seed, nn.Softmax(dim=-1))
