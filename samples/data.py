"""Offline datasets for the samples: scikit-learn digits (also spike-encoded, for the
SNN sample) and procedural MNIST-1D.

Nothing here touches the network: digits ship with scikit-learn and MNIST-1D is
generated with ``mnist1d.data.make_dataset`` (never ``get_dataset``, which may
download). The loader functions (``digits_test`` ...) can be referenced as
``samples.data:digits_test`` data sources; they return a list of ``(x, y)``
tensor batches and read the ``.npz`` files written by ``samples.train`` when
present, falling back to regenerating the split in memory.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import numpy as np
import torch

SAMPLES_DIR = Path(__file__).resolve().parent
CALIB_SIZE = 512
BATCH_SIZE = 256
SNN_STEPS = 16  # time steps of the spike-encoded digits

Split = dict[str, np.ndarray]
Batches = list[tuple[torch.Tensor, torch.Tensor]]


def digits_split(seed: int = 0) -> Split:
    """Return a stratified 80/20 split of the 8x8 digits as ``[N, 1, 8, 8]`` in ``[0, 1]``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=seed
    )
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def digits16_split(seed: int = 0) -> Split:
    """The digits split of :func:`digits_split`, bilinearly upsampled to ``[N, 1, 16, 16]``."""
    split = digits_split(seed)
    for key in ("x_train", "x_test"):
        x = torch.from_numpy(split[key])
        up = torch.nn.functional.interpolate(x, size=(16, 16), mode="bilinear")
        split[key] = up.numpy().astype(np.float32)
    return split


def mnist1d_split(seed: int = 0) -> Split:
    """Generate MNIST-1D procedurally: 8000 train / 2000 test, ``[N, 1, 40]``, standardised.

    Uses ``get_dataset_args()`` (a plain options object; its ``url`` field is
    ignored) and ``make_dataset(args)``, which is pure NumPy. ``make_dataset``
    reseeds the global ``random`` / ``np.random`` generators, so their states are
    saved and restored around the call.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = 10_000
    args.train_split = 0.8
    args.seed = seed
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        ds = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    x_train = np.asarray(ds["x"], dtype=np.float64)
    x_test = np.asarray(ds["x_test"], dtype=np.float64)
    mean, std = x_train.mean(), x_train.std()
    return {
        "x_train": ((x_train - mean) / std).astype(np.float32)[:, None, :],
        "y_train": np.asarray(ds["y"], dtype=np.int64),
        "x_test": ((x_test - mean) / std).astype(np.float32)[:, None, :],
        "y_test": np.asarray(ds["y_test"], dtype=np.int64),
    }


def poisson_spikes(x: np.ndarray, steps: int, seed: int) -> np.ndarray:
    """Rate-code intensities ``x`` ``[N, ...]`` in ``[0, 1]`` as Bernoulli spike trains
    ``[N, steps, ...]`` (uint8, sample-major as event datasets store frames): a pixel fires
    at each step with probability equal to its intensity."""
    rng = np.random.default_rng(seed)
    draws = rng.random((x.shape[0], steps, *x.shape[1:]), dtype=np.float32)
    return (draws < x[:, None]).astype(np.uint8)


def digits_spikes_split(seed: int = 0, steps: int = SNN_STEPS) -> Split:
    """The digits split of :func:`digits_split` with Poisson-encoded test images
    ``[N, steps, 1, 8, 8]``; training images stay intensities, encoded afresh each epoch."""
    split = digits_split(seed)
    split["x_test"] = poisson_spikes(split["x_test"], steps, seed + 1)
    return split


def calib_subset(split: Split, n: int = CALIB_SIZE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pick a fixed random subset of ``n`` training samples for calibration."""
    idx = np.sort(np.random.default_rng(seed).permutation(len(split["y_train"]))[:n])
    return split["x_train"][idx], split["y_train"][idx]


@cache
def _split(name: str) -> Split:
    return {"digits": digits_split, "digits16": digits16_split, "mnist1d": mnist1d_split}[name]()


def _arrays(name: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays for ``<name>_<part>``: the saved ``.npz`` if present, else regenerated."""
    path = SAMPLES_DIR / f"{name}_{part}.npz"
    if path.exists():
        with np.load(path) as f:
            return f["x"].astype(np.float32), f["y"].astype(np.int64)
    split = _split(name)
    if part == "test":
        return split["x_test"], split["y_test"]
    return calib_subset(split)


def to_batches(x: np.ndarray, y: np.ndarray, batch_size: int = BATCH_SIZE) -> Batches:
    """Cut arrays into a list of ``(x, y)`` tensor batches (in order, last one may be short)."""
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
    return [(xt[i : i + batch_size], yt[i : i + batch_size]) for i in range(0, len(yt), batch_size)]


def digits_test() -> Batches:
    """Digits test set (360 samples) as ``(x, y)`` batches."""
    return to_batches(*_arrays("digits", "test"))


def digits_calib() -> Batches:
    """512 digits training samples for calibration as ``(x, y)`` batches."""
    return to_batches(*_arrays("digits", "calib"))


def mnist1d_test() -> Batches:
    """MNIST-1D test set (2000 samples) as ``(x, y)`` batches."""
    return to_batches(*_arrays("mnist1d", "test"))


def mnist1d_calib() -> Batches:
    """512 MNIST-1D training samples for calibration as ``(x, y)`` batches."""
    return to_batches(*_arrays("mnist1d", "calib"))


def digits16_test() -> Batches:
    """Digits upsampled to 16x16, test set (360 samples) as ``(x, y)`` batches."""
    return to_batches(*_arrays("digits16", "test"))


def digits16_calib() -> Batches:
    """512 upsampled digits training samples for calibration as ``(x, y)`` batches."""
    return to_batches(*_arrays("digits16", "calib"))
