"""DeepLocalize / DeepFD case 19 (StackOverflow 34673164): raw county statistics into tanh layers, MSE on a
two-way softmax.

SOURCE: DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/34673164/
Buggy Model/untitled39.py and Correct Model/untitled39.py, with the question's sample dataset.csv) and
DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark/Benchmark-with-patches.xlsx, case 19: ground
truth "missing/redundant/wrong layers, layer properties, activation, loss"; patch: add
``BatchNormalization()``, softmax -> sigmoid, mean squared error -> binary cross-entropy). The program:
16 demographic features of US counties (population, income, home value, growth rates: raw values from
about -1 to 660,000), the winning candidate one-hot over 2 classes; ``Dense(64, init='uniform')`` + tanh,
``Dropout(0.5)``, ``Dense(64, init='uniform')`` + tanh, ``Dropout(0.5)``, ``Dense(2, init='uniform')`` +
softmax (Keras 1's 'uniform' is U(-0.05, 0.05), zero biases); mean squared error; ``SGD(lr=0.1,
decay=1e-6, momentum=0.9, nesterov=True)``; batch 16; 20 epochs; no validation (it evaluates on the
training data). The benchmark's dataset.csv holds 9 rows only (8 samples after pandas takes the first as
the header), on which DeepFD found the program fitting; the question's full data set is not available.
Here the closest bundled set of the same kind: scikit-learn's breast cancer table (569 x 30 raw
measurements from about 0.001 to 4,254, two classes), 114 rows held out for validation. Keras's
``decay=1e-6`` changes the rate by under 0.1 % over the 580 steps and is left out. The fixed program's
``BatchNormalization()`` is the first layer (on the inputs; Keras's momentum 0.99 and eps 1e-3 are
``BatchNorm1d(momentum=0.01, eps=1e-3)`` here); its sigmoid outputs under Keras's binary cross-entropy
against the one-hot rows are ``_keras.BinaryCrossentropy`` with Keras's binary accuracy. Nothing is cut.
SYMPTOM: as the benchmarks record it: the network does not learn (DeepLocalize's buggy/correct pair;
DeepFD's ground truth above). Inputs in the thousands drive the first tanh layer, whose U(+-0.05) weights
give pre-activations of tens, into saturation, and MSE on a softmax gives small gradients.
FIX: DeepLocalize's correct program (DeepFD's patch): ``BatchNormalization()`` on the inputs, a sigmoid
output and binary cross-entropy; architecture, optimizer, batch and epochs otherwise unchanged.
Run plainly (seeds 0, 1, 2): validation accuracy 0.667 / 0.614 / 0.596 (the majority class's share: one
class for every input; training MSE 0.25 -> 0.35-0.38); fixed version 0.974 / 0.947 / 0.991. Each run under a
second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import BinaryCrossentropy, binary_accuracy, dense, onehot_accuracy
from ._qa_common import split

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/34673164: "
          "Buggy Model/untitled39.py, Correct Model/untitled39.py); DeepFD benchmark case 19; StackOverflow "
          "question 34673164; data: scikit-learn's breast cancer table (raw) instead of the county table")
SYMPTOM = ("the network does not learn: raw features in the thousands saturate the tanh layers and MSE on a "
           "softmax gives little gradient; it answers one class")
FIX = ("BatchNormalization() on the inputs, a sigmoid output and binary cross-entropy (DeepLocalize's "
       "correct program, DeepFD's patch)")
SPLIT = "heldout"
ROUND = 8
EXPECTED = frozenset({"unscaled_inputs", "loss_output_mismatch"})
ALLOWED = frozenset({"saturated_activations", "vanishing_gradients", "underfitting", "slow_convergence",
                     "unstable_loss"})

N_VAL = 114
EPOCHS, BATCH = 20, 16


def _program(seed: int, bug: bool) -> Program:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    onehot = np.eye(2, dtype=np.float32)[y]  # np_utils.to_categorical(LabelEncoder().transform(Y))
    x_train, y_train, x_val, y_val = split(x.astype(np.float32), onehot, seed, N_VAL)
    rp.manual_seed(seed)
    layers: list[nn.Module] = [] if bug else [nn.BatchNorm1d(30, momentum=0.01, eps=1e-3)]
    layers += [dense(30, 64, "uniform"), nn.Tanh(), nn.Dropout(0.5), dense(64, 64, "uniform"), nn.Tanh(),
               nn.Dropout(0.5), dense(64, 2, "uniform"), nn.Softmax(dim=-1) if bug else nn.Sigmoid()]
    model = nn.Sequential(*layers)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    loss = "mse" if bug else BinaryCrossentropy()
    metric = onehot_accuracy if bug else binary_accuracy  # Keras's 'accuracy' for each loss
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=loss, epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed, "metrics": [metric]})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
