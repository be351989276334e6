# Fixed twin of buggy.py (discuss.pytorch.org/t/41046, "Scaling target variables"): the targets are scaled
# to [0, 1] with the training targets' min and max, as in the question's working run, and the network's
# predictions are mapped back to the targets' units.
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)
rng = np.random.RandomState(SEED)


def make_data(n):
    x = rng.uniform(-1.0, 1.0, size=(n, 5))
    y = -2700.0 + 25.0 * (np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + x[:, 3] ** 2 - x[:, 4])
    return x.astype(np.float32), y.astype(np.float32).reshape(-1, 1)


x_train, y_train = make_data(1000)
x_val, y_val = make_data(300)
print(f'targets: mean {y_train.mean():.1f}  min {y_train.min():.1f}  max {y_train.max():.1f}')

y_min, y_max = y_train.min(), y_train.max()
y_fit = (y_train - y_min) / (y_max - y_min)  # the targets scaled to [0, 1]


def to_targets(pred):
    return pred * (y_max - y_min) + y_min


model = nn.Sequential(nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 1))
for layer in model:
    if isinstance(layer, nn.Linear):
        nn.init.xavier_uniform_(layer.weight)

criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
train_set = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_fit))
loader = DataLoader(train_set, batch_size=32, shuffle=True)


def val_error():
    model.eval()
    with torch.no_grad():
        pred = to_targets(model(torch.from_numpy(x_val)).numpy())
    return float(np.mean((pred - y_val) ** 2) / np.var(y_val))


for epoch in range(300):
    model.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
    if epoch % 50 == 0 or epoch == 299:
        print(f'epoch {epoch:3d}  train loss {loss.item():.4f}  val error {val_error():.4f}')

print(f"RESULT val_error={val_error():.4f}")
