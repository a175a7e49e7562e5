"""The model zoo: unmodified torchvision architectures trained on the zoo data sets.

Each :class:`ZooEntry` names a torchvision factory (``torchvision.models.get_model``),
the constructor arguments (always ``weights=None`` and ``num_classes=10``; nothing is
downloaded) and the data set, whose name fixes the input size (``digits32`` is
``[3, 32, 32]``). Sizes are the smallest that suit each architecture on two CPU cores:
32x32 wherever the network reaches a 1x1 feature map without error, 64x64 for
AlexNet (needs >= 63) and 75x75 for Inception v3 (needs >= 75).

:data:`TUNE` lists the models the project may tune its conversion defaults on;
:data:`HELD_OUT` lists the others, which are only ever used for evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torchvision
from torch import nn

NUM_CLASSES = 10
MODERN_PREFIX = "samples.zoo.modern:"


@dataclass(frozen=True)
class ZooEntry:
    """One zoo model: architecture, data set and the training schedule."""

    name: str
    arch: str
    dataset: str
    epochs: int
    lr: float = 2e-3
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Input height and width in pixels (the number at the end of the data set name)."""
        return int(self.dataset.removeprefix("digits").removeprefix("shapes"))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one input sample, ``(3, H, W)``."""
        return (3, self.size, self.size)

    def constructor_kwargs(self) -> dict[str, Any]:
        """All keyword arguments passed to the torchvision factory."""
        return {"weights": None, "num_classes": NUM_CLASSES, **self.kwargs}

    def build(self) -> nn.Module:
        """A freshly initialised model (draws from torch's global RNG). ``arch`` is a
        torchvision factory name, or ``samples.zoo.modern:<factory>`` for a small
        configuration of a torchvision class (:mod:`samples.zoo.modern`)."""
        if self.arch.startswith(MODERN_PREFIX):
            from .modern import FACTORIES

            return FACTORIES[self.arch.removeprefix(MODERN_PREFIX)](**self.kwargs)
        return torchvision.models.get_model(self.arch, **self.constructor_kwargs())


_INCEPTION = {"aux_logits": False, "init_weights": True}

ZOO: dict[str, ZooEntry] = {
    e.name: e
    for e in (
        ZooEntry("resnet18_digits32", "resnet18", "digits32", epochs=20),
        ZooEntry("mobilenetv2_digits32", "mobilenet_v2", "digits32", epochs=30),
        ZooEntry("squeezenet11_digits32", "squeezenet1_1", "digits32", epochs=40, lr=3e-4),
        ZooEntry("vgg11bn_digits32", "vgg11_bn", "digits32", epochs=15, lr=5e-4),
        ZooEntry("alexnet_digits64", "alexnet", "digits64", epochs=30, lr=2e-4),
        ZooEntry("inceptionv3_digits75", "inception_v3", "digits75", epochs=15, kwargs=_INCEPTION),
        ZooEntry("resnet18_shapes32", "resnet18", "shapes32", epochs=15),
        ZooEntry("googlenet_shapes32", "googlenet", "shapes32", epochs=15, kwargs=_INCEPTION),
        ZooEntry("shufflenetv2_shapes32", "shufflenet_v2_x0_5", "shapes32", epochs=20),
        ZooEntry("densenet121_shapes32", "densenet121", "shapes32", epochs=12),
        ZooEntry("mnasnet05_shapes32", "mnasnet0_5", "shapes32", epochs=20),
        ZooEntry("regnetx400mf_shapes32", "regnet_x_400mf", "shapes32", epochs=15),
    )
}

# Modern architectures (issue 22): small configurations of the transformer and ConvNeXt
# classes, and torchvision's own EfficientNet-B0, MobileNetV3-Small and RegNetY-400MF.
MODERN: dict[str, ZooEntry] = {
    e.name: e
    for e in (
        ZooEntry("vit_shapes32", MODERN_PREFIX + "vit_tiny", "shapes32", epochs=60, lr=1e-3),
        ZooEntry("vit_digits32", MODERN_PREFIX + "vit_narrow", "digits32", epochs=80, lr=1e-3),
        ZooEntry("swin_shapes32", MODERN_PREFIX + "swin_tiny", "shapes32", epochs=30, lr=1e-3),
        ZooEntry("swinv2_digits32", MODERN_PREFIX + "swinv2_tiny", "digits32", epochs=60, lr=1e-3),
        ZooEntry("convnext_digits32", MODERN_PREFIX + "convnext_tiny", "digits32", epochs=15),
        ZooEntry("maxvit_shapes32", MODERN_PREFIX + "maxvit_tiny", "shapes32", epochs=30, lr=1e-3),
        ZooEntry("efficientnetb0_digits32", "efficientnet_b0", "digits32", epochs=15),
        ZooEntry("mobilenetv3s_digits32", "mobilenet_v3_small", "digits32", epochs=40),
        ZooEntry("mobilenetv3s_shapes32", "mobilenet_v3_small", "shapes32", epochs=25),
        ZooEntry("regnety400mf_digits32", "regnet_y_400mf", "digits32", epochs=15),
    )
}
ZOO.update(MODERN)
# Modern models the conversion of the new ops may be tuned on; the others are held out.
MODERN_TUNE: tuple[str, ...] = (
    "vit_shapes32",
    "efficientnetb0_digits32",
    "mobilenetv3s_digits32",
)

# Tuning set: two models per data set, four structural families (plain residual,
# inverted residual with ReLU6 and depthwise convs, Fire modules with concat and
# ceil-mode max pooling, Inception blocks with functional ReLU).
TUNE: tuple[str, ...] = (
    "mobilenetv2_digits32",
    "squeezenet11_digits32",
    "resnet18_shapes32",
    "googlenet_shapes32",
)
# Held out: never used to choose defaults. resnet18_digits32 shares its architecture
# with a tuning model (tests a new data set only); all others are new architectures.
HELD_OUT: tuple[str, ...] = tuple(
    name for name in ZOO if name not in TUNE and name not in MODERN_TUNE
)
