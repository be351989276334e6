"""loss_output_mismatch (``loss_not_fit``) on torch: the adapter's evaluation-mode outputs agree with
retroprop's on the same weights and change nothing of the model, and a hand-written loop whose clipped
log loss falls while its regression predictions stray is named, where the same loop under MSELoss is not."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")]

torch = pytest.importorskip("torch")

from torch.utils import data as tud  # noqa: E402

import retroprop as rp  # noqa: E402
from retroprop.doctor.adapter import RetropropAdapter  # noqa: E402
from retroprop.torch import watch  # noqa: E402
from retroprop.torch.adapter import TorchAdapter  # noqa: E402

nn = torch.nn
torch.set_num_threads(1)


def test_outputs_agree_with_retroprops_and_change_nothing():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    twin = rp.nn.Sequential(rp.nn.Linear(4, 8), rp.nn.BatchNorm1d(8), rp.nn.ReLU(), rp.nn.Dropout(0.5),
                            rp.nn.Linear(8, 2))
    twin.load_state_dict({key: value.detach().numpy() for key, value in model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = TorchAdapter(model).outputs(x)
    assert out.dtype == np.float64 and out.shape == (16, 2)
    np.testing.assert_allclose(out, RetropropAdapter(twin).outputs(x), rtol=1e-5, atol=1e-6)
    assert all(m.training for m in model.modules())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def clipped_log_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """TensorFlow's hand-written ``-sum(y * log(clip(out, 1e-10, 1)))`` on a regression output."""
    return -(y * torch.log(torch.clamp(out, 1e-10, 1.0))).sum()


def train(loss_fn, seed: int = 0, epochs: int = 15):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((300, 6)).astype(np.float32)
    y = np.tanh(x @ rng.standard_normal(6) / 2) + 0.1 * rng.standard_normal(300)
    y = ((y - y.min()) / (y.max() - y.min())).astype(np.float32).reshape(-1, 1)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=32,
                            shuffle=True, generator=torch.Generator().manual_seed(seed))
    doctor = watch(model, optimizer, data=loader, loss=loss_fn)
    for epoch in range(epochs):
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
            total += loss.item() * len(xb)
        doctor.end_epoch(epoch, {"loss": total / len(x)})
    doctor.finish()
    return doctor


def test_a_hand_written_loop_with_a_clipped_log_loss_is_named():
    doctor = train(clipped_log_loss)
    cases = [d.evidence.get("case") for d in doctor.diagnoses if d.problem == "loss_output_mismatch"]
    assert cases == ["loss_not_fit"]
    assert not any(d.problem == "loss_output_mismatch" for d in train(nn.MSELoss()).diagnoses)
