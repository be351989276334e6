# Port of pytorch/pytorch issue #715 ("Module: parameters are not included if the module is initialized
# in a list"): an SNLI classifier keeps its hidden layers as [Linear, activation] pairs in a plain
# Python list (self.hids), so nn.Module never registers them: net.parameters() holds only the
# classifier, the optimizer never updates the hidden layers, and the network trains as a linear
# read-out of fixed random features.
# Kept from the issue: options['n_layers'] pairs of nn.Linear(indim, n_hid) and the activation named
# by options['act'] (built with eval('nn.{}'.format(...))), then self.classifier = nn.Linear(n_hid, 3).
# The issue shows only the constructor; the options (2 layers of 256 ReLU units), the forward pass
# (pairs applied in turn, then the classifier), Adam(1e-3) with cross-entropy and shuffled manual
# batches of 32 are the plain choices for it.
# SNLI's sentence-pair features are replaced by a generated 3-class problem (40 features, 2 clusters
# per class), standardized with the training statistics; 8 epochs over 4800 training rows (1200 steps).
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)

options = {'n_layers': 2, 'n_hid': 256, 'act': 'ReLU', 'lr': 1e-3, 'batch_size': 32, 'n_epochs': 8}


class SNLINet(nn.Module):
    def __init__(self, options, indim):
        super(SNLINet, self).__init__()
        self.hids = []
        for li in range(options['n_layers']):
            self.hids.append([
                nn.Linear(indim, options['n_hid']),
                eval('nn.{}'.format(options['act']))()
                ])
            indim = options['n_hid']

        self.classifier = nn.Linear(options['n_hid'], 3)

    def forward(self, x):
        for linear, act in self.hids:
            x = act(linear(x))
        return self.classifier(x)


X, y = make_classification(n_samples=6000, n_features=40, n_informative=16, n_redundant=4,
                           n_classes=3, n_clusters_per_class=2, class_sep=1.0, random_state=SEED)
x_tr, x_val, y_tr, y_val = train_test_split(X.astype(np.float32), y, test_size=0.2,
                                            random_state=SEED, stratify=y)
mu, sd = x_tr.mean(0), x_tr.std(0)
x_tr, x_val = (x_tr - mu) / sd, (x_val - mu) / sd
x_tr, y_tr = torch.tensor(x_tr), torch.tensor(y_tr)
x_val, y_val = torch.tensor(x_val), torch.tensor(y_val)

net = SNLINet(options, x_tr.shape[1])
print(net)
optimizer = torch.optim.Adam(net.parameters(), lr=options['lr'])

for epoch in range(options['n_epochs']):
    net.train()
    perm = torch.randperm(len(x_tr))
    total = 0.0
    for i in range(0, len(perm), options['batch_size']):
        idx = perm[i:i + options['batch_size']]
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x_tr[idx]), y_tr[idx])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    net.eval()
    with torch.no_grad():
        val_acc = (net(x_val).argmax(1) == y_val).float().mean().item()
    print('epoch %d  train loss %.4f  val acc %.4f' % (epoch + 1, total / len(x_tr), val_acc))

print(f"RESULT val_accuracy={val_acc:.4f}")
