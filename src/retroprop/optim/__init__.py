"""Optimizers and learning-rate schedulers, with PyTorch's semantics and defaults.

``SGD``, ``Adam``, ``AdamW``, ``RMSprop`` and ``Adagrad`` update ``p.data`` of each parameter in
place from ``p.grad`` (parameters whose ``grad`` is None are skipped). ``lr_scheduler`` holds
``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, ``LinearLR`` and ``ReduceLROnPlateau``.
"""

from __future__ import annotations

from retroprop.optim import lr_scheduler
from retroprop.optim.adagrad import Adagrad
from retroprop.optim.adam import Adam, AdamW
from retroprop.optim.optimizer import Optimizer
from retroprop.optim.rmsprop import RMSprop
from retroprop.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
