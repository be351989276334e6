"""TheDeepChecker synthetic fault double_normalization/baseCNN_dbl_norm: pixels divided by their range twice.

SOURCE: TheDeepChecker, buggy_synthetic_programs/double_normalization/baseCNN_dbl_norm.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says: API functions such
as ``tf.image.convert_image_dtype`` already scale images to [0, 1], "so if the users divide the data,
additionally, by 255, the magnitude of data would be critically low"; the file mimics it with a loader
whose normalization divides by the range twice, ``(x - min) / range / range``, so MNIST's 0-255 pixels land
in [0, 1/255]. The network: two ReLU convolutions (32 5x5, 64 3x3, He-normal, max-pooling) and
``Dense(512)`` + ReLU (He-normal) before ``Dense(10)`` (TensorFlow's default Glorot-uniform, zero biases),
an L2 penalty of 1e-5 on every kernel, softmax cross-entropy on the logits, plain gradient descent at lr
0.1. Here, as in the other baseCNN ports: the convolutions become one ``Dense(256)`` + ReLU (He-normal);
MNIST becomes scikit-learn's 8x8 digits on MNIST's 0-255 scale, normalized by the loader's min-max once
(the clean program: [0, 1]) or twice (the fault: [0, 1/255]); the penalty becomes SGD weight decay 2e-5 on
the kernels only; batch 64 (DeepChecker's loaders batch the data themselves; the size is not in the
program), 20 epochs (380 steps).
SYMPTOM: inputs 255 times too small: the first layer's pre-activations and its weight gradients are 255
times smaller than its initialization assumes, so the network learns slowly and its accuracy stays far
below the clean program's (the benchmark's file quotes no run; what the ported code shows is below).
FIX: normalize once (the clean program's loader: pixels in [0, 1]).
Run plainly (seeds 0, 1, 2): validation accuracy 0.090 / 0.088 / 0.097 (the training loss 2.301 / 2.300 /
2.301 in the first epoch, still 2.298 / 2.297 / 2.296 in the twentieth: ln 10 is 2.303; the epochs'
validation accuracy never above 0.25); fixed version 0.968 / 0.962 / 0.965 (training loss 1.4-1.5 to
0.05). Each run about a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/double_normalization/baseCNN_dbl_norm.py (CNN -> MLP; "
          "MNIST -> sklearn digits, normalized twice: [0, 1/255])")
SYMPTOM = ("the loader divides the pixels by their range twice: inputs in [0, 1/255], learning crawls and "
           "the accuracy stays far below the clean program's")
FIX = "normalize the pixels once, to [0, 1] (the clean program's loader)"
SPLIT = "heldout"
ROUND = 10
EXPECTED = frozenset({"unscaled_inputs"})
ALLOWED = frozenset({"slow_convergence", "underfitting", "vanishing_gradients"})


def _normalize(x: np.ndarray, low: float, spread: float, times: int) -> np.ndarray:
    """The loader's homogeneous min-max normalization, ``(x - min) / range``, then ``/ range`` again
    for the fault (``times=2``)."""
    out = (x - low) / spread
    for _ in range(times - 1):
        out = out / spread
    return out.astype(np.float32)


def _program(seed: int, times: int) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, 255 / 16)  # MNIST's raw 0-255 pixels
    low, spread = float(x_tr.min()), float(x_tr.max() - x_tr.min())  # 0 and 255
    x_tr, x_va = _normalize(x_tr, low, spread, times), _normalize(x_va, low, spread, times)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(64, 256, init="kaiming_normal"), nn.ReLU(),
                          dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10))
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    # the penalty 1e-5 * sum(w^2) on the kernels adds 2e-5 * w to their gradients
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2e-5},
                              {"params": biases, "weight_decay": 0.0}], lr=0.1)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, times=2)


def fixed(seed: int) -> Program:
    return _program(seed, times=1)
