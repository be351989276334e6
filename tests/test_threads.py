"""retroprop.threads: set/get_num_threads, RETROPROP_NUM_THREADS and the per-fit BLAS thread policy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import threadpoolctl
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

import retroprop as rp
from retroprop import nn, threads
from retroprop.threads import (
    ENV_VAR,
    SMALL_GEMM_MACS,
    choose_num_threads,
    largest_gemm,
    training_threads,
)


@pytest.fixture(autouse=True)
def clean_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "_setting", None)
    monkeypatch.delenv(ENV_VAR, raising=False)


def blas_threads() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


needs_blas = pytest.mark.skipif(not blas_threads(), reason="threadpoolctl finds no BLAS library")


def mlp(*widths: int, seed: int = 0) -> nn.Sequential:
    rp.manual_seed(seed)
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(widths):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


# ---------------------------------------------------------------------------------------------
# set_num_threads / get_num_threads / RETROPROP_NUM_THREADS
# ---------------------------------------------------------------------------------------------
def test_set_and_get() -> None:
    assert rp.get_num_threads() is None
    rp.set_num_threads(3)
    assert rp.get_num_threads() == 3
    rp.set_num_threads(np.int64(2))
    assert rp.get_num_threads() == 2 and type(rp.get_num_threads()) is int
    rp.set_num_threads(None)
    assert rp.get_num_threads() is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, 2.0, "2", True, [2], 2**31])
def test_set_num_threads_refuses_anything_but_a_positive_int(bad: object) -> None:
    rp.set_num_threads(4)
    with pytest.raises(ValueError, match=r"set_num_threads: n must be a positive integer .* got"):
        rp.set_num_threads(bad)  # type: ignore[arg-type]
    assert rp.get_num_threads() == 4  # a refused value changes nothing


def test_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, " 3 ")
    assert rp.get_num_threads() == 3
    rp.set_num_threads(1)  # the call wins over the environment
    assert rp.get_num_threads() == 1
    rp.set_num_threads(None)  # back to the default: the environment again
    assert rp.get_num_threads() == 3
    for automatic in ("", "auto", "AUTO"):
        monkeypatch.setenv(ENV_VAR, automatic)
        assert rp.get_num_threads() is None


@pytest.mark.parametrize("bad", ["0", "-2", "1.5", "two", "99999999999"])
def test_environment_variable_refuses_bad_values(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(ENV_VAR, bad)
    with pytest.raises(ValueError, match=rf"{ENV_VAR} must be a positive integer.*got '{bad}'"):
        rp.get_num_threads()
    with pytest.raises(ValueError, match=ENV_VAR), training_threads(mlp(4, 4), 8):
        pass


# ---------------------------------------------------------------------------------------------
# The automatic choice
# ---------------------------------------------------------------------------------------------
class Bilinear(nn.Module):
    """A custom layer holding its own weight matrix (not a Linear)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = rp.nn.Parameter(np.zeros((300, 200), dtype=np.float32))
        self.scale = rp.nn.Parameter(np.ones(300, dtype=np.float32))


def test_largest_gemm_counts_every_weight_matrix() -> None:
    assert largest_gemm(mlp(64, 128, 10), 32) == 32 * 64 * 128
    assert largest_gemm(nn.Sequential(nn.Linear(8, 8), Bilinear()), 10) == 10 * 300 * 200
    assert largest_gemm(nn.Sequential(nn.ReLU()), 32) == 0


def test_small_model_gets_one_thread_large_model_the_library_default() -> None:
    wide = nn.Sequential(nn.Linear(1024, 1024))  # batch 64: exactly 2**26 multiply-adds
    assert SMALL_GEMM_MACS == 64 * 1024 * 1024
    assert choose_num_threads(mlp(64, 64, 64, 10), 32) == 1
    assert choose_num_threads(wide, 63) == 1
    assert choose_num_threads(wide, 64) is None
    assert choose_num_threads(wide, 10_000) is None
    rp.set_num_threads(3)  # the user's setting applies to every model
    assert choose_num_threads(mlp(64, 64, 10), 32) == 3
    assert choose_num_threads(wide, 10_000) == 3


# ---------------------------------------------------------------------------------------------
# The context manager
# ---------------------------------------------------------------------------------------------
@needs_blas
def test_training_threads_limits_and_restores() -> None:
    small, wide = mlp(16, 16, 2), nn.Sequential(nn.Linear(1024, 1024))
    with threadpool_limits(limits=2, user_api="blas"):
        assert set(blas_threads()) == {2}
        with training_threads(small, 32) as chosen:
            assert chosen == 1 and set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}
        with training_threads(wide, 10_000) as chosen:  # large: left as it is
            assert chosen is None and set(blas_threads()) == {2}
        rp.set_num_threads(1)
        with training_threads(wide, 10_000) as chosen:
            assert chosen == 1 and set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}
    with threadpool_limits(limits=1, user_api="blas"):
        rp.set_num_threads(2)  # an explicit setting may also raise the count
        with training_threads(small, 32) as chosen:
            assert chosen == 2 and set(blas_threads()) == {2}
        assert set(blas_threads()) == {1}


@needs_blas
def test_nested_blocks_restore_in_order() -> None:  # evaluate's block inside fit's
    with threadpool_limits(limits=2, user_api="blas"):
        with training_threads(mlp(8, 8), 32):
            rp.set_num_threads(2)
            with training_threads(mlp(8, 8), 256) as inner:
                assert inner == 2 and set(blas_threads()) == {2}
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}


@needs_blas
def test_training_threads_restores_after_an_error() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(KeyError), training_threads(mlp(8, 8), 32):
            assert set(blas_threads()) == {1}
            raise KeyError("inside")
        assert set(blas_threads()) == {2}


def test_training_threads_is_a_no_op_without_blas(monkeypatch: pytest.MonkeyPatch) -> None:
    nothing = ThreadpoolController().select(prefix="libretroprop_no_such_blas")
    assert not nothing.lib_controllers
    monkeypatch.setattr(threads, "_blas", nothing)
    before = threadpool_info()
    with training_threads(mlp(8, 8), 32) as chosen:
        assert chosen is None
        assert threadpool_info() == before


def test_the_library_scan_happens_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    built = []

    class Counting(ThreadpoolController):
        def __init__(self) -> None:
            built.append(self)
            super().__init__()

    monkeypatch.setattr(threads, "_blas", None)
    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", Counting)
    for _ in range(3):
        with training_threads(mlp(8, 8), 32):
            pass
    assert len(built) == 1


# ---------------------------------------------------------------------------------------------
# Results do not depend on threads
# ---------------------------------------------------------------------------------------------
def short_fit(widths: tuple[int, ...], policy: bool) -> np.ndarray:
    x, y = rp.data.gaussians(96, n_classes=3, seed=0)
    x = np.hstack([x] * (widths[0] // x.shape[1]))
    model = mlp(*widths)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if policy:
        with training_threads(model, 32):
            history = rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=4,
                             batch_size=32, seed=0, verbose=0)
    else:
        history = rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=4,
                         batch_size=32, seed=0, verbose=0)
    return history.step_loss


@needs_blas
def test_a_fit_under_the_policy_gives_the_same_numbers() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        assert np.array_equal(short_fit((8, 16, 3), policy=True), short_fit((8, 16, 3), policy=False))


@needs_blas
def test_under_the_policy_a_small_model_does_not_depend_on_the_thread_count() -> None:
    # 32 x 128 x 128 multiply-adds is above OpenBLAS's own one-thread cut-off (65536 x 4): with two
    # threads it sums in another order than with one, and the losses differ in their last bits
    widths = (64, 128, 128, 3)
    runs = []
    for outer in (1, 2):
        with threadpool_limits(limits=outer, user_api="blas"):
            runs.append(short_fit(widths, policy=True))
    assert np.array_equal(runs[0], runs[1])
