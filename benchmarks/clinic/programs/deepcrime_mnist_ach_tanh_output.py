"""DeepCrime mutant of its MNIST subject: the output layer's softmax changed to tanh (ACH) under Keras CE.

SOURCE: DeepCrime (Humbatova, Jahangirova and Tonella, ISSTA 2021, "DeepCrime: Mutation Testing of Deep
Learning Systems based on Real Faults"; github.com/dlfaults/deepcrime), subject ``test_models/mnist_conv.py``
and its mutation operator "change activation function" (ACH, ``operators/activation_function_operators.py``:
the layer's ``activation`` in the model's config replaced by another of Keras's activations, searched
exhaustively over ``utils/constants.py``'s list), applied to the output layer ``Dense(10)`` with the
target 'tanh'. DeepCrime derives its operators from Humbatova et al.'s taxonomy of real faults (ICSE
2020; "wrong activation function of the last layer").
The original program (the Keras mnist_cnn example as DeepCrime's subject): MNIST in [0, 1] (x / 255), one
channel; ``Conv2D(32, 3x3)`` + ReLU, ``Conv2D(64, 3x3)`` + ReLU ('valid'), ``MaxPooling2D(2)``,
``Dropout(0.25)``, ``Flatten``, ``Dense(128)`` + ReLU, ``Dropout(0.5)``, ``Dense(10)`` + softmax (Keras's
Glorot-uniform kernels, zero biases); ``keras.losses.categorical_crossentropy`` on one-hot labels (Keras's
version on the outputs: divided by their sum, clipped to [1e-7, 1 - 1e-7], ``_keras.CategoricalCrossentropy``
here, in both versions); ``Adadelta(learning_rate=1.0)`` (rho 0.95, epsilon 1e-7; ``KerasAdadelta`` from
the OCH port); batch 128, 12 epochs; accuracy by argmax. MNIST needs a download: here, as in the other
DeepCrime MNIST ports, scikit-learn's 8x8 digits in [0, 1] (x / 16), one channel, 600 held out for
validation; the two 'valid' convolutions and the pooling leave 2x2x64 = 256 features for ``Dense(128)``.
Nothing else is cut (10 steps an epoch here, 469 on MNIST).
SYMPTOM: DeepCrime judges a mutant killed when its accuracy over 20 runs is significantly lower than the
original's; the fault it models is a last layer whose activation does not give the probabilities the loss
expects (the replication package ships the operator, not this mutant's run log; what the ported code shows
is below).
FIX: the original subject's softmax on ``Dense(10)``; the network, loss, optimizer, data and epochs unchanged.
Mechanism: Keras's categorical cross-entropy divides the outputs by their sum and clips them to
[1e-7, 1 - 1e-7]; tanh outputs lie in (-1, 1), so the sum can be near zero or negative: the "probability"
of the true class is then negative or above 1, clipped, and its gradient is zero (or it is huge where the
sum is near zero). Many samples give no signal, the others a wrong-scaled one.
Run plainly (seeds 0, 1, 2): validation accuracy 0.135 / 0.183 / 0.100 (training loss 7.50 -> 7.52,
6.47 -> 6.35, 6.88 -> 6.81: it does not drop); fixed version 0.948 / 0.947 / 0.955 (training loss
2.24-2.26 to 0.25-0.30). Each run about 1.2 seconds on one CPU thread.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._deepcrime import BATCH, EPOCHS, KerasAdadelta, digits, subject
from ._keras import CategoricalCrossentropy

SOURCE = ("DeepCrime (github.com/dlfaults/deepcrime), subject test_models/mnist_conv.py, mutant "
          "change_activation_function (ACH) on the output layer Dense(10): softmax -> 'tanh'; MNIST -> "
          "sklearn digits in [0, 1], 8x8, one channel")
SYMPTOM = ("the output layer's softmax mutated to tanh under categorical cross-entropy: the accuracy after "
           "the same 12 epochs is significantly lower")
FIX = "the original subject's softmax activation on the output layer"
SPLIT = "heldout"
ROUND = 21
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "unstable_loss", "saturated_activations"})


def _program(seed: int, mutant: bool) -> Program:
    x_train, y_train, x_val, y_val = digits(seed)
    rp.manual_seed(seed)
    output = nn.Tanh() if mutant else nn.Softmax(dim=-1)  # Dense(10, activation='tanh' / 'softmax')
    model = subject(output=output)
    optimizer = KerasAdadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=CategoricalCrossentropy(),
                   epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, mutant=True)


def fixed(seed: int) -> Program:
    return _program(seed, mutant=False)
