# Fixed twin of buggy.py (AnubhavGupta3377/Text-Classification-Models-Pytorch issue #9): the output
# layer is nn.LogSoftmax, the log-probabilities nn.NLLLoss expects (the reading of the manual).
# Ported: Model_fastText (model.py, config.py,
# train.py): the mean of the sentence's frozen word embeddings -> fc1 (hidden 10) -> fc2 -> LogSoftmax;
# NLLLoss; SGD lr 0.5, batch 128 shuffled, 30 epochs, the learning rate halved at epochs 10 and 20;
# validation split 80/20 from the training data.
# The AG News sentences' averaged GloVe vectors are replaced by a fixed feature vector per sample:
# scikit-learn's 8x8 digits (pixels / 16), 10 classes in place of 4.
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch import optim
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class Config(object):
    embed_size = 64
    hidden_size = 10
    output_size = 10
    max_epochs = 30
    lr = 0.5
    batch_size = 128


class fastText(nn.Module):
    def __init__(self, config):
        super(fastText, self).__init__()
        self.config = config

        # Hidden Layer
        self.fc1 = nn.Linear(self.config.embed_size, self.config.hidden_size)

        # Output Layer
        self.fc2 = nn.Linear(self.config.hidden_size, self.config.output_size)

        # Softmax non-linearity
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, x):
        h = self.fc1(x)
        z = self.fc2(h)
        return self.softmax(z)

    def add_optimizer(self, optimizer):
        self.optimizer = optimizer

    def add_loss_op(self, loss_op):
        self.loss_op = loss_op

    def reduce_lr(self):
        print("Reducing LR")
        for g in self.optimizer.param_groups:
            g['lr'] = g['lr'] / 2

    def run_epoch(self, train_iterator, epoch):
        losses = []
        # Reduce learning rate as number of epochs increase
        if (epoch == int(self.config.max_epochs / 3)) or (epoch == int(2 * self.config.max_epochs / 3)):
            self.reduce_lr()
        for x, y in train_iterator:
            self.optimizer.zero_grad()
            y_pred = self.__call__(x)
            loss = self.loss_op(y_pred, y)
            loss.backward()
            losses.append(loss.item())
            self.optimizer.step()
        return np.mean(losses)


def evaluate_model(model, x, y):
    model.eval()
    with torch.no_grad():
        predicted = model(x).argmax(1)
    model.train()
    return (predicted == y).float().mean().item()


config = Config()
digits = load_digits()
features = (digits.data / 16.0).astype(np.float32)
x_tr, x_va, y_tr, y_va = train_test_split(features, digits.target, test_size=0.2, random_state=SEED)
train_iterator = DataLoader(TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr)),
                            batch_size=config.batch_size, shuffle=True)

model = fastText(config)
model.train()
optimizer = optim.SGD(model.parameters(), lr=config.lr)
NLLLoss = nn.NLLLoss()
model.add_optimizer(optimizer)
model.add_loss_op(NLLLoss)

for i in range(config.max_epochs):
    train_loss = model.run_epoch(train_iterator, i)
    if i % 5 == 0:
        print("Epoch: {} loss {:.4f}".format(i, train_loss))

val_acc = evaluate_model(model, torch.tensor(x_va), torch.tensor(y_va))
print(f"RESULT val_accuracy={val_acc:.4f}")
