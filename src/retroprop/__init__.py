"""retroprop: backpropagation you can watch.

A reverse-mode autodiff engine on NumPy, the layers and training loop built on it, and a doctor
that names vanishing gradients, exploding gradients and dead ReLUs as they happen.
"""

from __future__ import annotations

import builtins as _builtins

import numpy as np

from retroprop import arithmetic as _arithmetic
from retroprop import autograd, callbacks, data, functional, nn, optim
from retroprop import einsum as _einsum
from retroprop import elementwise as _elementwise
from retroprop import functional as F
from retroprop import selection as _selection
from retroprop import shaping as _shaping
from retroprop.arithmetic import *  # noqa: F403 - add, div, mm, rp.sum, ... (arithmetic.__all__)
from retroprop.devices import (
    DeviceError,
    accelerator,
    backends,
    cuda,
    device,
    get_default_device,
    set_default_device,
)
from retroprop.doctor import Doctor
from retroprop.einsum import *  # noqa: F403 - einsum
from retroprop.elementwise import *  # noqa: F403 - rp.sin, rp.exp, rp.atan2, ... (elementwise.__all__)
from retroprop.factories import (
    FactoryError,
    Generator,
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from retroprop.history import History
from retroprop.ops import maximum, minimum, stack, where
from retroprop.random import default_generator, manual_seed
from retroprop.run_record import RunRecord
from retroprop.selection import *  # noqa: F403 - gather, sort, topk, cumsum, ... (selection.__all__)
from retroprop.serialization import load, load_checkpoint, load_state_dict, save, save_checkpoint
from retroprop.shaping import *  # noqa: F403 - repeat, split, rp.sum, rp.matmul, ... (shaping.__all__)
from retroprop.tensor import (
    DEFAULT_DTYPE,
    CastError,
    Function,
    GradDtypeError,
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
# torch's dtype names (rp.float is float32, rp.int int32, rp.long int64); from here on in this file
# float, int and bool are these, not Python's
float, double, half, long, uint8 = np.float32, np.float64, np.float16, np.int64, np.uint8
int, bool = np.int32, np.bool_

__all__ = [
    "DEFAULT_DTYPE",
    "CastError",
    "DeviceError",
    "Doctor",
    "F",
    "FactoryError",
    "Function",
    "Generator",
    "GradDtypeError",
    "History",
    "ModifiedInPlaceError",
    "RunRecord",
    "ShapeError",
    "Size",
    "Tensor",
    "__version__",
    "accelerator",
    "arange",
    "as_tensor",
    "autograd",
    "backends",
    "bool_",
    "callbacks",
    "cuda",
    "data",
    "default_generator",
    "device",
    "double",
    "empty",
    "empty_like",
    "enable_grad",
    "evaluate",
    "eye",
    "fit",
    "float16",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "functional",
    "get_default_device",
    "get_num_threads",
    "half",
    "int32",
    "int64",
    "is_grad_enabled",
    "linspace",
    "load",
    "load_checkpoint",
    "load_state_dict",
    "logspace",
    "long",
    "manual_seed",
    "maximum",
    "minimum",
    "nn",
    "no_grad",
    "normal",
    "ones",
    "ones_like",
    "optim",
    "predict",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "save",
    "save_checkpoint",
    "set_default_device",
    "set_grad_enabled",
    "set_num_threads",
    "stack",
    "sum_to_shape",
    "tensor",
    "uint8",
    "where",
    "zeros",
    "zeros_like",
]
# the op modules' names too, but for those that would hide Python's builtins (abs, round, sum, all, ...)
# under a star import, as the dtype aliases float, int and bool are left out above
__all__ += sorted({name for module in (_arithmetic, _einsum, _elementwise, _selection, _shaping)
                   for name in module.__all__ if name not in __all__ and not hasattr(_builtins, name)})
