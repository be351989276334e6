"""retroprop: backpropagation you can watch.

A reverse-mode autodiff engine on NumPy, the layers and training loop built on it, and a doctor
that names vanishing gradients, exploding gradients and dead ReLUs as they happen.
"""

from __future__ import annotations

import numpy as np

from retroprop import callbacks, data, functional, nn, optim
from retroprop import functional as F
from retroprop.doctor import Doctor
from retroprop.factories import (
    arange,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from retroprop.history import History
from retroprop.ops import concatenate, maximum, minimum, stack, where
from retroprop.random import default_generator, manual_seed
from retroprop.run_record import RunRecord
from retroprop.serialization import load, load_checkpoint, load_state_dict, save, save_checkpoint
from retroprop.tensor import (
    DEFAULT_DTYPE,
    Function,
    ModifiedInPlaceError,
    ShapeError,
    Size,
    Tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    sum_to_shape,
)
from retroprop.threads import get_num_threads, set_num_threads
from retroprop.training import evaluate, fit, predict

__version__ = "0.1.0"

float16 = np.float16
float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64
bool_ = np.bool_

__all__ = [
    "DEFAULT_DTYPE",
    "Doctor",
    "F",
    "Function",
    "History",
    "ModifiedInPlaceError",
    "RunRecord",
    "ShapeError",
    "Size",
    "Tensor",
    "__version__",
    "arange",
    "bool_",
    "callbacks",
    "concatenate",
    "data",
    "default_generator",
    "enable_grad",
    "evaluate",
    "fit",
    "float16",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "functional",
    "get_num_threads",
    "int32",
    "int64",
    "is_grad_enabled",
    "load",
    "load_checkpoint",
    "load_state_dict",
    "manual_seed",
    "maximum",
    "minimum",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "predict",
    "rand",
    "randn",
    "save",
    "save_checkpoint",
    "set_grad_enabled",
    "set_num_threads",
    "stack",
    "sum_to_shape",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]
