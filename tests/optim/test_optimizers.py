"""Optimizers: parity with torch.optim step by step, state_dict round trips, validation, zero_grad.

The parity tests feed retroprop and torch the same parameters and the same gradient sequence (a
0-d parameter among them, one parameter whose gradient is None on some steps, another that gets
its first gradient late) and compare every parameter after every step.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import F, optim

SHAPES = [(3, 4), (5,), (), (2, 1, 3)]
STEPS = 50
TOL = {np.float64: {"rtol": 1e-10, "atol": 1e-12}, np.float32: {"rtol": 1e-5, "atol": 1e-6}}


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def make_arrays(dtype: Any, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]


def grad_sequence(dtype: Any, steps: int = STEPS, seed: int = 1) -> list[list[np.ndarray | None]]:
    """Random gradients; the 0-d parameter (2) has none on every third step, parameter 3 none on
    the first two steps (so its state starts late)."""
    rng = np.random.default_rng(seed)
    sequence = []
    for t in range(steps):
        grads: list[np.ndarray | None] = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
        if t % 3 == 1:
            grads[2] = None
        if t < 2:
            grads[3] = None
        sequence.append(grads)
    return sequence


def make_params(arrays: list[np.ndarray]) -> list[rp.Tensor]:
    return [rp.tensor(a.copy(), requires_grad=True) for a in arrays]


def two_groups(params: list[Any], **first: Any) -> list[dict[str, Any]]:
    return [{"params": params[:2], **first}, {"params": params[2:]}]


def feed(params: list[Any], grads: list[np.ndarray | None], to_grad: Any = None) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = None if g is None else (to_grad(g.copy()) if to_grad else g.copy())


def run(opt: optim.Optimizer, params: list[rp.Tensor], sequence: list[list[np.ndarray | None]]) -> None:
    for grads in sequence:
        feed(params, grads)
        opt.step()


def assert_nested_equal(a: Any, b: Any) -> None:
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_nested_equal(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_nested_equal(x, y)
    else:
        assert a == b


# ---------------------------------------------------------------------------------------------
# Parity with torch
# ---------------------------------------------------------------------------------------------
OPTIMIZERS = {"SGD": optim.SGD, "Adam": optim.Adam, "AdamW": optim.AdamW, "RMSprop": optim.RMSprop,
              "Adagrad": optim.Adagrad}

# (optimizer, options for every group, options for the first of two groups or None for one group)
CASES = [
    ("SGD", {}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.3}, None),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "dampening": 0.5, "weight_decay": 0.2, "maximize": True}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01, "maximize": True},
     None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.01, "nesterov": True}),
    ("Adam", {}, None),
    ("Adam", {"lr": 0.01, "amsgrad": True}, None),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}, None),
    ("Adam", {"lr": 0.01, "maximize": True}, None),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.9), "eps": 1e-6, "amsgrad": True, "weight_decay": 0.05,
              "maximize": True}, None),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, None),
    ("Adam", {"lr": 0.01}, {"lr": 0.1, "amsgrad": True, "betas": (0.5, 0.6)}),
    ("AdamW", {}, None),
    ("AdamW", {"lr": 0.01, "amsgrad": True}, None),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}, None),
    ("AdamW", {"lr": 0.01}, {"lr": 0.05, "weight_decay": 0.3}),
    ("RMSprop", {}, None),
    ("RMSprop", {"centered": True}, None),
    ("RMSprop", {"momentum": 0.9}, None),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "centered": True, "momentum": 0.5,
                 "weight_decay": 0.1}, None),
    ("RMSprop", {"maximize": True, "weight_decay": 0.01}, None),
    ("RMSprop", {"lr": 0.01}, {"lr": 0.001, "centered": True, "momentum": 0.8}),
    ("Adagrad", {}, None),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}, None),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.1}, None),
    ("Adagrad", {"lr": 0.1, "maximize": True, "eps": 1e-5, "lr_decay": 0.1}, None),
    ("Adagrad", {"lr": 0.1}, {"lr": 0.5, "lr_decay": 0.05}),
]

# One rich configuration per optimizer, for float32.
F32_CASES = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, None),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}, None),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.001}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5}, None),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}, None),
]


def _case_id(case: tuple[str, dict[str, Any], dict[str, Any] | None]) -> str:
    name, options, first = case
    text = ",".join(f"{k}={v}" for k, v in options.items()) or "defaults"
    return f"{name}[{text}]" + (f"+group[{','.join(f'{k}={v}' for k, v in first.items())}]"
                                if first is not None else "")


def _check_parity(name: str, options: dict[str, Any], first: dict[str, Any] | None, dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    arrays = make_arrays(dtype)
    sequence = grad_sequence(dtype)
    params = make_params(arrays)
    held = [p.data for p in params]
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]

    def groups(ps: list[Any]) -> Any:
        return ps if first is None else two_groups(ps, **first)

    opt = OPTIMIZERS[name](groups(params), **options)
    topt = getattr(torch.optim, name)(groups(tparams), foreach=False, **options)
    for t, grads in enumerate(sequence):
        feed(params, grads)
        feed(tparams, grads, torch.from_numpy)
        opt.step()
        topt.step()
        for i, (p, tp, g) in enumerate(zip(params, tparams, grads, strict=True)):
            assert p.data is held[i] and p.data.dtype == dtype
            np.testing.assert_allclose(p.data, tp.detach().numpy(), **TOL[dtype],
                                       err_msg=f"{name} {options}: parameter {i} after step {t + 1}")
            if g is not None:  # the gradient is never modified
                np.testing.assert_array_equal(p.grad, g)
    for p, tp in zip(params, tparams, strict=True):  # state arrays in the parameter's dtype, as torch
        state, tstate = opt.state.get(p, {}), topt.state.get(tp, {})
        arrays_state = {k for k, v in state.items() if isinstance(v, np.ndarray)}
        assert arrays_state == {k for k, v in tstate.items() if k != "step"}
        for key in arrays_state:
            assert state[key].dtype == dtype
            np.testing.assert_allclose(state[key], tstate[key].numpy(), **TOL[dtype])
        if "step" in tstate:
            assert state["step"] == int(tstate["step"].item())


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_torch_float64(case: tuple[str, dict[str, Any], dict[str, Any] | None]) -> None:
    _check_parity(*case, np.float64)


@pytest.mark.torch
@pytest.mark.parametrize("case", F32_CASES, ids=_case_id)
def test_matches_torch_float32(case: tuple[str, dict[str, Any], dict[str, Any] | None]) -> None:
    _check_parity(*case, np.float32)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_defaults_match_torch(name: str) -> None:
    torch = pytest.importorskip("torch")
    ours = OPTIMIZERS[name]([rp.tensor(np.zeros(2), requires_grad=True)]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
    for key, value in ours.items():
        assert theirs[key] == value, (key, value, theirs[key])


# ---------------------------------------------------------------------------------------------
# state_dict
# ---------------------------------------------------------------------------------------------
ROUND_TRIP = [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (optim.SGD, {"lr": 0.1}),
    (optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    (optim.AdamW, {"lr": 0.01}),
    (optim.RMSprop, {"centered": True, "momentum": 0.5}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.2}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("cls", "options"), ROUND_TRIP, ids=lambda x: getattr(x, "__name__", ""))
def test_state_dict_round_trip(cls: type[optim.Optimizer], options: dict[str, Any], dtype: Any) -> None:
    sequence = grad_sequence(dtype, steps=20)
    params = make_params(make_arrays(dtype))
    opt = cls(two_groups(params, lr=0.03), **options)
    run(opt, params, sequence[:10])
    saved = opt.state_dict()
    snapshot = copy.deepcopy(saved)
    at_10 = [p.data.copy() for p in params]
    run(opt, params, sequence[10:])
    assert_nested_equal(saved, snapshot)  # later steps leave the saved state alone

    # A fresh optimizer with default options: the state dict brings the options with it.
    fresh = make_params(at_10)
    restored = cls(two_groups(fresh))
    restored.load_state_dict(saved)
    assert restored.param_groups[0]["lr"] == 0.03
    run(restored, fresh, sequence[10:])
    for p, q in zip(params, fresh, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert_nested_equal(saved, snapshot)  # loading copied the arrays

    # Through JSON (arrays as lists, integer keys as strings, tuples as lists): the same.
    text = json.dumps(saved, default=lambda a: a.tolist())
    fresh = make_params(at_10)
    from_json = cls(two_groups(fresh))
    from_json.load_state_dict(json.loads(text))
    run(from_json, fresh, sequence[10:])
    for p, q in zip(params, fresh, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert_nested_equal(from_json.state_dict()["param_groups"], opt.state_dict()["param_groups"])


def test_state_dict_format() -> None:
    params = make_params(make_arrays(np.float64))
    opt = optim.Adam(two_groups(params, lr=0.1))
    feed(params, grad_sequence(np.float64)[0])
    opt.step()
    state = opt.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0, 1], [2, 3]]
    assert state["param_groups"][0]["lr"] == 0.1 and state["param_groups"][1]["lr"] == 1e-3
    assert sorted(state["state"]) == [0, 1, 2]  # parameter 3 had no gradient yet: no state
    assert state["state"][0]["step"] == 1
    assert state["state"][0]["exp_avg"] is not opt.state[params[0]]["exp_avg"]


def _trained(cls: type[optim.Optimizer], groups: Any, **options: Any) -> optim.Optimizer:
    params = [p for g in groups for p in g["params"]] if isinstance(groups[0], dict) else groups
    opt = cls(groups, **options)
    feed(params, [np.ones(p.shape) for p in params])
    opt.step()
    return opt


def test_load_state_dict_rejects_mismatches() -> None:
    params = make_params(make_arrays(np.float64))
    opt = _trained(optim.Adam, two_groups(params))
    before = opt.state_dict()

    one_group = _trained(optim.Adam, make_params(make_arrays(np.float64))).state_dict()
    with pytest.raises(ValueError, match=r"has 1 parameter group\(s\), but the optimizer has 2"):
        opt.load_state_dict(one_group)

    other = make_params(make_arrays(np.float64))
    resized = _trained(optim.Adam, [{"params": other[:3]}, {"params": other[3:]}]).state_dict()
    with pytest.raises(ValueError, match=r"parameter group 0 of the state dict has 3 parameter\(s\), "
                                         r"but the optimizer's has 2"):
        opt.load_state_dict(resized)

    bad_shape = copy.deepcopy(before)
    bad_shape["state"][1]["exp_avg_sq"] = np.zeros(7)
    with pytest.raises(ValueError, match=r"state 'exp_avg_sq' of parameter 1 has shape \(7,\), but the "
                                         r"parameter has shape \(5,\)"):
        opt.load_state_dict(bad_shape)

    unknown = copy.deepcopy(before)
    unknown["state"][9] = copy.deepcopy(unknown["state"][0])
    with pytest.raises(ValueError, match="parameter index 9"):
        opt.load_state_dict(unknown)

    sgd_state = _trained(optim.SGD, two_groups(make_params(make_arrays(np.float64)))).state_dict()
    with pytest.raises(ValueError, match=r"lacks the option\(s\) \['amsgrad', 'betas', .*another kind"):
        opt.load_state_dict(sgd_state)

    bad_option = copy.deepcopy(before)
    bad_option["param_groups"][1]["betas"] = (0.9, 1.5)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\), got 1.5 \(parameter group 1"):
        opt.load_state_dict(bad_option)

    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    assert_nested_equal(opt.state_dict(), before)  # a failed load changes nothing


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
BAD_OPTIONS = [
    (optim.SGD, {"lr": -0.1}, ValueError, r"^SGD: lr must be >= 0, got -0.1$"),
    (optim.SGD, {"lr": float("nan")}, ValueError, r"^SGD: lr must be >= 0, got nan$"),
    (optim.SGD, {"lr": float("inf")}, ValueError, r"^SGD: lr must be finite and >= 0, got inf$"),
    (optim.SGD, {"lr": "0.1"}, TypeError, r"^SGD: lr must be a real number, got '0.1' \(str\)$"),
    (optim.SGD, {"momentum": 1.5}, ValueError, r"^SGD: momentum must be in \[0, 1\), got 1.5$"),
    (optim.SGD, {"momentum": -0.1}, ValueError, r"^SGD: momentum must be in \[0, 1\), got -0.1$"),
    (optim.SGD, {"dampening": 2}, ValueError, r"^SGD: dampening must be in \[0, 1\], got 2$"),
    (optim.SGD, {"weight_decay": -1}, ValueError, r"^SGD: weight_decay must be >= 0, got -1$"),
    (optim.SGD, {"nesterov": True}, ValueError,
     r"^SGD: nesterov=True requires momentum > 0 and dampening == 0, got momentum=0, dampening=0$"),
    (optim.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, ValueError,
     r"momentum=0.9, dampening=0.1$"),
    (optim.Adam, {"lr": -1e-3}, ValueError, r"^Adam: lr must be >= 0, got -0.001$"),
    (optim.Adam, {"betas": (1.0, 0.999)}, ValueError, r"^Adam: betas\[0\] must be in \[0, 1\), got 1.0$"),
    (optim.Adam, {"betas": (0.9, -0.1)}, ValueError, r"^Adam: betas\[1\] must be in \[0, 1\), got -0.1$"),
    (optim.Adam, {"betas": (0.9,)}, ValueError, r"^Adam: betas must be a pair \(beta1, beta2\), got"),
    (optim.Adam, {"eps": -1e-8}, ValueError, r"^Adam: eps must be >= 0, got -1e-08$"),
    (optim.Adam, {"weight_decay": -0.1}, ValueError, r"^Adam: weight_decay must be >= 0, got -0.1$"),
    (optim.AdamW, {"weight_decay": -0.01}, ValueError, r"^AdamW: weight_decay must be >= 0, got -0.01$"),
    (optim.AdamW, {"betas": (0.9, 1.0)}, ValueError, r"^AdamW: betas\[1\] must be in \[0, 1\), got 1.0$"),
    (optim.RMSprop, {"lr": -1}, ValueError, r"^RMSprop: lr must be >= 0, got -1$"),
    (optim.RMSprop, {"alpha": 1.0}, ValueError, r"^RMSprop: alpha must be in \[0, 1\), got 1.0$"),
    (optim.RMSprop, {"alpha": -0.5}, ValueError, r"^RMSprop: alpha must be in \[0, 1\), got -0.5$"),
    (optim.RMSprop, {"momentum": 1}, ValueError, r"^RMSprop: momentum must be in \[0, 1\), got 1$"),
    (optim.RMSprop, {"eps": -1.0}, ValueError, r"^RMSprop: eps must be >= 0, got -1.0$"),
    (optim.RMSprop, {"weight_decay": -2}, ValueError, r"^RMSprop: weight_decay must be >= 0, got -2$"),
    (optim.Adagrad, {"lr": -0.5}, ValueError, r"^Adagrad: lr must be >= 0, got -0.5$"),
    (optim.Adagrad, {"lr_decay": -1}, ValueError, r"^Adagrad: lr_decay must be >= 0, got -1$"),
    (optim.Adagrad, {"weight_decay": -1}, ValueError, r"^Adagrad: weight_decay must be >= 0, got -1$"),
    (optim.Adagrad, {"initial_accumulator_value": -0.5}, ValueError,
     r"^Adagrad: initial_accumulator_value must be >= 0, got -0.5$"),
    (optim.Adagrad, {"eps": -1e-10}, ValueError, r"^Adagrad: eps must be >= 0, got -1e-10$"),
]


@pytest.mark.parametrize(("cls", "options", "error", "match"), BAD_OPTIONS,
                         ids=[f"{c.__name__}-{o}" for c, o, _, _ in BAD_OPTIONS])
def test_invalid_options(cls: type[optim.Optimizer], options: dict[str, Any], error: type[Exception],
                         match: str) -> None:
    with pytest.raises(error, match=match):
        cls([rp.tensor(np.zeros(2), requires_grad=True)], **options)


def test_invalid_group_option_names_the_group() -> None:
    a, b = make_params(make_arrays(np.float64))[:2]
    with pytest.raises(ValueError, match=r"^SGD: momentum must be in \[0, 1\), got 2 \(parameter group 1\)$"):
        optim.SGD([{"params": [a]}, {"params": [b], "momentum": 2}], lr=0.1)
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match=r"^SGD: lr must be >= 0, got -1 \(parameter group 1\)$"):
        opt.add_param_group({"params": [b], "lr": -1})
    assert len(opt.param_groups) == 1


def test_bad_params() -> None:
    p, q = make_params(make_arrays(np.float64))[:2]
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([])
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam(x for x in [])
    with pytest.raises(TypeError, match="got a single Tensor; wrap it in a list"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {p, q}}])
    with pytest.raises(TypeError, match="parameter 1 of parameter group 0 is a ndarray"):
        optim.SGD([p, np.zeros(3)])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([p * 2])
    with pytest.raises(ValueError, match=r"holds the same parameter twice \(positions 0 and 2\)"):
        optim.SGD([p, q, p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [q, p]}])
    opt = optim.SGD([p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(ValueError, match="needs a 'params' entry"):
        opt.add_param_group({"lr": 0.1})


def test_gradient_shape_mismatch() -> None:
    p = rp.tensor(np.zeros(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match=r"assign a gradient of shape \(1,\) to a tensor of shape \(3,\)"):
        p.grad = np.ones(1)  # refused as torch refuses it
    p.grad = np.ones(3)
    p.grad.data = np.ones(1)  # replaced behind the setter's back: the optimizer still checks
    with pytest.raises(ValueError, match=r"parameter 0 of parameter group 0 has shape \(3,\) but its "
                                         r"gradient has shape \(1,\)"):
        opt.step()


# ---------------------------------------------------------------------------------------------
# zero_grad, step, groups
# ---------------------------------------------------------------------------------------------
def test_zero_grad_set_to_none() -> None:
    params = make_params(make_arrays(np.float64))
    feed(params, grad_sequence(np.float64)[1])  # parameter 2 has no gradient here
    opt = optim.SGD(params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_to_zeros_in_place() -> None:
    params = make_params(make_arrays(np.float32))
    feed(params, grad_sequence(np.float32)[1])
    held = [p.grad for p in params]
    optim.Adam(params).zero_grad(set_to_none=False)
    for p, g in zip(params, held, strict=True):
        if g is None:
            assert p.grad is None
        else:
            assert p.grad is g and p.grad.dtype == np.float32 and not p.grad.numpy().any()


def test_closure_runs_with_grad_enabled_and_its_loss_is_returned() -> None:
    w = rp.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure() -> rp.Tensor:
        opt.zero_grad()
        assert rp.is_grad_enabled()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with rp.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(w.data, [0.8, -1.6])
    assert opt.step() is None


def test_param_without_grad_is_untouched_and_stateless() -> None:
    p, q = make_params(make_arrays(np.float64))[:2]
    before = q.data.copy()
    opt = optim.Adam([p, q], lr=0.1)
    p.grad = np.ones(p.shape)
    opt.step()
    np.testing.assert_array_equal(q.data, before)
    assert q not in opt.state


def test_lr_change_in_param_groups_takes_effect() -> None:
    p = rp.tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones(2)
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(p.data, [-0.5, -0.5])


def test_add_param_group_later_and_named_params() -> None:
    p, q = make_params(make_arrays(np.float64))[:2]
    opt = optim.Adagrad([("w", p)], lr=0.1, initial_accumulator_value=0.5)
    opt.add_param_group({"params": [("b", q)], "lr": 0.2})
    assert opt.param_groups[1]["initial_accumulator_value"] == 0.5
    feed([p, q], [np.ones(p.shape), np.ones(q.shape)])
    opt.step()
    np.testing.assert_allclose(opt.state[q]["sum"], 1.5)
    assert [g["param_names"] for g in opt.state_dict()["param_groups"]] == [["w"], ["b"]]
    with pytest.raises(ValueError, match="all named or all unnamed"):
        opt.add_param_group({"params": [rp.tensor(np.zeros(1), requires_grad=True)]})


def test_state_keeps_parameter_dtype() -> None:
    params = make_params(make_arrays(np.float32))
    opt = optim.RMSprop(params, centered=True, momentum=0.9)
    run(opt, params, grad_sequence(np.float32, steps=3))
    for p in params:
        assert p.data.dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))


def test_repr_lists_group_options() -> None:
    text = repr(optim.SGD([rp.tensor(np.zeros(1), requires_grad=True)], lr=0.5))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.5" in text


@pytest.mark.parametrize(("cls", "options"), [(optim.SGD, {"lr": 0.1, "momentum": 0.9}),
                                              (optim.Adam, {"lr": 0.05}), (optim.AdamW, {"lr": 0.05}),
                                              (optim.RMSprop, {"lr": 0.01}), (optim.Adagrad, {"lr": 0.5})])
def test_trains_linear_regression(cls: type[optim.Optimizer], options: dict[str, Any]) -> None:
    rng = np.random.default_rng(0)
    x = rp.tensor(rng.standard_normal((64, 3)))
    y = rp.tensor(x.data @ np.array([[1.5], [-2.0], [0.5]]) + 0.3)
    w = rp.tensor(np.zeros((1, 3)), requires_grad=True)
    b = rp.tensor(np.zeros(1), requires_grad=True)
    opt = cls([w, b], **options)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = F.mse_loss(F.linear(x, w, b), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
