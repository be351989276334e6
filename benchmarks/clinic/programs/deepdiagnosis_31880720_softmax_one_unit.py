"""DeepDiagnosis's motivating example (StackOverflow 31880720): a softmax over one output unit.

Ported from DeepDiagnosis's artifact (github.com/DeepDiagnosis/ICSE2022, ``MOTIVATING EXAMPLE/31880720``;
also DeepLocalize's benchmark, Benchmark/StackOverflow/31880720, and DeepFD's case 10): 128 features,
all ones (label True) or all zeros (False); 128-50-50-1 with ReLU and dropout 0.2, the output
``Dense(1)`` + ``Activation('softmax')``, Keras's binary cross-entropy on that probability, RMSprop
with Keras's defaults (lr 1e-3, rho 0.9, eps 1e-7), batch size 1, 3 epochs on 20,000 samples. Cut:
1,000 training samples (500 of each), 2 epochs; 200 validation samples as theirs.
A softmax over one unit is 1.0 for every input: the loss is constant and no weight gets a gradient.
Run plainly (seed 0): accuracy 0.500, the loss constant at 7.97; fixed version 1.000.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import BinaryCrossentropy, binary_accuracy, dense

SOURCE = ("DeepDiagnosis (Wardat et al., ICSE 2022) motivating example, github.com/DeepDiagnosis/ICSE2022 "
          "'MOTIVATING EXAMPLE/31880720'; StackOverflow question 31880720; DeepLocalize benchmark and DeepFD "
          "case 10")
SYMPTOM = ("accuracy stays at 0.50 and the loss at 7.67 from the first epoch; AutoTrainer calls it dying "
           "ReLU and none of its eight repairs helps")
FIX = "a sigmoid output unit (Dense(1, activation='sigmoid')) under binary cross-entropy"
SPLIT = "heldout"
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"vanishing_gradients", "slow_convergence", "underfitting", "batch_too_small"})

N_TRAIN, N_VAL, EPOCHS = 1000, 200, 2


def _data() -> tuple[np.ndarray, ...]:
    def half_ones(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([np.ones((n // 2, 128)), np.zeros((n // 2, 128))]).astype(np.float32)
        y = np.concatenate([np.ones(n // 2), np.zeros(n // 2)]).astype(np.float32).reshape(-1, 1)
        return x, y

    return (*half_ones(N_TRAIN), *half_ones(N_VAL))


def _trunk() -> list[nn.Module]:
    return [dense(128, 50), nn.ReLU(), nn.Dropout(0.2), dense(50, 50), nn.ReLU(), nn.Dropout(0.2),
            dense(50, 1)]


def _rmsprop(model: nn.Module) -> rp.optim.RMSprop:
    return rp.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(*_trunk(), nn.Softmax(dim=-1))
    return Program(model, _rmsprop(model), *_data(), loss=BinaryCrossentropy(), epochs=EPOCHS, batch_size=1,
                   fit_options={"seed": seed, "metrics": [binary_accuracy]})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(*_trunk())  # the sigmoid is inside bce_with_logits
    return Program(model, _rmsprop(model), *_data(), loss="bce_with_logits", epochs=EPOCHS, batch_size=1,
                   fit_options={"seed": seed})
