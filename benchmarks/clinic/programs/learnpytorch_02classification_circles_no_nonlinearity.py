"""Zero to Mastery "Learn PyTorch", notebook 02: three stacked Linear layers, no activation, on the circles.

SOURCE: Daniel Bourke, "02. PyTorch Neural Network Classification" (https://www.learnpytorch.io/
02_pytorch_classification/, the notebook ``02_pytorch_classification.ipynb`` of
github.com/mrdbourke/pytorch-deep-learning), section 5 "Improving a model (from a model perspective)" and
its cure in section 6 "The missing piece: non-linearity". The program: ``make_circles(1000, noise=0.03,
random_state=42)`` (two concentric rings, coordinates within about +-1, used as they come), split by
``train_test_split(test_size=0.2, random_state=42)`` into 800 training and 200 test points;
``CircleModelV1``: ``nn.Linear(2, 10)``, ``nn.Linear(10, 10)``, ``nn.Linear(10, 1)`` applied one after
another with nothing in between (PyTorch's default initialization); ``nn.BCEWithLogitsLoss()`` on the
squeezed logits; ``torch.optim.SGD(lr=0.1)``; 1,000 epochs, each one step on the whole training set;
accuracy = round(sigmoid(logit)) against the label, reported on the test set. Nothing is replaced
(scikit-learn draws the notebook's data and split) and nothing is cut; every seed trains on that draw, the
seed drawing the weights. The logits keep their (N, 1) shape against (N, 1) float targets, the same loss.
SYMPTOM: the notebook's run: "our model is still drawing a straight line between the red and blue dots":
loss stuck at 0.69 and test accuracy around 50 % after 1,000 epochs, no better than the two-layer model
before it, however many layers or units are added.
FIX: the notebook's cure, ``CircleModelV2``: the same three layers with ``nn.ReLU()`` after the first and
the second (``layer_3(relu(layer_2(relu(layer_1(x)))))``); data, loss, optimizer, learning rate and
epochs unchanged (the notebook reaches 79 % test accuracy at epoch 900).
The mechanism: a composition of affine maps is one affine map, so the three-layer model is a logistic
regression on (x1, x2) whatever its width: its decision boundary is a straight line, and no straight line
separates a ring from the ring inside it (the best one is at chance).
Run plainly (seeds 0, 1, 2): test accuracy 0.460 / 0.460 / 0.460 (training loss 0.70 -> 0.693 = ln 2 on
every seed); fixed version 0.990 / 0.900 / 0.955 (training loss 0.70 -> 0.08 / 0.58 / 0.21: the ReLU
model is still learning at 1,000 epochs on seed 1, as the notebook's is). Each run under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.tensor import Tensor

from . import Program

SOURCE = ("https://www.learnpytorch.io/02_pytorch_classification/ (mrdbourke/pytorch-deep-learning, "
          "02_pytorch_classification.ipynb: CircleModelV1, sections 5-6; data generated as there: sklearn "
          "make_circles, random_state=42)")
SYMPTOM = ("three stacked Linear layers without activations: the model draws a straight line through the "
           "circles, loss ~0.69 and test accuracy ~50 % after 1,000 epochs")
FIX = "CircleModelV2: nn.ReLU() after the first and second Linear layers (the notebook's cure)"
SPLIT = "heldout"
ROUND = 20
EXPECTED = frozenset({"missing_nonlinearity"})
ALLOWED = frozenset({"underfitting"})

EPOCHS, LR = 1000, 0.1


class CircleModelV1(nn.Module):
    """The notebook's three Linear layers applied one after another, nothing in between."""

    def __init__(self) -> None:
        super().__init__()
        self.layer_1 = nn.Linear(2, 10)
        self.layer_2 = nn.Linear(10, 10)
        self.layer_3 = nn.Linear(10, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.layer_3(self.layer_2(self.layer_1(x)))


class CircleModelV2(CircleModelV1):
    """The cure: the same layers with a ReLU after the first and the second."""

    def __init__(self) -> None:
        super().__init__()
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.layer_3(self.relu(self.layer_2(self.relu(self.layer_1(x)))))


def _program(seed: int, model_class: type[CircleModelV1]) -> Program:
    from sklearn.datasets import make_circles
    from sklearn.model_selection import train_test_split

    x, y = make_circles(1000, noise=0.03, random_state=42)
    x_train, x_test, y_train, y_test = train_test_split(x.astype(np.float32), y.astype(np.float32),
                                                        test_size=0.2, random_state=42)
    rp.manual_seed(seed)
    model = model_class()
    optimizer = rp.optim.SGD(model.parameters(), lr=LR)
    return Program(model, optimizer, x_train, y_train.reshape(-1, 1), x_test, y_test.reshape(-1, 1),
                   loss="bce_with_logits", epochs=EPOCHS, batch_size=len(x_train),
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, CircleModelV1)


def fixed(seed: int) -> Program:
    return _program(seed, CircleModelV2)
