# Fixed twin of buggy.py (fchollet/deep-learning-with-python-notebooks issue #293, chapter07_deep-dive-keras):
# train_step zeroes the gradients after applying them (self.zero_grad()), as the issue says it must.
# The chapter's model: Dense(512, relu) -> Dropout(0.5) -> Dense(10, softmax), sparse categorical
# cross-entropy on the softmax probabilities, Adam with Keras's defaults (lr 1e-3, eps 1e-7),
# fit(epochs=3) with Keras's default batch size 32 and shuffling.
# MNIST (28*28 pixels / 255) is replaced by scikit-learn's 8x8 digits (8*8 pixels / 16).
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


def sparse_categorical_crossentropy(targets, predictions):
    """Keras's loss on probabilities: clip, take the log, pick the target class."""
    predictions = predictions.clamp(1e-7, 1 - 1e-7)
    return nn.functional.nll_loss(torch.log(predictions), targets)


class CustomModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense1 = nn.Linear(8 * 8, 512)
        self.dropout = nn.Dropout(0.5)
        self.dense2 = nn.Linear(512, 10)

    def forward(self, inputs):
        features = torch.relu(self.dense1(inputs))
        features = self.dropout(features)
        return torch.softmax(self.dense2(features), dim=-1)

    def train_step(self, data):
        inputs, targets = data
        predictions = self(inputs)
        loss = sparse_categorical_crossentropy(targets, predictions)

        loss.backward()
        self.optimizer.step()
        self.zero_grad()
        return loss


def get_custom_model():
    model = CustomModel()
    model.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return model


digits = load_digits()
images = (digits.data / 16.0).astype(np.float32)
train_images, test_images, train_labels, test_labels = train_test_split(
    images, digits.target, test_size=0.2, random_state=SEED, stratify=digits.target)

model = get_custom_model()
loader = DataLoader(TensorDataset(torch.tensor(train_images), torch.tensor(train_labels)),
                    batch_size=32, shuffle=True)
for epoch in range(3):
    model.train()
    losses = [model.train_step(batch).item() for batch in loader]
    print(f"epoch {epoch + 1} loss {np.mean(losses):.4f}")

model.eval()
with torch.no_grad():
    predictions = model(torch.tensor(test_images)).argmax(dim=1).numpy()
accuracy = float((predictions == test_labels).mean())
print(f"RESULT val_accuracy={accuracy:.4f}")
