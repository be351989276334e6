# Fixed twin of buggy.py (pytorch/pytorch issue #78917): the lambda given to LambdaLR returns a factor
# (1.0), not the learning rate, so the optimizer keeps the author's rate of 0.001 (LambdaLR multiplies the
# initial rate by what the lambda returns). The author's network and optimizer (Linear(1, 16) - ReLU -
# Linear(16, 16) - ReLU; Adam with lr=0.001 and weight_decay=0.0001) are unchanged.
# The issue shows no data: the stand-in is a regression of 16 positive outputs on one input
# (y_k = 1 + 0.5 sin(k x / 8 + k), x uniform in [-2, 2]), MSE, mini-batches of 64, the scheduler stepped once per epoch.
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


def make_data(n):
    x = np.random.uniform(-2.0, 2.0, size=(n, 1)).astype(np.float32)
    k = np.arange(1, 17, dtype=np.float32)[None, :]
    y = (1.0 + 0.5 * np.sin(k * x / 8.0 + k)).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)


x_train, y_train = make_data(2000)
x_val, y_val = make_data(500)

model = nn.Sequential(
    nn.Linear(1, 16, bias=True),
    nn.ReLU(),
    nn.Linear(16, 16, bias=True),
    nn.ReLU()
)
lr = 0.001
lamda = 0.0001
optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=lamda)

update_func = lambda epoch: 1.0  # noqa: E731  (a factor: keep the initial lr constant)
scheduler = LambdaLR(optimizer, lr_lambda=update_func)
print('learning rate in use:', optimizer.param_groups[0]['lr'])

criterion = nn.MSELoss()
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
for epoch in range(200):
    model.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
    scheduler.step()
    if epoch % 50 == 0 or epoch == 199:
        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(x_val), y_val).item()
        print(f'epoch {epoch:3d}  lr {scheduler.get_last_lr()[0]:.1e}  train loss {loss.item():.4f}  '
              f'val loss {val_loss:.4f}')

model.eval()
with torch.no_grad():
    val_mse = criterion(model(x_val), y_val).item()
print(f"RESULT val_error={val_mse / y_val.var().item():.4f}")
