"""Loss options against torch 2.13.0 and finite differences: class weights, ignore_index, label
smoothing, class-probability targets and (N, C, d1, d2) inputs in cross_entropy and nll_loss;
weight and pos_weight in the binary losses; the regression and divergence losses; edge cases
(everything ignored, zero total weight, empty batches, probabilities at 0 and 1), bad input, and
the loss modules.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from tests.helpers import assert_matches_torch, away_from, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
TF = torch.nn.functional

F = rp.F
REDUCTIONS = ["mean", "sum", "none"]
# (scores' shape, ignore_index): None (no target ignored), torch's default -100 or a class inside the
# range; a single target (scores (C,)) ignored is the all-ignored edge case, tested on its own
SHAPE_IGNORES = [pytest.param(shape, ignore, id=f"{shape_id}-{ignore_id}")
                 for shape, shape_id in (((5, 4), "NC"), ((2, 3, 2, 2), "NCdd"), ((4,), "C"))
                 for ignore, ignore_id in ((None, "all_kept"), (-100, "ignore-100"), (1, "ignore_class1"))
                 if ignore is None or len(shape) > 1]
DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]


def _n_classes(shape: tuple[int, ...]) -> int:
    return shape[1] if len(shape) > 1 else shape[0]


def _labels(shape: tuple[int, ...], ignore: int | None, key: str) -> np.ndarray:
    """Class indices for scores of ``shape``; with ``ignore``, some (never all) set to it."""
    label_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    c = _n_classes(shape)
    labels = np.floor(np.abs(keyed_normal(label_shape, key, "labels")) * 7).astype(np.int64) % c
    if ignore is not None and labels.size > 1:
        flat = labels.reshape(-1)
        flat[::3] = ignore
        flat[1] = 0 if ignore != 0 else 2
    return labels


def _class_weight(shape: tuple[int, ...]) -> np.ndarray:
    return 0.5 + np.abs(keyed_normal((_n_classes(shape),), "class weight"))


def _probabilities(shape: tuple[int, ...], key: str) -> np.ndarray:
    e = np.exp(keyed_normal(shape, key, "probs"))
    return e / e.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)


def _options(weight: np.ndarray | None, ignore: int | None, module: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if weight is not None:
        options["weight"] = weight if module is F else torch.tensor(weight)
    if ignore is not None:
        options["ignore_index"] = ignore
    return options


# ---------------------------------------------------------------------------------------------
# cross_entropy and nll_loss
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(("shape", "ignore"), SHAPE_IGNORES)
def test_cross_entropy_class_indices(shape, ignore, weighted, reduction, smoothing):
    logits = 2 * keyed_normal(shape, "ce")
    labels = _labels(shape, ignore, "ce")
    weight = _class_weight(shape) if weighted else None
    ours = _options(weight, ignore, F)
    theirs = _options(weight, ignore, TF)

    def rp_fn(z: rp.Tensor, t: Any = labels) -> rp.Tensor:
        return F.cross_entropy(z, t, reduction=reduction, label_smoothing=smoothing, **ours)

    assert_matches_torch(rp_fn, lambda z, t: TF.cross_entropy(z, t, reduction=reduction,
                                                               label_smoothing=smoothing, **theirs),
                         logits, labels, check_dtype=True)
    check_grad(rp_fn, logits)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 2, 2), (4,)], ids=["NC", "NCdd", "C"])
def test_cross_entropy_class_probabilities(shape, weighted, reduction, smoothing):
    """A float target of the input's shape: gradients for the scores and for the target."""
    logits, probs = 2 * keyed_normal(shape, "cep"), _probabilities(shape, "cep")
    weight = _class_weight(shape) if weighted else None
    ours, theirs = _options(weight, None, F), _options(weight, None, TF)

    def rp_fn(z: rp.Tensor, p: rp.Tensor) -> rp.Tensor:
        return F.cross_entropy(z, p, reduction=reduction, label_smoothing=smoothing, **ours)

    assert_matches_torch(rp_fn, lambda z, p: TF.cross_entropy(z, p, reduction=reduction,
                                                               label_smoothing=smoothing, **theirs),
                         logits, probs, check_dtype=True)
    check_grad(rp_fn, logits, probs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(("shape", "ignore"), SHAPE_IGNORES)
def test_nll_loss_options(shape, ignore, weighted, reduction):
    log_probs = np.log(_probabilities(shape, "nll"))
    labels = _labels(shape, ignore, "nll")
    weight = _class_weight(shape) if weighted else None
    ours, theirs = _options(weight, ignore, F), _options(weight, ignore, TF)

    def rp_fn(a: rp.Tensor, t: Any = labels) -> rp.Tensor:
        return F.nll_loss(a, t, reduction=reduction, **ours)

    assert_matches_torch(rp_fn, lambda a, t: TF.nll_loss(a, t, reduction=reduction, **theirs),
                         log_probs, labels, check_dtype=True)
    check_grad(rp_fn, log_probs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["indices", "probabilities"])
def test_cross_entropy_float32_and_large_logits(kind, dtype):
    logits = np.array([[1000.0, 0.0, -1000.0], [-500.0, 500.0, 499.0], [50.0, 50.0, 50.0]])
    target = np.array([0, 2, 1]) if kind == "indices" else _probabilities((3, 3), "big")
    weight = np.array([0.3, 2.0, 1.0])
    assert_matches_torch(lambda z, t: F.cross_entropy(z, t, weight=weight, label_smoothing=0.1),
                         lambda z, t: TF.cross_entropy(z, t, weight=torch.tensor(weight, dtype=z.dtype),
                                                       label_smoothing=0.1),
                         logits, target, dtype=dtype, check_dtype=True)


FN_SMOOTHING = [("cross_entropy", 0.0), ("cross_entropy", 0.2), ("nll_loss", 0.0)]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(("fn", "smoothing"), FN_SMOOTHING)
def test_every_target_ignored(fn, smoothing, weighted):
    """'mean' over no targets is nan and the gradient zero; 'sum' is 0, as torch's."""
    logits, labels = keyed_normal((3, 4), "ignored"), np.array([-100, -100, -100])
    extra: dict[str, Any] = {"label_smoothing": smoothing} if smoothing else {}
    for reduction in REDUCTIONS:
        ours = {**_options(_class_weight((3, 4)) if weighted else None, None, F), **extra}
        theirs = {**_options(_class_weight((3, 4)) if weighted else None, None, TF), **extra}
        assert_matches_torch(lambda z, t: getattr(F, fn)(z, t, reduction=reduction, **ours),  # noqa: B023
                             lambda z, t: getattr(TF, fn)(z, t, reduction=reduction, **theirs),  # noqa: B023
                             logits, labels)
    assert np.isnan(F.cross_entropy(rp.tensor(keyed_normal((4,), "one")), -100).item())


@pytest.mark.parametrize(("fn", "smoothing"), FN_SMOOTHING)
def test_zero_total_weight_gives_nan_as_torch(fn, smoothing):
    """Targets kept but weighted 0: 'mean' is 0 / 0; torch's gradient is nan for those rows, 0 for
    ignored ones."""
    weight = np.array([0.0, 1.0, 1.0, 1.0])
    extra: dict[str, Any] = {"label_smoothing": smoothing} if smoothing else {}
    assert_matches_torch(lambda z, t: getattr(F, fn)(z, t, weight=weight, **extra),
                         lambda z, t: getattr(TF, fn)(z, t, weight=torch.tensor(weight), **extra),
                         keyed_normal((3, 4), "zero weight"), np.array([0, 0, -100]))


@pytest.mark.parametrize("kind", ["indices", "probabilities"])
def test_empty_batch(kind):
    logits = np.zeros((0, 3))
    target = np.zeros(0, dtype=np.int64) if kind == "indices" else np.zeros((0, 3))
    for reduction in REDUCTIONS:
        assert_matches_torch(lambda z, t: F.cross_entropy(z, t, reduction=reduction),  # noqa: B023
                             lambda z, t: TF.cross_entropy(z, t, reduction=reduction),  # noqa: B023
                             logits, target)


def test_target_tensor_and_list_targets():
    logits = keyed_normal((3, 4), "lists")
    expected = TF.cross_entropy(torch.tensor(logits), torch.tensor([3, -100, 0]),
                                weight=torch.full((4,), 2.0, dtype=torch.float64))
    for target in ([3, -100, 0], rp.tensor(np.array([3, -100, 0]))):
        got = F.cross_entropy(rp.tensor(logits), target, weight=rp.ones(4, dtype=np.float64) * 2)
        np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-12)


def test_earlier_positional_order_still_reads_the_reduction():
    z, t = rp.tensor(keyed_normal((4, 3), "legacy")), np.array([0, 2, 1, 1])
    np.testing.assert_array_equal(F.cross_entropy(z, t, "sum", 0.1).data,
                                  F.cross_entropy(z, t, reduction="sum", label_smoothing=0.1).data)
    np.testing.assert_array_equal(F.nll_loss(z, t, "none").data, F.nll_loss(z, t, reduction="none").data)
    y = np.ones((4, 3))
    np.testing.assert_array_equal(F.binary_cross_entropy_with_logits(z, y, "none").data,
                                  F.binary_cross_entropy_with_logits(z, y, reduction="none").data)
    for module in (nn.CrossEntropyLoss("sum", label_smoothing=0.1), nn.CrossEntropyLoss("sum", 0.1)):
        assert (module.reduction, module.label_smoothing, module.ignore_index) == ("sum", 0.1, -100)
    assert nn.NLLLoss("none").reduction == nn.BCEWithLogitsLoss("none").reduction == "none"


# ---------------------------------------------------------------------------------------------
# Binary losses
# ---------------------------------------------------------------------------------------------
BCE_SHAPES = [pytest.param((6,), id="N"), pytest.param((3, 4), id="NC")]
WEIGHTS = ["none", "elementwise", "broadcast"]


def _bce_weight(kind: str, shape: tuple[int, ...]) -> np.ndarray | None:
    if kind == "none":
        return None
    return 0.5 + np.abs(keyed_normal(shape if kind == "elementwise" else shape[-1:], "bce weight", kind))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_kind", WEIGHTS)
@pytest.mark.parametrize("shape", BCE_SHAPES)
def test_binary_cross_entropy(shape, weight_kind, reduction):
    probs = 0.05 + 0.9 / (1 + np.exp(-2 * keyed_normal(shape, "bce")))
    target = 1 / (1 + np.exp(-keyed_normal(shape, "bce target")))
    weight = _bce_weight(weight_kind, shape)

    def rp_fn(p: rp.Tensor, y: rp.Tensor) -> rp.Tensor:
        return F.binary_cross_entropy(p, y, weight=weight, reduction=reduction)

    assert_matches_torch(rp_fn, lambda p, y: TF.binary_cross_entropy(
        p, y, weight=None if weight is None else torch.tensor(weight), reduction=reduction),
        probs, target, check_dtype=True)
    check_grad(rp_fn, probs, target)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_at_zero_and_one(dtype):
    """The logarithms clamp at -100: a loss of 100, an input gradient of -+1e12 and a target
    gradient of +-inf, as torch's."""
    probs = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30])
    target = np.array([1.0, 0.0, 0.0, 1.0, 0.3, 1.0])
    assert_matches_torch(lambda p, y: F.binary_cross_entropy(p, y, reduction="none"),
                         lambda p, y: TF.binary_cross_entropy(p, y, reduction="none"),
                         probs, target, dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weighted", [False, True], ids=["no_pos_weight", "pos_weight"])
@pytest.mark.parametrize("weight_kind", WEIGHTS)
@pytest.mark.parametrize("shape", BCE_SHAPES)
def test_binary_cross_entropy_with_logits(shape, weight_kind, pos_weighted, reduction):
    logits = 3 * keyed_normal(shape, "bcel")
    target = 1 / (1 + np.exp(-keyed_normal(shape, "bcel target")))
    weight = _bce_weight(weight_kind, shape)
    pos_weight = 0.2 + np.abs(keyed_normal(shape[-1:], "pos weight")) if pos_weighted else None

    def rp_fn(x: rp.Tensor, y: rp.Tensor) -> rp.Tensor:
        return F.binary_cross_entropy_with_logits(x, y, weight=weight, reduction=reduction,
                                                  pos_weight=pos_weight)

    def torch_fn(x: Any, y: Any) -> Any:
        return TF.binary_cross_entropy_with_logits(
            x, y, weight=None if weight is None else torch.tensor(weight), reduction=reduction,
            pos_weight=None if pos_weight is None else torch.tensor(pos_weight))

    assert_matches_torch(rp_fn, torch_fn, logits, target, check_dtype=True)
    check_grad(rp_fn, logits, target)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits_is_stable(dtype):
    logits = np.array([-800.0, -100.0, -20.0, 0.0, 20.0, 100.0, 800.0])
    target = np.array([1.0, 1.0, 0.0, 0.5, 1.0, 0.0, 0.0])
    pos_weight = np.array([3.0])
    assert_matches_torch(
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=pos_weight),
        lambda x, y: TF.binary_cross_entropy_with_logits(x, y, reduction="none",
                                                         pos_weight=torch.tensor(pos_weight, dtype=x.dtype)),
        logits, target, dtype=dtype, check_dtype=True)


# ---------------------------------------------------------------------------------------------
# Regression and divergence losses
# ---------------------------------------------------------------------------------------------
# name -> (retroprop function, torch function, options, the kinks of d = input - target)
POINTWISE: dict[str, tuple[Any, Any, dict[str, float], tuple[float, ...]]] = {
    "mse": (F.mse_loss, TF.mse_loss, {}, ()),
    "l1": (F.l1_loss, TF.l1_loss, {}, (0.0,)),
    "smooth_l1_beta1": (F.smooth_l1_loss, TF.smooth_l1_loss, {}, (-1.0, 1.0)),
    "smooth_l1_beta0.5": (F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.5}, (-0.5, 0.5)),
    "smooth_l1_beta0": (F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.0}, (0.0,)),
    "huber_delta1": (F.huber_loss, TF.huber_loss, {}, (-1.0, 1.0)),
    "huber_delta0.3": (F.huber_loss, TF.huber_loss, {"delta": 0.3}, (-0.3, 0.3)),
    "huber_delta2": (F.huber_loss, TF.huber_loss, {"delta": 2.0}, (-2.0, 2.0)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [pytest.param((3, 4), id="2d"), pytest.param((), id="0d")])
@pytest.mark.parametrize("name", list(POINTWISE))
def test_pointwise_losses(name, shape, reduction):
    ours, theirs, options, kinks = POINTWISE[name]
    target = keyed_normal(shape, name, "target")
    prediction = target + away_from(1.5 * keyed_normal(shape, name), kinks, margin=0.05)

    def rp_fn(x: rp.Tensor, y: rp.Tensor) -> rp.Tensor:
        return ours(x, y, reduction=reduction, **options)

    assert_matches_torch(rp_fn, lambda x, y: theirs(x, y, reduction=reduction, **options),
                         prediction, target, check_dtype=True)
    check_grad(rp_fn, prediction, target)


@pytest.mark.parametrize("name", list(POINTWISE))
def test_pointwise_losses_at_their_kinks(name):
    """The gradient at d = 0 and at d = +-beta/delta is torch's (0 for l1 at 0)."""
    ours, theirs, options, kinks = POINTWISE[name]
    prediction = np.array(sorted({0.0, *kinks, -3.0, 3.0}))
    target = np.zeros_like(prediction)
    assert_matches_torch(lambda x, y: ours(x, y, reduction="none", **options),
                         lambda x, y: theirs(x, y, reduction="none", **options),
                         prediction, target, dtype=np.float32, check_dtype=True)


@pytest.mark.filterwarnings("ignore:.*reduction.*divides the total loss:UserWarning")
@pytest.mark.parametrize("log_target", [False, True], ids=["probs", "log_probs"])
@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
def test_kl_div(reduction, log_target):
    log_input = np.log(_probabilities((3, 4), "kl input"))
    target = _probabilities((3, 4), "kl target")
    if log_target:
        target = np.log(target)

    def rp_fn(x: rp.Tensor, y: rp.Tensor) -> rp.Tensor:
        return F.kl_div(x, y, reduction=reduction, log_target=log_target)

    assert_matches_torch(rp_fn, lambda x, y: TF.kl_div(x, y, reduction=reduction, log_target=log_target),
                         log_input, target, check_dtype=True)
    check_grad(rp_fn, log_input, target)


def test_kl_div_zero_target_probabilities():
    """0 log 0 = 0 in the loss; the target's gradient there is nan, as torch's (d/dt of xlogy(t, t))."""
    log_input = np.log(_probabilities((2, 3), "kl zero"))
    target = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    assert_matches_torch(lambda x, y: F.kl_div(x, y, reduction="batchmean"),
                         lambda x, y: TF.kl_div(x, y, reduction="batchmean"), log_input, target)


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------
def test_class_out_of_range_names_value_and_range():
    z = rp.tensor(keyed_normal((2, 3, 2), "range"))
    target = np.array([[0, 1], [3, 2]])
    with pytest.raises(IndexError, match=r"\[0, 3\) for 3 classes; got 3 at position 2"):
        F.cross_entropy(z, target)
    with pytest.raises(ValueError, match=r"got -100 at position 0 \(ignore_index is 0\)"):
        F.nll_loss(z, np.array([[-100, 1], [1, 2]]), ignore_index=0)
    with pytest.raises(RuntimeError):  # tests written against torch catch RuntimeError
        F.cross_entropy(z, target)


def test_wrong_shapes_name_both():
    with pytest.raises(rp.ShapeError, match=r"input of shape \(2, 3, 4\) needs a target of shape \(2, 4\), "
                                            r"got \(2, 3\)"):
        F.cross_entropy(rp.zeros(2, 3, 4), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(rp.ShapeError, match=r"weight must have shape \(3,\).*got \(4,\)"):
        F.cross_entropy(rp.zeros(2, 3), [0, 1], weight=np.ones(4))
    with pytest.raises(rp.ShapeError, match=r"input shape \(4, 1\) and target shape \(4,\)"):
        F.binary_cross_entropy(rp.full((4, 1), 0.5), np.ones(4))
    with pytest.raises(rp.ShapeError, match=r"weight of shape \(3,\) does not broadcast to the input's "
                                            r"shape \(4, 2\)"):
        F.binary_cross_entropy_with_logits(rp.zeros(4, 2), np.ones((4, 2)), weight=np.ones(3))
    with pytest.raises(rp.ShapeError, match=r"pos_weight of shape \(2, 2\)"):
        F.binary_cross_entropy_with_logits(rp.zeros(2), np.ones(2), pos_weight=np.ones((2, 2)))
    for fn in (F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.kl_div):
        with pytest.raises(rp.ShapeError, match=r"\(3, 2\) and target shape \(3,\)"):
            fn(rp.zeros(3, 2), np.zeros(3))
    with pytest.raises(rp.ShapeError, match="0-d"):
        F.cross_entropy(rp.tensor(1.0), 0)


def test_wrong_target_dtypes():
    with pytest.raises(TypeError, match="integer class indices, got dtype float64"):
        F.nll_loss(rp.zeros(2, 3), np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match=r"class probabilities and must be float, got int64.*shape \(2,\)"):
        F.cross_entropy(rp.zeros(2, 3), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="float tensor"):
        F.cross_entropy(rp.tensor(np.zeros((2, 3), dtype=np.int64)), [0, 1])
    with pytest.raises(RuntimeError, match="ignore_index is not supported for class-probability targets"):
        F.cross_entropy(rp.zeros(2, 3), np.full((2, 3), 1 / 3), ignore_index=1)


def test_weight_that_requires_grad_is_refused_as_torch():
    weight = rp.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable with respect to weight"):
        F.cross_entropy(rp.zeros(2, 3), [0, 1], weight=weight)
    with pytest.raises(RuntimeError, match="not differentiable with respect to pos_weight"):
        F.binary_cross_entropy_with_logits(rp.zeros(2, 3), np.ones((2, 3)), pos_weight=weight)
    with rp.no_grad():
        F.cross_entropy(rp.zeros(2, 3), [0, 1], weight=weight)


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan])
def test_binary_cross_entropy_refuses_values_outside_the_unit_interval(bad):
    with pytest.raises(RuntimeError, match=r"all elements of input should be between 0 and 1; got .* at "
                                           r"position 1 \(scores\? use binary_cross_entropy_with_logits\)"):
        F.binary_cross_entropy(rp.tensor([0.5, bad]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(rp.tensor([0.5, 0.5]), np.array([0.0, bad]))


def test_bad_options():
    with pytest.raises(ValueError, match=r"reduction must be one of .*'batchmean'"):
        F.mse_loss(rp.zeros(2), np.zeros(2), reduction="batchmean")
    with pytest.raises(ValueError, match=r"reduction must be one of"):
        F.cross_entropy(rp.zeros(2, 3), [0, 1], reduction="avg")
    with pytest.raises(ValueError, match="beta must be non-negative, got -1"):
        F.smooth_l1_loss(rp.zeros(2), np.zeros(2), beta=-1.0)
    with pytest.raises(ValueError, match="delta must be positive, got 0"):
        F.huber_loss(rp.zeros(2), np.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        nn.CrossEntropyLoss(label_smoothing=-0.5)
    with pytest.raises(ValueError, match=r"'batchmean', got 'avg'"):
        nn.KLDivLoss(reduction="avg")


# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])
LOGITS = keyed_normal((5, 4, 3), "module logits")
LABELS = np.array([[0, 3, 1], [2, 2, -100], [1, 0, 3], [3, -100, 1], [0, 1, 2]])
PROBS = 0.1 + 0.8 / (1 + np.exp(-keyed_normal((5, 4), "module probs")))
BINARY = (keyed_normal((5, 4), "module binary") > 0).astype(np.float64)
REGRESSION = keyed_normal((5, 4), "module regression")
TARGETS = keyed_normal((5, 4), "module targets")


def _module_cases() -> Any:
    tw = torch.tensor(CLASS_WEIGHT)
    row_weight = np.array([1.0, 0.5, 2.0, 1.0])
    yield ("CrossEntropyLoss", nn.CrossEntropyLoss(CLASS_WEIGHT, ignore_index=2, label_smoothing=0.1),
           torch.nn.CrossEntropyLoss(tw, ignore_index=2, label_smoothing=0.1), LOGITS,
           np.where(LABELS < 0, 2, LABELS))
    yield ("CrossEntropyLoss-none", nn.CrossEntropyLoss(weight=CLASS_WEIGHT, reduction="none"),
           torch.nn.CrossEntropyLoss(weight=tw, reduction="none"), LOGITS, LABELS)
    yield ("NLLLoss", nn.NLLLoss(CLASS_WEIGHT, reduction="sum"), torch.nn.NLLLoss(tw, reduction="sum"),
           LOGITS, LABELS)
    yield ("BCELoss", nn.BCELoss(row_weight), torch.nn.BCELoss(torch.tensor(row_weight)), PROBS, BINARY)
    yield ("BCEWithLogitsLoss", nn.BCEWithLogitsLoss(row_weight, reduction="sum", pos_weight=CLASS_WEIGHT),
           torch.nn.BCEWithLogitsLoss(torch.tensor(row_weight), reduction="sum", pos_weight=tw),
           REGRESSION, BINARY)
    yield ("MSELoss", nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum"), REGRESSION, TARGETS)
    yield ("L1Loss", nn.L1Loss(), torch.nn.L1Loss(), REGRESSION, TARGETS)
    yield ("SmoothL1Loss", nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), REGRESSION, TARGETS)
    yield ("HuberLoss", nn.HuberLoss(reduction="none", delta=0.7),
           torch.nn.HuberLoss(reduction="none", delta=0.7), REGRESSION, TARGETS)
    yield ("KLDivLoss", nn.KLDivLoss(reduction="batchmean", log_target=True),
           torch.nn.KLDivLoss(reduction="batchmean", log_target=True), REGRESSION, TARGETS)


@pytest.mark.parametrize(("name", "ours", "theirs", "x", "t"), list(_module_cases()),
                         ids=[case[0] for case in _module_cases()])
def test_loss_modules_match_torch(name, ours, theirs, x, t):
    assert_matches_torch(ours, theirs, x, t, check_dtype=True)


def test_loss_module_weights_are_buffers():
    loss = nn.CrossEntropyLoss(weight=rp.tensor(CLASS_WEIGHT), ignore_index=1)
    assert list(loss.state_dict()) == ["weight"]
    loss.float()
    assert loss.weight.dtype == np.float32
    out = loss(rp.tensor(LOGITS[..., 0].astype(np.float32)), np.array([0, 1, 3, 2, 1]))
    assert out.dtype == np.float32
    both = nn.BCEWithLogitsLoss(pos_weight=CLASS_WEIGHT)
    assert list(both.state_dict()) == ["pos_weight"]
    assert nn.BCEWithLogitsLoss().state_dict() == {}
    assert loss.get_config() == {"reduction": "mean", "weight": CLASS_WEIGHT.astype(np.float32).tolist(),
                                 "ignore_index": 1, "label_smoothing": 0.0}
    assert "ignore_index=1" in repr(loss)


def test_new_modules_are_in_nn():
    for name in ("BCELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss"):
        assert name in rp.nn.loss.__all__
        assert isinstance(getattr(nn, name)(), nn.Module)


def test_the_earlier_positional_order_reads_an_integer_smoothing_as_smoothing() -> None:
    """(reduction, label_smoothing) was the order before torch's (weight, ignore_index, ...): a string
    first means that order, so a 0 after it is a smoothing of 0, never ignore_index=0."""
    x = np.random.default_rng(0).normal(size=(4, 3))
    y = np.array([0, 0, 1, 2])
    expected = float(torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y)))
    assert float(nn.CrossEntropyLoss("mean", 0)(rp.tensor(x), y)) == pytest.approx(expected, rel=1e-12)
    assert float(rp.F.cross_entropy(rp.tensor(x), y, "mean", 0)) == pytest.approx(expected, rel=1e-12)
