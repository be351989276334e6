"""TheDeepChecker synthetic fault deepCNN_red_soft: a VGG-like network's softmax fed to a softmax loss.

SOURCE: TheDeepChecker, buggy_synthetic_programs/redundant_softmax/deepCNN_red_soft.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/redundant_softmax),
derived from its clean program clean_base_programs/deepCNN.py. The fault, as the file's docstring says: "We
pass the softmax outputs (probabilities) to the softmax_cross_entropy_with_logits that applies implicitly an
inner softmax activation": ``reduce_mean(softmax_cross_entropy_with_logits(labels, logits=
tf.nn.softmax(logits)))``, a softmax applied twice. The network as the faulty file builds it: six 3x3 'same'
ReLU convolutions without biases (32, 32, 64, 64, 64, 64 filters; the clean program has 128 in the last
pair), ``he_uniform`` kernels, a batch normalization after every ReLU (TensorFlow's momentum 0.99, eps 1e-3:
``BatchNorm2d(momentum=0.01, eps=1e-3)`` here), max-pooling 2x2 and dropout 0.2 / 0.3 / 0.4 after each pair;
``Flatten``, ``Dense(128)`` + ReLU (``he_uniform``, zero bias), batch normalization, dropout 0.5,
``Dense(10)`` (Glorot-uniform, zero bias); ``MomentumOptimizer(learning_rate=0.001, momentum=0.9)``, as the
clean program. CIFAR-10 needs a download: here, as in the other deepCNN ports, scikit-learn's 8x8 digits in
[0, 1], one channel (N, 1, 8, 8), which the 'same' convolutions and three poolings take down to 1x1
(``Flatten`` gives 64 features); 600 held out for validation; batch 64 (its loaders batch the data
themselves; the size is not in the program), 20 epochs (380 steps). The accuracy is the argmax of the
probabilities, as the program's.
SYMPTOM: the file names the fault only (a softmax before a loss that applies its own); its mechanism: the
loss sees scores squeezed into [0, 1], so it cannot fall below about 1.46 for ten classes, and the inner
softmax's Jacobian damps every gradient, on top of the clean program's already small learning rate.
FIX: the clean program's ``tf.losses.softmax_cross_entropy(labels, logits)`` on the logits (no softmax
before the loss); the faulty file's network (``he_uniform`` kernels, 64 filters in the last pair) unchanged.
Run plainly (seeds 0, 1, 2): validation accuracy 0.308 / 0.323 / 0.505 (training loss, under the dropouts,
2.31-2.32 in the first epoch and still 2.22-2.26 in the twentieth, above its floor of 1.46); fixed version
0.932 / 0.947 / 0.942 (training loss 3.5-3.7 to 0.49-0.53). Each run about 14 seconds on one CPU thread.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/redundant_softmax/deepCNN_red_soft.py (CIFAR-10 -> "
          "sklearn digits in [0, 1], 8x8, one channel)")
SYMPTOM = ("softmax probabilities passed to softmax_cross_entropy_with_logits, which applies a second "
           "softmax: the loss is bounded away from zero and learning is damped")
FIX = "softmax cross-entropy on the logits (no softmax before the loss), as the clean program"
SPLIT = "heldout"
ROUND = 18
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"slow_convergence", "underfitting", "vanishing_gradients", "saturated_activations"})

N_VAL = 600
EPOCHS, BATCH = 20, 64


def _unit(in_channels: int, out_channels: int) -> list[nn.Module]:
    """``tf.layers.conv2d(filters, 3x3, padding='same', relu, use_bias=False, he_uniform)`` and a batch
    normalization."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")  # TF he_uniform: U(+-sqrt(6 / fan_in))
    return [conv, nn.ReLU(), nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)]


def _program(seed: int, double_softmax: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    rp.manual_seed(seed)
    convs = [*_unit(1, 32), *_unit(32, 32), nn.MaxPool2d(2), nn.Dropout(0.2),
             *_unit(32, 64), *_unit(64, 64), nn.MaxPool2d(2), nn.Dropout(0.3),
             *_unit(64, 64), *_unit(64, 64), nn.MaxPool2d(2), nn.Dropout(0.4)]
    hidden = nn.Linear(64, 128)
    nn.init.kaiming_uniform_(hidden.weight, nonlinearity="relu")
    nn.init.zeros_(hidden.bias)
    head = nn.Linear(128, 10)
    nn.init.xavier_uniform_(head.weight)
    nn.init.zeros_(head.bias)
    layers: list[nn.Module] = [*convs, nn.Flatten(), hidden, nn.ReLU(),
                               nn.BatchNorm1d(128, momentum=0.01, eps=1e-3), nn.Dropout(0.5), head]
    if double_softmax:
        layers.append(nn.Softmax(dim=-1))  # the program's probabilities, handed to a loss on logits
    model = nn.Sequential(*layers)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, double_softmax=True)


def fixed(seed: int) -> Program:
    return _program(seed, double_softmax=False)
