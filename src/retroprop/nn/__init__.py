"""Layers, losses and initialization with PyTorch's names and semantics."""

from __future__ import annotations

from retroprop.nn import init, utils
from retroprop.nn.activation import (
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Softsign,
    Tanh,
)
from retroprop.nn.container import Sequential
from retroprop.nn.conv import Conv1d, Conv2d
from retroprop.nn.dropout import Dropout
from retroprop.nn.linear import Flatten, Identity, Linear
from retroprop.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from retroprop.nn.module import Module, RemovableHandle
from retroprop.nn.normalization import BatchNorm1d, Standardize
from retroprop.nn.parameter import Parameter
from retroprop.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)

LAYERS = {cls.__name__: cls for cls in (
    Linear, Flatten, Identity, ReLU, LeakyReLU, ELU, SELU, GELU, Sigmoid, Tanh, Softmax, LogSoftmax,
    BatchNorm1d, Standardize, Dropout, Sequential, Conv1d, Conv2d, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d,
    AdaptiveAvgPool1d, AdaptiveAvgPool2d,
    SiLU, Mish, Hardswish, Hardsigmoid, ReLU6, Hardtanh, Softsign, LogSigmoid, Softplus,
)}

__all__ = [
    "ELU", "GELU", "LAYERS", "SELU", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d",
    "BCEWithLogitsLoss", "BatchNorm1d", "Conv1d", "Conv2d", "CrossEntropyLoss", "Dropout", "Flatten",
    "Hardsigmoid", "Hardswish", "Hardtanh", "Identity", "LeakyReLU", "Linear", "LogSigmoid", "LogSoftmax",
    "MSELoss", "MaxPool1d", "MaxPool2d", "Mish", "Module", "NLLLoss", "Parameter", "ReLU", "ReLU6",
    "RemovableHandle", "Sequential", "SiLU", "Sigmoid", "Softmax", "Softplus", "Softsign", "Standardize",
    "Tanh", "init", "utils",
]
