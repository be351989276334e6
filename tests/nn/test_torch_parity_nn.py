"""retroprop.nn against torch.nn: structure, layers, BatchNorm1d, losses, init gains, clipping."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from tests.helpers import TORCH_TOL

torch = pytest.importorskip("torch")
tnn = torch.nn

pytestmark = pytest.mark.torch

RTOL, ATOL = TORCH_TOL[np.float64]
RNG = np.random.default_rng(2024)


def _t(array, requires_grad=False):
    return torch.tensor(np.asarray(array), requires_grad=requires_grad)


def _close(actual, expected, what):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def _copy_params(rp_module, torch_module):
    """Give the torch module the retroprop module's parameters and buffers."""
    state = {k: torch.from_numpy(v) for k, v in rp_module.state_dict().items()}
    torch_module.load_state_dict(state)


# -- Module structure ---------------------------------------------------------------------------
class RpNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Sequential(nn.BatchNorm1d(5)))
        self.head = nn.Linear(5, 2, bias=False)
        self.scale = nn.Parameter(np.ones(2))
        self.register_buffer("steps", np.zeros(2))


class TorchNet(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = tnn.Sequential(tnn.Linear(4, 5), tnn.ReLU(), tnn.Sequential(tnn.BatchNorm1d(5)))
        self.head = tnn.Linear(5, 2, bias=False)
        self.scale = tnn.Parameter(torch.ones(2))
        self.register_buffer("steps", torch.zeros(2))


def test_names_and_key_order_match_torch():
    ours, theirs = RpNet(), TorchNet()
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert a.shape == tuple(b.shape), name


def test_torch_state_dict_loads_into_retroprop():
    ours, theirs = RpNet(), TorchNet()
    theirs.features[2][0].running_mean.fill_(0.5)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-7, err_msg=name)


def test_state_dict_keeps_every_name_of_shared_parameters():
    lin = nn.Linear(2, 2)
    tlin = tnn.Linear(2, 2)
    ours, theirs = nn.Sequential(lin, lin), tnn.Sequential(tlin, tlin)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 2
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(lin.weight.data, tlin.weight.detach().numpy())


def test_tied_parameter_state_dict_matches_torch():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 3)
            self.b.weight = self.a.weight

    class TorchTied(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = tnn.Linear(3, 3), tnn.Linear(3, 3)
            self.b.weight = self.a.weight

    ours, theirs = Tied(), TorchTied()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_assigning_tensor_to_parameter_name_is_rejected():
    lin, tlin = nn.Linear(2, 2), tnn.Linear(2, 2)
    with pytest.raises(TypeError):
        tlin.weight = torch.zeros(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        lin.weight = rp.zeros(2, 2)
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    lin.bias = None  # None is allowed, as in torch
    tlin.bias = None
    assert lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == [n for n, _ in tlin.named_parameters()]
    assert list(lin.state_dict()) == list(tlin.state_dict())


def test_assigning_non_module_to_submodule_name_is_rejected():
    seq, tseq = nn.Sequential(nn.ReLU()), tnn.Sequential(tnn.ReLU())
    with pytest.raises(TypeError):
        setattr(tseq, "0", 3)
    with pytest.raises(TypeError, match="submodule '0'"):
        setattr(seq, "0", 3)
    assert isinstance(seq[0], nn.ReLU)


def test_assigning_tensor_to_buffer_name_keeps_it_a_buffer():
    bn, tbn = nn.BatchNorm1d(3), tnn.BatchNorm1d(3)
    bn.running_mean = rp.ones(3)
    tbn.running_mean = torch.ones(3)
    assert list(bn.state_dict()) == list(tbn.state_dict())
    np.testing.assert_array_equal(bn.state_dict()["running_mean"], np.ones(3))
    bn.running_var = np.full(3, 2.0)  # an array is wrapped into a buffer tensor
    assert isinstance(bn.running_var, rp.Tensor)
    np.testing.assert_array_equal(bn.state_dict()["running_var"], np.full(3, 2.0))


# -- Linear and activations ---------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias):
    ours = nn.Linear(4, 3, bias=bias, dtype=np.float64)
    theirs = tnn.Linear(4, 3, bias=bias).double()
    _copy_params(ours, theirs)
    data = RNG.normal(size=shape)
    x, tx = rp.tensor(data, requires_grad=True), _t(data, True)
    out, tout = ours(x), theirs(tx)
    _close(out.data, tout, "forward")
    g = RNG.normal(size=out.shape)
    out.backward(g)
    tout.backward(_t(g))
    _close(x.grad, tx.grad, "input grad")
    _close(ours.weight.grad, theirs.weight.grad, "weight grad")
    if bias:
        _close(ours.bias.grad, theirs.bias.grad, "bias grad")


ACTIVATION_PAIRS = [
    (nn.ReLU(), tnn.ReLU()), (nn.LeakyReLU(0.1), tnn.LeakyReLU(0.1)), (nn.ELU(0.7), tnn.ELU(0.7)),
    (nn.SELU(), tnn.SELU()), (nn.GELU(), tnn.GELU()), (nn.GELU("tanh"), tnn.GELU("tanh")),
    (nn.Sigmoid(), tnn.Sigmoid()), (nn.Tanh(), tnn.Tanh()), (nn.Softmax(1), tnn.Softmax(1)),
    (nn.Softmax(0), tnn.Softmax(0)), (nn.LogSoftmax(1), tnn.LogSoftmax(1)), (nn.Identity(), tnn.Identity()),
    (nn.Flatten(), tnn.Flatten()), (nn.Flatten(0, 1), tnn.Flatten(0, 1)),
]


@pytest.mark.parametrize(("ours", "theirs"), ACTIVATION_PAIRS, ids=[repr(t) for _, t in ACTIVATION_PAIRS])
def test_activation_modules_match_torch(ours, theirs):
    data = RNG.normal(size=(4, 3, 2)) * 3
    x, tx = rp.tensor(data, requires_grad=True), _t(data, True)
    out, tout = ours(x), theirs(tx)
    assert out.shape == tuple(tout.shape)
    _close(out.data, tout, "forward")
    g = RNG.normal(size=out.shape)
    out.backward(g)
    tout.backward(_t(g))
    _close(x.grad, tx.grad, "input grad")


# -- BatchNorm1d --------------------------------------------------------------------------------
def _bn_pair(num_features=4, **kwargs):
    ours = nn.BatchNorm1d(num_features, dtype=np.float64, **kwargs)
    theirs = tnn.BatchNorm1d(num_features, **kwargs).double()
    if ours.weight is not None:
        ours.weight.data[...] = RNG.normal(size=num_features)
        ours.bias.data[...] = RNG.normal(size=num_features)
    _copy_params(ours, theirs)
    return ours, theirs


def _bn_step(ours, theirs, shape):
    data = RNG.normal(loc=1.5, scale=2.0, size=shape)
    x, tx = rp.tensor(data, requires_grad=True), _t(data, True)
    out, tout = ours(x), theirs(tx)
    _close(out.data, tout, f"forward (training={ours.training})")
    g = RNG.normal(size=shape)
    out.backward(g)
    tout.backward(_t(g))
    _close(x.grad, tx.grad, "input grad")
    if ours.weight is not None:
        _close(ours.weight.grad, theirs.weight.grad, "weight grad")
        _close(ours.bias.grad, theirs.bias.grad, "bias grad")
        ours.zero_grad()
        theirs.zero_grad()


def _assert_same_stats(ours, theirs):
    if not ours.track_running_stats:
        assert theirs.running_mean is None
        return
    _close(ours.running_mean.data, theirs.running_mean, "running_mean")
    _close(ours.running_var.data, theirs.running_var, "running_var")
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item()


@pytest.mark.parametrize("shape", [(8, 4), (6, 4, 5), (2, 4)])
@pytest.mark.parametrize("kwargs", [
    {}, {"momentum": None}, {"momentum": 0.3}, {"affine": False}, {"eps": 1e-3},
    {"track_running_stats": False}, {"affine": False, "track_running_stats": False},
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "default")
def test_batchnorm_matches_torch(shape, kwargs):
    ours, theirs = _bn_pair(**kwargs)
    for _ in range(4):
        _bn_step(ours, theirs, shape)
        _assert_same_stats(ours, theirs)
    ours.eval()
    theirs.eval()
    for _ in range(2):  # eval: running stats (or batch stats without them), and no updates
        _bn_step(ours, theirs, shape)
        _assert_same_stats(ours, theirs)


def test_batchnorm_momentum_none_is_cumulative_average():
    ours, _ = _bn_pair(3, momentum=None)
    batches = [RNG.normal(size=(10, 3)) for _ in range(5)]
    for b in batches:
        ours(rp.tensor(b))
    np.testing.assert_allclose(ours.running_mean.data, np.mean([b.mean(0) for b in batches], axis=0))
    expected_var = np.mean([b.var(0, ddof=1) for b in batches], axis=0)
    np.testing.assert_allclose(ours.running_var.data, expected_var)
    assert ours.num_batches_tracked.item() == 5


def test_batchnorm_eval_one_sample_matches_torch():
    ours, theirs = _bn_pair(4)
    _bn_step(ours, theirs, (6, 4))
    ours.eval()
    theirs.eval()
    _bn_step(ours, theirs, (1, 4))


def test_batchnorm_float32_default_matches_torch():
    ours, theirs = nn.BatchNorm1d(4), tnn.BatchNorm1d(4)
    data = RNG.normal(size=(16, 4)).astype(np.float32)
    out, tout = ours(rp.tensor(data)), theirs(torch.from_numpy(data))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), rtol=1e-5)


# -- losses -------------------------------------------------------------------------------------
LOGITS = RNG.normal(size=(7, 5)) * 2
LABELS = RNG.integers(0, 5, size=7)
PRED = RNG.normal(size=(7, 3))
BINARY = RNG.integers(0, 2, size=(7, 3)).astype(np.float64)


def _loss_pairs():
    for r in ("mean", "sum", "none"):
        for s in (0.0, 0.1, 0.5):
            yield (nn.CrossEntropyLoss(reduction=r, label_smoothing=s),
                   tnn.CrossEntropyLoss(reduction=r, label_smoothing=s), LOGITS, LABELS)
        yield nn.NLLLoss(reduction=r), tnn.NLLLoss(reduction=r), LOGITS, LABELS
        yield nn.MSELoss(reduction=r), tnn.MSELoss(reduction=r), PRED, BINARY * 2 - 0.5
        yield nn.BCEWithLogitsLoss(reduction=r), tnn.BCEWithLogitsLoss(reduction=r), PRED * 3, BINARY


LOSS_PAIRS = list(_loss_pairs())


@pytest.mark.parametrize(("ours", "theirs", "x", "t"), LOSS_PAIRS,
                         ids=[f"{type(a).__name__}-{a.reduction}-{getattr(a, 'label_smoothing', '')}"
                              for a, *_ in LOSS_PAIRS])
def test_loss_modules_match_torch(ours, theirs, x, t):
    xr, xt = rp.tensor(x, requires_grad=True), _t(x, True)
    out, tout = ours(xr, t), theirs(xt, _t(t))
    assert out.shape == tuple(tout.shape)
    _close(out.data, tout, "loss")
    g = RNG.uniform(0.5, 1.5, size=out.shape)
    out.backward(g)
    tout.backward(_t(g))
    _close(xr.grad, xt.grad, "input grad")


# -- init ---------------------------------------------------------------------------------------
TORCH_NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                        "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


def _gain_case(name):
    return name


@pytest.mark.parametrize("name", [_gain_case(n) for n in TORCH_NONLINEARITIES])
def test_calculate_gain_matches_torch(name):
    assert nn.init.calculate_gain(name) == pytest.approx(tnn.init.calculate_gain(name), rel=1e-15)


@pytest.mark.parametrize("param", [0, 0.01, 0.2, 1.0, 3])
def test_calculate_gain_leaky_relu_param_matches_torch(param):
    ours = nn.init.calculate_gain("leaky_relu", param)
    assert ours == pytest.approx(tnn.init.calculate_gain("leaky_relu", param), rel=1e-15)


def test_linear_default_init_distribution_matches_torch_bound():
    ours, theirs = nn.Linear(300, 200), tnn.Linear(300, 200)
    ow, tw = ours.weight.data, theirs.weight.detach().numpy()
    assert np.abs(ow).max() <= 1 / np.sqrt(300) and np.abs(tw).max() <= 1 / np.sqrt(300)
    np.testing.assert_allclose(ow.std(), tw.std(), rtol=0.03)
    np.testing.assert_allclose(ours.bias.data.std(), theirs.bias.detach().numpy().std(), rtol=0.35)


# -- gradient clipping --------------------------------------------------------------------------
def _grad_sets():
    return [RNG.normal(size=(3, 4)) * 3, None, RNG.normal(size=5), RNG.normal(size=(2, 2, 2)) * 0.1]


def _both(grads):
    ours, theirs = [], []
    for g in grads:
        shape = (2,) if g is None else g.shape
        p = nn.Parameter(np.zeros(shape))
        t = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        if g is not None:
            p.grad = g.copy()
            t.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _both(_grad_sets())
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ttotal = tnn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(float(ttotal), rel=1e-12)
    for p, t in zip(ours, theirs, strict=True):
        if t.grad is None:
            assert p.grad is None
        else:
            _close(p.grad, t.grad, "clipped grad")


def test_clip_grad_norm_nan_total_matches_torch():
    grads = [np.array([np.nan, 1.0]), np.array([2.0])]
    ours, theirs = _both(grads)
    nn.utils.clip_grad_norm_(ours, 1.0)
    tnn.utils.clip_grad_norm_(theirs, 1.0)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


@pytest.mark.parametrize("clip_value", [0.05, 1.0, 100.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _both(_grad_sets())
    nn.utils.clip_grad_value_(ours, clip_value)
    tnn.utils.clip_grad_value_(theirs, clip_value)
    for p, t in zip(ours, theirs, strict=True):
        if t.grad is None:
            assert p.grad is None
        else:
            _close(p.grad, t.grad, "clamped grad")


# -- end to end ---------------------------------------------------------------------------------
def _end_to_end_models():
    ours = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.BatchNorm1d(10), nn.Linear(10, 3)).double()
    theirs = tnn.Sequential(tnn.Linear(6, 10), tnn.ReLU(), tnn.BatchNorm1d(10), tnn.Linear(10, 3)).double()
    return ours, theirs


@pytest.mark.parametrize("direction", ["torch_to_retroprop", "retroprop_to_torch"])
def test_end_to_end_training_step_matches_torch(direction):
    rp.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = _end_to_end_models()
    ours[2].weight.data[...] = RNG.uniform(0.5, 1.5, size=10)
    with torch.no_grad():
        theirs[2].bias.uniform_(-0.5, 0.5)
    if direction == "torch_to_retroprop":
        ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    else:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()
    for _ in range(3):
        data, labels = RNG.normal(size=(16, 6)), RNG.integers(0, 3, size=16)
        out, tout = ours(rp.tensor(data)), theirs(_t(data))
        _close(out.data, tout, "logits")
        loss, tloss = loss_fn(out, labels), tloss_fn(tout, _t(labels))
        _close(loss.data, tloss, "loss")
        ours.zero_grad()
        theirs.zero_grad()
        loss.backward()
        tloss.backward()
        tparams = dict(theirs.named_parameters())
        assert [n for n, _ in ours.named_parameters()] == list(tparams)
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=1e-7, atol=1e-12,
                                       err_msg=f"gradient of {name}")
        with rp.no_grad(), torch.no_grad():  # one plain SGD step on both
            for name, p in ours.named_parameters():
                p.data -= 0.1 * p.grad
                tparams[name] -= 0.1 * tparams[name].grad
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-7, atol=1e-12, err_msg=name)
    ours.eval()
    theirs.eval()
    data = RNG.normal(size=(5, 6))
    _close(ours(rp.tensor(data)).data, theirs(_t(data)), "eval logits")


def test_named_sequential_matches_torch_keys():
    ours = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), bn=nn.BatchNorm1d(3)))
    theirs = tnn.Sequential(OrderedDict(fc=tnn.Linear(2, 3), bn=tnn.BatchNorm1d(3)))
    assert list(ours.state_dict()) == list(theirs.state_dict())
