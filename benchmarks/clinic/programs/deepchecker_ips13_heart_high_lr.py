"""TheDeepChecker SO example IPS_13: softmax regression on the heart data, Adam at lr 0.5 with batches of 7.

SOURCE: TheDeepChecker, SO_buggy_examples/IPS_13.py
(https://github.com/thedeepchecker/thedeepchecker/blob/master/SO_buggy_examples/IPS_13.py), a StackOverflow
question (a course exercise: logistic regression on the South African heart disease data) ported by the
benchmark's authors, with its data files data/heart_train.csv and data/heart_test.csv (413 and 49 rows;
copied here as ``_heart_train.csv`` and ``_heart_test.csv``): nine raw features (``famhist`` as 0/1), the
label ``chd``. One linear layer 9 -> 2 (weights ``truncated_normal`` std 1, zero bias), softmax
cross-entropy, plus ``BETA * l2_loss(w)`` with BETA = 1 (as SGD/Adam weight decay 1 on the weights only),
Adam at lr 0.5, batch 7, features not normalized (``normalization=False``). Cut: 200 epochs of the
original 1000. The file states neither symptom nor fix (DeepChecker runs its checks on it); the fault
ported here is the learning rate, 500x Adam's default: the fixed version uses Adam's default 1e-3 with
everything else kept (the raw features and the penalty included).
Run plainly (seed 0): validation accuracy 0.286, swinging between 0.29 and 0.82 over the last five
epochs; fixed version 0.673 (between 0.63 and 0.69; 0.714 of the 49 validation rows are class 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, normal_init

SOURCE = ("TheDeepChecker SO_buggy_examples/IPS_13.py with its data/heart_train.csv and data/heart_test.csv "
          "(South African heart disease data)")
SYMPTOM = ("the loss and the accuracy jump from epoch to epoch and the accuracy stays near the majority "
           "class (no symptom is quoted in the file; this is what the ported code shows)")
FIX = "Adam at its default learning rate 1e-3 instead of 0.5"
SPLIT = "dev"
ROUND = 2
EXPECTED = frozenset({"unstable_loss"})
ALLOWED = frozenset({"exploding_gradients", "unscaled_inputs", "batch_too_small", "non_finite"})

EPOCHS = 200
_HERE = Path(__file__).resolve().parent
_COLUMNS = ["sbp", "tobacco", "ldl", "adiposity", "famhist", "typea", "obesity", "alcohol", "age", "chd"]


def _load(name: str) -> tuple[np.ndarray, np.ndarray]:
    path = _HERE / name
    rows = path.read_text(encoding="utf-8").strip().splitlines()
    header = rows[0].split(",")
    if header != _COLUMNS:
        raise ValueError(f"{path}: unexpected header {header}")
    table = []
    for number, row in enumerate(rows[1:], start=2):
        cells = row.split(",")
        if len(cells) != 10:
            raise ValueError(f"{path}, line {number}: {len(cells)} columns, expected 10")
        cells[4] = "1" if cells[4] == "Present" else "0"
        table.append([float(c) for c in cells])
    data = np.asarray(table)
    return data[:, :9].astype(np.float32), data[:, 9].astype(np.int64)


def _program(seed: int, lr: float) -> Program:
    x_tr, y_tr = _load("_heart_train.csv")
    x_va, y_va = _load("_heart_test.csv")
    rp.manual_seed(seed)
    layer = dense(9, 2, init=normal_init(1.0, truncated=True))
    model = nn.Sequential(layer)
    optimizer = rp.optim.Adam([{"params": [layer.weight], "weight_decay": 1.0}, {"params": [layer.bias]}],
                              lr=lr)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=7, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 0.5)


def fixed(seed: int) -> Program:
    return _program(seed, 1e-3)
