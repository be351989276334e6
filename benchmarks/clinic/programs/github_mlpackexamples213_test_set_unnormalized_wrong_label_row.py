"""mlpack/examples PR #213: mnist_simple scores its test set raw (0-255), its labels read from the wrong row.

SOURCE: https://github.com/mlpack/examples/pull/213 ("Apply the same preprocessing to the test set as to
the training set"), on ``mnist_simple/mnist_simple.cpp`` as it stood before the fix (the parent of
commit 61fbdf4), fixed by that commit. The program: the Kaggle digit-recognizer CSVs (a label, then 784
pixels, one column per image once loaded); the training file is split 90/10 into training and
validation parts, both divided by 255; ``FFN<NegativeLogLikelihood, GlorotInitialization>`` with
``Linear(200)``, ReLU, ``Linear(100)``, ReLU, ``Dropout(0.2)``, ``Linear(10)``, ``LogSoftMax``; ens::Adam
(step 5e-3, batch 64, beta1 0.9, beta2 0.999, epsilon 1e-8); up to 50 epochs with ``EarlyStopAtMinLoss``
on the validation part and ``StoreBestCoordinates``. mlpack's ``GlorotInitialization`` is the Gaussian
one, drawn per layer over the layer's whole parameter column (weights and biases together): variance
2 / (parameter count + 1) (``init_rules/network_init.hpp``, ``glorot_init.hpp``). After training, the
test file is loaded and scored: ``testY = dataset.row(dataset.n_rows - 1)`` and
``dataset.shed_row(dataset.n_rows - 1)``: the last pixel (always 0 on MNIST's border) becomes every test
label, the true label stays in as the first input, the pixels move one input along, and nothing divides
the test pixels by 255. MNIST needs a download: here scikit-learn's 8x8 digits enlarged to 28x28 (784
pixels on the 0-255 scale, the corner pixel 0 as in MNIST); 600 of them are the test file (the
validation data here: what the program scores), the other 1,197 the training file, split 90/10 as the
program does. LogSoftMax with NegativeLogLikelihood is ``cross_entropy`` on the logits (the same
function). Cut: 20 epochs, and the early-stopping callback with its best-weights store is left out (it
reads only the program's own validation part, which stays split off unused).
SYMPTOM: training and validation accuracy look fine, the test accuracy is "atrocious (9%!)".
FIX: the PR's commit 61fbdf4: the labels are row 0 (``testY = dataset.row(0)``, ``shed_row(0)``) and the
test pixels are divided by 255 as the training pixels are; the network and the training are unchanged.
The training run is the same in both versions (training loss 1.58-1.67 -> 0.01-0.08, training accuracy
0.97-1.00); only what it is scored on differs.
Run plainly (seeds 0, 1, 2): validation (test-file) accuracy 0.078 / 0.097 / 0.098, the share of test images
the network, fed raw shifted pixels, happens to call 0 (validation loss 3,750-4,320); fixed version 0.960 /
0.968 / 0.945. Each run about a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = ("https://github.com/mlpack/examples/pull/213 (mnist_simple/mnist_simple.cpp before commit 61fbdf4; "
          "fix: commit 61fbdf4); Kaggle MNIST CSVs -> sklearn digits enlarged to 28x28, 0-255")
SYMPTOM = "training and validation accuracy are fine, the test accuracy is 9%"
FIX = ("commit 61fbdf4: read the test labels from row 0 and divide the test pixels by 255, as for the "
       "training data")
SPLIT = "heldout"
ROUND = 15
EXPECTED = frozenset({"validation_mismatch"})
ALLOWED = frozenset({"overfitting"})

N_TEST, RATIO = 600, 0.1
H1, H2, STEP_SIZE, BATCH, EPOCHS = 200, 100, 5e-3, 64, 20


def _csv_rows(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The two CSV files as rows of [label, 784 pixels on 0-255]: the training file and the test file."""
    x, y = rp.data.load_digits()
    images = np.kron(x.reshape(-1, 8, 8), np.ones((1, 3, 3), dtype=np.float32))
    pixels = (np.pad(images, ((0, 0), (2, 2), (2, 2))).reshape(len(x), 784) * 16).clip(0, 255)
    rows = np.concatenate([y.reshape(-1, 1).astype(np.float32), pixels.astype(np.float32)], axis=1)
    order = np.random.default_rng(seed).permutation(len(rows))
    return rows[order[N_TEST:]], rows[order[:N_TEST]]


def _glorot_layer(n_in: int, n_out: int) -> nn.Linear:
    """mlpack's Linear under GlorotInitialization: weights and bias drawn together, N(0, 2 / (count + 1))."""
    layer = nn.Linear(n_in, n_out)
    std = float(np.sqrt(2.0 / (n_in * n_out + n_out + 1)))
    nn.init.normal_(layer.weight, 0.0, std)
    nn.init.normal_(layer.bias, 0.0, std)
    return layer


def _program(seed: int, fixed_test: bool) -> Program:
    train_file, test_file = _csv_rows(seed)
    n_valid = round(RATIO * len(train_file))  # data::Split's validation part, read only by early stopping
    train = train_file[n_valid:]
    x_train, y_train = train[:, 1:] / 255.0, train[:, 0].astype(np.int64)
    if fixed_test:
        x_test, y_test = test_file[:, 1:] / 255.0, test_file[:, 0].astype(np.int64)
    else:  # testY = last row (the last pixel); shed it; no / 255
        x_test, y_test = test_file[:, :-1], test_file[:, -1].astype(np.int64)
    rp.manual_seed(seed)
    # LogSoftMax + NegativeLogLikelihood: in the loss
    model = nn.Sequential(_glorot_layer(784, H1), nn.ReLU(), _glorot_layer(H1, H2), nn.ReLU(),
                          nn.Dropout(0.2), _glorot_layer(H2, 10))
    optimizer = rp.optim.Adam(model.parameters(), lr=STEP_SIZE, betas=(0.9, 0.999), eps=1e-8)
    return Program(model, optimizer, x_train.astype(np.float32), y_train, x_test.astype(np.float32), y_test,
                   loss="cross_entropy", epochs=EPOCHS, batch_size=BATCH, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, fixed_test=False)


def fixed(seed: int) -> Program:
    return _program(seed, fixed_test=True)
