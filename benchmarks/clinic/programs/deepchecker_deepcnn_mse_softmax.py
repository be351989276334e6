"""TheDeepChecker synthetic fault wrong_loss_selection/deepCNN_inap_loss: a VGG-like classifier trained on the
mean squared error of its softmax probabilities.

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_loss_selection/deepCNN_inap_loss.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/wrong_loss_selection),
derived from its clean program clean_base_programs/deepCNN.py. The fault, in the file's own note: a common
beginner's fault, MSE for a classification problem: ``tf.losses.mean_squared_error(labels, probabilities)``
(the mean over every class of every sample of the squared difference between the one-hot row and
``tf.nn.softmax(logits)``) where the clean program has ``tf.losses.softmax_cross_entropy(labels, logits)``.
The network as this faulty file builds it: six 3x3 'same' convolutions without biases, each followed by
ReLU and then a batch normalization (TensorFlow's momentum 0.99, eps 1e-3: ``BatchNorm2d(momentum=0.01,
eps=1e-3)`` here), 32, 32, 64, 64, 64, 64 filters (the clean program has 128 in the last pair),
``he_uniform`` kernels; a 2x2 max-pooling and a dropout (0.2, 0.3, 0.4) after each pair; ``Flatten``,
``Dense(128)`` + ReLU (``he_uniform``, zero bias), batch normalization, dropout 0.5, ``Dense(10)``
(Glorot-uniform, zero bias); ``MomentumOptimizer(learning_rate=0.001, momentum=0.9)``; accuracy by the
argmax of the probabilities. CIFAR-10 needs a download: here, as in this clinic's other deepCNN ports,
scikit-learn's 8x8 digits in [0, 1] as one-channel images (N, 1, 8, 8), which the 'same' convolutions and
three poolings take to 1x1 (``Flatten`` gives 64 features); 600 images held out for validation; batch 64
(DeepChecker's loaders batch the data themselves; the size is not in the program); 20 epochs (380 steps).
Nothing else is cut.
SYMPTOM: the file names the fault only; its effect, shown by the port below: the network learns slowly
and its accuracy stays far below the clean program's.
FIX: the clean program's loss, softmax cross-entropy on the logits (the faulty file's network and optimizer
otherwise; the model ends at the logits).
Mechanism: the squared error averaged over ten outputs is a tenth of the per-sample squared error, whose
gradient with respect to a logit goes through the softmax's Jacobian p_j (delta_jk - p_k): at the start,
with every probability near 0.1, a logit's gradient is about 50 times smaller than the cross-entropy's
(p - y), and it fades further as a wrong class saturates; with momentum SGD at 0.001 the steps are too
small to move the network far in the run.
Run plainly (seeds 0, 1, 2): validation accuracy 0.123 / 0.127 / 0.130 (the squared error, under the
dropouts, 0.116-0.118 in the first epoch and still 0.115 in the twentieth, above the 0.09 of a uniform
output); fixed version 0.935 / 0.922 / 0.937 (training loss, under the dropouts, 3.5-3.6 to 0.51-0.60).
Each run 13-18 seconds on one CPU thread, as the other deepCNN ports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import onehot_accuracy
from ._qa_common import split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_loss_selection/deepCNN_inap_loss.py (CIFAR-10 -> "
          "sklearn digits in [0, 1], 8x8, one channel)")
SYMPTOM = ("mean squared error on the softmax probabilities of a VGG-like classifier: learning is slow and "
           "the accuracy stays far below the clean program's")
FIX = "softmax cross-entropy on the logits (tf.losses.softmax_cross_entropy), as the clean program"
SPLIT = "heldout"
ROUND = 19
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"slow_convergence", "underfitting", "vanishing_gradients", "saturated_activations"})

N_VAL = 600
EPOCHS, BATCH = 20, 64


def _block(in_channels: int, out_channels: int) -> list[nn.Module]:
    """``tf.layers.conv2d(filters, 3x3, padding='same', relu, use_bias=False)`` with a ``he_uniform`` kernel,
    then ``tf.layers.batch_normalization``."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
    return [conv, nn.ReLU(), nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)]


def _program(seed: int, squared_error: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    rp.manual_seed(seed)
    features = [*_block(1, 32), *_block(32, 32), nn.MaxPool2d(2), nn.Dropout(0.2),
                *_block(32, 64), *_block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.3),
                *_block(64, 64), *_block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.4)]
    hidden = nn.Linear(64, 128)
    nn.init.kaiming_uniform_(hidden.weight, nonlinearity="relu")
    nn.init.zeros_(hidden.bias)
    logits = nn.Linear(128, 10, init="xavier_uniform")
    nn.init.zeros_(logits.bias)
    layers = [*features, nn.Flatten(), hidden, nn.ReLU(), nn.BatchNorm1d(128, momentum=0.01, eps=1e-3),
              nn.Dropout(0.5), logits]
    options: dict[str, Any] = {"seed": seed}
    if squared_error:  # the probabilities against one-hot rows, as tf.losses.mean_squared_error
        layers.append(nn.Softmax(dim=-1))
        eye = np.eye(10, dtype=np.float32)
        y_train, y_val = eye[y_train], eye[y_val]
        options["metrics"] = [onehot_accuracy]
    model = nn.Sequential(*layers)
    optimizer = rp.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss = "mse" if squared_error else "cross_entropy"
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss=loss, epochs=EPOCHS,
                   batch_size=BATCH, fit_options=options)


def buggy(seed: int) -> Program:
    return _program(seed, squared_error=True)


def fixed(seed: int) -> Program:
    return _program(seed, squared_error=False)
