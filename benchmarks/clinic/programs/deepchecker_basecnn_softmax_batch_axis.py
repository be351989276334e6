"""TheDeepChecker synthetic fault wrong_softmax_impl/baseCNN_wrong_soft: a softmax taken over the batch.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_softmax_impl/baseCNN_wrong_soft.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/wrong_softmax_impl),
derived from its clean program clean_base_programs/baseCNN.py. The fault, in the file's own words: a wrong
axis for a reduction, simulated in the softmax. The program computes its own softmax, ``exp(z - max(z)) /
sum(exp(z - max(z)))`` with both reductions over ``axis=0`` (the samples of the batch) instead of the
classes, and its own cross-entropy ``-sum(y * log(clip(p, 1e-32, 1 - 1e-32)), axis=1)`` averaged over the
batch, where the clean program uses ``tf.losses.softmax_cross_entropy`` on the logits. The network (as the
faulty file builds it): ``conv2d(32, 5x5, 'same')`` + ReLU, 2x2 max-pooling, ``conv2d(64, 3x3, 'same')`` +
ReLU, 2x2 max-pooling, ``Flatten``, ``Dense(1024)`` + ReLU, ``Dense(10)``; He-normal kernels on the
convolutions and the hidden dense layer, TensorFlow's default Glorot-uniform on the logits layer, zero
biases; an L2 penalty of 1e-5 * sum(w^2) on every kernel (here SGD weight decay 2e-5 on the kernels only);
``GradientDescentOptimizer(0.1)``; MNIST scaled to [0, 1] by the benchmark's loader. MNIST needs a download:
here scikit-learn's 8x8 digits in [0, 1] as one-channel images (N, 1, 8, 8); the two poolings take them
to 2x2, so ``Flatten`` gives 256 features (3,136 on MNIST); 600 images held out for validation; batch 64
(DeepChecker's loaders batch the data themselves; the size is not in the program); 20 epochs. The faulty
file also widens the hidden layer from the clean program's 512 to 1024; both versions here keep 1024, so
that the fix is the softmax alone. The program's accuracy takes the argmax of its (batch-normalized)
probabilities; the score here is the argmax of the logits, what the trained network predicts.
SYMPTOM: the file names the fault only (its DeepChecker run checks the implemented softmax and
cross-entropy); its effect, shown by the port below: each class's column is normalized across the batch,
so the loss ranks the samples of a batch against each other for every class instead of the classes
against each other for every sample, and the network ends several points below the clean program.
FIX: the clean program: softmax cross-entropy on the logits, normalized over the classes (``axis=-1``).
Mechanism: the batch-axis softmax is unchanged by adding any constant to a class's column, so nothing ties
one class's logits to another's scale: the logits layer's biases get exactly zero gradient, and each
column is trained only to rank the batch's samples of its class above the others. The ranking carries
most of the class information, so the argmax across classes is often right, but the columns are never
compared with each other, and the samples of one class share one column's probability mass: with about
6.4 samples of each class in a batch of 64, the loss cannot fall much below ln 6.4 = 1.86.
Run plainly (seeds 0, 1, 2): validation accuracy 0.932 / 0.933 / 0.922 (training loss 2.86-2.96 in the
first epoch, still 1.96-1.98 in the twentieth, near its floor); fixed version
0.980 / 0.972 / 0.983 (training loss 2.4-2.9 -> 0.013-0.017). Each run 5-8 seconds on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor

from . import Program
from ._qa_common import split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_softmax_impl/baseCNN_wrong_soft.py (MNIST -> "
          "sklearn digits in [0, 1], 8x8, one channel)")
SYMPTOM = ("a hand-written softmax reduces over axis 0 (the batch) instead of the classes: the loss compares "
           "samples, not classes, and the network ends below the clean program's accuracy")
FIX = ("softmax cross-entropy on the logits over the classes, as the clean program "
       "(tf.losses.softmax_cross_entropy)")
SPLIT = "heldout"
ROUND = 19
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "unstable_loss"})

N_VAL = 600
EPOCHS, BATCH = 20, 64
CLIP = 1e-32  # the program's epsilon


class BatchAxisSoftmaxCrossEntropy(_Loss):
    """The faulty program's ``softmax`` (max-shifted, both reductions over ``axis=0``) and its clipped
    ``-sum(y * log(p), axis=1)``, averaged over the batch; integer labels (the program's one-hot rows)."""

    classification = True

    def forward(self, input: Tensor, target: Any) -> Tensor:
        shifted = input - input.data.max(axis=0, keepdims=True)  # the shift changes no gradient
        e = shifted.exp()
        p = (e / e.sum(axis=0, keepdims=True)).clip(CLIP, 1.0 - CLIP)
        labels = np.asarray(target.data if isinstance(target, Tensor) else target).astype(np.int64).ravel()
        onehot = np.eye(input.shape[-1], dtype=p.dtype)[labels]
        return -(p.log() * onehot).sum(axis=1).mean()

    def extra_repr(self) -> str:
        return "softmax over axis 0 (the batch), as the faulty program"


def _conv(in_channels: int, out_channels: int, size: int) -> nn.Conv2d:
    """``tf.layers.conv2d(filters, size, padding='same', relu)`` with He-normal kernel, zero bias."""
    layer = nn.Conv2d(in_channels, out_channels, size, padding=size // 2)
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, batch_axis: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    rp.manual_seed(seed)
    hidden = nn.Linear(64 * 2 * 2, 1024)
    nn.init.kaiming_normal_(hidden.weight, nonlinearity="relu")
    nn.init.zeros_(hidden.bias)
    logits = nn.Linear(1024, 10, init="xavier_uniform")
    nn.init.zeros_(logits.bias)
    model = nn.Sequential(_conv(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), _conv(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), hidden, nn.ReLU(), logits)
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    optimizer = rp.optim.SGD([{"params": kernels, "weight_decay": 2e-5},
                              {"params": biases, "weight_decay": 0.0}], lr=0.1)
    loss: Any = BatchAxisSoftmaxCrossEntropy() if batch_axis else "cross_entropy"
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=loss, epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, batch_axis=True)


def fixed(seed: int) -> Program:
    return _program(seed, batch_axis=False)
