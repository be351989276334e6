"""TheDeepChecker synthetic fault missing_normalization/baseCNN_miss_norm: raw 0-255 pixels into the baseCNN.

SOURCE: TheDeepChecker, buggy_synthetic_programs/missing_normalization/baseCNN_miss_norm.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says: "We deactivate the
normalization in our data loader API object (DataLoaderFromArrays). This would keep the data unscaled and
mimic missing input normalization fault": ``normalization=False``, so the pixels stay in 0-255 where the
clean program's loader min-max scales them to [0, 1]. The network: two ReLU convolutions (32 5x5, 64 3x3,
He-normal, max-pooling) and ``Dense(512)`` + ReLU (He-normal) before ``Dense(10)`` (TensorFlow's default
Glorot-uniform, zero biases), an L2 penalty of 1e-5 on every kernel, softmax cross-entropy on the logits,
plain gradient descent at lr 0.1. Here, as in the other baseCNN ports: the convolutions become one
``Dense(256)`` + ReLU (He-normal); MNIST becomes scikit-learn's 8x8 digits (0-16) times 16, MNIST's raw
0-255 scale (the fixed version: divided by 16 to [0, 1], the loader's min-max scaling); the penalty
becomes SGD weight decay 2e-5 on the kernels; batch 64 (DeepChecker's loaders batch the data themselves;
the size is not in the program), 20 epochs.
SYMPTOM: the file names the fault only (missing input normalization); its mechanism: inputs 255 times
larger make the logits and the gradients hundreds of times larger, so gradient descent at lr 0.1 overshoots:
the loss blows up and the network does not learn.
FIX: the clean program: the loader's normalization (pixels min-max scaled to [0, 1]).
Run plainly (seeds 0, 1, 2): validation accuracy 0.085 / 0.088 / 0.097 (the first epoch's
training loss is NaN / 1.4e17 / 5.6e12: on seed 0 ``fit`` stops there, on seeds 1 and 2 the network ends
dead, its loss flat at ln 10 = 2.302); fixed version 0.968 / 0.962 / 0.965. Each run one to two seconds.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/missing_normalization/baseCNN_miss_norm.py (CNN -> MLP; "
          "MNIST -> sklearn digits at 0-255)")
SYMPTOM = "the input normalization is missing: raw 0-255 pixels under gradient descent at lr 0.1"
FIX = "normalize the pixels to [0, 1] (the loader's normalization=True, as the clean program)"
SPLIT = "heldout"
ROUND = 6
EXPECTED = frozenset({"unscaled_inputs"})
ALLOWED = frozenset({"exploding_gradients", "non_finite", "unstable_loss", "dead_relu"})


def _program(seed: int, scale: float) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, scale)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10))
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2e-5},
                              {"params": biases, "weight_decay": 0.0}], lr=0.1)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, scale=16.0)  # 0-16 digits -> MNIST's raw 0-255


def fixed(seed: int) -> Program:
    return _program(seed, scale=1 / 16)  # [0, 1]
