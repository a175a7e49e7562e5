"""Train the sample models deterministically and save weights plus data files.

Usage: ``python -m samples.train [digits|mnist1d|digits16|digits_snn|all]`` (default
``all``).

Writes into this folder: ``digits_cnn.pt`` / ``mnist1d_rescnn.pt`` / ``vgg_digits16.pt``
(state dicts saved with ``torch.save(model.state_dict(), ...)``) and ``<name>_test.npz`` /
``<name>_calib.npz`` (keys ``x`` float32, ``y`` int64). ``digits_snn`` is the SpikingJelly
SNN sample, trained by :mod:`samples.train_snn` (needs SpikingJelly).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from samples.data import (
    SAMPLES_DIR,
    Split,
    calib_subset,
    digits16_split,
    digits_split,
    mnist1d_split,
)
from samples.models import DigitsCNN, ResCNN1d, VGGDigits16


@dataclass(frozen=True)
class Recipe:
    """Everything needed to train and save one sample model."""

    name: str
    weights: str
    model: Callable[[], nn.Module]
    split: Callable[[], Split]
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-4


SNN_SAMPLE = "digits_snn"
RECIPES = {
    "digits": Recipe("digits", "digits_cnn.pt", DigitsCNN, digits_split, 40, 64, 2e-3),
    "mnist1d": Recipe("mnist1d", "mnist1d_rescnn.pt", ResCNN1d, mnist1d_split, 30, 128, 3e-3),
    "digits16": Recipe("digits16", "vgg_digits16.pt", VGGDigits16, digits16_split, 30, 64, 2e-3),
}


@torch.no_grad()
def accuracy(model: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` (put in eval mode) on the given arrays."""
    model.eval()
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    correct = sum(
        int((model(xt[i : i + 512]).argmax(1) == yt[i : i + 512]).sum())
        for i in range(0, len(yt), 512)
    )
    return correct / len(yt)


def fit(recipe: Recipe, split: Split, seed: int = 0) -> nn.Module:
    """Train a fresh model with Adam + cosine LR schedule; fully seeded."""
    torch.manual_seed(seed)
    model = recipe.model()
    x, y = torch.from_numpy(split["x_train"]), torch.from_numpy(split["y_train"])
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = recipe.epochs * -(-len(y) // recipe.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(recipe.epochs):
        model.train()
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), recipe.batch_size):
            idx = perm[i : i + recipe.batch_size]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
    return model.eval()


def save_npz(path_name: str, x: np.ndarray, y: np.ndarray) -> None:
    """Save ``x`` (float32) and ``y`` (int64) to ``SAMPLES_DIR / path_name``."""
    np.savez(SAMPLES_DIR / path_name, x=x.astype(np.float32), y=y.astype(np.int64))


def run(name: str) -> float:
    """Train, evaluate and save one recipe; return its test accuracy."""
    recipe = RECIPES[name]
    start = time.perf_counter()
    split = recipe.split()
    model = fit(recipe, split)
    acc = accuracy(model, split["x_test"], split["y_test"])
    torch.save(model.state_dict(), SAMPLES_DIR / recipe.weights)
    save_npz(f"{name}_test.npz", split["x_test"], split["y_test"])
    save_npz(f"{name}_calib.npz", *calib_subset(split))
    elapsed = time.perf_counter() - start
    print(f"{name}: test accuracy {acc:.4f} ({elapsed:.1f} s) -> {recipe.weights}", flush=True)
    return acc


def main(argv: list[str] | None = None) -> int:
    """Entry point: train ``digits``, ``mnist1d`` or ``all``."""
    args = sys.argv[1:] if argv is None else argv
    which = args[0] if args else "all"
    names = (*RECIPES, SNN_SAMPLE)
    if which not in (*names, "all"):
        print(f"usage: python -m samples.train [{'|'.join(names)}|all]", file=sys.stderr)
        return 2
    torch.use_deterministic_algorithms(True)
    for name in names if which == "all" else (which,):
        if name == SNN_SAMPLE:
            from samples import train_snn  # imports SpikingJelly, an optional dependency

            train_snn.run()
        else:
            run(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
