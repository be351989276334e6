"""DeepFD case 12 (StackOverflow 39217567): three sigmoid layers of eight units under MSE and plain SGD.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 12: ground
truth "activation, batch size") with the code as collected in DeepLocalize's benchmark
(Benchmark/StackOverflow/39217567, buggy and correct code). The data: the 256 binary codes of 8 bits as
inputs, the targets the same codes. ``Dense(8)`` + sigmoid three times, Keras 1 ``init='normal'``
(N(0, 0.05^2)), mean squared error, Keras's default ``SGD`` (lr 0.01), batch 50, 1000 epochs, accuracy
per bit. The benchmark's buggy file also shuffles the target rows (a random permutation, which no
network of this size can memorize) while its correct file learns the identity; both versions here learn
the identity, so that only the fault differs. As in the original, the network is evaluated on its
training data (the validation set is the 256 codes again).
SYMPTOM: the loss barely moves and the accuracy per bit stays near 0.5: the outputs sit near 0.5. (The
mechanism, measured plainly: the MSE stays at 0.250; the RMS weight gradients are about 6e-6, 3e-5 and
7e-4 from the first layer to the last at the start, so SGD at lr 0.01 moves weights of size 0.05 by
1e-6 to 1e-4 of themselves per step.)
FIX: the correct file: ReLU in the two hidden layers, a sigmoid output under binary cross-entropy, batch
size 1 (same SGD at lr 0.01, same init); 40 epochs here (about 10,000 steps) instead of 1000.
Run plainly (seed 0): accuracy per bit 0.500; fixed version 0.597 (far from done: the correct file's 1000
epochs are cut to 40).
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import BinaryCrossentropy, binary_accuracy, dense

SOURCE = ("DeepFD benchmark case 12 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 39217567; code from "
          "DeepLocalize's benchmark (Benchmark/StackOverflow/39217567); data: "
          "the 8-bit codes as generated in the original (identity targets, as its correct file)")
SYMPTOM = "the loss barely moves; accuracy per bit stays near 0.5"
FIX = ("ReLU hidden layers, sigmoid output with binary cross-entropy, batch size 1 (the benchmark's "
       "correct code)")
SPLIT = "heldout"
ROUND = 2
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"vanishing_gradients", "underfitting", "loss_output_mismatch"})

DIM = 8


def _codes() -> np.ndarray:
    bits = (np.arange(2**DIM)[:, None] >> np.arange(DIM - 1, -1, -1)) & 1
    return bits.astype(np.float32)


def buggy(seed: int) -> Program:
    x = _codes()
    rp.manual_seed(seed)
    model = nn.Sequential(dense(DIM, DIM, "normal"), nn.Sigmoid(), dense(DIM, DIM, "normal"), nn.Sigmoid(),
                          dense(DIM, DIM, "normal"), nn.Sigmoid())
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), x, x.copy(), x.copy(), x.copy(),
                   loss="mse", epochs=1000, batch_size=50,
                   fit_options={"seed": seed, "metrics": [binary_accuracy]})


def fixed(seed: int) -> Program:
    x = _codes()
    rp.manual_seed(seed)
    model = nn.Sequential(dense(DIM, DIM, "normal"), nn.ReLU(), dense(DIM, DIM, "normal"), nn.ReLU(),
                          dense(DIM, DIM, "normal"), nn.Sigmoid())
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), x, x.copy(), x.copy(), x.copy(),
                   loss=BinaryCrossentropy(), epochs=40, batch_size=1,
                   fit_options={"seed": seed, "metrics": [binary_accuracy]})
