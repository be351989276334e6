"""DeepCrime mutant of its MNIST subject: the first convolution's kernel initialised to zeros.

SOURCE: DeepCrime (Humbatova, Jahangirova and Tonella, ISSTA 2021; github.com/dlfaults/deepcrime), subject
``test_models/mnist_conv.py`` and its mutation operator "change weights initialisation" (WCI,
``operators/weights_operators.py``: the ``kernel_initializer`` of one layer replaced by another Keras
initialiser), in the configuration ``mnist_change_weights_initialisation_zeros_0`` (layer 0, ``'zeros'``)
that Humbatova et al. use as a fault in "An Empirical Study of Fault Localisation Techniques for Deep
Neural Networks" (replication package github.com/dlfaults/dnn-auto-fl-empirical-assesment, whose
``Tool Outputs/cleaned_results_umlaut/mnist_change_weights_initialisation_zeros_0.txt`` logs the run).
The original program (the Keras mnist_cnn example as DeepCrime's subject): MNIST in [0, 1] (x / 255), one
channel; ``Conv2D(32, 3x3)`` + ReLU, ``Conv2D(64, 3x3)`` + ReLU ('valid'), ``MaxPooling2D(2)``,
``Dropout(0.25)``, ``Flatten``, ``Dense(128)`` + ReLU, ``Dropout(0.5)``, ``Dense(10)`` + softmax (Keras's
Glorot-uniform kernels, zero biases); ``categorical_crossentropy`` on one-hot labels;
``Adadelta(learning_rate=1.0)`` (rho 0.95, epsilon 1e-7; ``KerasAdadelta``, ported with the sibling
mutant deepcrime_mnist_och_sgd_default_lr); batch 128, 12 epochs. The mutant: the first ``Conv2D``'s kernel
starts at zero (its bias, as every bias, at zero too).
MNIST needs a download: here scikit-learn's 8x8 digits in [0, 1] (x / 16), one channel (N, 1, 8, 8), 600
held out for validation; the 'valid' convolutions and the pooling leave 2x2x64 = 256 features for
``Dense(128)``. Keras's softmax + categorical cross-entropy is ``cross_entropy`` on the logits here (the
same function). Nothing is cut (12 epochs of 10 steps: the digits are fewer than MNIST's 60,000 images).
SYMPTOM (the logged run on MNIST): the loss stays at 2.3013 and the accuracy at 0.112 (validation 0.1135)
for all 12 epochs: the model predicts one class.
FIX: the original subject: Glorot-uniform for the first convolution's kernel; nothing else changes.
Mechanism: with a zero kernel and a zero bias the first convolution outputs 0 for every image, the ReLU
passes 0 and its derivative at 0 is 0, so no gradient reaches the kernel and it stays at zero; the 32
maps are identical (and dead), every image looks the same to the layers above, which can learn only
the input-independent output that matches the class frequencies (loss ln 10 = 2.303).
Run plainly (seeds 0, 1, 2): validation accuracy 0.085 / 0.088 / 0.097 (training loss 2.303 in the first
epoch, 2.302 in the twelfth; on seed 0 the first convolution's kernel and bias are still exactly zero at
the end, the outputs are the same for every image and all 600 validation images get class 0); fixed
version 0.952 / 0.947 / 0.955 (training loss 2.24-2.26 to 0.25-0.30). Each run under 2 seconds on one CPU
thread.
"""

from __future__ import annotations

import retroprop as rp

from . import Program
from ._deepcrime import BATCH, EPOCHS, KerasAdadelta, digits, subject

SOURCE = ("DeepCrime (github.com/dlfaults/deepcrime), subject test_models/mnist_conv.py, mutant "
          "change_weights_initialisation zeros at layer 0 (mnist_change_weights_initialisation_zeros_0, "
          "github.com/dlfaults/dnn-auto-fl-empirical-assesment); MNIST -> sklearn digits in [0, 1], 8x8")
SYMPTOM = ("the first Conv2D's kernel initialised to zeros: the loss stays at 2.30 and the accuracy near "
           "chance for all 12 epochs")
FIX = "the original subject's Glorot-uniform kernel for the first Conv2D"
SPLIT = "heldout"
ROUND = 20
EXPECTED = frozenset({"symmetric_units"})
ALLOWED = frozenset({"dead_relu", "vanishing_gradients", "underfitting"})


def _program(seed: int, mutant: bool) -> Program:
    x_train, y_train, x_val, y_val = digits(seed)
    rp.manual_seed(seed)
    model = subject(zeros_first=mutant)
    optimizer = KerasAdadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, mutant=True)


def fixed(seed: int) -> Program:
    return _program(seed, mutant=False)
