# Fixed twin of buggy.py (phlippe/uvadlc_notebooks Tutorial 3, issue #119): the same BaseNetwork with
# the tutorial's ReLU activation instead of Sigmoid, the notebook's comparison and its conclusion ("start
# with a ReLU-based network"; sigmoid "tends to fail deep neural networks ... vanishing gradients").
# Kept from the notebook: ActivationFunction/ReLU classes, BaseNetwork (flatten, Linear+act per hidden
# size, Linear to the classes, no init changes), SGD(lr=1e-2, momentum=0.9), CrossEntropyLoss, batch
# 256 with shuffle and drop_last, train_model's loop with validation accuracy per epoch, early stopping
# with patience 7 keeping the best epoch's weights, max 50 epochs, inputs normalized to [-1, 1].
# FashionMNIST (28x28) is replaced by scikit-learn's 8x8 digits (input_size=64), random_split into
# training and validation as the notebook does.
import copy
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torch.utils.data as data
from sklearn.datasets import load_digits

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class ActivationFunction(nn.Module):

    def __init__(self):
        super().__init__()
        self.name = self.__class__.__name__
        self.config = {"name": self.name}


class Sigmoid(ActivationFunction):

    def forward(self, x):
        return 1 / (1 + torch.exp(-x))


class ReLU(ActivationFunction):

    def forward(self, x):
        return x * (x > 0).float()


class BaseNetwork(nn.Module):

    def __init__(self, act_fn, input_size=784, num_classes=10, hidden_sizes=[512, 256, 256, 128]):
        super().__init__()
        layers = []
        layer_sizes = [input_size] + hidden_sizes
        for layer_index in range(1, len(layer_sizes)):
            layers += [nn.Linear(layer_sizes[layer_index - 1], layer_sizes[layer_index]),
                       act_fn]
        layers += [nn.Linear(layer_sizes[-1], num_classes)]
        self.layers = nn.Sequential(*layers)
        self.config = {"act_fn": act_fn.config, "input_size": input_size, "num_classes": num_classes,
                       "hidden_sizes": hidden_sizes}

    def forward(self, x):
        x = x.view(x.size(0), -1)
        out = self.layers(x)
        return out


def test_model(net, data_loader):
    net.eval()
    true_preds, count = 0., 0
    for imgs, labels in data_loader:
        with torch.no_grad():
            preds = net(imgs).argmax(dim=-1)
            true_preds += (preds == labels).sum().item()
            count += labels.shape[0]
    return true_preds / count


def train_model(net, max_epochs=50, patience=7, batch_size=256):
    optimizer = optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
    loss_module = nn.CrossEntropyLoss()
    train_loader_local = data.DataLoader(train_set, batch_size=batch_size, shuffle=True, drop_last=True)
    val_scores = []
    best_val_epoch = -1
    best_state = None
    for epoch in range(max_epochs):
        net.train()
        true_preds, count = 0., 0
        for imgs, labels in train_loader_local:
            optimizer.zero_grad()
            preds = net(imgs)
            loss = loss_module(preds, labels)
            loss.backward()
            optimizer.step()
            true_preds += (preds.argmax(dim=-1) == labels).sum().item()
            count += labels.shape[0]
        train_acc = true_preds / count
        val_acc = test_model(net, val_loader)
        val_scores.append(val_acc)
        print(f"[Epoch {epoch+1:2d}] Training accuracy: {train_acc*100.0:05.2f}%, "
              f"Validation accuracy: {val_acc*100.0:05.2f}%")
        if len(val_scores) == 1 or val_acc > val_scores[best_val_epoch]:
            best_state = copy.deepcopy(net.state_dict())  # save_model
            best_val_epoch = epoch
        elif best_val_epoch <= epoch - patience:
            print(f"Early stopping due to no improvement over the last {patience} epochs")
            break
    net.load_state_dict(best_state)  # load_model
    return val_scores[best_val_epoch]


digits = load_digits()
images = torch.tensor((digits.images / 16.0 - 0.5) / 0.5, dtype=torch.float32)  # Normalize((0.5,), (0.5,))
dataset = data.TensorDataset(images, torch.tensor(digits.target))
train_set, val_set = data.random_split(dataset, [1437, 360])
val_loader = data.DataLoader(val_set, batch_size=1024, shuffle=False, drop_last=False)

act_fn = ReLU()
net_actfn = BaseNetwork(act_fn=act_fn, input_size=64)
val_acc = train_model(net_actfn)
print(f"RESULT val_accuracy={val_acc:.4f}")
