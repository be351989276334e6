"""Brownlee's model-capacity tutorial: one ReLU node in the hidden layer for 20 blob classes.

SOURCE: Jason Brownlee, "How to Control Neural Network Model Capacity With Nodes and Layers"
(machinelearningmastery.com/how-to-control-neural-network-model-capacity-with-nodes-and-layers/; the
same programs are mirrored on GitHub, e.g. the book "Better Deep Learning"'s code and its Chinese
translation). The tutorial's node study, smallest configuration: ``make_blobs(n_samples=1000, centers=20,
n_features=100, cluster_std=2, random_state=2)`` (raw coordinates, centres drawn in [-10, 10]), one-hot
labels, the first 500 samples for training and the other 500 for testing; ``Dense(n_nodes,
activation='relu', kernel_initializer='he_uniform')`` with ``n_nodes = 1``, then ``Dense(20,
activation='softmax')`` (Glorot-uniform, zero biases); categorical cross-entropy; ``SGD(lr=0.01,
momentum=0.9)``; Keras's default batch 32 (shuffled); 100 epochs. Nothing is cut. Seed ``s`` draws the
blobs with ``random_state = 2 + s`` (seed 0 is the tutorial's draw). Keras's softmax under categorical
cross-entropy is the logits form here (``cross_entropy``), the same function.
SYMPTOM: test accuracy 0.138 with one node (0.380 with two, 0.582 with three; 1.000 from six nodes on);
the training loss of the small models stays high: the model lacks the capacity to learn the mapping.
Mechanism: the 20 classes must be read off one non-negative number, so at best a few classes are
separated along one direction of the 100 inputs (and the single unit may go silent for part of the data).
FIX: a hidden layer of 10 nodes, the width the tutorial then uses "to ensure the model has enough
capacity in one layer" (same data, optimizer, batch and epochs; its one-layer model of 10 nodes reached
1.000).
Run plainly (seeds 0, 1, 2): validation accuracy 0.180 / 0.154 / 0.146 (training loss 2.92 -> 2.32,
3.09 -> 2.35, 3.14 -> 2.38 over the 100 epochs, against ln 20 = 3.00 for a blind guess; training accuracy
0.18-0.20); fixed version 1.000 / 1.000 / 1.000 (training loss below 0.001). Each run under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("machinelearningmastery.com/how-to-control-neural-network-model-capacity-with-nodes-and-layers "
          "(the tutorial's one-node model; data generated as there, sklearn make_blobs)")
SYMPTOM = "test accuracy 0.138 with one hidden node for 20 classes; the training loss stays high"
FIX = "10 hidden nodes, the width the tutorial uses to give one layer enough capacity"
SPLIT = "heldout"
ROUND = 11
EXPECTED = frozenset({"underfitting"})
ALLOWED = frozenset({"dead_relu", "slow_convergence", "unscaled_inputs"})

N_TRAIN = 500
EPOCHS = 100


def _program(seed: int, nodes: int) -> Program:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1000, centers=20, n_features=100, cluster_std=2, random_state=2 + seed)
    x = x.astype(np.float32)
    y = y.astype(np.int64)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(100, nodes, "he_uniform"), nn.ReLU(), dense(nodes, 20))  # softmax in the loss
    optimizer = rp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return Program(model, optimizer, x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:], loss="cross_entropy",
                   epochs=EPOCHS, batch_size=32, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, nodes=1)


def fixed(seed: int) -> Program:
    return _program(seed, nodes=10)
