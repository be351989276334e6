# Port of offbit/evo-design torch_models.py (issue #3): CustomModel builds the optimizer with
# lr=build_info['weight_decay']['val'] instead of build_info['lr']['val'], so every candidate
# trains with a learning rate drawn from the weight-decay range (5e-5..2e-3).
# One candidate from the author's search space (net_builder.py): one hidden layer of 512 units,
# dropout 0.2, ReLU, SGD(momentum=0.9), lr 0.05, weight decay 0.0005; LogSoftmax + nll_loss;
# batch 64, shuffled; one training call of at most 101 batches, as the worker does.
# MNIST is replaced by scikit-learn's 8x8 digits, normalized as transforms.Normalize does.
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torch.optim as optim
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class Flatten(nn.Module):
    """A simple flatten module."""

    def forward(self, x):
        return x.view(x.size(0), -1)


class CustomModel():

    def __init__(self, build_info):
        previous_units = 8 * 8
        self.model = nn.Sequential()
        self.model.add_module('flatten', Flatten())
        for i, layer_info in enumerate(build_info['layers']):
            i = str(i)
            self.model.add_module('fc_' + i, nn.Linear(previous_units, layer_info['nb_units']['val']))
            self.model.add_module('dropout_' + i, nn.Dropout(p=layer_info['dropout_rate']['val']))
            if layer_info['activation']['val'] == 'relu':
                self.model.add_module('relu_' + i, nn.ReLU())
            previous_units = layer_info['nb_units']['val']
        self.model.add_module('classification_layer', nn.Linear(previous_units, 10))
        self.model.add_module('sofmax', nn.LogSoftmax(dim=1))
        self.optimizer = optim.SGD(self.model.parameters(),
                                   lr=build_info['weight_decay']['val'],
                                   weight_decay=build_info['weight_decay']['val'],
                                   momentum=0.9)

    def train(self, train_loader, max_batches=100):
        """Train for (at most) max_batches + 1 batches."""
        self.model.train()
        batch = 0
        while True:
            for batch_idx, (data, target) in enumerate(train_loader):
                self.optimizer.zero_grad()
                output = self.model(data)
                loss = F.nll_loss(output, target)
                if np.isnan(loss.item()):
                    print('stopping training - nan loss')
                    return -1
                loss.backward()
                self.optimizer.step()
                if batch % 20 == 0:
                    print('batch', batch, 'loss', loss.item())
                batch += 1
                if batch > max_batches:
                    return 1

    def test(self, test_loader):
        """Evaluate a model."""
        self.model.eval()
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                output = self.model(data)
                pred = output.max(1)[1]
                correct += pred.eq(target).sum().item()
        return correct / len(test_loader.dataset)


build_info = {
    'nb_layers': {'val': 1},
    'lr': {'val': 0.05},
    'weight_decay': {'val': 0.0005},
    'optimizer': {'val': 'sgd'},
    'layers': [{'nb_units': {'val': 512}, 'dropout_rate': {'val': 0.2},
                'activation': {'val': 'relu'}}],
}

digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # ToTensor: [0, 1]
x_tr, x_te, y_tr, y_te = train_test_split(images, digits.target, test_size=0.2,
                                          random_state=SEED, stratify=digits.target)
mean, std = x_tr.mean(), x_tr.std()  # as transforms.Normalize((0.1307,), (0.3081,)) for MNIST
x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
batch_size = 64
train_loader = DataLoader(TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr, dtype=torch.long)),
                          batch_size=batch_size, shuffle=True)
test_loader = DataLoader(TensorDataset(torch.tensor(x_te), torch.tensor(y_te, dtype=torch.long)),
                         batch_size=batch_size, shuffle=True)

xnet = CustomModel(build_info)
ret = xnet.train(train_loader)
score = xnet.test(test_loader) if ret == 1 else 0.0
print(f"RESULT val_accuracy={score:.4f}")
