"""Loaders (scikit-learn's bundled sets, MNIST-1D) and the generated 2-D problems."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import pytest

import retroprop as rp
from retroprop import data
from retroprop.data import datasets as datasets_module


@contextlib.contextmanager
def global_random_state_unchanged():
    """Fail if the block changes NumPy's or Python's global random state."""
    numpy_state = np.random.get_state()  # noqa: NPY002
    python_state = random.getstate()
    yield
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == numpy_state[0]
    np.testing.assert_array_equal(after[1], numpy_state[1], err_msg="NumPy's global state changed")
    assert after[2:] == numpy_state[2:], "NumPy's global state changed"
    assert random.getstate() == python_state, "Python's global random state changed"


# ---------------------------------------------------------------------------------------------
# scikit-learn's bundled sets
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("loader", "shape", "n_classes"), [
    (data.load_digits, (1797, 64), 10),
    (data.load_iris, (150, 4), 3),
    (data.load_breast_cancer, (569, 30), 2),
    (data.load_wine, (178, 13), 3),
])
def test_sklearn_loaders(loader, shape, n_classes):
    pytest.importorskip("sklearn")
    with global_random_state_unchanged():
        ds = loader()
    assert ds.x.shape == shape and ds.x.dtype == np.float32
    assert ds.y.shape == shape[:1] and ds.y.dtype == np.int64
    np.testing.assert_array_equal(np.unique(ds.y), np.arange(n_classes))
    assert ds.n_classes == n_classes and len(ds.target_names) == n_classes
    assert all(isinstance(name, str) for name in ds.target_names)
    assert ds.feature_names is None or len(ds.feature_names) == shape[1]
    assert isinstance(ds.description, str) and ds.description
    x, y = ds  # unpacks as (x, y)
    assert x is ds.x and y is ds.y
    assert str(shape) in repr(ds)


def test_iris_names():
    pytest.importorskip("sklearn")
    ds = data.load_iris()
    assert ds.target_names == ("setosa", "versicolor", "virginica")
    assert ds.feature_names[0] == "sepal length (cm)"


def test_missing_sklearn_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` raise ImportError
    with pytest.raises(ImportError, match=r"pip install retroprop\[data\]"):
        data.load_iris()


# ---------------------------------------------------------------------------------------------
# MNIST-1D
# ---------------------------------------------------------------------------------------------
def test_mnist1d_default_split_matches_the_package():
    mnist1d_data = pytest.importorskip("mnist1d.data")
    datasets_module._mnist1d_cache.pop((4000, 1000, 42), None)  # generate here, not from the cache
    with global_random_state_unchanged():
        ds = data.load_mnist1d()
    assert ds.x_train.shape == (4000, 40) and ds.x_test.shape == (1000, 40)
    assert ds.x_train.dtype == ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == ds.y_test.dtype == np.int64
    assert set(np.unique(ds.y_train)) == set(range(10)) and ds.n_classes == 10
    x_train, y_train, x_test, y_test = ds  # unpacks as a 4-tuple
    assert x_train is ds.x_train and y_test is ds.y_test
    # the same samples as mnist1d's own generator with its default arguments (local, no download)
    numpy_state = np.random.get_state()  # noqa: NPY002
    python_state = random.getstate()
    try:
        reference = mnist1d_data.make_dataset(mnist1d_data.get_dataset_args())
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
    np.testing.assert_allclose(x_train, reference["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y_train, reference["y"])
    np.testing.assert_allclose(x_test, reference["x_test"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y_test, reference["y_test"])


def test_mnist1d_sizes_seed_and_cache():
    pytest.importorskip("mnist1d")
    for seed in (1, 2):
        datasets_module._mnist1d_cache.pop((123, 45, seed), None)
    with global_random_state_unchanged():
        a = data.load_mnist1d(n_train=123, n_test=45, seed=1)
        b = data.load_mnist1d(n_train=123, n_test=45, seed=1)
        c = data.load_mnist1d(n_train=123, n_test=45, seed=2)
    assert a.x_train.shape == (123, 40) and a.y_train.shape == (123,)
    assert a.x_test.shape == (45, 40) and a.y_test.shape == (45,)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    # callers get copies: changing one cannot corrupt the cache
    assert a.x_train is not b.x_train
    a.x_train[:] = 0
    a.y_test[:] = -1
    d = data.load_mnist1d(n_train=123, n_test=45, seed=1)
    np.testing.assert_array_equal(d.x_train, b.x_train)
    np.testing.assert_array_equal(d.y_test, b.y_test)
    assert d.x_train.flags.writeable


def test_mnist1d_restores_global_state_on_error(monkeypatch):
    mnist1d_data = pytest.importorskip("mnist1d.data")

    def failing(args, template=None):
        np.random.seed(0)  # noqa: NPY002 - what make_dataset does before failing
        random.seed(0)
        raise RuntimeError("boom")

    monkeypatch.setattr(mnist1d_data, "make_dataset", failing)
    with global_random_state_unchanged(), pytest.raises(RuntimeError, match="boom"):
        data.load_mnist1d(n_train=17, n_test=3, seed=7)
    assert (17, 3, 7) not in datasets_module._mnist1d_cache


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"n_train": 0}, r"n_train must be an integer >= 1, got 0"),
    ({"n_test": 2.5}, r"n_test must be an integer >= 1, got 2.5"),
    ({"seed": -1}, r"seed must be an integer in \[0, 2\*\*32\), got -1"),
    ({"seed": None}, r"seed must be an integer"),
])
def test_mnist1d_argument_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.load_mnist1d(**kwargs)


# ---------------------------------------------------------------------------------------------
# Generated 2-D problems
# ---------------------------------------------------------------------------------------------
GENERATORS = [
    (data.spiral, 3),
    (data.circles, 2),
    (data.xor, 2),
    (data.gaussians, 2),
    (data.moons, 2),
]


@pytest.mark.parametrize(("generator", "n_classes"), GENERATORS)
@pytest.mark.parametrize("n_samples", [7, 100, 301])
def test_generator_shapes_dtypes_balance(generator, n_classes, n_samples):
    with global_random_state_unchanged():
        x, y = generator(n_samples=n_samples, seed=0)
    assert x.shape == (n_samples, 2) and x.dtype == np.float32
    assert y.shape == (n_samples,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=n_classes)
    assert len(counts) == n_classes
    assert counts.max() - counts.min() <= 1, f"classes unbalanced: {counts}"
    assert np.isfinite(x).all()


@pytest.mark.parametrize(("generator", "_"), GENERATORS)
def test_generator_reproducible_by_seed(generator, _):
    with global_random_state_unchanged():
        x1, y1 = generator(n_samples=50, seed=3)
        x2, y2 = generator(n_samples=50, seed=np.random.default_rng(3))
        x3, _y3 = generator(n_samples=50, seed=4)
        rp.manual_seed(11)
        x4, y4 = generator(n_samples=50)
        rp.manual_seed(11)
        x5, y5 = generator(n_samples=50)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    np.testing.assert_array_equal(x4, x5)
    np.testing.assert_array_equal(y4, y5)


@pytest.mark.parametrize(("generator", "_"), GENERATORS)
def test_generator_without_noise_and_without_shuffle(generator, _):
    x, y = generator(n_samples=20, noise=0.0, seed=0, shuffle=False)
    assert np.all(np.diff(y) >= 0), "unshuffled labels come in class blocks"
    x2, _y = generator(n_samples=20, noise=0.0, seed=1, shuffle=False)
    if generator is not data.xor:  # xor draws its points at random even without noise
        np.testing.assert_array_equal(x, x2)


def test_generator_geometry():
    x, y = data.circles(n_samples=200, noise=0.0, factor=0.3, seed=0)
    radius = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(radius[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, rtol=1e-6)
    x, y = data.xor(n_samples=200, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64))
    x, y = data.moons(n_samples=100, noise=0.0, seed=0)
    assert (x[y == 0, 1] >= -1e-6).all() and (x[y == 1, 1] <= 0.5 + 1e-6).all()
    x, y = data.spiral(n_samples=300, n_classes=4, noise=0.0, seed=0)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    assert np.linalg.norm(x, axis=1).max() <= 1.0 + 1e-6


def test_gaussians_centers():
    centers = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    x, y = data.gaussians(n_samples=300, centers=centers, noise=0.1, seed=0)
    assert x.shape == (300, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(y), [100, 100, 100])
    for k in range(3):
        np.testing.assert_allclose(x[y == k].mean(axis=0), centers[k], atol=0.05)
    x, y = data.gaussians(n_samples=40, n_classes=4, seed=0)
    assert x.shape == (40, 2) and np.bincount(y).tolist() == [10, 10, 10, 10]
    with pytest.raises(ValueError, match=r"n_classes=2 disagrees with the 3 centers"):
        data.gaussians(centers=centers, n_classes=2)
    with pytest.raises(ValueError, match=r"centers must be a finite array of shape \(n_classes, n_"):
        data.gaussians(centers=[1.0, 2.0])


@pytest.mark.parametrize(("call", "pattern"), [
    (lambda: data.spiral(n_samples=0), r"spiral: n_samples must be an integer >= 3, got 0"),
    (lambda: data.spiral(n_samples=10, n_classes=1), r"spiral: n_classes must be an integer >= 2, got 1"),
    (lambda: data.moons(n_samples=1.5), r"moons: n_samples must be an integer >= 2, got 1.5"),
    (lambda: data.xor(noise=-0.1), r"xor: noise must be a finite number >= 0, got -0.1"),
    (lambda: data.circles(noise=float("nan")), r"circles: noise must be a finite number >= 0, got nan"),
    (lambda: data.circles(factor=1.0), r"circles: factor .* must be in \[0, 1\), got 1.0"),
    (lambda: data.gaussians(n_samples=3, n_classes=4),
     r"gaussians: n_samples must be an integer >= 4, got 3"),
    (lambda: data.gaussians(noise="big"), r"gaussians: noise must be a finite number >= 0, got 'big'"),
])
def test_generator_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_generated_data_feeds_a_loader():
    x, y = data.spiral(n_samples=90, seed=0)
    x_tr, x_te, y_tr, y_te = data.train_test_split(x, y, test_size=0.2, seed=0, stratify=y)
    x_tr, x_te = data.standardize(x_tr, x_te)
    batches = list(data.DataLoader((x_tr, y_tr), batch_size=16, shuffle=True, generator=0))
    assert sum(len(b[1]) for b in batches) == len(y_tr) == 72
    assert np.bincount(y_te).tolist() == [6, 6, 6]
    assert x_tr.dtype == x_te.dtype == np.float32
