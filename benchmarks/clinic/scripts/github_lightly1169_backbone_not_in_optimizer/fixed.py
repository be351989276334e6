# Fixed twin of buggy.py (lightly-ai/lightly pull request #1169): configure_optimizers starts from
# the classification head's parameters and, when the model is not frozen, adds the model's
# parameters too, so finetuning updates the backbone as intended.
# Kept: LinearClassifier (Linear(feature_dim, num_classes) head, CrossEntropyLoss, forward without
# no_grad when not frozen, top-1 accuracy), SGD lr 0.1 * batch_size_per_device * world_size / 256,
# momentum 0.9, no weight decay, CosineWarmupScheduler with 0 warm-up epochs stepped every batch over
# all training steps, model.eval() only when frozen; the wrapped model returns
# backbone(x).flatten(start_dim=1) as the docstring's SimCLR example (projection head unused).
# Cut: a small ResNet-style backbone (conv stem, one residual block, global average pooling, 32
# features) stands in for the self-supervised ResNet, starting from its random initialization (the
# pre-training run is left out); scikit-learn's 8x8 digits (pixels / 16) in place of ImageNet,
# stratified 75/25 split, batch 128, 10 epochs instead of the finetune benchmark's 30.
import math
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor, nn
from torch.nn import CrossEntropyLoss, Linear, Module
from torch.optim import SGD
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class CosineWarmupScheduler(torch.optim.lr_scheduler.LambdaLR):
    def __init__(self, optimizer, warmup_epochs, max_epochs, last_epoch=-1, start_value=1.0, end_value=0.001):
        def scale(epoch):
            if epoch < warmup_epochs:
                return (epoch + 1) / warmup_epochs
            t = (epoch - warmup_epochs) / max(1, max_epochs - warmup_epochs)
            return end_value + (start_value - end_value) * 0.5 * (1 + math.cos(math.pi * t))
        super().__init__(optimizer, scale, last_epoch=last_epoch)


class BasicBlock(nn.Module):
    def __init__(self, planes):
        super().__init__()
        self.conv1 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + x)


class SimCLR(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            BasicBlock(32), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        features = self.backbone(x).flatten(start_dim=1)
        return features


class LinearClassifier(nn.Module):
    def __init__(self, model: Module, batch_size_per_device: int, feature_dim: int = 2048,
                 num_classes: int = 1000, topk=(1,), freeze_model: bool = False, world_size: int = 1) -> None:
        super().__init__()
        self.model = model
        self.batch_size_per_device = batch_size_per_device
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.topk = topk
        self.freeze_model = freeze_model
        self.world_size = world_size
        self.classification_head = Linear(feature_dim, num_classes)
        self.criterion = CrossEntropyLoss()

    def forward(self, images: Tensor) -> Tensor:
        if self.freeze_model:
            with torch.no_grad():
                features = self.model.forward(images).flatten(start_dim=1)
        else:
            features = self.model.forward(images).flatten(start_dim=1)
        output: Tensor = self.classification_head(features)
        return output

    def shared_step(self, batch):
        images, targets = batch[0], batch[1]
        predictions = self.forward(images)
        loss = self.criterion(predictions, targets)
        top1 = (predictions.argmax(dim=1) == targets).float().mean()
        return loss, top1

    def configure_optimizers(self, estimated_stepping_batches):
        parameters = list(self.classification_head.parameters())
        if not self.freeze_model:
            parameters += self.model.parameters()
        optimizer = SGD(
            parameters,
            lr=0.1 * self.batch_size_per_device * self.world_size / 256,
            momentum=0.9,
            weight_decay=0.0,
        )
        scheduler = CosineWarmupScheduler(optimizer=optimizer, warmup_epochs=0,
                                          max_epochs=int(estimated_stepping_batches))
        return optimizer, scheduler

    def on_train_epoch_start(self) -> None:
        if self.freeze_model:
            # Set model to eval mode to disable norm layer updates.
            self.model.eval()


digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None]
x_tr, x_va, y_tr, y_va = train_test_split(images, digits.target, test_size=0.25, random_state=SEED,
                                          stratify=digits.target)
batch_size = 128
train_dataloader = DataLoader(TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr)), batch_size=batch_size,
                              shuffle=True, drop_last=True)
val_dataloader = DataLoader(TensorDataset(torch.tensor(x_va), torch.tensor(y_va)), batch_size=batch_size)

max_epochs = 10
linear_classifier = LinearClassifier(SimCLR(), batch_size_per_device=batch_size, feature_dim=32, num_classes=10,
                                     freeze_model=False)  # finetune
optimizer, scheduler = linear_classifier.configure_optimizers(max_epochs * len(train_dataloader))
for epoch in range(max_epochs):
    linear_classifier.train()
    linear_classifier.on_train_epoch_start()
    for batch in train_dataloader:
        loss, top1 = linear_classifier.shared_step(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    linear_classifier.eval()
    correct, total, val_loss = 0, 0, 0.0
    with torch.no_grad():
        for images_b, targets_b in val_dataloader:
            predictions = linear_classifier(images_b)
            val_loss += linear_classifier.criterion(predictions, targets_b).item() * len(targets_b)
            correct += (predictions.argmax(dim=1) == targets_b).sum().item()
            total += len(targets_b)
    val_top1 = correct / total
    print(f"epoch {epoch} train_loss {loss.item():.4f} val_loss {val_loss / total:.4f} val_top1 {val_top1:.4f}")

print(f"RESULT val_accuracy={val_top1:.4f}")
