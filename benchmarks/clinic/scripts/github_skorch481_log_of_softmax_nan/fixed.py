# Fixed twin of buggy.py (skorch-dev/skorch issue #481): the fix, a small epsilon (1e-8) added to
# the predicted probabilities inside NeuralNetClassifier.get_loss, torch.log(y_pred + epsilon), so that a
# probability that underflows to 0 gives a large finite loss instead of -inf and NaN. Everything else as
# in buggy.py: the MNIST notebook's ClassifierModule (784 -> 98 ReLU -> Dropout(0.5) -> 10 -> softmax),
# Adam(lr=0.1), 20 epochs, batches of 128, a stratified 20% internal validation split; scikit-learn's 8x8
# digits enlarged to 28x28 in place of MNIST.
import sys

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)

digits = load_digits()
X = np.kron(digits.images, np.ones((3, 3))).astype('float32')  # 24 x 24
X = np.pad(X, ((0, 0), (2, 2), (2, 2))).reshape(len(X), -1)  # 28 x 28, flattened to 784
X /= 16.0
y = digits.target.astype('int64')
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=SEED)

mnist_dim = X.shape[1]
hidden_dim = int(mnist_dim / 8)
output_dim = len(np.unique(digits.target))


class ClassifierModule(nn.Module):
    def __init__(self, input_dim=mnist_dim, hidden_dim=hidden_dim, output_dim=output_dim, dropout=0.5):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(input_dim, hidden_dim)
        self.output = nn.Linear(hidden_dim, output_dim)

    def forward(self, X, **kwargs):
        X = F.relu(self.hidden(X))
        X = self.dropout(X)
        X = F.softmax(self.output(X), dim=-1)
        return X


# NeuralNetClassifier(ClassifierModule, max_epochs=20, lr=0.1, optimizer=torch.optim.Adam), written out
max_epochs, lr, batch_size = 20, 0.1, 128
X_tr, X_valid, y_tr, y_valid = train_test_split(X_train, y_train, test_size=0.2, stratify=y_train,
                                                random_state=SEED)  # train_split=CVSplit(5, stratified=True)
module = ClassifierModule()
optimizer = torch.optim.Adam(module.parameters(), lr=lr)
criterion = nn.NLLLoss()
epsilon = 1e-8  # the fix: NeuralNetClassifier(..., epsilon=1e-8) added inside the log
train_iter = DataLoader(TensorDataset(torch.tensor(X_tr), torch.tensor(y_tr)), batch_size=batch_size,
                        shuffle=True)


def get_loss(y_pred, y_true):
    y_pred = torch.log(y_pred + epsilon)
    return criterion(y_pred, y_true)


for epoch in range(max_epochs):
    module.train()
    train_losses = []
    for Xi, yi in train_iter:
        optimizer.zero_grad()
        loss = get_loss(module(Xi), yi)
        loss.backward()
        optimizer.step()
        train_losses.append(loss.item())
    module.eval()
    with torch.no_grad():
        proba = module(torch.tensor(X_valid))
        valid_loss = get_loss(proba, torch.tensor(y_valid)).item()
        valid_acc = (proba.argmax(1).numpy() == y_valid).mean()
    print(f"epoch {epoch + 1} train_loss {np.mean(train_losses):.4f} valid_acc {valid_acc:.4f} "
          f"valid_loss {valid_loss:.4f}")

module.eval()
with torch.no_grad():
    y_pred = module(torch.tensor(X_test)).argmax(1).numpy()
print(f"RESULT val_accuracy={accuracy_score(y_test, y_pred):.4f}")
