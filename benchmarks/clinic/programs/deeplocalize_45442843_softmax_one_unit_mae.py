"""DeepLocalize / DeepFD case 26 (StackOverflow 45442843): a raw 5-digit feature, softmax over one unit, MAE.

SOURCE: DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/45442843/
Buggy Code/untitled39.py, Correct Code/untitled39.py, dataset.csv; Benchmark/StackOverflow/Benchmark.xlsx,
row 26) and DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark/Benchmark-with-patches.xlsx, case
26: ground truth "loss, optimizer, activation, epoch"), StackOverflow question 45442843. The program: one
feature per row, integers 15,041-24,987 left raw, and a boolean label (which is 1 exactly below 20,000);
``pandas.read_csv`` takes the file's first row as its header, so 998 rows, the first 80 % (798) for training
and the rest for validation, in file order. ``Dense(1)`` + sigmoid (Keras's Glorot-uniform weights), then
``Dense(1, init='normal')`` (Keras 1's N(0, 0.05^2)) + softmax; mean absolute error; RMSprop (Keras
defaults: lr 0.001, rho 0.9); batch 200; 100 epochs. The data are the benchmark's (``_binary_threshold.csv``,
its file as it is). Keras's ``accuracy`` for this loss and one output is the binary accuracy of the rounded
output. Nothing is cut.
SYMPTOM: the accuracy stays at the share of label 1 (DeepLocalize's run: loss 0.50, accuracy 0.50): a
softmax over a single unit outputs 1 for every input, so neither the loss nor its gradient depends on the
weights; the raw inputs also saturate the first sigmoid.
FIX: DeepLocalize's correct program: standardize the feature (``preprocessing.scale``), a sigmoid instead
of the softmax on the output unit, binary cross-entropy instead of MAE; same optimizer, batch and epochs.
Run plainly (seed 0): validation accuracy 0.460 (the share of label 1; training loss 0.502 at every
epoch); fixed version 0.835, as DeepLocalize's 0.835 (seeds 1, 2: 0.460 / 0.460, 0.460 / 0.855: with one
hidden sigmoid unit and 400 RMSprop steps of 0.001 the fixed program itself stays at the class share for
seed 1). Each run under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor

from . import Program
from ._keras import BinaryCrossentropy, binary_accuracy, dense

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/45442843: "
          "Buggy Code/untitled39.py, Correct Code/untitled39.py, dataset.csv); DeepFD benchmark case 26; "
          "StackOverflow question 45442843; data: theirs")
SYMPTOM = "the accuracy stays at one class's share: the softmax over one unit outputs 1 for every input"
FIX = ("standardize the feature, a sigmoid output unit and binary cross-entropy instead of a softmax and MAE "
       "(DeepLocalize's correct program)")
SPLIT = "heldout"
ROUND = 4
EXPECTED = frozenset({"loss_output_mismatch", "unscaled_inputs"})
ALLOWED = frozenset({"saturated_activations", "vanishing_gradients", "slow_convergence", "underfitting"})

DATA = Path(__file__).with_name("_binary_threshold.csv")


class MeanAbsoluteError(_Loss):
    """Keras's ``mean_absolute_error`` on the model's outputs against 0/1 float targets. It says what it
    computes (``doctor_loss_kind``), as a Keras adapter would know from the loss's name."""

    doctor_loss_kind = "l1"

    def forward(self, input: Tensor, target: Any) -> Tensor:
        y = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=input.dtype)
        return (input - y.reshape(input.shape)).abs().mean()


def _data(scaled: bool) -> tuple[np.ndarray, ...]:
    table = np.loadtxt(DATA, delimiter=",", skiprows=1, dtype=np.float64)  # row 1 was read as the header
    x, y = table[:, :1], table[:, 1:2].astype(np.float32)
    if scaled:
        x = (x - x.mean()) / x.std()
    n_train = int(len(x) * 0.8)
    x = x.astype(np.float32)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _rmsprop(model: nn.Module) -> rp.optim.RMSprop:
    return rp.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1), nn.Sigmoid(), dense(1, 1, "normal"), nn.Softmax(dim=-1))
    return Program(model, _rmsprop(model), *_data(scaled=False), loss=MeanAbsoluteError(), epochs=100,
                   batch_size=200, fit_options={"seed": seed, "metrics": [binary_accuracy]})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1), nn.Sigmoid(), dense(1, 1, "normal"), nn.Sigmoid())
    return Program(model, _rmsprop(model), *_data(scaled=True), loss=BinaryCrossentropy(), epochs=100,
                   batch_size=200, fit_options={"seed": seed, "metrics": [binary_accuracy]})
