"""Model zoo: unmodified torchvision CNNs trained on locally generated image data.

``python -m samples.zoo.train --out DIR`` trains every model in
:data:`samples.zoo.models.ZOO` into ``DIR``; :func:`load` reads one back.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

DEFAULT_DIR = Path("build/zoo")


def load(name: str, directory: str | Path = DEFAULT_DIR) -> tuple[nn.Module, dict, dict]:
    """The trained zoo model ``name`` (eval mode) with its test and calibration arrays.

    Like :func:`samples.load`: returns ``(model, test, calib)`` where ``test`` and
    ``calib`` are dicts with ``x`` (float32 ``[N, 3, H, W]``) and ``y`` (int64 ``[N]``).
    The weights come from ``directory/<name>.pt``; the data are regenerated locally.
    Building the model does not disturb torch's global random state.
    """
    from .data import dataset
    from .models import ZOO

    entry = ZOO[name]
    with torch.random.fork_rng():
        model = entry.build()
    state = torch.load(Path(directory) / f"{name}.pt", weights_only=True)
    model.load_state_dict(state)
    split = dataset(entry.dataset)
    test = {"x": split["x_test"], "y": split["y_test"]}
    calib = {"x": split["x_calib"], "y": split["y_calib"]}
    return model.eval(), test, calib
