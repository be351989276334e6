# Fixed twin of buggy.py (delip/PyTorchNLPBook issue #28): the dropout follows the module's
# mode, F.dropout(intermediate, p=0.5, training=self.training), so classifier.eval() turns it off
# for validation and test predictions.
import string
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)

# ---- stand-in data: 18 nationalities of generated surnames, unbalanced like the book's ----
data_rng = np.random.RandomState(2024)
n_nationalities = 18
letters = string.ascii_lowercase
letter_probs = data_rng.dirichlet(np.full(26, 0.5), size=n_nationalities)
endings = [[''.join(data_rng.choice(list(letters), size=2)) for _ in range(3)]
           for _ in range(n_nationalities)]
counts = data_rng.randint(80, 400, size=n_nationalities)


def make_surname(k):
    stem = ''.join(data_rng.choice(list(letters), size=data_rng.randint(3, 7), p=letter_probs[k]))
    return (stem + endings[k][data_rng.randint(3)]).capitalize()


rows = [(make_surname(k), k) for k in range(n_nationalities) for _ in range(counts[k])]
order = data_rng.permutation(len(rows))
rows = [rows[i] for i in order]
n_train, n_val = int(0.7 * len(rows)), int(0.15 * len(rows))
split = ['train'] * n_train + ['val'] * n_val + ['test'] * (len(rows) - n_train - n_val)

# vocabulary of the training surnames' characters, with an UNK token "@" (as the book's)
vocab = {'@': 0}
for (surname, _), s in zip(rows, split):
    if s == 'train':
        for ch in surname:
            vocab.setdefault(ch, len(vocab))


def vectorize(surname):
    one_hot = np.zeros(len(vocab), dtype=np.float32)
    for token in surname:
        one_hot[vocab.get(token, 0)] = 1
    return one_hot


def tensors(which):
    xs = [vectorize(n) for (n, _), s in zip(rows, split) if s == which]
    ys = [k for (_, k), s in zip(rows, split) if s == which]
    return torch.tensor(np.stack(xs)), torch.tensor(ys, dtype=torch.long)


x_train, y_train = tensors('train')
x_val, y_val = tensors('val')
x_test, y_test = tensors('test')
class_counts = np.bincount([k for _, k in rows], minlength=n_nationalities)
class_weights = 1.0 / torch.tensor(class_counts, dtype=torch.float32)


class MultilayerPerceptron(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim):
        super(MultilayerPerceptron, self).__init__()
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, output_dim)

    def forward(self, x_in, apply_softmax=False):
        intermediate = F.relu(self.fc1(x_in))
        output = self.fc2(F.dropout(intermediate, p=0.5, training=self.training))

        if apply_softmax:
            output = F.softmax(output, dim=1)
        return output


def compute_accuracy(y_pred, y_target):
    _, y_pred_indices = y_pred.max(dim=1)
    n_correct = torch.eq(y_pred_indices, y_target).sum().item()
    return n_correct / len(y_pred_indices) * 100


hidden_dim = 300
num_epochs = 25  # 100 with early stopping in the book
learning_rate = 0.001
batch_size = 64

classifier = MultilayerPerceptron(input_dim=len(vocab), hidden_dim=hidden_dim,
                                  output_dim=n_nationalities)
loss_func = nn.CrossEntropyLoss(class_weights)
optimizer = optim.Adam(classifier.parameters(), lr=learning_rate)
scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer=optimizer, mode='min', factor=0.5,
                                                 patience=1)

train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True,
                          drop_last=True)
val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=batch_size, shuffle=True,
                        drop_last=True)

for epoch_index in range(num_epochs):
    running_loss, running_acc = 0.0, 0.0
    classifier.train()
    for batch_index, (x_batch, y_batch) in enumerate(train_loader):
        optimizer.zero_grad()
        y_pred = classifier(x_batch)
        loss = loss_func(y_pred, y_batch)
        loss_t = loss.item()
        running_loss += (loss_t - running_loss) / (batch_index + 1)
        loss.backward()
        optimizer.step()
        acc_t = compute_accuracy(y_pred, y_batch)
        running_acc += (acc_t - running_acc) / (batch_index + 1)

    val_loss, val_acc = 0.0, 0.0
    classifier.eval()
    for batch_index, (x_batch, y_batch) in enumerate(val_loader):
        y_pred = classifier(x_batch)
        loss_t = loss_func(y_pred, y_batch).item()
        val_loss += (loss_t - val_loss) / (batch_index + 1)
        acc_t = compute_accuracy(y_pred, y_batch)
        val_acc += (acc_t - val_acc) / (batch_index + 1)
    scheduler.step(val_loss)
    print(f"epoch {epoch_index} train loss {running_loss:.3f} acc {running_acc:.1f} "
          f"val loss {val_loss:.3f} acc {val_acc:.1f}")

# held-out accuracy of the trained classifier, in eval mode as the book's test cell
classifier.eval()
with torch.no_grad():
    y_pred = classifier(x_test)
test_acc = compute_accuracy(y_pred, y_test) / 100
print(f"RESULT val_accuracy={test_acc:.4f}")
