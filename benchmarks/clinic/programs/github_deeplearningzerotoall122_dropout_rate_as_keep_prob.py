"""hunkim/DeepLearningZeroToAll issue 122: ``tf.layers.dropout(rate=0.7)`` meant as a keep probability.

SOURCE: https://github.com/hunkim/DeepLearningZeroToAll/issues/122 ("Possible confusion between dropout
rate vs keep_prob rate", duplicated by #204), on ``lab-11-4-mnist_cnn_layers.py`` before commit 976102e
(pull request #205, "dropout rate = 1 - keep_prob"). The lab's comment says "dropout (keep_prob) rate
0.7~0.5", the keep probability the earlier labs pass to ``tf.nn.dropout``; but ``tf.layers.dropout`` takes
the *drop* rate, so ``rate=0.7`` after each convolution block zeroes 70 % of the activations. The program:
MNIST as 28x28x1 in [0, 1]; ``conv2d(32, 3x3, 'SAME', relu)``, ``max_pooling2d(2, 'SAME')``,
``dropout(rate=0.7)``; the same with 64 and with 128 filters; flatten (128 * 4 * 4); ``dense(625, relu)``,
``dropout(rate=0.5)``; ``dense(10)`` logits (TF's default Glorot-uniform kernels, zero biases);
``softmax_cross_entropy_with_logits`` averaged; Adam at lr 0.001 (TF's epsilon 1e-8); batch 100; 15
epochs; accuracy by argmax with dropout off. 'SAME' pooling of 7x7 gives 4x4: ``ceil_mode=True``. MNIST
needs a download: here scikit-learn's digits enlarged to 28x28 (one channel, channels first) in [0, 1],
600 of them held out. Cut: 10 epochs of 12 batches instead of 15 of 550 (to keep a run short).
SYMPTOM: the lab keeps only 30 % of the activations after every convolution block where 70 % were meant
(issue #122: "rate should be changed to 0.3 from 0.7"; a maintainer: with a keep probability of 0.3
"too many nodes will be dropped and the performance will be quite bad").
FIX: commit 976102e: ``rate=0.3`` for the three convolution-block dropouts (``rate = 1 - keep_prob``);
everything else unchanged (the dense layer's 0.5 is the same either way).
The mechanism: keeping 30 % of the activations at three depths, each step trains a thin random
sub-network on a heavily noised signal, so the fit is slow and the network ends far from the fixed one.
Run plainly (seeds 0, 1, 2): validation accuracy 0.863 / 0.870 / 0.832 (training loss 2.39 -> 0.85-0.91);
fixed version 0.973 / 0.968 / 0.980 (training loss 2.2 -> 0.15-0.16). Each run 23-45 seconds on a loaded
machine (15 epochs gave 0.912 / 0.908 / 0.903 against 0.983 / 0.985 / 0.988).
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import digits_784

SOURCE = ("https://github.com/hunkim/DeepLearningZeroToAll/issues/122 (lab-11-4-mnist_cnn_layers.py before "
          "commit 976102e, PR #205); MNIST -> sklearn digits enlarged to 28x28, [0, 1]")
SYMPTOM = "tf.layers.dropout(rate=0.7) drops 70 % after every convolution block where keep 0.7 was meant"
FIX = "commit 976102e: rate=0.3 (rate = 1 - keep_prob) for the three convolution-block dropouts"
SPLIT = "heldout"
ROUND = 18
EXPECTED = frozenset({"dropout_too_high"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "unstable_loss"})

EPOCHS, BATCH = 10, 100


def _conv(n_in: int, n_out: int) -> nn.Conv2d:
    """``tf.layers.conv2d(filters=n_out, kernel_size=[3, 3], padding='SAME')``: Glorot-uniform, zero bias."""
    layer = nn.Conv2d(n_in, n_out, 3, padding=1)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _dense(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, init="xavier_uniform")
    nn.init.zeros_(layer.bias)
    return layer


def _program(seed: int, conv_rate: float) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 1 / 16)
    x_train, x_val = x_train.reshape(-1, 1, 28, 28), x_val.reshape(-1, 1, 28, 28)
    rp.manual_seed(seed)
    blocks: list[nn.Module] = []
    for n_in, n_out in ((1, 32), (32, 64), (64, 128)):
        blocks += [_conv(n_in, n_out), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True), nn.Dropout(conv_rate)]
    model = nn.Sequential(*blocks, nn.Flatten(), _dense(128 * 4 * 4, 625), nn.ReLU(), nn.Dropout(0.5),
                          _dense(625, 10))
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, conv_rate=0.7)


def fixed(seed: int) -> Program:
    return _program(seed, conv_rate=0.3)
