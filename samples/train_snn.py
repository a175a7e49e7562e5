"""Train the SpikingJelly SNN sample (:class:`samples.snn_models.DigitsSNN`) with surrogate
gradients on Poisson-encoded digits, deterministically (needs SpikingJelly 2.0).

``python -m samples.train digits_snn`` writes ``digits_snn.pt`` (state dict) and
``digits_snn_test.npz`` / ``digits_snn_calib.npz``: ``x`` uint8 spikes ``[N, T, 1, 8, 8]``
(sample-major, as event datasets store frames), ``y`` int64.

Loss: mean squared error between the output firing rate ``mean_t S[t]`` and the one-hot
label (SpikingJelly's usual recipe); Adam with a one-cycle schedule; a fresh Poisson
encoding of the training images every epoch.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional
from torch import nn

from samples.data import SAMPLES_DIR, SNN_STEPS, calib_subset, digits_spikes_split, poisson_spikes
from samples.snn_models import DigitsSNN

EPOCHS, BATCH, LR = 30, 64, 2e-3
WEIGHTS = "digits_snn.pt"


@torch.no_grad()
def accuracy(net: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy (most output spikes; ties to the lower class) on ``[N, T, ...]`` spikes."""
    net.eval()
    correct = 0
    for i in range(0, len(y), 256):
        xb = torch.from_numpy(x[i : i + 256]).float().transpose(0, 1)
        functional.reset_net(net)
        correct += int((net(xb).sum(0).argmax(1).numpy() == y[i : i + 256]).sum())
    functional.reset_net(net)
    return correct / len(y)


def fit(x: np.ndarray, y: np.ndarray, seed: int = 0) -> nn.Module:
    """Train a fresh :class:`DigitsSNN` on intensities ``x`` ``[N, 1, 8, 8]``; fully seeded."""
    torch.manual_seed(seed)
    net = DigitsSNN()
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    steps = EPOCHS * -(-len(y) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    labels = torch.from_numpy(y)
    for epoch in range(EPOCHS):
        net.train()
        spikes = torch.from_numpy(poisson_spikes(x, SNN_STEPS, 1000 + epoch)).float()
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), BATCH):
            idx = perm[i : i + BATCH]
            opt.zero_grad()
            rate = net(spikes[idx].transpose(0, 1)).mean(0)
            F.mse_loss(rate, F.one_hot(labels[idx], 10).float()).backward()
            opt.step()
            sched.step()
            functional.reset_net(net)
        if (epoch + 1) % 5 == 0:
            print(f"digits_snn: epoch {epoch + 1}/{EPOCHS}", flush=True)
    return net.eval()


def run(seed: int = 0) -> float:
    """Train, evaluate and save the SNN sample; return its test accuracy."""
    start = time.perf_counter()
    split = digits_spikes_split(seed)
    net = fit(split["x_train"], split["y_train"], seed)
    acc = accuracy(net, split["x_test"], split["y_test"])
    torch.save(net.state_dict(), SAMPLES_DIR / WEIGHTS)
    x_cal, y_cal = calib_subset(split)
    for part, x, y in (
        ("test", split["x_test"], split["y_test"]),
        ("calib", poisson_spikes(x_cal, SNN_STEPS, seed + 2), y_cal),
    ):
        np.savez_compressed(SAMPLES_DIR / f"digits_snn_{part}.npz", x=x, y=y.astype(np.int64))
    elapsed = time.perf_counter() - start
    print(f"digits_snn: test accuracy {acc:.4f} ({elapsed:.1f} s) -> {WEIGHTS}", flush=True)
    return acc
