# Fixed twin of buggy.py (commit 5ffe3e3 "fix: remove softmax"): the MLP returns raw scores
# to F.cross_entropy. Centralized training as in main_nn.py: SGD(lr=0.01, momentum=0.5),
# DataLoader(batch_size=64, shuffle=True). MNIST is replaced by scikit-learn's 8x8 digits.
import sys

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)

EPOCHS = 30


class MLP(nn.Module):
    def __init__(self, dim_in, dim_hidden, dim_out):
        super(MLP, self).__init__()
        self.layer_input = nn.Linear(dim_in, dim_hidden)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout()
        self.layer_hidden = nn.Linear(dim_hidden, dim_out)

    def forward(self, x):
        x = x.view(-1, x.shape[1] * x.shape[-2] * x.shape[-1])
        x = self.layer_input(x)
        x = self.dropout(x)
        x = self.relu(x)
        x = self.layer_hidden(x)
        return x


digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # like ToTensor: [0, 1], 1 channel
x_tr, x_va, y_tr, y_va = train_test_split(images, digits.target, test_size=0.2,
                                          random_state=SEED, stratify=digits.target)
mean, std = x_tr.mean(), x_tr.std()  # like transforms.Normalize((0.1307,), (0.3081,)) for MNIST
x_tr, x_va = (x_tr - mean) / std, (x_va - mean) / std

dataset_train = TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr, dtype=torch.long))
dataset_test = TensorDataset(torch.tensor(x_va), torch.tensor(y_va, dtype=torch.long))

net_glob = MLP(dim_in=64, dim_hidden=64, dim_out=10)
optimizer = torch.optim.SGD(net_glob.parameters(), lr=0.01, momentum=0.5)
train_loader = DataLoader(dataset_train, batch_size=64, shuffle=True)

net_glob.train()
for epoch in range(EPOCHS):
    batch_loss = []
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        output = net_glob(data)
        loss = F.cross_entropy(output, target)
        loss.backward()
        optimizer.step()
        batch_loss.append(loss.item())
    print('epoch', epoch, 'train loss', sum(batch_loss) / len(batch_loss))

net_glob.eval()
test_loader = DataLoader(dataset_test, batch_size=1000, shuffle=False)
correct = 0
with torch.no_grad():
    for data, target in test_loader:
        log_probs = net_glob(data)
        y_pred = log_probs.argmax(dim=1)
        correct += (y_pred == target).sum().item()
print(f"RESULT val_accuracy={correct / len(dataset_test):.4f}")
