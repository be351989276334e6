"""Sequential: list-like and name-based access, editing, and errors that name the failing layer."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn


def _numbered():
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _named():
    return nn.Sequential(OrderedDict(fc1=nn.Linear(4, 3), act=nn.ReLU(), fc2=nn.Linear(3, 2)))


def _names(seq):
    """The layer names, after checking that attribute access agrees with the registry."""
    names = []
    for name, child in seq.named_children():
        assert getattr(seq, name) is child, f"seq.{name} is stale"
        names.append(name)
    return names


def _no_attribute(seq, name):
    with pytest.raises(AttributeError):
        getattr(seq, name)


def test_forward_applies_layers_in_order():
    seq = _numbered()
    x = rp.randn(5, 4)
    expected = seq[2](seq[1](seq[0](x)))
    np.testing.assert_array_equal(seq(x).data, expected.data)


def test_empty_sequential_is_identity():
    x = rp.randn(2, 3)
    assert nn.Sequential()(x) is x


def test_int_indexing_including_negative():
    layers = [nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)]
    seq = nn.Sequential(*layers)
    for i, layer in enumerate(layers):
        assert seq[i] is layer
        assert seq[i - 3] is layer
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(IndexError, match="out of range"):
        seq[-4]


def test_name_indexing_for_ordereddict():
    seq = _named()
    assert _names(seq) == ["fc1", "act", "fc2"]
    assert seq["fc2"] is seq[2] is seq.fc2
    with pytest.raises(KeyError, match="nope"):
        seq["nope"]


def test_plain_dict_names_layers_too():
    seq = nn.Sequential({"a": nn.ReLU(), "b": nn.Tanh()})
    assert _names(seq) == ["a", "b"]


def test_slicing_returns_sequential():
    seq = _numbered()
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential)
    assert list(tail) == [seq[1], seq[2]]
    x = rp.randn(2, 3)
    np.testing.assert_array_equal(tail(x).data, seq[2](seq[1](x)).data)
    assert list(seq[::2]) == [seq[0], seq[2]]
    named = _named()[:2]
    assert isinstance(named, nn.Sequential)
    assert _names(named) == ["fc1", "act"]


def test_len_and_iter():
    seq = _numbered()
    assert len(seq) == 3
    assert list(seq) == [seq[0], seq[1], seq[2]]
    assert len(nn.Sequential()) == 0


def test_append_numbers_and_returns_self():
    seq = nn.Sequential(nn.Linear(4, 3))
    relu = nn.ReLU()
    assert seq.append(relu) is seq
    assert _names(seq) == ["0", "1"]
    assert seq[1] is relu


def test_insert_renumbers_default_names():
    seq = _numbered()
    old = list(seq)
    tanh = nn.Tanh()
    seq.insert(1, tanh)
    assert _names(seq) == ["0", "1", "2", "3"]
    assert list(seq) == [old[0], tanh, old[1], old[2]]
    first = nn.Identity()
    seq.insert(0, first)
    assert seq[0] is first and _names(seq) == ["0", "1", "2", "3", "4"]
    at_end = nn.Identity()
    seq.insert(len(seq), at_end)
    assert seq[-1] is at_end
    with pytest.raises(IndexError):
        seq.insert(10, nn.ReLU())
    with pytest.raises(IndexError):
        seq.insert(-10, nn.ReLU())


def test_insert_negative_index_goes_before_that_position():
    relu, tanh, new = nn.ReLU(), nn.Tanh(), nn.Identity()
    seq = nn.Sequential(relu, tanh)
    seq.insert(-1, new)
    assert list(seq) == [relu, new, tanh]
    assert _names(seq) == ["0", "1", "2"]
    first = nn.Sigmoid()
    seq.insert(-3, first)
    assert list(seq) == [first, relu, new, tanh]


def test_named_sequential_needs_name_to_grow():
    seq = _named()
    with pytest.raises(ValueError, match="name="):
        seq.append(nn.ReLU())
    out = nn.Sigmoid()
    seq.append(out, name="out")
    assert _names(seq) == ["fc1", "act", "fc2", "out"]
    seq.insert(0, nn.Identity(), name="inp")
    assert _names(seq) == ["inp", "fc1", "act", "fc2", "out"]
    with pytest.raises(KeyError, match="exists"):
        seq.append(nn.ReLU(), name="act")


def test_setitem_and_replace_keep_the_name():
    seq = _named()
    new = nn.Tanh()
    seq["act"] = new
    assert seq.act is new and _names(seq) == ["fc1", "act", "fc2"]
    numbered = _numbered()
    other = nn.Linear(3, 2)
    old = numbered.replace(-1, other)
    assert isinstance(old, nn.Linear) and old is not other
    assert numbered[2] is other and _names(numbered) == ["0", "1", "2"]
    numbered[0] = nn.Linear(4, 3, bias=False)
    assert numbered[0].bias is None
    assert [n for n, _ in numbered.named_parameters()] == ["0.weight", "2.weight", "2.bias"]


def test_del_renumbers():
    seq = _numbered()
    last = seq[2]
    del seq[1]
    assert _names(seq) == ["0", "1"]
    assert seq[1] is last
    _no_attribute(seq, "2")
    del seq[-1]
    assert len(seq) == 1 and _names(seq) == ["0"]
    _no_attribute(seq, "1")
    named = _named()
    del named["act"]
    assert _names(named) == ["fc1", "fc2"]
    _no_attribute(named, "act")


@pytest.mark.parametrize("bad", [lambda x: x, 3, "relu", rp.ones(2)])
def test_non_modules_rejected(bad):
    with pytest.raises(TypeError, match="must be a Module"):
        nn.Sequential(nn.ReLU(), bad)
    with pytest.raises(TypeError, match="must be a Module"):
        nn.Sequential(OrderedDict(a=bad))
    seq = _numbered()
    with pytest.raises(TypeError, match="must be a Module"):
        seq.append(bad)
    with pytest.raises(TypeError, match="must be a Module"):
        seq.insert(0, bad)
    with pytest.raises(TypeError, match="must be a Module"):
        seq[0] = bad
    assert len(seq) == 3


def test_shape_error_names_layer_path_and_label():
    seq = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(rp.ShapeError) as info:
        seq(rp.randn(2, 4))
    message = str(info.value)
    assert message.startswith("layer '2.0'")
    assert "Linear 3→2" in message and "(2, 5)" in message


def test_first_layer_error_is_annotated():
    seq = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    with pytest.raises(rp.ShapeError, match=r"layer '0'.*Linear 4→8"):
        seq(rp.randn(2, 5))


def test_deeply_nested_named_path():
    inner = nn.Sequential(OrderedDict(norm=nn.BatchNorm1d(4)))
    seq = nn.Sequential(OrderedDict(body=nn.Sequential(nn.Linear(3, 4), inner)))
    with pytest.raises(ValueError, match=r"layer 'body\.1\.norm'.*BatchNorm1d 4"):
        seq(rp.randn(1, 3))


def test_error_from_non_labelled_layer_gets_label_in_parentheses():
    seq = nn.Sequential(nn.Softmax(dim=3))
    with pytest.raises(Exception, match=r"layer '0' \(Softmax\)"):
        seq(rp.randn(2, 3))


def test_parameters_and_state_dict_through_sequential():
    seq = _numbered()
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert seq.num_parameters() == 4 * 3 + 3 + 3 * 2 + 2
