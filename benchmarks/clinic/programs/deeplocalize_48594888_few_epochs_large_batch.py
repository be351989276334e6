"""DeepLocalize / DeepFD case 27 (StackOverflow 48594888): a CIFAR-10 network, 5 epochs of batch 500.

SOURCE: DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/48594888/
Buggy Code/untitled41.py and Correct Code/untitled41.py; its Benchmark/StackOverflow/Benchmark.xlsx, row 27)
and DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark/Benchmark-with-patches.xlsx, case 27: ground
truth "epoch, batch size"), StackOverflow question 48594888. The program: CIFAR-10 as loaded (raw pixels
0-255, never divided), ``Conv2D(64, 3x3, relu, he_normal)``, max-pool, ``Conv2D(256, 3x3, relu,
he_normal)``, max-pool, flatten, ``Dense(512, relu)``, ``Dropout(0.3)``, ``Dense(10, softmax)``;
categorical cross-entropy; Adam (Keras defaults: lr 0.001); batch 500; 5 epochs (100 steps an epoch on
CIFAR's 50,000 images). CIFAR-10 needs a download: here scikit-learn's digits enlarged to 28x28 (784 inputs)
on the raw 0-255 scale; the two convolution blocks become ``Dense(256)`` + ReLU with He-normal weights;
1197 training images, so an epoch is 3 steps. Keras's softmax output under categorical cross-entropy is the
logits form here (``cross_entropy``), the same function.
SYMPTOM: the accuracy stops at an early, low level (DeepLocalize's run: 0.48 on CIFAR-10) because the run
ends after few large-batch updates, while the loss is still falling fast.
FIX: the published changes that carry over to the MLP: DeepFD's patch (10 epochs instead of 5, a training
setting) and the division of the pixels by 255 from DeepLocalize's patch (which also changes the
convolutions' kernels, the dense width, the dropout rate and the batch size; those are left out, so the twin
differs from the buggy version in the input scale and the number of epochs only). A public copy of DeepFD's
patched program (instrumented with Umlaut's callback) likewise trains on pixels divided by 255, for 15 epochs
of batch 500.
Run plainly (seed 0): validation accuracy 0.908 (training loss 120 -> 4.8 in 15 steps); fixed version 0.957
(seeds 1, 2: 0.938 / 0.960, 0.915 / 0.953). With the pixels divided by 255 but still 5 epochs the accuracy
is 0.933 (seed 0): both changes count. Each run about a second.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import digits_784

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/48594888/"
          "Buggy Code/untitled41.py); DeepFD benchmark case 27 (Benchmark-with-patches.xlsx); StackOverflow "
          "question 48594888; CNN -> MLP, CIFAR-10 -> sklearn digits enlarged to 28x28 at 0-255")
SYMPTOM = "the accuracy stops at an early, low level: the run ends after few large-batch updates"
FIX = "10 epochs instead of 5 (DeepFD's patch) and pixels divided by 255 (DeepLocalize's patch)"
SPLIT = "heldout"
ROUND = 4
EXPECTED = frozenset({"underfitting", "unscaled_inputs"})
ALLOWED = frozenset({"slow_convergence", "exploding_gradients", "unstable_loss"})


def _program(seed: int, patched: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16 if patched else 16.0)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(784, 256, "he_normal"), nn.ReLU(), dense(256, 512), nn.ReLU(),
                          nn.Dropout(0.3), dense(512, 10))
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy",
                   epochs=10 if patched else 5,
                   batch_size=500, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, patched=False)


def fixed(seed: int) -> Program:
    return _program(seed, patched=True)
