"""DeepCrime mutant of its MNIST subject: batching disabled (HDB), one step an epoch on all training data.

SOURCE: DeepCrime (Humbatova, Jahangirova and Tonella, ISSTA 2021, "DeepCrime: Mutation Testing of Deep
Learning Systems based on Real Faults"; github.com/dlfaults/deepcrime), subject ``test_models/mnist_conv.py``
and its mutation operator "disable batching" (HDB, ``disable_batching`` in
``utils/properties/properties_mnist.py``, whose ``train_size`` is 60,000): the mutant passes the size of
the whole training set as ``batch_size``, so each epoch is one gradient step on all the images. DeepCrime
derives its operators from Humbatova et al.'s taxonomy of real faults (ICSE 2020; "wrong batch size").
The original program (the Keras mnist_cnn example as DeepCrime's subject): MNIST in [0, 1] (x / 255), one
channel; ``Conv2D(32, 3x3)`` + ReLU, ``Conv2D(64, 3x3)`` + ReLU ('valid'), ``MaxPooling2D(2)``,
``Dropout(0.25)``, ``Flatten``, ``Dense(128)`` + ReLU, ``Dropout(0.5)``, ``Dense(10)`` + softmax (Keras's
Glorot-uniform kernels, zero biases); ``categorical_crossentropy`` on one-hot labels;
``Adadelta(learning_rate=1.0)`` (rho 0.95, epsilon 1e-7); batch 128, 12 epochs. MNIST needs a download:
here, as in the other DeepCrime MNIST ports, scikit-learn's 8x8 digits in [0, 1] (x / 16), one channel,
600 held out for validation (1,197 training images); the two 'valid' convolutions and the pooling leave
2x2x64 = 256 features for ``Dense(128)``. Keras's softmax + categorical cross-entropy is ``cross_entropy``
on the logits here; ``KerasAdadelta`` is Keras's update rule (from the OCH port). Nothing is cut: the
mutant's batch is the whole training set (1,197 here, 60,000 on MNIST), 12 steps in 12 epochs, where the
original's batch of 128 makes 10 steps an epoch here (469 on MNIST).
SYMPTOM: DeepCrime judges a mutant killed when its accuracy over 20 runs is significantly lower than the
original's; the fault it models is a training that takes one step an epoch and ends far from trained
(the replication package ships the operator and its settings, not this mutant's run log; what the ported
code shows is below).
FIX: the original subject's ``batch_size=128``; the network, optimizer, data and epochs unchanged.
Mechanism: Adadelta at lr 1.0 starts with steps of about sqrt(eps) / sqrt((1 - rho) g^2) * g ~ 1e-3 per
weight whatever the batch, and its steps only grow as its accumulators fill over many steps; a full batch
gives the same tiny first steps but 12 of them instead of 120, so the weights barely leave their start.
Run plainly (seeds 0, 1, 2): validation accuracy 0.608 / 0.808 / 0.792 (training loss 2.30-2.31 in the
first epoch, still 1.87-1.97 in the twelfth); fixed version 0.952 / 0.947 / 0.955 (training loss 2.24-2.26
to 0.25-0.30). Each run about 1.3 seconds on one CPU thread.
"""

from __future__ import annotations

import retroprop as rp

from . import Program
from ._deepcrime import BATCH, EPOCHS, KerasAdadelta, digits, subject

SOURCE = ("DeepCrime (github.com/dlfaults/deepcrime), subject test_models/mnist_conv.py, mutant "
          "disable_batching (HDB): batch_size = the training set's size; MNIST -> sklearn digits in [0, 1], "
          "8x8, one channel")
SYMPTOM = ("batching disabled: one step an epoch on the whole training set, the accuracy after the same 12 "
           "epochs is significantly lower")
FIX = "the original subject's batch_size=128"
SPLIT = "heldout"
ROUND = 21
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting"})


def _program(seed: int, mutant: bool) -> Program:
    x_train, y_train, x_val, y_val = digits(seed)
    rp.manual_seed(seed)
    model = subject()
    optimizer = KerasAdadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    batch = len(x_train) if mutant else BATCH  # the mutant: batch_size = train_size
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=batch, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, mutant=True)


def fixed(seed: int) -> Program:
    return _program(seed, mutant=False)
