"""DeepCrime mutant of its MNIST subject: the optimiser changed from Adadelta(1.0) to Keras's default 'sgd'.

SOURCE: DeepCrime (Humbatova, Jahangirova and Tonella, ISSTA 2021, "DeepCrime: Mutation Testing of Deep
Learning Systems based on Real Faults"; github.com/dlfaults/deepcrime), subject ``test_models/mnist_conv.py``
and its mutation operator "change optimisation function" (OCH, ``operators/optimiser_operators.py``), the
mutant the replication package's getting-started run builds and ships trained
(``trained_models/mnist_change_optimisation_function_mutated0_MP_sgd_*.h5``): the call to the optimiser is
replaced by the name ``'sgd'``, which Keras turns into ``SGD()`` with its defaults (lr 0.01, no momentum).
DeepCrime derives its operators from Humbatova et al.'s taxonomy of real faults in deep learning systems
(ICSE 2020).
The original program (the Keras mnist_cnn example as DeepCrime's subject): MNIST in [0, 1] (x / 255), one
channel; ``Conv2D(32, 3x3)`` + ReLU, ``Conv2D(64, 3x3)`` + ReLU ('valid'), ``MaxPooling2D(2)``,
``Dropout(0.25)``, ``Flatten``, ``Dense(128)`` + ReLU, ``Dropout(0.5)``, ``Dense(10)`` + softmax (Keras's
Glorot-uniform kernels, zero biases); ``categorical_crossentropy`` on one-hot labels;
``Adadelta(learning_rate=1.0)`` (rho 0.95, epsilon 1e-7); batch 128, 12 epochs; accuracy on the test set.
MNIST needs a download: here scikit-learn's 8x8 digits in [0, 1] (x / 16), one channel (N, 1, 8, 8), 600
held out for validation; the two 'valid' convolutions and the pooling leave 2x2x64 = 256 features for
``Dense(128)`` (9,216 on MNIST). Keras's softmax + categorical cross-entropy is ``cross_entropy`` on the
logits here (the same function). Adadelta is not among retroprop's optimizers: ``_deepcrime.KerasAdadelta``
is Keras's update rule. Nothing else is cut, but the digits' 1,197 training images make 10 steps an epoch
where MNIST's 60,000 make 469, so the 12 epochs are 120 steps instead of 5,628: the mutant has far fewer
steps to make up for its small ones here than on MNIST, and its deficit is larger.
SYMPTOM: DeepCrime judges a mutant killed when its accuracy over 20 runs is significantly lower than the
original's; the fault it models is an optimiser that learns far more slowly than Adadelta at 1.0 in the
same epochs (the replication package ships the trained mutants, not a run log; what the ported code shows
is below).
FIX: the original subject: ``Adadelta(learning_rate=1.0)``; the network, data, batch and epochs unchanged.
Mechanism: Adadelta at lr 1.0 takes steps of sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g per weight,
about 1e-3 from the first step whatever the gradient's scale, and growing as the updates accumulate; SGD
at 0.01 moves each weight by 0.01 times its gradient: at the start (seed 0) the kernels' mean gradients
are 5e-4 to 7e-3, so their steps are 5e-6 to 7e-5, against weights of 0.04-0.1: 120 such steps barely
leave the starting point, and the loss is still near ln 10 at the end.
Run plainly (seeds 0, 1, 2): validation accuracy 0.335 / 0.403 / 0.288 (training loss 2.30-2.32 in the
first epoch, still 2.25-2.26 in the twelfth); fixed version 0.952 / 0.947 / 0.955 (training loss 2.24-2.26
to 0.25-0.30). Each run about 1.3 seconds on one CPU thread.
"""

from __future__ import annotations

import retroprop as rp

from . import Program
from ._deepcrime import BATCH, EPOCHS, KerasAdadelta, digits, subject

SOURCE = ("DeepCrime (github.com/dlfaults/deepcrime), subject test_models/mnist_conv.py, mutant "
          "change_optimisation_function -> 'sgd' (trained_models/mnist_change_optimisation_function_mutated0_"
          "MP_sgd_*.h5); MNIST -> sklearn digits in [0, 1], 8x8, one channel")
SYMPTOM = ("the optimiser mutated from Adadelta(lr=1.0) to Keras's default SGD (lr 0.01): the accuracy after "
           "the same 12 epochs is significantly lower")
FIX = "the original subject's Adadelta(learning_rate=1.0) (rho 0.95, epsilon 1e-7)"
SPLIT = "heldout"
ROUND = 20
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting"})


def _program(seed: int, mutant: bool) -> Program:
    x_train, y_train, x_val, y_val = digits(seed)
    rp.manual_seed(seed)
    model = subject()
    if mutant:
        optimizer = rp.optim.SGD(model.parameters(), lr=0.01)  # keras.optimizers.get('sgd')
    else:
        optimizer = KerasAdadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})

def buggy(seed: int) -> Program:
    return _program(seed, mutant=True)


def fixed(seed: int) -> Program:
    return _program(seed, mutant=False)
