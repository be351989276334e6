"""The version counter: in-place edits of arrays kept for backward raise instead of giving a
silently wrong gradient (as PyTorch's ``_version``), and nothing else changes."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import F, nn
from retroprop.tensor import Function

EDITS = {
    "setitem": lambda x: x.data.__setitem__(Ellipsis, 0.0),
    "iadd": lambda x: x.data.__iadd__(1.0),
    "imul": lambda x: x.data.__imul__(2.0),
    "ufunc out": lambda x: np.add(x.data, 1.0, out=x.data),
    "copyto": lambda x: np.copyto(x.data, 5.0),
    "fill": lambda x: x.data.fill(0.0),
    "view of data": lambda x: x.data.reshape(-1).__setitem__(0, 7.0),
    "numpy()": lambda x: x.numpy().__setitem__(0, 2.0),
    "add.at": lambda x: np.add.at(x.data, [0], 1.0),
}


def _leaf() -> rp.Tensor:
    return rp.tensor([1.0, 2.0, 3.0], requires_grad=True)


def test_the_issue_case_raises_as_pytorch_does():
    x = _leaf()
    y = (x * x).sum()
    x.data[...] = 0  # between forward and backward: the gradient would be 0, not 2x
    with pytest.raises(rp.ModifiedInPlaceError, match=r"modified by an inplace operation.*"
                       r"input 0 of Mul, is at version 1; expected version 0 instead"):
        y.backward()
    assert issubclass(rp.ModifiedInPlaceError, RuntimeError)


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_every_numpy_write_through_data_is_seen(edit):
    x = _leaf()
    y = (x * x).sum()
    EDITS[edit](x)
    assert x._version == 1
    with pytest.raises(rp.ModifiedInPlaceError):
        y.backward()


def test_python_augmented_assignment_on_data_raises():
    x = _leaf()
    y = (x * 3.0).sum()
    x.data += 1  # reads x.data, adds in place, assigns the same array back
    x.data *= 2
    assert x._version == 2
    with pytest.raises(rp.ModifiedInPlaceError, match="version 2; expected version 0"):
        y.backward()


def test_inputs_parameters_outputs_and_views_are_all_covered():
    model = nn.Linear(3, 2)
    inputs = rp.tensor(np.ones((4, 3), np.float32))
    out = model(inputs).sum()
    inputs.data[0, 0] = 5.0  # the weight's gradient reads the input
    with pytest.raises(rp.ModifiedInPlaceError, match="input 0 of Linear"):
        out.backward()
    out = model(inputs).sum()
    model.weight.data *= 0.5  # the input's gradient reads the weight
    with pytest.raises(rp.ModifiedInPlaceError, match="input 1 of Linear"):
        out.backward()
    x = _leaf()
    y = x.exp()
    y.data[0] = 0.0  # exp's backward reads its output
    with pytest.raises(rp.ModifiedInPlaceError, match="the output of Exp"):
        y.sum().backward()
    x = _leaf()
    loss = (x * x).sum()
    x.detach().data[...] = 1.0  # detach shares the array
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()
    x = rp.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    loss = (x * x).sum()
    x.reshape(-1).data[0] = 9.0  # a view op's output shares the array too
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()


def test_class_targets_kept_by_cross_entropy_are_covered():
    logits = rp.tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    labels = rp.tensor(np.array([0, 1]))
    loss = F.cross_entropy(logits, labels)
    labels.data[0] = 2
    with pytest.raises(rp.ModifiedInPlaceError, match="input 1 of CrossEntropy"):
        loss.backward()


def test_a_new_function_without_saves_is_covered_by_default():
    class Square(Function):
        def forward(self, a: Any) -> Any:
            self.flat = a.reshape(-1)  # a view: the engine keeps the array for it
            return a * a

        def backward(self, grad: Any) -> Any:
            return grad * 2 * self.flat.reshape(grad.shape)

    x = rp.tensor(np.arange(4.0).reshape(2, 2)[:, :], requires_grad=True)
    y = Square.apply(x).sum()
    x.data[0, 0] = 10.0
    with pytest.raises(rp.ModifiedInPlaceError, match="input 0 of Square"):
        y.backward()


def test_what_torch_allows_keeps_working():
    # ops whose backward does not read the edited array: no error, right gradient (as torch)
    x = _leaf()
    y = (x + 1.0).sum()
    x.data[...] = 0
    y.backward()
    np.testing.assert_array_equal(x.grad, np.ones(3))
    # the training-loop pattern: edit after backward, then a new forward
    x = _leaf()
    for _ in range(3):
        x.grad = None
        loss = (x * x).sum()
        loss.backward()
        x.data -= 0.1 * x.grad
    np.testing.assert_allclose(x.data, np.array([1.0, 2.0, 3.0]) * 0.8**3, rtol=1e-6)
    # replacing the array is no in-place change: the node keeps the array it saw
    x = _leaf()
    y = (x * x).sum()
    x.data = np.zeros(3, np.float32)
    x.data[...] = 1.0  # writes to the new array, which no node keeps
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])


def test_an_optimizer_step_between_two_backwards_raises():
    model = nn.Linear(3, 1)
    opt = rp.optim.SGD(model.parameters(), lr=0.1)
    loss = model(rp.tensor(np.ones((2, 3), np.float32))).sum()
    loss.backward(retain_graph=True)
    opt.step()  # updates the weight the retained graph keeps
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()


def test_arrays_come_back_plain_when_no_graph_keeps_them():
    model = nn.Linear(3, 2)
    weight = model.weight
    data = weight.data
    assert weight.data is data  # never used by a graph: the same array, every time
    del data
    loss = model(rp.tensor(np.ones((2, 3), np.float32))).sum()
    assert type(weight.data) is not np.ndarray  # kept by the graph: a tracked view
    loss.backward()
    assert type(weight.data) is np.ndarray  # backward freed the graph
    model(rp.tensor(np.ones((2, 3), np.float32))).sum()  # a graph dropped without backward
    assert type(weight.data) is np.ndarray
    assert type(weight.data * 2) is np.ndarray  # arithmetic on a tracked view gives plain arrays


def test_copies_start_with_their_own_counter():
    model = nn.Linear(3, 2)
    loss = model(rp.tensor(np.ones((2, 3), np.float32))).sum()
    twin = copy.deepcopy(model)
    twin.weight.data[...] = 0.0  # a copy's array is not the one the graph keeps
    loss.backward()
    assert twin.weight._version == 0 and type(twin.weight.data) is np.ndarray


def test_fit_and_a_hand_written_loop_are_unaffected():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.Adam(model.parameters()),
                     epochs=2, batch_size=16, verbose=0, seed=0, doctor=True)
    assert history.stop_reason is None and len(history.epoch) == 2
