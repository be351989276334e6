"""The array-module hook."""

from __future__ import annotations

import numpy as np
import scipy.special

from retroprop.backend import array_module, is_array, special_module


def test_numpy_arrays_and_scalars_use_numpy():
    assert array_module(np.ones(2)) is np
    assert array_module(1.0, np.ones(2), None) is np
    assert special_module(np) is scipy.special
    assert is_array(np.ones(())) and not is_array(np.float64(1.0)) and not is_array(1.0)
