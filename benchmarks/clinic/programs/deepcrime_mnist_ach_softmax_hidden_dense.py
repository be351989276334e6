"""DeepCrime mutant of its MNIST subject: the hidden Dense(128)'s ReLU changed to softmax (ACH).

SOURCE: DeepCrime (Humbatova, Jahangirova and Tonella, ISSTA 2021, "DeepCrime: Mutation Testing of Deep
Learning Systems based on Real Faults"; github.com/dlfaults/deepcrime), subject ``test_models/mnist_conv.py``
and its mutation operator "change activation function" (ACH, ``operators/activation_function_operators.py``:
the layer's ``activation`` in the model's config replaced by another of Keras's activations, searched
exhaustively over ``utils/constants.py``'s list), applied to the hidden ``Dense(128)`` with the target
'softmax'. DeepCrime derives its operators from Humbatova et al.'s taxonomy of real faults (ICSE 2020;
"wrong activation function").
The original program (the Keras mnist_cnn example as DeepCrime's subject): MNIST in [0, 1] (x / 255), one
channel; ``Conv2D(32, 3x3)`` + ReLU, ``Conv2D(64, 3x3)`` + ReLU ('valid'), ``MaxPooling2D(2)``,
``Dropout(0.25)``, ``Flatten``, ``Dense(128)`` + ReLU, ``Dropout(0.5)``, ``Dense(10)`` + softmax (Keras's
Glorot-uniform kernels, zero biases); ``categorical_crossentropy`` on one-hot labels;
``Adadelta(learning_rate=1.0)`` (rho 0.95, epsilon 1e-7; ``KerasAdadelta`` from the OCH port); batch 128,
12 epochs. MNIST needs a download: here, as in the other DeepCrime MNIST ports, scikit-learn's 8x8 digits
in [0, 1] (x / 16), one channel, 600 held out for validation; the two 'valid' convolutions and the pooling
leave 2x2x64 = 256 features for ``Dense(128)``. Keras's softmax + categorical cross-entropy is
``cross_entropy`` on the logits here. Nothing else is cut (10 steps an epoch here, 469 on MNIST).
SYMPTOM: DeepCrime judges a mutant killed when its accuracy over 20 runs is significantly lower than the
original's; the fault it models is a wrong activation in a hidden layer (the replication package ships the
operator, not this mutant's run log; what the ported code shows is below).
FIX: the original subject's ReLU on ``Dense(128)``; the network, loss, optimizer, data and epochs unchanged.
Mechanism: a softmax over the 128 hidden units makes them sum to 1, each near 1/128: the output layer sees
inputs a hundred times smaller than ReLU's, so its logits barely depend on the image, and the gradient back
through the softmax's Jacobian (diag(s) - s s^T, entries of order 1/128) is as small: the layers below it
learn little.
Run plainly (seeds 0, 1, 2): validation accuracy 0.085 / 0.087 / 0.097 (training loss 2.302-2.303 in the
first epoch, 2.301 = ln 10 in the twelfth: it does not drop); fixed version 0.952 / 0.947 / 0.955 (training
loss 2.24-2.26 to 0.25-0.30). Each run about 1.8 seconds on one CPU thread.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._deepcrime import BATCH, EPOCHS, KerasAdadelta, digits, subject

SOURCE = ("DeepCrime (github.com/dlfaults/deepcrime), subject test_models/mnist_conv.py, mutant "
          "change_activation_function (ACH) on the hidden Dense(128): relu -> 'softmax'; MNIST -> sklearn "
          "digits in [0, 1], 8x8, one channel")
SYMPTOM = ("the hidden Dense(128)'s ReLU mutated to softmax: the accuracy after the same 12 epochs is "
           "significantly lower")
FIX = "the original subject's ReLU on the hidden Dense(128)"
SPLIT = "heldout"
ROUND = 21
EXPECTED = frozenset({"vanishing_gradients"})
ALLOWED = frozenset({"saturated_activations", "slow_convergence", "underfitting"})


def _program(seed: int, mutant: bool) -> Program:
    x_train, y_train, x_val, y_val = digits(seed)
    rp.manual_seed(seed)
    hidden = nn.Softmax(dim=-1) if mutant else nn.ReLU()  # Dense(128, activation='softmax' / 'relu')
    model = subject(hidden=hidden)
    optimizer = KerasAdadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, mutant=True)


def fixed(seed: int) -> Program:
    return _program(seed, mutant=False)
