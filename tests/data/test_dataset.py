"""TensorDataset, DataLoader, train_test_split and StandardScaler (PyTorch and scikit-learn semantics)."""

from __future__ import annotations

import random

import numpy as np
import pytest

import retroprop as rp
from retroprop.data import (
    DataLoader,
    NotFittedError,
    StandardScaler,
    TensorDataset,
    standardize,
    train_test_split,
)


def _data(n=10, features=3):
    x = np.arange(n * features, dtype=np.float32).reshape(n, features)
    y = np.arange(n, dtype=np.int64)
    return x, y


# ---------------------------------------------------------------------------------------------
# TensorDataset
# ---------------------------------------------------------------------------------------------
def test_tensor_dataset_indexing():
    x, y = _data()
    ds = TensorDataset(x, rp.tensor(y))
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == 3
    xs, ys = ds[2:5]
    np.testing.assert_array_equal(ys, [2, 3, 4])
    xs, ys = ds[np.array([7, 1])]
    np.testing.assert_array_equal(xs, x[[7, 1]])
    np.testing.assert_array_equal(ys, [7, 1])
    assert all(isinstance(a, rp.Tensor) for a in ds.tensors)  # as torch's
    assert all(isinstance(a, rp.Tensor) for a in ds[[7, 1]])


def test_tensor_dataset_length_mismatch_names_both_lengths():
    with pytest.raises(ValueError, match=r"array 0 has 10 samples but array 1 has 9"):
        TensorDataset(np.zeros((10, 2)), np.zeros(9))


def test_tensor_dataset_empty_and_missing_arrays_are_errors():
    with pytest.raises(ValueError, match="dataset is empty"):
        TensorDataset(np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float32(1.0))


# ---------------------------------------------------------------------------------------------
# DataLoader
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize(("n", "batch_size", "drop_last", "sizes"), [
    (10, 3, False, [3, 3, 3, 1]),
    (10, 3, True, [3, 3, 3]),
    (9, 3, True, [3, 3, 3]),
    (10, 32, False, [10]),
    (10, 32, True, []),
    (10, 1, False, [1] * 10),
])
def test_batches_sizes_and_coverage(n, batch_size, drop_last, sizes, shuffle):
    x, y = _data(n)
    loader = DataLoader((x, y), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                        generator=0)
    batches = list(loader)
    assert len(loader) == len(sizes) == len(batches)
    assert [len(b[1]) for b in batches] == sizes
    for xb, yb in batches:
        assert isinstance(xb, rp.Tensor) and isinstance(yb, rp.Tensor)  # as torch's default collate
        assert xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb, x[yb])  # rows stay paired with their labels
    seen = np.concatenate([b[1] for b in batches]) if batches else np.array([], dtype=np.int64)
    assert len(np.unique(seen)) == len(seen), "no sample twice in an epoch"
    if not drop_last:
        np.testing.assert_array_equal(np.sort(seen), y)  # every sample exactly once
    if not shuffle:
        np.testing.assert_array_equal(seen, y[: len(seen)])


def test_batches_are_copies_not_views():
    x, y = _data()
    xb, _ = next(iter(DataLoader((x, y), batch_size=4)))
    xb[:] = -1
    assert (x >= 0).all()


def test_shuffle_changes_order_across_epochs():
    _, y = _data(50)
    loader = DataLoader(TensorDataset(y), batch_size=50, shuffle=True, generator=1)
    first, second = (next(iter(loader))[0] for _ in range(2))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(second))
    assert not np.array_equal(first, y)


def test_manual_seed_makes_shuffling_reproducible():
    _, y = _data(40)
    loader = DataLoader(y, batch_size=7, shuffle=True)  # generator resolved when iterating
    rp.manual_seed(3)
    a = np.concatenate([b[0] for b in loader])
    b_epoch = np.concatenate([b[0] for b in loader])
    rp.manual_seed(3)
    c = np.concatenate([b[0] for b in loader])
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b_epoch)
    # an int seed or a Generator gives the same sequence of epochs
    d = np.concatenate([b[0] for b in DataLoader(y, batch_size=7, shuffle=True, generator=5)])
    e = np.concatenate([b[0] for b in DataLoader(y, batch_size=7, shuffle=True,
                                                 generator=np.random.default_rng(5))])
    np.testing.assert_array_equal(d, e)


def test_shuffle_leaves_global_random_state_alone():
    numpy_state = np.random.get_state()  # noqa: NPY002
    python_state = random.getstate()
    list(DataLoader(_data(20), batch_size=3, shuffle=True))
    train_test_split(*_data(20), seed=None)
    assert random.getstate() == python_state
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


@pytest.mark.parametrize("batch_size", [0, -3, 2.0, 2.5, True, "4", None])
def test_batch_size_must_be_a_positive_int(batch_size):
    with pytest.raises(ValueError, match=rf"batch_size must be a positive integer, got {batch_size!r}"):
        DataLoader(_data(), batch_size=batch_size)


def test_loader_errors():
    with pytest.raises(ValueError, match="array 0 has 10 samples but array 1 has 4"):
        DataLoader((np.zeros((10, 2)), np.zeros(4)))
    with pytest.raises(ValueError, match="dataset is empty"):
        DataLoader((np.zeros((0, 2)),))
    with pytest.raises(TypeError, match="dataset must be"):
        DataLoader(3)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(_data(), generator="seed")


def test_loader_accepts_tensors_and_reports_itself():
    x, y = _data(6)
    loader = DataLoader(TensorDataset(rp.tensor(x), y), batch_size=4)
    xb, _ = next(iter(loader))
    assert isinstance(xb, rp.Tensor) and xb.shape == (4, 3)
    assert "2 batches" in repr(loader)


# ---------------------------------------------------------------------------------------------
# train_test_split
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("test_size", "n_test"), [(0.25, 25), (0.3, 30), (0.333, 34), (10, 10), (99, 99)])
def test_split_sizes_and_pairing(test_size, n_test):
    x, y = _data(100)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, seed=0)
    assert (len(x_tr), len(x_te), len(y_tr), len(y_te)) == (100 - n_test, n_test, 100 - n_test, n_test)
    np.testing.assert_array_equal(x_tr, x[y_tr])
    np.testing.assert_array_equal(x_te, x[y_te])
    np.testing.assert_array_equal(np.sort(np.concatenate([y_tr, y_te])), y)


def test_split_is_deterministic_by_seed_and_shuffle_false_keeps_order():
    x, y = _data(50)
    a = train_test_split(x, y, seed=4)
    b = train_test_split(x, y, seed=np.random.default_rng(4))
    c = train_test_split(x, y, seed=5)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[3], c[3])
    rp.manual_seed(9)
    d = train_test_split(y)
    rp.manual_seed(9)
    e = train_test_split(y)
    np.testing.assert_array_equal(d[0], e[0])
    y_tr, y_te = train_test_split(y, test_size=10, shuffle=False)
    np.testing.assert_array_equal(y_tr, y[:40])
    np.testing.assert_array_equal(y_te, y[40:])


def test_split_keeps_tensors_as_tensors():
    x, y = _data(8)
    x_tr, x_te, y_tr, _ = train_test_split(rp.tensor(x), y, test_size=2, seed=0)
    assert isinstance(x_tr, rp.Tensor) and x_tr.dtype == np.float32 and x_te.shape == (2, 3)
    assert isinstance(y_tr, np.ndarray)


def test_stratify_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    x = np.arange(100)
    for seed in range(5):
        _, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, seed=seed, stratify=y)
        np.testing.assert_array_equal(np.bincount(y_te), [12, 6, 2])
        np.testing.assert_array_equal(np.bincount(y_tr), [48, 24, 8])
        np.testing.assert_array_equal(y[x_te], y_te)
        assert not np.all(np.diff(y_te) >= 0), "the test set is shuffled, not grouped by class"
    # uneven shares still add up to the requested size and stay within one of the exact share
    y = np.repeat([0, 1, 2], [7, 7, 7])
    _, y_te = train_test_split(y, test_size=5, seed=1, stratify=y)
    assert len(y_te) == 5 and np.bincount(y_te, minlength=3).min() >= 1
    assert np.all(np.abs(np.bincount(y_te, minlength=3) - 5 / 3) < 1)


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    ({"test_size": 0.0}, ValueError, r"test_size=0.0 must be a fraction strictly between 0 and 1"),
    ({"test_size": 1.0}, ValueError, r"test_size=1.0 must be a fraction"),
    ({"test_size": 0}, ValueError, r"test_size=0 must be a count between 1 and n_samples - 1 = 9"),
    ({"test_size": 10}, ValueError, r"test_size=10 must be a count"),
    ({"test_size": 0.99}, ValueError, r"test_size=0.99 of 10 samples gives 10 test and 0 training"),
    ({"test_size": "a"}, TypeError, r"test_size must be a float fraction or an int count, got str"),
    ({"stratify": np.zeros(5)}, ValueError, r"stratify has 5 labels but the arrays have 10"),
    ({"stratify": np.arange(10)}, ValueError, r"at least 2 samples of every class"),
    ({"stratify": np.zeros(10), "shuffle": False}, ValueError, r"stratify needs shuffle=True"),
])
def test_split_errors(kwargs, error, pattern):
    x, y = _data(10)
    with pytest.raises(error, match=pattern):
        train_test_split(x, y, **kwargs)


def test_small_fraction_rounds_up_to_one_test_sample():
    assert len(train_test_split(np.arange(10), test_size=0.01, seed=0)[1]) == 1


def test_split_length_mismatch_and_no_arrays():
    with pytest.raises(ValueError, match="array 0 has 10 samples but array 1 has 3"):
        train_test_split(np.zeros(10), np.zeros(3))
    with pytest.raises(ValueError, match="at least one array"):
        train_test_split()


# ---------------------------------------------------------------------------------------------
# StandardScaler
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scaler_round_trip_keeps_dtype(dtype):
    x = np.random.default_rng(0).normal(loc=5.0, scale=3.0, size=(200, 4)).astype(dtype)
    scaler = StandardScaler()
    z = scaler.fit_transform(x)
    assert z.dtype == dtype and scaler.mean_.dtype == dtype and scaler.scale_.dtype == dtype
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-5)
    np.testing.assert_allclose(scaler.mean_, x.astype(np.float64).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(scaler.scale_, x.astype(np.float64).std(axis=0), rtol=1e-6)
    back = scaler.inverse_transform(z)
    assert back.dtype == dtype
    np.testing.assert_allclose(back, x, rtol=1e-5, atol=1e-5)


def test_scaler_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.preprocessing")
    x = np.random.default_rng(1).normal(size=(50, 3)) * [1, 10, 100]
    ours = StandardScaler().fit(x)
    theirs = sk.StandardScaler().fit(x)
    np.testing.assert_allclose(ours.mean_, theirs.mean_)
    np.testing.assert_allclose(ours.scale_, theirs.scale_)
    np.testing.assert_allclose(ours.transform(x), theirs.transform(x))


@pytest.mark.parametrize("value", [0.0, 0.1, 3.7, -1e6])
def test_constant_feature_is_finite_zero(value):
    x = np.random.default_rng(2).normal(size=(30, 3)).astype(np.float32)
    x[:, 1] = value
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    assert scaler.scale_[1] == 1.0
    assert np.isfinite(z).all()
    assert (z[:, 1] == 0).all()
    np.testing.assert_allclose(scaler.inverse_transform(z)[:, 1], value)


def test_integer_input_becomes_float32_and_tensors_stay_tensors():
    z = StandardScaler().fit_transform(np.arange(12).reshape(6, 2))
    assert z.dtype == np.float32
    t = StandardScaler().fit_transform(rp.tensor(np.arange(12.0).reshape(6, 2)))
    assert isinstance(t, rp.Tensor) and t.dtype == np.float64


def test_scaler_errors():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        StandardScaler().transform(np.zeros((2, 2)))
    scaler = StandardScaler().fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"feature shape \(2,\) but the scaler was fitted on .* \(3,\)"):
        scaler.transform(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="0 samples"):
        StandardScaler().fit(np.zeros((0, 3)))


def test_standardize_fits_on_the_first_array_only():
    rng = np.random.default_rng(3)
    x_train = rng.normal(2.0, 4.0, size=(100, 2)).astype(np.float32)
    x_test = rng.normal(-1.0, 1.0, size=(20, 2)).astype(np.float32)
    s_train, s_test = standardize(x_train, x_test)
    scaler = StandardScaler().fit(x_train)
    np.testing.assert_allclose(s_test, scaler.transform(x_test))
    np.testing.assert_allclose(s_train.mean(axis=0), 0, atol=1e-5)
    assert s_test.dtype == np.float32
    single = standardize(x_train)
    assert isinstance(single, np.ndarray)
    np.testing.assert_array_equal(single, s_train)


def test_batches_are_tensors_a_torch_style_loop_uses_as_they_are():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2, 3)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.int64)
    rp.manual_seed(0)
    model = rp.nn.Sequential(rp.nn.Flatten(), rp.nn.Linear(6, 2))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.5)
    loss_fn = rp.nn.CrossEntropyLoss()
    losses = []
    for _ in range(20):
        for xb, yb in DataLoader(TensorDataset(rp.tensor(x), rp.tensor(y)), batch_size=16, shuffle=True):
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            assert yb.dtype == np.int64 and not xb.requires_grad
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4])


def test_a_custom_dataset_of_arrays_gives_tensor_batches():
    class Squares:
        def __len__(self):
            return 10

        def __getitem__(self, index):
            index = np.asarray(index)
            return index.astype(np.float32), index ** 2

    (xb, yb), = DataLoader(Squares(), batch_size=10)
    assert isinstance(xb, rp.Tensor) and isinstance(yb, rp.Tensor)
    np.testing.assert_array_equal(yb.numpy(), np.arange(10) ** 2)
