"""The model whose state dicts the fuzz suite mutates (imported by ``--arch``)."""

from __future__ import annotations

import torch
from torch import nn


class Tiny(nn.Module):
    """Conv → BatchNorm → ReLU → AvgPool → Linear over ``[N, 1, 6, 6]``, three classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(36, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.relu(self.bn(self.conv(x))))))
