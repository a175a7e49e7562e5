"""Sample models, data and training scripts used to exercise sjconvert."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLES_DIR = Path(__file__).resolve().parent
SAMPLE_NAMES = ("digits", "mnist1d", "digits16")  # the ANNs
SNN_SAMPLE_NAMES = ("digits_snn",)  # SpikingJelly-trained SNNs


def load(name: str):
    """The trained sample model (eval mode) with its test and calibration arrays (x, y).
    ``digits_snn`` (the SpikingJelly SNN, data ``[N, T, 1, 8, 8]`` spikes) needs SpikingJelly."""
    import torch

    from .models import DigitsCNN, ResCNN1d, VGGDigits16

    if name == "digits_snn":
        from .snn_models import DigitsSNN  # imports SpikingJelly, an optional dependency

        cls, ckpt = DigitsSNN, "digits_snn.pt"
    else:
        cls, ckpt = {
            "digits": (DigitsCNN, "digits_cnn.pt"),
            "mnist1d": (ResCNN1d, "mnist1d_rescnn.pt"),
            "digits16": (VGGDigits16, "vgg_digits16.pt"),
        }[name]
    model = cls()
    model.load_state_dict(torch.load(SAMPLES_DIR / ckpt, weights_only=True))
    test = dict(np.load(SAMPLES_DIR / f"{name}_test.npz"))
    calib = dict(np.load(SAMPLES_DIR / f"{name}_calib.npz"))
    return model.eval(), test, calib
