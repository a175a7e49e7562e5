"""Locally generated image data sets for the model zoo (nothing is downloaded).

Every data set is returned as a :data:`Split`: float32 images ``x_*`` of shape
``[N, 3, H, W]`` and int64 labels ``y_*`` for the parts ``train``, ``calib`` and
``test``. The calibration part is a fixed subset of the training part (the
convention of :func:`samples.data.calib_subset`); the test part is disjoint.

* ``digits32`` / ``digits64`` / ``digits75``: scikit-learn's 8x8 digits (same stratified 80/20
  split as ``samples.data.digits_split``), upsampled bilinearly, replicated to three
  channels and standardised with the training mean and standard deviation.
* ``shapes32`` / ``shapes64``: ten classes of procedurally drawn coloured shapes and
  textures (see :data:`SHAPE_CLASSES`) with random position, size, rotation jitter,
  colours, a background gradient and pixel noise. Both sizes draw the same scenes.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from samples.data import CALIB_SIZE, Split, calib_subset, digits_split

DATASETS = ("digits32", "digits64", "digits75", "shapes32", "shapes64")
SHAPE_CLASSES = (
    "disc",
    "square",
    "triangle",
    "plus",
    "x_cross",
    "ring",
    "h_stripes",
    "v_stripes",
    "diag_stripes",
    "checker",
)
SHAPES_TRAIN, SHAPES_TEST = 5000, 1000
NOISE_STD = 0.2
_SUPERSAMPLE = 2
_CHUNK = 500


def dataset(name: str) -> Split:
    """The split of data set ``name`` (one of :data:`DATASETS`), cached per process."""
    if name not in DATASETS:
        raise KeyError(f"unknown zoo data set {name!r}; expected one of {DATASETS}")
    return _dataset(name)


@cache
def _dataset(name: str) -> Split:
    size = int(name.removeprefix("digits").removeprefix("shapes"))
    raw = _digits(size) if name.startswith("digits") else _shapes(size)
    return _finish(raw)


def _finish(raw: Split) -> Split:
    """Standardise per channel with training statistics and add the calibration subset."""
    mean = raw["x_train"].mean(axis=(0, 2, 3), keepdims=True)
    std = raw["x_train"].std(axis=(0, 2, 3), keepdims=True)
    out = {
        k: ((v - mean) / std).astype(np.float32) if k.startswith("x") else v for k, v in raw.items()
    }
    out["x_calib"], out["y_calib"] = calib_subset(out, CALIB_SIZE)
    return out


def _digits(size: int) -> Split:
    """8x8 digits in ``[0, 1]`` upsampled to ``size`` and replicated to three channels."""
    split = digits_split(seed=0)
    for key in ("x_train", "x_test"):
        x = torch.from_numpy(split[key])
        up = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear")
        split[key] = up.repeat(1, 3, 1, 1).numpy().astype(np.float32)
    return split


def _shapes(size: int, seed: int = 0) -> Split:
    """Render ``SHAPES_TRAIN + SHAPES_TEST`` scenes at ``size`` pixels (scenes fixed by seed)."""
    params = _scene_params(SHAPES_TRAIN + SHAPES_TEST, seed)
    noise_rng = np.random.default_rng([seed, size])
    images = [
        _render({k: v[i : i + _CHUNK] for k, v in params.items()}, size, noise_rng)
        for i in range(0, len(params["label"]), _CHUNK)
    ]
    x, y = np.concatenate(images), params["label"]
    n = SHAPES_TRAIN
    return {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:]}


def _scene_params(n: int, seed: int) -> dict[str, np.ndarray]:
    """Draw label, geometry and colours of ``n`` scenes (resolution independent)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, len(SHAPE_CLASSES), n).astype(np.int64)
    radius = rng.uniform(0.16, 0.36, n)
    cx, cy = (rng.uniform(radius, 1 - radius) for _ in range(2))
    angle = np.deg2rad(rng.uniform(-15.0, 15.0, n))
    bg = rng.uniform(0.0, 1.0, (n, 3))
    fg = (bg + rng.uniform(0.35, 0.65, (n, 3))) % 1.0  # every channel differs by >= 0.35
    grad = rng.uniform(-0.2, 0.2, (n, 2))  # background brightness gradient (x, y)
    return {
        "label": label,
        "radius": radius,
        "cx": cx,
        "cy": cy,
        "angle": angle,
        "bg": bg,
        "fg": fg,
        "grad": grad,
    }


def _render(p: dict[str, np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw a chunk of scenes as ``[n, 3, size, size]`` float32 (before standardisation)."""
    n, s = len(p["label"]), size * _SUPERSAMPLE
    coords = (np.arange(s) + 0.5) / s
    gy, gx = coords[None, :, None], coords[None, None, :]
    dx = (gx - p["cx"][:, None, None]) / p["radius"][:, None, None]
    dy = (gy - p["cy"][:, None, None]) / p["radius"][:, None, None]
    cos, sin = np.cos(p["angle"])[:, None, None], np.sin(p["angle"])[:, None, None]
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    mask = np.zeros((n, s, s), dtype=np.float32)
    for cls in range(len(SHAPE_CLASSES)):
        sel = p["label"] == cls
        if sel.any():
            mask[sel] = _shape_mask(cls, u[sel], v[sel])
    mask = mask.reshape(n, size, _SUPERSAMPLE, size, _SUPERSAMPLE).mean(axis=(2, 4))
    ramp = p["grad"][:, 0, None, None] * (coords[::_SUPERSAMPLE][None, None, :] - 0.5)
    ramp = ramp + p["grad"][:, 1, None, None] * (coords[::_SUPERSAMPLE][None, :, None] - 0.5)
    bg = p["bg"][:, :, None, None] + ramp[:, None]
    img = bg + mask[:, None] * (p["fg"][:, :, None, None] - bg)
    img = img + rng.normal(0.0, NOISE_STD, img.shape)
    return img.astype(np.float32)


def _shape_mask(cls: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Binary mask of class ``cls`` in shape coordinates ``(u, v)`` (unit = radius)."""
    r, box = np.hypot(u, v), np.maximum(np.abs(u), np.abs(v))
    patch = box <= 0.9
    name = SHAPE_CLASSES[cls]
    if name == "disc":
        return r <= 1.0
    if name == "square":
        return box <= 0.8
    if name == "triangle":
        return (v >= -0.9) & (v <= 0.8) & (np.abs(u) <= (v + 0.9) * 0.55)
    if name in ("plus", "x_cross"):
        a, b = (u, v) if name == "plus" else ((u + v) / np.sqrt(2), (u - v) / np.sqrt(2))
        return ((np.abs(a) <= 0.28) | (np.abs(b) <= 0.28)) & (np.maximum(abs(a), abs(b)) <= 1.0)
    if name == "ring":
        return (r <= 1.0) & (r >= 0.55)
    if name == "checker":
        return patch & (np.sin(np.pi * 1.5 * u) * np.sin(np.pi * 1.5 * v) > 0)
    wave = {"h_stripes": v, "v_stripes": u, "diag_stripes": (u + v) / np.sqrt(2)}[name]
    return patch & (np.sin(np.pi * 3.0 * wave) > 0)
