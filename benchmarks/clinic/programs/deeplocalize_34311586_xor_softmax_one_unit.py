"""DeepLocalize / DeepFD / Defects4ML: StackOverflow 34311586, a Keras XOR network ending in a softmax over
one unit, trained by SGD at lr 0.001 for 20 epochs.

SOURCE: DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/34311586:
"Buggy Code/34311586.py" and "Correct Code/34311586.py"), the same question as DeepFD's case 9
(github.com/ArabelaTso/DeepFD, Benchmark/Benchmark-with-patches.xlsx) and Defects4ML's bugs/084
(github.com/mohmehmo/defects4ml); https://stackoverflow.com/questions/34311586. The program: the four XOR
patterns as six rows (``[1,1], [0,0], [1,0], [0,1], [1,1], [0,0]`` -> 0, 0, 1, 1, 0, 0);
``Dense(2, init='uniform')`` + sigmoid, ``Dense(3, init='uniform')`` + sigmoid, ``Dense(1, init='uniform')`` +
``Activation('softmax')`` (Keras 1's 'uniform': U(-0.05, 0.05), zero biases); mean squared error;
``SGD(lr=0.001, decay=1e-6, momentum=0.9, nesterov=True)``; ``fit(X, y, nb_epoch=20)`` (Keras's batch of 32:
one batch of the six rows); it then evaluates on the same rows. Nothing is replaced or cut; the rows are
the validation data too (the program has no other). The decay of 1e-6 per step changes the rate by under
2 % over the fixed version's 20,000 steps and is left out of both versions. The accuracy is Keras's binary
accuracy on the output (rounded at 0.5).
SYMPTOM: the loss does not move from the first epoch (0.667 here: the output is 1.0 for every row) and the
network predicts 1 for every pattern.
FIX: DeepLocalize's correct program: a sigmoid output unit
(``Dense(1, init='uniform', activation='sigmoid')``), ``SGD(lr=0.1, ...)`` and
``fit(X, y, nb_epoch=10000, batch_size=4)``; the layers, init, loss and momentum unchanged.
(Defects4ML's fixed script only drops the softmax; DeepFD lists Adam as its patch.)
Mechanism: a softmax over one unit divides exp(z) by itself: the output is 1.0 whatever the input and its
derivative with respect to z is 0, so no layer gets a gradient and the MSE stays at the share of zero
targets (4/6); no learning rate or epoch count can change that.
Run plainly (seeds 0, 1, 2): accuracy 0.333 / 0.333 / 0.333 (the MSE 0.667 from the first epoch to the
last: every output is 1.0); fixed version 0.667 / 0.667 / 0.667 (MSE 0.25 to 0.22 / 0.17 / 0.17 after
10,000 epochs: the sigmoid network has started to separate the patterns but not yet fit all four). The
buggy run takes a few milliseconds, the fixed one about 11 seconds.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import binary_accuracy, dense

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/34311586, "
          "buggy and correct code); also DeepFD case 9 and Defects4ML bugs/084; data as in the question")
SYMPTOM = "the XOR network's loss never moves and it predicts 1 for every pattern (softmax over one unit)"
FIX = ("a sigmoid output unit, SGD lr 0.1 and 10000 epochs of batch 4, as DeepLocalize's correct program")
SPLIT = "heldout"
ROUND = 17
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"vanishing_gradients", "slow_convergence", "underfitting"})

X = np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], dtype=np.float32)
Y = np.array([[0.0], [0.0], [1.0], [1.0], [0.0], [0.0]], dtype=np.float32)


def _program(seed: int, fix: bool) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(dense(2, 2, "uniform"), nn.Sigmoid(), dense(2, 3, "uniform"), nn.Sigmoid(),
                          dense(3, 1, "uniform"), nn.Sigmoid() if fix else nn.Softmax(dim=-1))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1 if fix else 0.001, momentum=0.9, nesterov=True)
    return Program(model, optimizer, X.copy(), Y.copy(), X.copy(), Y.copy(), loss="mse",
                   epochs=10000 if fix else 20, batch_size=4 if fix else 32,
                   fit_options={"seed": seed, "metrics": [binary_accuracy]})


def buggy(seed: int) -> Program:
    return _program(seed, fix=False)


def fixed(seed: int) -> Program:
    return _program(seed, fix=True)
