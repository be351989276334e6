# Port of the MLP of LeoGrin/tabular-benchmark (src/tabular/bin/mlp.py, adapted from rtdl), as run
# by its skorch regressor with the benchmark's default MLP config (issue #14, fixed in 183b1f7):
# __init__ appends d_out to the list of hidden widths, `d_layers.append(d_out)`, so the last
# hidden Linear layer has d_out (= 1 for a regression) units followed by a ReLU, and the head maps
# that one rectified unit to the output. Every sample whose bottleneck unit is negative gets the
# same prediction and passes no gradient.
# Training emulates skorch's NeuralNetRegressor as configured there: MSELoss, AdamW lr 1e-3,
# batch 512, shuffled, 20 % of the training data held out (ValidSplit(5)), ReduceLROnPlateau on
# the train loss (patience 30, factor 0.2, min_lr 2e-5), early stopping on the validation loss
# (patience 40), the best-validation checkpoint reloaded; quantile-gaussianized features and a
# quantile-transformed target (TransformedTargetRegressor), max 300 epochs.
# The benchmark's OpenML regression sets are replaced by generated Friedman #1 data.
import copy
import math
import sys
import typing as ty

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import make_friedman1
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import QuantileTransformer

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class MLP(nn.Module):
    def __init__(
        self,
        *,
        d_in: int,
        n_layers: int,
        d_layers: int,
        dropout: float,
        d_out: int,
        categories: ty.Optional[ty.List[int]],
        d_embedding: int,
        regression: bool,
        categorical_indicator
    ) -> None:
        super().__init__()

        self.regression = regression
        self.categorical_indicator = categorical_indicator

        if categories is not None:
            d_in += len(categories) * d_embedding
            category_offsets = torch.tensor([0] + categories[:-1]).cumsum(0)
            self.register_buffer('category_offsets', category_offsets)
            self.category_embeddings = nn.Embedding(sum(categories), d_embedding)
            nn.init.kaiming_uniform_(self.category_embeddings.weight, a=math.sqrt(5))

        d_layers = [d_layers for _ in range(n_layers)]
        d_layers.append(d_out)

        self.layers = nn.ModuleList(
            [
                nn.Linear(d_layers[i - 1] if i else d_in, x)
                for i, x in enumerate(d_layers)
            ]
        )
        self.dropout = dropout
        self.head = nn.Linear(d_layers[-1] if d_layers else d_in, d_out)

    def forward(self, x):
        if self.categorical_indicator is not None:
            x_num = x[:, ~self.categorical_indicator].float()
            x_cat = x[:, self.categorical_indicator].long()
        else:
            x_num = x
            x_cat = None
        x = []
        if x_num is not None:
            x.append(x_num)
        if x_cat is not None:
            x.append(
                self.category_embeddings(x_cat + self.category_offsets[None]).view(
                    x_cat.size(0), -1
                )
            )
        x = torch.cat(x, dim=-1)

        for layer in self.layers:
            x = layer(x)
            x = F.relu(x)
            if self.dropout:
                x = F.dropout(x, self.dropout, self.training)
        x = self.head(x)
        if not self.regression:
            x = x.squeeze(-1)
        return x


# ---- data: generated stand-in for a benchmark regression set; train/test split per seed ----
X, y = make_friedman1(n_samples=3000, n_features=10, noise=1.0, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=SEED)
feature_transform = QuantileTransformer(output_distribution="normal", random_state=0).fit(X_train)
X_train, X_test = feature_transform.transform(X_train), feature_transform.transform(X_test)
target_transform = QuantileTransformer(output_distribution="normal", random_state=0)
y_train_t = target_transform.fit_transform(y_train.reshape(-1, 1))

x_all = torch.tensor(X_train, dtype=torch.float32)
y_all = torch.tensor(y_train_t, dtype=torch.float32)
perm = torch.randperm(len(x_all))
n_valid = len(x_all) // 5  # skorch ValidSplit(5)
x_valid, y_valid = x_all[perm[:n_valid]], y_all[perm[:n_valid]]
x_fit, y_fit = x_all[perm[n_valid:]], y_all[perm[n_valid:]]

# ---- the default MLP config: 4 layers of 256, no dropout, AdamW lr 1e-3, batch 512 ----
module = MLP(d_in=x_fit.shape[1], n_layers=4, d_layers=256, dropout=0.0, d_out=1,
             categories=None, d_embedding=128, regression=True, categorical_indicator=None)
criterion = nn.MSELoss()
optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=30, min_lr=2e-5,
                                                       factor=0.2)
batch_size, max_epochs, es_patience = 512, 300, 40

best_valid, best_state, bad_epochs = math.inf, None, 0
for epoch in range(max_epochs):
    module.train()
    order = torch.randperm(len(x_fit))
    train_losses = []
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        optimizer.zero_grad()
        loss = criterion(module(x_fit[idx]), y_fit[idx])
        loss.backward()
        optimizer.step()
        train_losses.append(loss.item() * len(idx))
    train_loss = sum(train_losses) / len(x_fit)
    module.eval()
    with torch.no_grad():
        valid_loss = criterion(module(x_valid), y_valid).item()
    scheduler.step(train_loss)
    if epoch % 20 == 0:
        print(f"epoch {epoch} train_loss {train_loss:.4f} valid_loss {valid_loss:.4f}")
    if valid_loss < best_valid * (1 - 1e-4):  # skorch EarlyStopping threshold, relative
        bad_epochs = 0
    else:
        bad_epochs += 1
    if valid_loss < best_valid:  # Checkpoint on valid_loss_best
        best_valid, best_state = valid_loss, copy.deepcopy(module.state_dict())
    if bad_epochs >= es_patience:
        print(f"early stopping at epoch {epoch}")
        break

module.load_state_dict(best_state)
module.eval()
with torch.no_grad():
    pred_t = module(torch.tensor(X_test, dtype=torch.float32)).numpy()
pred = target_transform.inverse_transform(pred_t).reshape(-1)
val_error = float(np.mean((pred - y_test) ** 2) / np.var(y_test))
print(f"RESULT val_error={val_error:.4f}")
