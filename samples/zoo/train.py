"""Train the zoo models deterministically on the CPU.

Usage: ``python -m samples.zoo.train [NAMES...] [--out DIR] [--threads N]``
(default: every model in :data:`samples.zoo.models.ZOO`, ``DIR = build/zoo``).

For each model this writes ``DIR/<name>.pt`` (the state dict), the data files
``DIR/<dataset>_test.npz`` / ``DIR/<dataset>_calib.npz`` (keys ``x``, ``y``) for the
``sjconvert`` command line, and updates ``DIR/zoo.json`` with the test accuracy,
parameter count, training time (wall clock and process CPU time; the machine may be
shared) and input shape.

Recipe: AdamW with a one-cycle learning-rate schedule, batch 64, weight decay 5e-4,
random translations of up to ``size // 16`` pixels (edge padded), fixed seeds,
deterministic algorithms and one torch thread by default (results are reproducible for
a given thread count, recorded in ``zoo.json``; on a shared, loaded machine two
OpenMP threads mostly spin-wait). The classifier (the last ``nn.Linear``) starts at zero,
so the first loss is ``ln 10`` whatever the depth: torchvision's EfficientNet-B0 and
RegNetY-400MF otherwise start with logits of a few units (loss ~5) and, with squeeze-excitation
gates and stochastic depth, stayed near chance for 20 epochs at 32x32. After training, the
batch-norm running statistics are re-estimated exactly (cumulative average over the
un-augmented training set, with only the BN layers in train mode so that dropout and
stochastic depth stay off), which matters for architectures whose BN momentum is tiny
(MNASNet uses 3e-4).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from samples.data import Split
from samples.train import accuracy
from samples.zoo import DEFAULT_DIR
from samples.zoo.data import dataset
from samples.zoo.models import ZOO, ZooEntry

BATCH_SIZE = 64
WEIGHT_DECAY = 5e-4
SEED = 0


def shift_batch(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by a random integer offset in ``[-max_shift, max_shift]``."""
    if max_shift == 0:
        return x
    size = x.shape[-1]
    padded = F.pad(x, (max_shift,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * max_shift + 1, (len(x), 2), generator=gen).tolist()
    return torch.stack(
        [padded[i, :, r : r + size, c : c + size] for i, (r, c) in enumerate(offsets)]
    )


def fit(entry: ZooEntry, split: Split, seed: int = SEED) -> nn.Module:
    """Train a freshly initialised ``entry`` model on the training part of ``split``."""
    torch.manual_seed(seed)
    model = entry.build()
    zero_classifier(model)
    x, y = torch.from_numpy(split["x_train"]), torch.from_numpy(split["y_train"])
    opt = torch.optim.AdamW(model.parameters(), lr=entry.lr, weight_decay=WEIGHT_DECAY)
    steps = entry.epochs * -(-len(y) // BATCH_SIZE)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=entry.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(entry.epochs):
        model.train()
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), BATCH_SIZE):
            idx = perm[i : i + BATCH_SIZE]
            if len(idx) < 2:  # batch norm needs more than one sample
                continue
            opt.zero_grad()
            xb = shift_batch(x[idx], entry.size // 16, gen)
            F.cross_entropy(model(xb), y[idx]).backward()
            opt.step()
            sched.step()
    recompute_bn(model, x)
    return model.eval()


@torch.no_grad()
def zero_classifier(model: nn.Module) -> None:
    """Set the weight and bias of the model's last ``nn.Linear`` (its classifier) to zero."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if linears:
        nn.init.zeros_(linears[-1].weight)
        if linears[-1].bias is not None:
            nn.init.zeros_(linears[-1].bias)


@torch.no_grad()
def recompute_bn(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> None:
    """Replace BN running statistics by their exact averages over ``x``.

    Only the BN layers run in train mode; dropout and stochastic depth stay in eval mode,
    as at inference, so each BN sees the inputs it will see after training.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average
    model.eval()
    for bn in bns:
        bn.train()
    for i in range(0, len(x), batch_size):
        model(x[i : i + batch_size])
    for bn, momentum in zip(bns, momenta, strict=True):
        bn.momentum = momentum
    model.eval()


def save_npz(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """Save a data file with keys ``x`` (float32) and ``y`` (int64)."""
    np.savez(path, x=x.astype(np.float32), y=y.astype(np.int64))


def update_index(out: Path, name: str, record: dict) -> None:
    """Insert or replace ``record`` under ``name`` in ``out/zoo.json`` (kept sorted)."""
    path = out / "zoo.json"
    index = json.loads(path.read_text()) if path.exists() else {}
    index[name] = record
    path.write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")


def run(name: str, out: Path, seed: int = SEED) -> dict:
    """Train, evaluate and save one zoo model; return its ``zoo.json`` record."""
    entry = ZOO[name]
    split = dataset(entry.dataset)
    start, cpu_start = time.perf_counter(), time.process_time()
    model = fit(entry, split, seed)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    record = {
        "arch": entry.arch,
        "dataset": entry.dataset,
        "kwargs": entry.constructor_kwargs(),
        "input_shape": list(entry.input_shape),
        "params": sum(p.numel() for p in model.parameters()),
        "ann_test_acc": accuracy(model, split["x_test"], split["y_test"]),
        "n_test": len(split["y_test"]),
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "epochs": entry.epochs,
        "lr": entry.lr,
        "seed": seed,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    torch.save(model.state_dict(), out / f"{name}.pt")
    for part in ("test", "calib"):
        save_npz(out / f"{entry.dataset}_{part}.npz", split[f"x_{part}"], split[f"y_{part}"])
    update_index(out, name, record)
    print(
        f"{name}: test accuracy {record['ann_test_acc']:.4f}, {record['params']:,} params,"
        f" {seconds:.0f} s ({cpu_seconds:.0f} s CPU)",
        flush=True,
    )
    return record


def main(argv: list[str] | None = None) -> int:
    """Entry point: train the named zoo models (all by default), one after the other."""
    parser = argparse.ArgumentParser(prog="python -m samples.zoo.train", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"zoo models (default all: {', '.join(ZOO)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="output folder")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in ZOO]
    if unknown:
        parser.error(f"unknown zoo models {unknown}; choose from {list(ZOO)}")
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or ZOO:
        run(name, args.out, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
