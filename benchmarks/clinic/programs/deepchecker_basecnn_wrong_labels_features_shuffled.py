"""TheDeepChecker synthetic fault wrong_labels/baseCNN_wrong_lbl: the loader shuffles images, not labels.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_labels/baseCNN_wrong_lbl.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says: "a common faulty
situation is to get only the features shuffled": its ``CustomDataLoader`` overrides the loader's
``shuffle`` (called each time a pass over the training data ends) to permute ``self.features`` alone, so
the first pass trains on the right pairs and every later one on images paired with other images' labels.
The network is the clean baseCNN's: two ReLU convolutions (32 5x5, 64 3x3, He-normal, max-pooling) and
``Dense(512)`` + ReLU (He-normal) before ``Dense(10)`` (TensorFlow's default Glorot-uniform, zero biases),
softmax cross-entropy on the logits, plain gradient descent at lr 0.1 on loss + an L2 penalty of 1e-5 on
every kernel, MNIST scaled to [0, 1] by the benchmark's loader. Here, as in the other baseCNN ports: the
convolutions become one ``Dense(256)`` + ReLU (He-normal); MNIST becomes scikit-learn's 8x8 digits scaled to
[0, 1]; the penalty becomes SGD weight decay 2e-5 on the kernels only; batch 64 (DeepChecker's loaders
batch the data themselves; the size is not in the program). The loader's features-only shuffle is a
callback that permutes the training images in place at the end of every epoch (``fit`` shuffles the
pairs as the clean loader does). The original's test loader is the same custom class, but it is only
misaligned after a full pass over it; the validation set here keeps its labels (``fit`` scores it in one
pass). Length: 60 epochs of 19 steps (1,140 steps, about 1.2 MNIST epochs; DeepChecker's checker
sets its own run length).
SYMPTOM: the labels are corrupted (DeepChecker's run is named ``base_CNN_corrupted_labels``): after the
first epoch the model is trained on labels unrelated to its inputs, so the training loss climbs back to a
blind guess's and the accuracy falls toward chance.
FIX: the clean program's loader: features and labels shuffled together.
Run plainly (seeds 0, 1, 2): validation accuracy 0.147 / 0.048 / 0.145 (after the first epoch, trained
on the right pairs, 0.785 / 0.800 / 0.795; then the training loss jumps to 2.64-2.68 and ends at
2.30-2.31 = ln 10, training accuracy 0.10-0.11); fixed version 0.973 / 0.967 / 0.977 (training loss
0.011-0.013). Each run about 1.5 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import ShuffleFeaturesOnly, dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_labels/baseCNN_wrong_lbl.py (CNN -> MLP; "
          "MNIST -> sklearn digits in [0, 1])")
SYMPTOM = ("the loader shuffles the images without their labels after each pass: the labels no longer "
           "match the inputs, the loss climbs back to a blind guess's")
FIX = "the clean program's loader: images and labels shuffled together"
SPLIT = "heldout"
ROUND = 7
EXPECTED = frozenset({"underfitting"})
ALLOWED = frozenset({"unstable_loss", "slow_convergence"})

EPOCHS, BATCH = 60, 64


def _program(seed: int, bug: bool) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, 1 / 16)
    x_tr = np.ascontiguousarray(x_tr, dtype=np.float32)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10))
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    # the penalty 1e-5 * sum(w^2) on the kernels adds 2e-5 * w to their gradients
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2e-5},
                              {"params": biases, "weight_decay": 0.0}], lr=0.1)
    options: dict[str, Any] = {"seed": seed}
    if bug:
        options["callbacks"] = [ShuffleFeaturesOnly(x_tr, seed)]
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options=options)


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
