# Port of discuss.pytorch.org/t/neural-network-could-not-learn-on-this-type-of-data-why/96648:
# fit y = x**3 for x = 1..3999 with a 1-50-1 ReLU network, Adam(lr=1e-3), MSELoss, full batch,
# on the raw inputs (up to 4e3) and raw targets (up to 6.4e10). The loss stays enormous.
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)

EPOCHS = 1000


class Network(nn.Module):
    def __init__(self):
        super(Network, self).__init__()
        self.fc1 = nn.Linear(in_features=1, out_features=50, bias=True)
        self.fc2 = nn.Linear(in_features=50, out_features=1, bias=True)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return x


model = Network()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.MSELoss()

input = torch.tensor([x for x in range(1, 4000)]).float()
target = torch.tensor([(d ** 3) for d in input]).float()
input = input.unsqueeze(1)
target = target.unsqueeze(1)

# hold out a random 20% of the points for validation
perm = torch.randperm(len(input))
n_val = len(input) // 5
val_idx, tr_idx = perm[:n_val], perm[n_val:]
x_train, y_train = input[tr_idx], target[tr_idx]
x_val, y_val = input[val_idx], target[val_idx]

for epoch in range(EPOCHS):
    optimizer.zero_grad()
    out = model(x_train)
    loss = criterion(out, y_train)
    loss.backward()
    optimizer.step()
    if epoch % 100 == 0:
        print('Epoch {}, loss {}, max. pred val {}'.format(epoch, loss.item(), out.max().item()))

with torch.no_grad():
    pred = model(x_val)
val_mse = ((pred - y_val) ** 2).mean().item()
print(f"RESULT val_error={val_mse / y_val.var(unbiased=False).item():.4f}")
