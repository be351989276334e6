# Fixed twin of buggy.py (Deci-AI/super-gradients issue #416, fixed by PR #581): the training dataloader
# is built with "shuffle": True, as the non-buggy params do, so each batch mixes the classes.
# Everything else as in buggy.py: SGD(lr=0.001, momentum=0.9, nesterov=True, weight_decay=1e-4),
# cross-entropy, batches of 196; scikit-learn's digits stored class by class in place of ImageNet, a
# 64-256-10 ReLU MLP in place of the model; 100 epochs.
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)

digits = load_digits()
X = (digits.data / 16.0).astype(np.float32)
X_tr, X_va, y_tr, y_va = train_test_split(X, digits.target, test_size=0.2, random_state=SEED,
                                          stratify=digits.target)
order = np.argsort(y_tr, kind='stable')  # an image folder lists class 0's files, then class 1's, ...
train_set = TensorDataset(torch.tensor(X_tr[order]), torch.tensor(y_tr[order]))
valid_set = TensorDataset(torch.tensor(X_va), torch.tensor(y_va))

dataloader_params = {"batch_size": 196, "shuffle": True}
train_dataloader = DataLoader(train_set, **dataloader_params)
valid_dataloader = DataLoader(valid_set, batch_size=196)

train_params = {"max_epochs": 100,
                "initial_lr": 0.001,
                "optimizer_params": {"weight_decay": 0.0001, "momentum": 0.9, "nesterov": True}}

model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=train_params["initial_lr"],
                            **train_params["optimizer_params"])
criterion = nn.CrossEntropyLoss()


def accuracy(loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, targets in loader:
            correct += (model(inputs).argmax(1) == targets).sum().item()
            total += len(targets)
    return correct / total


for epoch in range(train_params["max_epochs"]):
    model.train()
    losses = []
    for inputs, targets in train_dataloader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    if epoch % 10 == 0 or epoch == train_params["max_epochs"] - 1:
        print(f"epoch {epoch:3d}  train loss {np.mean(losses):.4f}  "
              f"valid accuracy {accuracy(valid_dataloader):.4f}")

print(f"RESULT val_accuracy={accuracy(valid_dataloader):.4f}")
