"""Cross Validated: TensorFlow's basic image-classification tutorial without dividing the pixels by 255.

SOURCE:
https://stats.stackexchange.com/questions/372762/why-normalize-when-all-features-are-on-the-same-scale
("Why normalize when all features are on the same scale?"). The TensorFlow basic-classification
tutorial: 28x28 images flattened, ``Dense(128, relu)``, ``Dense(10, softmax)``, Adam (lr 0.001), sparse
categorical cross-entropy, batch 32, 5 epochs; the asker skips the tutorial's ``/ 255`` and reports
accuracy falling from over 85 % to 10 %. Fashion-MNIST (needs a download) is replaced by scikit-learn's
digits enlarged to 28x28 (784 inputs) at MNIST's raw 0-255 scale (values 0-16 times 16).
SYMPTOM: accuracy near chance (10 %) without the scaling, over 85 % with it.
FIX: scale the pixels to [0, 1] (divide by 255), as the tutorial does.

NOT REPRODUCED on this data: the raw-pixel run starts at a loss of 31-41 (against 2.1-2.2) and ends with a
validation loss 3-5x the scaled run's (2.0-3.2 against 0.56-0.63, seeds 0-2), but its accuracy (0.918-0.953,
against 0.892-0.917) is not at chance: the digits are far easier than Fashion-MNIST.
"""

from __future__ import annotations

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import dense, digits_784

SOURCE = "https://stats.stackexchange.com/questions/372762 (Fashion-MNIST -> sklearn digits at 0-255, 28x28)"
SYMPTOM = "accuracy about 10 % without dividing the pixels by 255"
FIX = "divide the pixels by 255"
SPLIT = "dev"
EXPECTED = ["unscaled_inputs"]
ALLOWED = ["exploding_gradients", "dead_relu", "unstable_loss", "overfitting", "slow_convergence",
           "underfitting"]


def _program(seed: int, buggy: bool) -> Program:
    x_train, y_train, x_val, y_val = digits_784(seed, 16.0 if buggy else 1.0)
    if not buggy:
        x_train, x_val = x_train / 255.0, x_val / 255.0
    rp.manual_seed(seed)
    model = nn.Sequential(dense(784, 128), nn.ReLU(), dense(128, 10))
    return Program(model, rp.optim.Adam(model.parameters(), lr=0.001), x_train, y_train, x_val, y_val,
                   loss="cross_entropy", epochs=5, batch_size=32)


def buggy(seed: int) -> Program:
    return _program(seed, buggy=True)


def fixed(seed: int) -> Program:
    return _program(seed, buggy=False)
