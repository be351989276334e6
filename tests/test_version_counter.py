"""The version counter: in-place edits of arrays kept for backward raise instead of giving a
silently wrong gradient (as PyTorch's ``_version``), and nothing else changes."""

from __future__ import annotations

import copy
import importlib
import threading
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
    y = (x * x).sum()  # Mul reads each operand for the other's gradient: here x's own
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
    inputs.requires_grad = True  # the input's gradient reads the weight
    out = model(inputs).sum()
    model.weight.data *= 0.5
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


def test_an_optimizer_step_between_two_backwards_raises_where_torch_does():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = rp.optim.SGD(model.parameters(), lr=0.1)
    loss = model(rp.tensor(np.ones((2, 3), np.float32))).sum()
    loss.backward(retain_graph=True)
    opt.step()  # updates the weights the retained graph keeps
    with pytest.raises(rp.ModifiedInPlaceError, match=r"\[float32 tensor of shape \(1, 4\)\], saved as "
                       r"input 1 of Linear, is at version 1; expected version 0 instead"):
        loss.backward()
    # one layer: its weight is read only for the input's gradient, which no one needs (torch agrees)
    model = nn.Linear(3, 1)
    opt = rp.optim.SGD(model.parameters(), lr=0.1)
    loss = model(rp.tensor(np.ones((2, 3), np.float32))).sum()
    loss.backward(retain_graph=True)
    opt.step()
    opt.zero_grad()
    loss.backward()
    np.testing.assert_array_equal(model.weight.grad, [[2.0, 2.0, 2.0]])


def test_a_saved_array_only_unneeded_gradients_read_may_change():
    # as PyTorch: Mul reads x only for the other operand's gradient, which is not needed here
    x = _leaf()
    y = (x * 3.0).sum()
    x.data += 1
    y.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])
    w, c = _leaf(), rp.tensor([4.0, 5.0, 6.0])
    y = (w @ c) + (w / c).sum()  # MatMul reads w for c's gradient; Div's output for c's gradient
    w.data *= 2
    y.backward()
    np.testing.assert_allclose(w.grad, [4.25, 5.2, 6 + 1 / 6], rtol=1e-6)
    c.requires_grad = True  # now c's gradient reads w: the same edit raises
    y = (w @ c).sum()
    w.data *= 2
    with pytest.raises(rp.ModifiedInPlaceError, match="input 0 of MatMul"):
        y.backward()


def test_where_checks_its_condition_tensor():
    condition = rp.tensor(np.array([True, False, True]))
    x = _leaf()
    y = rp.where(condition, x, x * 0.0).sum()
    condition.data[...] = False  # backward routes the gradient by the condition it saw
    with pytest.raises(rp.ModifiedInPlaceError, match="input 0 of Where"):
        y.backward()


def test_tracked_views_give_plain_copies_and_results():
    x = rp.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    loss = (x * x).sum()
    data = x.data
    assert type(data) is not np.ndarray
    assert repr(data).startswith("array(")
    copies = {
        "copy": data.copy(), "astype": data.astype(np.float64), "flatten": data.flatten(),
        "zeros_like": np.zeros_like(data), "full_like": np.full_like(data, 2.0),
        "copy.copy": copy.copy(data), "deepcopy": copy.deepcopy(data), "fancy index": data[[0, 1]],
        "mask": data[data > 2], "T.ravel": data.T.ravel(), "linalg": np.linalg.inv(data[:, :2]),
    }
    for name, array in copies.items():
        assert type(array) is np.ndarray, name
        array[...] = 0  # writes to a copy: not the kept array, no version change
    assert x._version == 0
    twin = rp.from_numpy(data)  # shares x's memory: shares its counter too
    assert type(twin._data) is np.ndarray
    twin.data[0, 0] = 1.0
    assert x._version == 1
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()


def test_assigning_another_tensors_data_shares_its_array():
    a, b = _leaf(), _leaf()
    loss = (b * b).sum()
    a.data = b.data  # tracked (b's array is kept): a gets b's very array, as before versions
    assert a._data is b._data
    loss.backward()


def test_writes_from_threads_are_all_counted():
    x = _leaf()
    loss = (x * x).sum()
    data = [x.data for _ in range(4)]

    def write(view: np.ndarray) -> None:
        for _ in range(500):
            view[0] = 1.0

    threads = [threading.Thread(target=write, args=(view,)) for view in data]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert x._version == 2000
    with pytest.raises(rp.ModifiedInPlaceError, match="is at version 2000; expected an earlier one"):
        loss.backward()
    del loss


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


def test_replacing_a_views_array_leaves_the_base_tracked():
    x = rp.tensor(np.arange(4.0), requires_grad=True)
    loss = (x * x).sum()
    view = x.reshape(2, 2)  # shares x's array and counter
    view.data = np.zeros((2, 2))  # the view now holds another array: x's is unchanged...
    view.data[0, 0] = 1.0
    x.data[0] = 5.0  # ...and this write changes what Mul kept
    with pytest.raises(rp.ModifiedInPlaceError, match="is at version 1; expected version 0"):
        loss.backward()
    x = rp.tensor(np.arange(4.0), requires_grad=True)
    loss = (x * x).sum()
    x.data[0] = 5.0  # written, then replaced: the kept array was still changed
    x.data = np.zeros(4)
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()


def test_a_long_history_never_hides_a_write():
    x = rp.tensor(np.zeros(3), requires_grad=True)
    loss = (x * x).sum()
    for _ in range(64):
        x.data[0] += 1.0  # changes the array loss's Mul kept
    x.data = np.zeros(3)  # then a new array, written often while another graph keeps it
    other = (x * x).sum()
    for _ in range(70):
        x.data[1] += 1.0
    with pytest.raises(rp.ModifiedInPlaceError, match="input 0 of Mul"):
        loss.backward()
    del other


def test_a_reference_count_that_cannot_tell_makes_every_kept_array_tracked(monkeypatch):
    engine = importlib.import_module("retroprop.tensor")
    monkeypatch.setattr(engine, "_ALONE", engine._ALONE)  # restored after the test
    monkeypatch.setattr(engine, "_getrefcount", lambda _: 2)  # a count blind to the graph's holders
    monkeypatch.setattr(engine, "_ALONE", engine._calibrate_alone())
    assert engine._ALONE == -1
    x = _leaf()
    loss = (x * x).sum()
    x.data[0] = 5.0  # tracked all the same: seen, not a silent wrong gradient
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()


def test_a_shallow_copy_shares_the_counter():
    x = _leaf()
    loss = (x * x).sum()
    twin = copy.copy(x)  # the same array
    assert twin._data is x._data and twin.requires_grad
    twin.data[0] = 5.0
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()
    weight = nn.Linear(2, 2).weight
    assert type(copy.copy(weight)) is type(weight)


def test_a_view_of_the_same_memory_assigned_to_data_stays_tracked():
    x = rp.tensor(np.arange(4.0).reshape(2, 2), requires_grad=True)
    loss = (x * x).sum()
    x.data = x.data.T  # not a new array: the memory Mul kept, seen through a transpose
    x.data[0, 1] = 9.0
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()


def test_editing_an_index_after_the_forward_pass_does_not_misroute_gradients():
    for make in (lambda: rp.tensor(np.array([0, 0, 1])), lambda: np.array([0, 0, 1])):
        x = _leaf()
        index = make()
        loss = (x[index] * x[index]).sum()
        (index.data if isinstance(index, rp.Tensor) else index)[...] = 2
        loss.backward()  # the gradient of what was computed, with the index as it was
        np.testing.assert_array_equal(x.grad, [4.0, 4.0, 0.0])
    x = _leaf()
    mask = np.array([True, False, True])
    loss = x[mask].sum()
    mask[...] = [False, True, False]
    loss.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])
