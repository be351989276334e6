"""TheDeepChecker synthetic fault flipped_sign/baseCNN_flip_sign: the classifier's gradients negated before
plain gradient descent at lr 0.1, so every step climbs the loss.

SOURCE: TheDeepChecker, buggy_synthetic_programs/flipped_sign/baseCNN_flip_sign.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says: "in case of
implementing the gradient calculation from scratch, there is a risk of mistaken gradient direction which
inverses the problem to maximization"; the program takes ``tf.gradients`` of the cross-entropy plus its L2
penalty, negates each, and hands them to ``GradientDescentOptimizer(0.1).apply_gradients``. The network:
two ReLU convolutions (32 5x5, 64 3x3, He-normal, max-pooling) and ``Dense(512)`` + ReLU (He-normal) before
``Dense(10)`` (TensorFlow's default Glorot-uniform, zero biases), an ``l1_l2(0, 1e-5)`` penalty on every
kernel, softmax cross-entropy on the logits, MNIST scaled to [0, 1] by the benchmark's loader. Here, as in
the other baseCNN ports: the convolutions become one ``Dense(256)`` + ReLU (He-normal); MNIST becomes
scikit-learn's 8x8 digits scaled to [0, 1]; the penalty l2 * sum(w^2) becomes SGD weight decay 2 * l2 on
the kernels only; batch 64 (DeepChecker's loaders batch the data themselves; the size is not in the
program), 20 epochs. The negated gradients are ``SGD(..., maximize=True)``. One difference: retroprop (as
torch) does not negate the weight-decay term when maximizing and takes no negative decay, so the penalty's
own gradient (2e-5 w) keeps its sign here where the original negates it too; at 1e-5 it is negligible next
to the flipped gradient of the loss.
SYMPTOM: the loss grows from the first step instead of falling; the accuracy falls below chance.
FIX: the gradients as computed (the clean program's ``minimize``).
Run plainly (seeds 0, 1, 2): validation accuracy 0.102 / 0.115 / 0.107 (chance): the training loss grows
every step, 2.3-2.6 at the first, 1e9-1e30 by the ninth to eleventh, and is inf/NaN at step 10 / 12 / 11,
where ``fit`` stops with the last finite weights; fixed version 0.968 / 0.962 / 0.965. Each run under a
second.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/flipped_sign/baseCNN_flip_sign.py (CNN -> MLP; "
          "MNIST -> sklearn digits in [0, 1])")
SYMPTOM = "the gradients' sign is flipped: every step of gradient descent climbs the loss"
FIX = "apply the gradients as computed (the clean program's minimize)"
SPLIT = "heldout"
ROUND = 9
EXPECTED = frozenset({"gradient_ascent"})
ALLOWED = frozenset({"exploding_gradients", "non_finite", "unstable_loss", "dead_relu",
                     "saturated_activations", "underfitting"})

L2 = 1e-5


def _program(seed: int, flipped: bool) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, 1 / 16)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10))
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    # the penalty l2 * sum(w^2) on the kernels adds 2 * l2 * w to their gradients (not negated by maximize)
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2 * L2},
                              {"params": biases, "weight_decay": 0.0}], lr=0.1, maximize=flipped)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, flipped=True)


def fixed(seed: int) -> Program:
    return _program(seed, flipped=False)
