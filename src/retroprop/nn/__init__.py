"""Layers, losses and initialization with PyTorch's names and semantics."""

from __future__ import annotations

from retroprop.nn import init, utils
from retroprop.nn.activation import ELU, GELU, SELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from retroprop.nn.container import Sequential
from retroprop.nn.dropout import Dropout
from retroprop.nn.linear import Flatten, Identity, Linear
from retroprop.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from retroprop.nn.module import Module, RemovableHandle
from retroprop.nn.normalization import BatchNorm1d, Standardize
from retroprop.nn.parameter import Parameter

LAYERS = {cls.__name__: cls for cls in (
    Linear, Flatten, Identity, ReLU, LeakyReLU, ELU, SELU, GELU, Sigmoid, Tanh, Softmax, LogSoftmax,
    BatchNorm1d, Standardize, Dropout, Sequential,
)}

__all__ = [
    "ELU", "GELU", "LAYERS", "SELU", "BCEWithLogitsLoss", "BatchNorm1d", "CrossEntropyLoss", "Dropout",
    "Flatten", "Identity", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module", "NLLLoss",
    "Parameter", "ReLU", "RemovableHandle", "Sequential", "Sigmoid", "Softmax", "Standardize", "Tanh", "init",
    "utils",
]
