"""TheDeepChecker synthetic fault wrong_init/deepCNN_random: a VGG-like network's kernels drawn N(0, 0.25^2).

SOURCE: TheDeepChecker, buggy_synthetic_programs/wrong_init/deepCNN_random.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/wrong_init), derived
from its clean program clean_base_programs/deepCNN.py. The fault, as the file's docstring says: "a dummy
initialization with arbitrary standard deviation that hinders the learning": ``init_std = 0.25`` and
``tf.random_normal_initializer(stddev=init_std)`` for every convolution, the hidden dense layer and the
logits layer, where the clean program has He-normal kernels (and TensorFlow's default Glorot-uniform on the
logits). The network as the faulty file builds it: six 3x3 'same' ReLU convolutions without biases (32, 32,
64, 64, 64, 64 filters; the clean program has 128 in the last pair), a batch normalization after every ReLU
(TensorFlow's momentum 0.99, eps 1e-3: ``BatchNorm2d(momentum=0.01, eps=1e-3)`` here), max-pooling 2x2 and
dropout 0.2 / 0.3 / 0.4 after each pair; ``Flatten``, ``Dense(128)`` + ReLU (zero bias), batch
normalization, dropout 0.5, ``Dense(10)`` (zero bias); softmax cross-entropy on the logits;
``MomentumOptimizer(learning_rate=0.001, momentum=0.9)``, as the clean program. CIFAR-10 needs a download:
here, as in the other deepCNN ports, scikit-learn's 8x8 digits in [0, 1], one channel (N, 1, 8, 8), which
the 'same' convolutions and three poolings take down to 1x1 (``Flatten`` gives 64 features); 600 held out
for validation; batch 64 (its loaders batch the data themselves; the size is not in the program), 20 epochs
(380 steps).
Mechanism: a std of 0.25 is 3 to 4 times He's for the 3x3 convolutions over 32 and 64 channels (He: 0.083,
0.059). Batch normalization after each ReLU cancels the kernels' scale in the forward pass, but not in
the steps: a kernel k times larger gets gradients k times smaller, so each step turns it by 1/k^2 as much
(9 to 18 times less here) and momentum SGD at 0.001 crawls; the logits layer starts twice Glorot's scale.
SYMPTOM: the arbitrary initialization hinders learning: the accuracy stays well below the clean program's
(the benchmark's file states the intent, not a run; what the ported code shows is below).
FIX: the clean program's initialization: He-normal kernels for the convolutions and the hidden dense layer,
Glorot-uniform for the logits layer; the network (64 filters in the last pair), optimizer and data unchanged.
Run plainly (seeds 0, 1, 2): validation accuracy 0.602 / 0.673 / 0.682 (training loss, under the dropouts,
6.1-6.4 in the first epoch, still 2.57-2.58 in the twentieth and falling); fixed version 0.908 / 0.908 /
0.938 (training loss 3.5-3.6 to 0.50-0.59). Each run 13-23 seconds on one CPU thread, as the other deepCNN
ports.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/wrong_init/deepCNN_random.py (CIFAR-10 -> sklearn digits "
          "in [0, 1], 8x8, one channel)")
SYMPTOM = ("kernels drawn N(0, 0.25^2) instead of He-normal hinder learning: the accuracy stays well below "
           "the clean program's")
FIX = "the clean program's He-normal kernels (Glorot-uniform on the logits layer)"
SPLIT = "heldout"
ROUND = 15
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"underfitting", "exploding_gradients"})

N_VAL = 600
EPOCHS, BATCH = 20, 64
INIT_STD = 0.25


def _init(layer: nn.Module, bug: bool) -> None:
    if bug:
        nn.init.normal_(layer.weight, 0.0, INIT_STD)  # tf.random_normal_initializer(stddev=0.25)
    else:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # tf.initializers.he_normal()


def _unit(in_channels: int, out_channels: int, bug: bool) -> list[nn.Module]:
    """``tf.layers.conv2d(filters, 3x3, padding='same', relu, use_bias=False)`` and a batch normalization."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    _init(conv, bug)
    return [conv, nn.ReLU(), nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)]


def _program(seed: int, bug: bool) -> Program:
    x, y = rp.data.load_digits()
    images = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_train, y_train, x_val, y_val = split(images, y.astype(np.int64), seed, N_VAL)
    rp.manual_seed(seed)
    convs = [*_unit(1, 32, bug), *_unit(32, 32, bug), nn.MaxPool2d(2), nn.Dropout(0.2),
             *_unit(32, 64, bug), *_unit(64, 64, bug), nn.MaxPool2d(2), nn.Dropout(0.3),
             *_unit(64, 64, bug), *_unit(64, 64, bug), nn.MaxPool2d(2), nn.Dropout(0.4)]
    hidden = nn.Linear(64, 128)
    _init(hidden, bug)
    nn.init.zeros_(hidden.bias)
    head = nn.Linear(128, 10)
    if bug:
        nn.init.normal_(head.weight, 0.0, INIT_STD)
    else:
        nn.init.xavier_uniform_(head.weight)
    nn.init.zeros_(head.bias)
    model = nn.Sequential(*convs, nn.Flatten(), hidden, nn.ReLU(),
                          nn.BatchNorm1d(128, momentum=0.01, eps=1e-3), nn.Dropout(0.5), head)
    optimizer = rp.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, bug=True)


def fixed(seed: int) -> Program:
    return _program(seed, bug=False)
