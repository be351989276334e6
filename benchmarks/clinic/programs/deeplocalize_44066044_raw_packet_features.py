"""DeepLocalize's benchmark, StackOverflow 44066044 (DeepFD case 23): raw network-packet fields into a ReLU
net whose output unit is a ReLU too, under binary cross-entropy.

Ported from DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/44066044:
Buggy Code/untitled30.py and Correct Model/untitled30.py) with its data file ``NetworkPackets.csv``
(copied here as ``_network_packets.csv``): 21 packets, 11 raw numeric fields (source and destination IPv4
addresses as integers near 3.2e9, ports up to 56,783, a sequence field near 525,000, small counters) and
a 0/1 label. ``Dense(12)`` + ReLU, ``Dense(12)`` + ReLU, ``Dense(1)`` + ReLU, all
``kernel_initializer='normal'`` (N(0, 0.05^2), zero biases); Keras's ``binary_crossentropy`` on the ReLU
output (a probability clipped to [1e-7, 1 - 1e-7]); Adam at Keras's defaults (lr 0.001, eps 1e-7); batch
5; 100 epochs. The original scores on its training rows; here a stratified 2/3 - 1/3 split (14 / 7 rows).
The inputs are float32 as Keras casts them: at 3.2e9 float32 steps by 256, so the three source
addresses (one of the fields that separate the classes) become one number unless the features are
scaled first.
SYMPTOM: the accuracy stays at one class's share and the loss does not move (the question's text was not
available here; DeepFD's ground truth: missing preprocessing).
FIX: their Correct Model: ``preprocessing.scale`` on the features (all rows, before the split, as there)
and a sigmoid output unit instead of the ReLU (DeepFD's patch names the scaling; the ReLU output under a
log loss is a second bug the Correct Model also removes).
Run plainly (seed 0): validation accuracy 0.429 (every row called class 0; the training loss stands at
10.36 from the first epoch to the last: no gradient reaches any weight); fixed version 1.000 (seeds 1, 2:
0.571 / 1.000, 0.429 / 0.857). Each run under half a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import BinaryCrossentropy, binary_accuracy, dense

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/44066044: "
          "Buggy Code/untitled30.py, Correct Model/untitled30.py, NetworkPackets.csv); DeepFD benchmark case "
          "23 (Benchmark-with-patches.xlsx); StackOverflow question 44066044; data: theirs")
SYMPTOM = "the accuracy stays at one class's share: raw fields of scale 1e9 into a ReLU output under BCE"
FIX = "standardize the features (preprocessing.scale) and a sigmoid output instead of a ReLU (Correct Model)"
SPLIT = "heldout"
ROUND = 3
EXPECTED = frozenset({"unscaled_inputs", "loss_output_mismatch"})
ALLOWED = frozenset({"dead_relu", "exploding_gradients", "saturated_activations", "slow_convergence",
                     "underfitting", "unstable_loss", "vanishing_gradients", "non_finite"})

_PATH = Path(__file__).resolve().parent / "_network_packets.csv"
_COLUMNS = 12


def _load() -> tuple[np.ndarray, np.ndarray]:
    rows = _PATH.read_text(encoding="utf-8").strip().splitlines()
    table = []
    for number, row in enumerate(rows, start=1):
        cells = row.split(",")
        if len(cells) != _COLUMNS:
            raise ValueError(f"{_PATH}, line {number}: {len(cells)} columns, expected {_COLUMNS}")
        table.append([float(c) for c in cells])
    data = np.asarray(table, dtype=np.float64)
    return data[:, :11], data[:, 11:]


def _program(seed: int, fixed: bool) -> Program:
    x, y = _load()
    if fixed:  # sklearn.preprocessing.scale, in float64: centred; unit std (a constant column stays 0)
        std = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x.astype(np.float32), y.astype(np.float32),
                                                      test_size=0.33, seed=seed, stratify=y.ravel())
    rp.manual_seed(seed)
    model = nn.Sequential(dense(11, 12, "normal"), nn.ReLU(), dense(12, 12, "normal"), nn.ReLU(),
                          dense(12, 1, "normal"), nn.Sigmoid() if fixed else nn.ReLU())
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss=BinaryCrossentropy(), epochs=100,
                   batch_size=5, fit_options={"seed": seed, "metrics": [binary_accuracy]})


def buggy(seed: int) -> Program:
    return _program(seed, fixed=False)


def fixed(seed: int) -> Program:
    return _program(seed, fixed=True)
