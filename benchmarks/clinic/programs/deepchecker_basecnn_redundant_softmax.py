"""TheDeepChecker synthetic fault redundant_softmax/baseCNN_red_soft: softmax outputs fed to a softmax loss.

SOURCE: TheDeepChecker, buggy_synthetic_programs/redundant_softmax/baseCNN_red_soft.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs), derived from its
clean program clean_base_programs/baseCNN.py. The fault, as the file's docstring says: "We pass the softmax
outputs (probabilities) to the softmax_cross_entropy_with_logits that applies implicitly an inner softmax
activation": ``reduce_mean(softmax_cross_entropy_with_logits(labels, logits=tf.nn.softmax(logits)))``, a
softmax applied twice, so the loss sees scores squeezed into [0, 1] (it cannot fall below about 1.46 for
ten classes and its gradient is damped by the inner softmax's Jacobian). The network: two ReLU
convolutions (32 5x5, 64 3x3, He-normal, max-pooling) and ``Dense(512)`` + ReLU (He-normal) before
``Dense(10)`` (TensorFlow's default Glorot-uniform, zero biases), an L2 penalty of 1e-5 on every kernel,
plain gradient descent at lr 0.1, MNIST scaled to [0, 1] by the benchmark's loader. Here, as in the other
baseCNN ports: the convolutions become one ``Dense(256)`` + ReLU (He-normal); MNIST becomes scikit-learn's
8x8 digits scaled to [0, 1]; the penalty 1e-5 * sum(w^2) becomes SGD weight decay 2e-5 on the kernels;
batch 64 (DeepChecker's loaders batch the data themselves; the size is not in the program), 20 epochs.
SYMPTOM: the file names the fault only (a softmax before a loss that applies its own); its mechanism: the
loss is bounded away from zero and its gradient is flattened, so training is slow and stalls short of the
clean program's accuracy.
FIX: the clean program: ``tf.losses.softmax_cross_entropy(labels, logits)`` on the logits (no softmax before
the loss).
Run plainly (seeds 0, 1, 2): validation accuracy 0.847 / 0.678 / 0.827 (training loss
2.28 -> 1.61-1.78 in 20 epochs, above its floor of 1.46); fixed version 0.968 / 0.962 / 0.965 (training loss
-> 0.05). Each run one to three seconds.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits

SOURCE = ("TheDeepChecker buggy_synthetic_programs/redundant_softmax/baseCNN_red_soft.py (CNN -> MLP; "
          "MNIST -> sklearn digits in [0, 1])")
SYMPTOM = ("softmax probabilities passed to softmax_cross_entropy_with_logits, which applies a second "
           "softmax: the loss is bounded away from zero and learning is damped")
FIX = "softmax cross-entropy on the logits (no softmax layer before the loss), as the clean program"
SPLIT = "heldout"
ROUND = 6
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"slow_convergence", "underfitting", "saturated_activations", "vanishing_gradients"})


def _program(seed: int, double_softmax: bool) -> Program:
    x_tr, y_tr, x_va, y_va = digits(seed, 1 / 16)
    rp.manual_seed(seed)
    layers: list[nn.Module] = [dense(64, 256, init="kaiming_normal"), nn.ReLU(),
                               dense(256, 512, init="kaiming_normal"), nn.ReLU(), dense(512, 10)]
    if double_softmax:
        layers.append(nn.Softmax(dim=-1))  # the program's probabilities, handed to a loss on logits
    model = nn.Sequential(*layers)
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2e-5},
                              {"params": biases, "weight_decay": 0.0}], lr=0.1)
    return Program(model, optimizer, x_tr, y_tr, x_va, y_va, loss="cross_entropy", epochs=20, batch_size=64,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, double_softmax=True)


def fixed(seed: int) -> Program:
    return _program(seed, double_softmax=False)
