"""AutoTrainer's oscillating-loss demo: SGD with momentum at batch size 1 on the blobs.

Ported from AutoTrainer (github.com/shiningrain/AUTOTRAINER), ``AutoTrainer/demo_case/Oscillating_Loss_Case``:
the model in its ``model.h5`` (2-50-3: ReLU with He-uniform weights, a softmax output with Glorot-uniform
weights) trained as its ``config.pkl`` says (read as text: SGD lr 0.01, momentum 0.9, batch size 1,
200 epochs, categorical cross-entropy) on ``simplednn`` blobs (unscaled, as theirs). Cut: 8 epochs
(5,600 steps). The softmax output under Keras's categorical cross-entropy is ``cross_entropy`` on the
logits here, the same function.
Run plainly (seed 0): validation accuracy 0.560; fixed version 0.793.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._simplednn import blob

SOURCE = ("AutoTrainer demo case Oscillating_Loss_Case (github.com/shiningrain/AUTOTRAINER, "
          "AutoTrainer/demo_case/Oscillating_Loss_Case: model.h5, config.pkl, monitor logs); "
          "data: AutoTrainer's simplednn blobs, drawn with scikit-learn as they do")
SYMPTOM = "the training loss oscillates; AutoTrainer reports 'unstable' at epoch 60 and stops the run"
FIX = "the Adam optimizer with its default settings (AutoTrainer's repair: 0.83 validation accuracy)"
SPLIT = "heldout"
EXPECTED = frozenset({"unstable_loss"})
ALLOWED = frozenset({"batch_too_small", "exploding_gradients"})

EPOCHS = 8


def _program(seed: int, adam: bool) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = blob(seed)
    model = nn.Sequential(dense(2, 50, "he_uniform"), nn.ReLU(), dense(50, 3, "glorot_uniform"))
    if adam:
        opt = rp.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = rp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return Program(model, opt, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=EPOCHS, batch_size=1,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, adam=False)


def fixed(seed: int) -> Program:
    return _program(seed, adam=True)
