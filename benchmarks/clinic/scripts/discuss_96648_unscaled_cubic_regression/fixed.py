# Fixed twin of buggy.py, as the thread's answer does: normalize the input and the target with
# their mean and std, train on the normalized target, and unnormalize the predictions.
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

# normalize input and target with the training statistics
input_mean, input_std = torch.mean(x_train), torch.std(x_train)
target_mean, target_std = torch.mean(y_train), torch.std(y_train)
x_train = (x_train - input_mean) / input_std
x_val = (x_val - input_mean) / input_std
y_train_norm = (y_train - target_mean) / target_std

for epoch in range(EPOCHS):
    optimizer.zero_grad()
    out = model(x_train)
    loss = criterion(out, y_train_norm)
    loss.backward()
    optimizer.step()
    if epoch % 100 == 0:
        print('Epoch {}, loss {}, max. pred val {}'.format(epoch, loss.item(), out.max().item()))

with torch.no_grad():
    pred = model(x_val) * target_std + target_mean  # unnormalize the prediction
val_mse = ((pred - y_val) ** 2).mean().item()
print(f"RESULT val_error={val_mse / y_val.var(unbiased=False).item():.4f}")
