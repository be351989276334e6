"""Layers, losses and initialization with PyTorch's names and semantics."""

from __future__ import annotations

import sys

from retroprop import functional as _functional
from retroprop.architecture import LAYER_ARGUMENTS as _LAYER_ARGUMENTS
from retroprop.nn import activation, conv, init, loss, normalization, pooling, sparse, upsampling, utils
from retroprop.nn.activation import *  # noqa: F403 - each submodule's __all__
from retroprop.nn.container import Sequential
from retroprop.nn.conv import *  # noqa: F403
from retroprop.nn.dropout import Dropout
from retroprop.nn.linear import Flatten, Identity, Linear
from retroprop.nn.loss import *  # noqa: F403
from retroprop.nn.module import Module, RemovableHandle
from retroprop.nn.normalization import *  # noqa: F403
from retroprop.nn.parameter import Parameter
from retroprop.nn.pooling import *  # noqa: F403
from retroprop.nn.sparse import *  # noqa: F403
from retroprop.nn.upsampling import *  # noqa: F403

# torch.nn.functional's place: retroprop.nn.functional is retroprop.functional (import it either way)
functional = _functional
sys.modules[__name__ + ".functional"] = _functional

# the layers a saved architecture may name: those retroprop.architecture knows the arguments of
LAYERS = {name: globals()[name] for name in _LAYER_ARGUMENTS}
if "Sequential" not in LAYERS:
    LAYERS["Sequential"] = Sequential

__all__ = [
    "LAYERS",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "Module",
    "Parameter",
    "RemovableHandle",
    "Sequential",
    "functional",
    "init",
    "utils",
]
__all__ += activation.__all__
__all__ += conv.__all__
__all__ += loss.__all__
__all__ += normalization.__all__
__all__ += pooling.__all__
__all__ += sparse.__all__
__all__ += upsampling.__all__
