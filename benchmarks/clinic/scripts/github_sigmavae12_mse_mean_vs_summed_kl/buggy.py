# Port of orybkin/sigma-vae-pytorch pull request #12 ("fix: mse_vae training broken due to incorrect
# averaging"): with --model mse_vae, ConvVAE.loss_function takes the reconstruction term as
# torch.nn.MSELoss()(recon_x, x), a mean over every pixel of the batch, while the KL term is a sum over the
# batch and the latent units, and train_vae.py minimizes rec + kl. The KL term outweighs the reconstruction
# by orders of magnitude, so the model learns to ignore its input and outputs the same blurry image.
# The author's training: ConvVAE (Conv 3x3/32, 4x4 stride 2/64, 5x5 stride 2/128 with ReLU, a 20-d latent,
# Linear back and ConvTranspose 6x6 stride 2/64, 6x6 stride 2/32, 5x5/channels with ReLU and a sigmoid),
# Adam lr 1e-3, batches of 128, shuffled. SVHN (3x28x28) is replaced by scikit-learn's digits enlarged to
# 16x16 (pixels / 16, one channel); 15 epochs over 1437 images instead of 10 over 73k. The validation error
# is the squared reconstruction error over the validation images' variance about their mean image.
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

images = np.kron(load_digits().images / 16.0, np.ones((2, 2)))[:, None].astype(np.float32)  # (N, 1, 16, 16)
x_train, x_val = train_test_split(images, test_size=0.2, random_state=SEED)
x_train, x_val = torch.from_numpy(x_train), torch.from_numpy(x_val)


class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class UnFlatten(nn.Module):
    def __init__(self, n_channels):
        super().__init__()
        self.n_channels = n_channels

    def forward(self, x):
        side = int((x.size(1) // self.n_channels) ** 0.5)
        return x.view(x.size(0), self.n_channels, side, side)


class ConvVAE(nn.Module):
    def __init__(self, img_channels=1, img_size=16, filters_m=32, z_dim=20):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(img_channels, filters_m, 3, stride=1, padding=1), nn.ReLU(),
            nn.Conv2d(filters_m, 2 * filters_m, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * filters_m, 4 * filters_m, 5, stride=2, padding=2), nn.ReLU(),
            Flatten(),
        )
        h_dim = self.encoder(torch.ones(1, img_channels, img_size, img_size)).shape[1]
        self.fc11 = nn.Linear(h_dim, z_dim)
        self.fc12 = nn.Linear(h_dim, z_dim)
        self.fc2 = nn.Linear(z_dim, h_dim)
        self.decoder = nn.Sequential(
            UnFlatten(4 * filters_m),
            nn.ConvTranspose2d(4 * filters_m, 2 * filters_m, 6, stride=2, padding=2), nn.ReLU(),
            nn.ConvTranspose2d(2 * filters_m, filters_m, 6, stride=2, padding=2), nn.ReLU(),
            nn.ConvTranspose2d(filters_m, img_channels, 5, stride=1, padding=2), nn.Sigmoid(),
        )

    def forward(self, x):
        h = self.encoder(x)
        mu, logvar = self.fc11(h), self.fc12(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(self.fc2(z)), mu, logvar

    def loss_function(self, recon_x, x, mu, logvar):
        rec = torch.nn.MSELoss()(recon_x, x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return rec, kl


model = ConvVAE()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
train_loader = DataLoader(TensorDataset(x_train), batch_size=128, shuffle=True)

for epoch in range(1, 16):
    model.train()
    train_loss = 0.0
    for (data,) in train_loader:
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        rec, kl = model.loss_function(recon_batch, data, mu, logvar)
        total_loss = rec + kl
        total_loss.backward()
        train_loss += total_loss.item()
        optimizer.step()
    if epoch % 3 == 0:
        print(f"epoch {epoch:2d}  average loss {train_loss / len(x_train):.4f}  rec {rec.item():.4f}  "
              f"kl {kl.item() / len(data):.4f}")

model.eval()
with torch.no_grad():
    recon_val, _, _ = model(x_val)
val_error = ((recon_val - x_val) ** 2).sum().item() / ((x_val - x_val.mean(0)) ** 2).sum().item()
print(f"RESULT val_error={val_error:.4f}")
