"""Small reference ANNs used as conversion samples.

Both models are built only from modules that ANN-to-SNN conversion handles
(Conv/BatchNorm/ReLU/AvgPool/Flatten/Linear/Dropout) and have no data-dependent
control flow, so ``torch.fx.symbolic_trace`` works on them.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DigitsCNN", "ResBlock1d", "ResCNN1d", "VGGDigits16"]


class DigitsCNN(nn.Module):
    """A plain CNN for the 8x8 scikit-learn digits, input ``[N, 1, 8, 8]``."""

    def __init__(self, num_classes: int = 10) -> None:
        """Build the feature extractor and classifier as ``nn.Sequential`` blocks."""
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AvgPool2d(2),  # 8x8 -> 4x4
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.AvgPool2d(2),  # 4x4 -> 2x2
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 2 * 2, 64),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits ``[N, num_classes]``."""
        return self.classifier(self.features(x))


class ResBlock1d(nn.Module):
    """Basic 1-D residual block: conv3-BN-ReLU-conv3-BN, identity skip, ReLU after add."""

    def __init__(self, channels: int) -> None:
        """Create a block that keeps ``channels`` and the sequence length unchanged."""
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm1d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm1d(channels)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the residual block to ``x`` of shape ``[N, C, L]``."""
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu2(x + y)


class ResCNN1d(nn.Module):
    """A small residual 1-D CNN for MNIST-1D, input ``[N, 1, 40]``."""

    def __init__(self, channels: int = 32, length: int = 40, num_classes: int = 10) -> None:
        """Build stem, two residual blocks with an average pool between, and a linear head."""
        super().__init__()
        self.stem_conv = nn.Conv1d(1, channels, 5, padding=2)
        self.stem_bn = nn.BatchNorm1d(channels)
        self.stem_relu = nn.ReLU()
        self.block1 = ResBlock1d(channels)
        self.pool = nn.AvgPool1d(2)  # 40 -> 20
        self.block2 = ResBlock1d(channels)
        self.fc = nn.Linear(channels * (length // 2), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits ``[N, num_classes]``."""
        x = self.stem_relu(self.stem_bn(self.stem_conv(x)))
        x = self.block1(x)
        x = self.pool(x)
        x = self.block2(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class VGGDigits16(nn.Module):
    """A deeper VGG-style CNN (7 ReLU layers, max pooling) for digits upsampled to 16x16,
    input ``[N, 1, 16, 16]``."""

    def __init__(self, num_classes: int = 10, widths: tuple[int, ...] = (32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c in widths:  # two 3x3 convs per stage, then 2x2 max pooling: 16 -> 8 -> 4 -> 2
            for _ in range(2):
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
                c_in = c
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * 2 * 2, 128),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits ``[N, num_classes]``."""
        return self.classifier(self.features(x))
