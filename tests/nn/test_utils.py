"""nn.utils.clip_grad_norm_ and clip_grad_value_ (numbers against torch in test_torch_parity_nn)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.nn.utils import clip_grad_norm_, clip_grad_value_


def _params(*grads, dtype=np.float64):
    out = []
    for g in grads:
        p = nn.Parameter(np.zeros(np.shape(g), dtype=dtype))
        p.grad = None if g is None else np.array(g, dtype=dtype)
        out.append(p)
    return out


def test_returns_global_norm_before_clipping_and_scales():
    params = _params([3.0, 0.0], [[4.0]])
    total = clip_grad_norm_(params, max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(params[0].grad, [3 / (5 + 1e-6), 0.0])
    np.testing.assert_allclose(params[1].grad, [[4 / (5 + 1e-6)]])
    new_norm = math.sqrt(sum(float((p.grad**2).sum()) for p in params))
    assert new_norm == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize(("norm_type", "expected"), [(2, 5.0), (1, 7.0), (float("inf"), 4.0),
                                                      ("inf", 4.0), (3, (27 + 64) ** (1 / 3))])
def test_norm_types(norm_type, expected):
    params = _params([3.0], [-4.0])
    assert clip_grad_norm_(params, max_norm=100.0, norm_type=norm_type) == pytest.approx(expected)


def test_no_change_when_under_max():
    params = _params([0.3, -0.4])
    grad = params[0].grad
    before = grad.numpy().copy()
    assert clip_grad_norm_(params, max_norm=1.0) == pytest.approx(0.5)
    assert params[0].grad is grad
    np.testing.assert_array_equal(grad, before)


def test_clipping_is_in_place_and_keeps_dtype():
    params = _params([30.0, 40.0], dtype=np.float32)
    grad = params[0].grad
    clip_grad_norm_(params, max_norm=5.0)
    assert params[0].grad is grad and grad.dtype == np.float32
    np.testing.assert_allclose(grad, [3.0, 4.0], rtol=1e-5)


def test_params_without_grad_are_ignored():
    params = _params([3.0, 4.0], None)
    assert clip_grad_norm_(params, max_norm=1.0) == pytest.approx(5.0)
    assert params[1].grad is None
    assert clip_grad_norm_(_params(None, None), max_norm=1.0) == 0.0


def test_accepts_a_single_tensor_and_a_generator():
    (p,) = _params([6.0, 8.0])
    assert clip_grad_norm_(p, 5.0) == pytest.approx(10.0)
    np.testing.assert_allclose(p.grad, [3.0, 4.0], rtol=1e-6)
    model = nn.Linear(3, 2)
    model(rp.randn(4, 3)).sum().backward()
    total = math.sqrt(sum(float((q.grad.astype(np.float64) ** 2).sum()) for q in model.parameters()))
    assert clip_grad_norm_(model.parameters(), 1e9) == pytest.approx(total, rel=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_error_if_nonfinite(bad, norm_type):
    params = _params([bad, 1.0])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        clip_grad_norm_(params, 1.0, norm_type=norm_type, error_if_nonfinite=True)


def _nonfinite_param(bad):
    return bad


@pytest.mark.parametrize("bad", [_nonfinite_param(np.nan), _nonfinite_param(np.inf)])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_nonfinite_norm_is_returned_when_not_an_error(bad, norm_type):
    total = clip_grad_norm_(_params([bad, 1.0]), 1.0, norm_type=norm_type)
    assert not math.isfinite(total)


def test_error_if_nonfinite_inf_norm_nan_in_later_parameter():
    params = _params([1.0], [np.nan])
    with pytest.raises(RuntimeError):
        clip_grad_norm_(params, 1.0, norm_type=float("inf"), error_if_nonfinite=True)


def test_negative_max_norm_rejected():
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_(_params([1.0]), -1.0)


def test_clip_grad_value_clamps_in_place():
    params = _params([-3.0, 0.5, 2.0], None, [[10.0, -0.1]])
    grad = params[0].grad
    assert clip_grad_value_(params, 1.0) is None
    assert params[0].grad is grad
    np.testing.assert_array_equal(grad, [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(params[2].grad, [[1.0, -0.1]])
    assert params[1].grad is None


def test_clip_grad_value_single_tensor_and_negative():
    (p,) = _params([5.0, -5.0])
    clip_grad_value_(p, 2.0)
    np.testing.assert_array_equal(p.grad, [2.0, -2.0])
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_(p, -1.0)
