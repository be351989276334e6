# Fixed twin of buggy.py (sktime issue #10931, fix in PR #10932): before the criterion, _run_epoch squeezes
# the trailing singleton off the network's (batch, 1) output when the targets are (batch,), so MSELoss
# compares each prediction with its own target instead of broadcasting to all (batch, batch) pairs.
# The regressor is MLPRegressorTorch with its defaults (Flatten; 4 x [Dropout p in (0.1, 0.2, 0.2, 0.3),
# Linear(500), ReLU]; Linear(500, 1); MSELoss; Adam lr 0.001; ReduceLROnPlateau stepped on the epoch's mean
# loss), trained as in _fit / _run_epoch, except batch_size=16 (the default batch of 1 hides the bug, the
# issue reproduces it with 6) and 50 epochs instead of the default 100 (to keep the run short).
# Stand-in data (sktime's test sets need a download): 600 generated univariate series of length 50,
# x_t = a sin(2 pi f t / 50 + phi) + c + noise, numpy3D (n, 1, 50); the target is the amplitude a in [0.5, 2].
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)  # noqa: NPY002
torch.set_num_threads(1)


def make_series(n, rng, length=50):
    t = np.arange(length)[None, :]
    a = rng.uniform(0.5, 2.0, size=(n, 1))
    f = rng.uniform(1.0, 4.0, size=(n, 1))
    phi = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    c = rng.uniform(-0.5, 0.5, size=(n, 1))
    x = a * np.sin(2 * np.pi * f * t / length + phi) + c + 0.1 * rng.normal(size=(n, length))
    return x[:, None, :].astype(np.float32), a[:, 0].astype(np.float32)


rng = np.random.RandomState(SEED)
X, y = make_series(600, rng)
X_train, y_train, X_val, y_val = X[:480], y[:480], X[480:], y[480:]


class MLPNetworkTorch(nn.Module):
    def __init__(self, input_shape, num_classes=1, hidden_dim=500, dropout=(0.1, 0.2, 0.2, 0.3)):
        super().__init__()
        prev_dim = input_shape[1] * input_shape[2]
        layers = [nn.Flatten()]
        for p in dropout:
            layers += [nn.Dropout(p), nn.Linear(prev_dim, hidden_dim), nn.ReLU()]
            prev_dim = hidden_dim
        self.mlp = nn.Sequential(*layers)
        self.fc = nn.Linear(hidden_dim, num_classes)

    def forward(self, X):
        return self.fc(self.mlp(X))


network = MLPNetworkTorch(X_train.shape)
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(network.parameters(), lr=0.001)
scheduler = ReduceLROnPlateau(optimizer)
dataloader = DataLoader(TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train)),
                        batch_size=16, shuffle=True)

network.train()
for epoch in range(50):
    losses = []
    for inputs, outputs in dataloader:
        y_pred = network(inputs)
        # some networks emit (batch_size, 1) while targets are (batch_size,): squeeze before the loss
        if (y_pred.ndim == 2 and y_pred.shape[1] == 1 and outputs.ndim == 1
                and y_pred.shape[0] == outputs.shape[0]):
            y_pred = y_pred.squeeze(-1)
        loss = criterion(y_pred, outputs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    epoch_loss = np.average(losses)
    scheduler.step(epoch_loss)
    if epoch % 10 == 0 or epoch == 49:
        print(f"Epoch {epoch + 1}: Loss: {epoch_loss:.5f}  lr {optimizer.param_groups[0]['lr']:.1e}")

network.eval()
with torch.no_grad():
    pred = network(torch.from_numpy(X_val)).numpy().reshape(-1)
val_error = float(np.mean((pred - y_val) ** 2) / np.var(y_val))
print(f"RESULT val_error={val_error:.4f}")
