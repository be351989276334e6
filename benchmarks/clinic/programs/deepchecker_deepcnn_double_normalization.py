"""TheDeepChecker synthetic fault double_normalization/deepCNN_dbl_norm: pixels divided by their range twice.

SOURCE: TheDeepChecker, buggy_synthetic_programs/double_normalization/deepCNN_dbl_norm.py
(https://github.com/thedeepchecker/thedeepchecker/tree/master/buggy_synthetic_programs/double_normalization),
derived from its clean program clean_base_programs/deepCNN.py. The fault, in the file's own note: APIs such
as ``tf.image.convert_image_dtype`` already scale images to [0, 1], so a user who also divides by 255 leaves
the data critically small; the file mimics it with a loader whose min-max normalization divides by the
range twice, ``((x - min) / range) / range``, for the training and the test images alike: CIFAR-10's 0-255
pixels end in [0, 1/255]. The network as this faulty file builds it: six 3x3 'same' convolutions without
biases, each followed by ReLU and then a batch normalization (TensorFlow's momentum 0.99, eps 1e-3:
``BatchNorm2d(momentum=0.01, eps=1e-3)`` here), 32, 32, 64, 64, 64, 64 filters (the clean program has 128 in
the last pair), ``he_uniform`` kernels; a 2x2 max-pooling and a dropout (0.2, 0.3, 0.4) after each pair;
``Flatten``, ``Dense(128)`` + ReLU (``he_uniform``, zero bias), batch normalization, dropout 0.5,
``Dense(10)`` (``he_uniform`` in this file, zero bias); softmax cross-entropy on the logits;
``MomentumOptimizer(learning_rate=0.001, momentum=0.9)``. CIFAR-10 needs a download: here, as in this
clinic's other deepCNN ports, scikit-learn's 8x8 digits as one-channel images (N, 1, 8, 8), first put on the
0-255 scale of raw pixels (times 255/16) so that the loader's two divisions by the range give the faulty
file's [0, 1/255]; the 'same' convolutions and three poolings take the images to 1x1 (``Flatten`` gives
64 features); 600 images held out for validation; batch 64 (DeepChecker's loaders batch the data
themselves; the size is not in the program); 20 epochs (380 steps). Nothing else is cut.
SYMPTOM: the file names the fault only (the data's magnitude critically low); what the ported code shows
is below.
FIX: the clean program's loader: one min-max normalization, pixels in [0, 1] (the faulty file's network and
optimizer unchanged).
Mechanism: the first convolution's outputs have a variance of a few 1e-6, far under the batch
normalization's eps of 1e-3, so the first normalization no longer normalizes: it shrinks the signal
about twentyfold, and the network learns slowly (seed 0: training accuracy, under the dropouts, 0.10 in
the first epoch and 0.76 in the twentieth). At validation the normalizations use their running
statistics, and the first one's running variance, started at 1 and moved 1 % a step toward a true
value of ~1e-6, is still 0.99^380 = 0.022 at the end of the run, 20 times the eps that set the scale in
training: the evaluated network sees its features at another scale and predicts at chance. (Evaluated
with batch statistics instead, seed 0's buggy network scores 0.73 on the validation images: the shrunk
signal alone costs 20 points against the fixed version.) On CIFAR-10, with hundreds of steps an epoch,
the running variance would settle within the first epochs; this short run keeps the stale estimate to
the end, so part of the gap below comes from it.
Run plainly (seeds 0, 1, 2): validation accuracy 0.085 / 0.098 / 0.128 (training loss, under the
dropouts, 3.61-3.65 in the first epoch, 0.67-0.73 in the twentieth; the epochs' validation accuracy never
above 0.13); fixed version 0.943 / 0.932 / 0.948 (training loss 3.57-3.75 to 0.52-0.53). Each run about
20 seconds on one CPU thread.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._qa_common import split

SOURCE = ("TheDeepChecker buggy_synthetic_programs/double_normalization/deepCNN_dbl_norm.py (CIFAR-10 -> "
          "sklearn digits on the 0-255 scale, 8x8, one channel)")
SYMPTOM = ("the loader divides the pixels by their range twice: the inputs are in [0, 1/255], critically "
           "small, and the VGG-like network learns less than the clean program")
FIX = "one min-max normalization of the pixels (the clean program's loader), inputs in [0, 1]"
SPLIT = "heldout"
ROUND = 19
EXPECTED = frozenset({"unscaled_inputs"})
ALLOWED = frozenset({"slow_convergence", "underfitting", "vanishing_gradients"})

N_VAL = 600
EPOCHS, BATCH = 20, 64


def _normalize(data: np.ndarray, twice: bool) -> np.ndarray:
    """The loader's homogeneous min-max normalization; the faulty loader divides by the range again."""
    low, spread = data.min(), data.max() - data.min()
    scaled = (data - low) / spread
    return (scaled / spread if twice else scaled).astype(np.float32)


def _block(in_channels: int, out_channels: int) -> list[nn.Module]:
    """``tf.layers.conv2d(filters, 3x3, padding='same', relu, use_bias=False)`` with a ``he_uniform`` kernel,
    then ``tf.layers.batch_normalization``."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
    return [conv, nn.ReLU(), nn.BatchNorm2d(out_channels, momentum=0.01, eps=1e-3)]


def _program(seed: int, twice: bool) -> Program:
    x, y = rp.data.load_digits()
    raw = (x * (255.0 / 16.0)).reshape(-1, 1, 8, 8)  # the 0-255 pixels the loader receives
    x_train, y_train, x_val, y_val = split(raw, y.astype(np.int64), seed, N_VAL)
    x_train, x_val = _normalize(x_train, twice), _normalize(x_val, twice)
    rp.manual_seed(seed)
    features = [*_block(1, 32), *_block(32, 32), nn.MaxPool2d(2), nn.Dropout(0.2),
                *_block(32, 64), *_block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.3),
                *_block(64, 64), *_block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.4)]
    hidden = nn.Linear(64, 128)
    nn.init.kaiming_uniform_(hidden.weight, nonlinearity="relu")
    nn.init.zeros_(hidden.bias)
    logits = nn.Linear(128, 10)
    nn.init.kaiming_uniform_(logits.weight, nonlinearity="relu")
    nn.init.zeros_(logits.bias)
    model = nn.Sequential(*features, nn.Flatten(), hidden, nn.ReLU(),
                          nn.BatchNorm1d(128, momentum=0.01, eps=1e-3), nn.Dropout(0.5), logits)
    optimizer = rp.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="cross_entropy", epochs=EPOCHS,
                   batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, twice=True)


def fixed(seed: int) -> Program:
    return _program(seed, twice=False)
