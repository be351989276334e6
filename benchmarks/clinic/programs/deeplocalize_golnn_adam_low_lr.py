"""DeepLocalize GitHub case 8 (alexander-travov/gol_nn): a Game of Life CNN given 250 Adam steps of 0.001.

SOURCE: DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/GitHub/Benchmark.xlsx row 8:
alexander-travov/gol_nn, fix commit d9b30a0; Benchmark/GitHub/Buggy Model/gol_nn/gol.py and Correct
Model/gol_nn/gol.py). The program learns one step of Conway's Game of Life on a 3x3 torus: each cell alive
with probability 0.5, the target is the next state (``np.roll`` neighbour counts, cyclic), the input
wrap-padded to 5x5; 8,000 fields to train on and 2,000 to validate on, drawn the same way. The network:
``Conv2D(10, 3x3, 'valid')`` + ReLU, ``Conv2D(20, 1x1)`` + ReLU, ``Conv2D(1, 1x1)`` + sigmoid (Keras's
Glorot-uniform kernels, zero biases); Keras's binary cross-entropy on the sigmoid outputs; Adam with its
defaults (lr 0.001); batch 64; 2 epochs (250 steps). Keras's ``accuracy`` for this loss is the binary
accuracy per cell. Here the fields are channels-first (N, 1, 5, 5). Nothing is cut.
SYMPTOM: (the benchmark records the fix, not the buggy run's numbers) in its 250 steps of 0.001 the
network learns the rule only in part: its loss is still falling at the end and its per-cell accuracy
stays well short of the rule it can represent (about 73 % of next states are dead, a blind guess's
score), while ten times the step size learns the rule in the same steps.
FIX: the project's fix commit: Adam at lr 0.01 (and mean squared error on the sigmoid outputs instead of
binary cross-entropy); same network, data, batch and epochs.
Run plainly (seeds 0, 1, 2): validation accuracy 0.807 / 0.761 / 0.799 (training loss 0.58 after the
first epoch, 0.46-0.47 after the second, still falling); fixed version 1.000 / 1.000 / 1.000. Each run
under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import BinaryCrossentropy, binary_accuracy

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/GitHub: alexander-travov/"
          "gol_nn, Buggy Model/gol_nn/gol.py and Correct Model/gol_nn/gol.py); data generated as there")
SYMPTOM = "in its 250 Adam steps of 0.001 the Game of Life network learns the rule only in part"
FIX = "Adam at lr 0.01 (and MSE on the sigmoid outputs), as the project's fix commit"
SPLIT = "heldout"
ROUND = 5
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting"})

HEIGHT = WIDTH = 3
N_TRAIN, N_VAL = 8000, 2000
EPOCHS, BATCH = 2, 64


def _generate(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``generate_dataset``: random fields (alive with probability 0.5), their next states, the fields
    wrap-padded (``pad_field``)."""
    field = (rng.random((n, HEIGHT, WIDTH)) < 0.5).astype(np.int32)
    neighbours = np.zeros_like(field)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                neighbours += np.roll(np.roll(field, dx, 2), dy, 1)
    nxt = np.logical_or(neighbours == 3, np.logical_and(field, neighbours == 2)).astype(np.float32)
    padded = np.pad(field, ((0, 0), (1, 1), (1, 1)), mode="wrap").astype(np.float32)
    return padded[:, None], nxt[:, None]


def _conv(in_channels: int, out_channels: int, kernel: int) -> nn.Conv2d:
    """A Keras ``Conv2D``: Glorot-uniform kernel, zero bias."""
    layer = nn.Conv2d(in_channels, out_channels, kernel)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, lr: float, loss: object) -> Program:
    rng = np.random.default_rng(seed)
    x_train, y_train = _generate(rng, N_TRAIN)
    x_val, y_val = _generate(rng, N_VAL)
    rp.manual_seed(seed)
    model = nn.Sequential(_conv(1, 10, 3), nn.ReLU(), _conv(10, 20, 1), nn.ReLU(), _conv(20, 1, 1),
                          nn.Sigmoid())
    optimizer = rp.optim.Adam(model.parameters(), lr=lr, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=loss, epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed, "metrics": [binary_accuracy]})


def buggy(seed: int) -> Program:
    return _program(seed, 1e-3, BinaryCrossentropy())


def fixed(seed: int) -> Program:
    return _program(seed, 1e-2, "mse")
