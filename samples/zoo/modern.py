"""Small configurations of torchvision's modern classifier classes, sized for 32x32 inputs.

Each function builds an unmodified torchvision class (``VisionTransformer``,
``SwinTransformer``, ``ConvNeXt``, ``MaxVit``) with widths and depths small enough to train
on two CPU cores in minutes. They are importable factories, so the command line loads a
trained state dict with ``--arch samples.zoo.modern:vit_tiny`` (no arguments needed).
EfficientNet-B0, MobileNetV3-Small and RegNetY-400MF need no small configuration: the zoo
trains torchvision's own factories at 32x32.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import ConvNeXt, MaxVit, SwinTransformer, VisionTransformer
from torchvision.models.convnext import CNBlockConfig
from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformerBlockV2

NUM_CLASSES = 10


def vit_tiny(num_classes: int = NUM_CLASSES) -> nn.Module:
    """ViT with 4x4 patches (64 tokens and a class token), 4 layers of width 64, 4 heads."""
    return VisionTransformer(
        image_size=32,
        patch_size=4,
        num_layers=4,
        num_heads=4,
        hidden_dim=64,
        mlp_dim=128,
        num_classes=num_classes,
    )


def vit_narrow(num_classes: int = NUM_CLASSES) -> nn.Module:
    """ViT with 8x8 patches (16 tokens and a class token), 6 layers of width 48, 3 heads."""
    return VisionTransformer(
        image_size=32,
        patch_size=8,
        num_layers=6,
        num_heads=3,
        hidden_dim=48,
        mlp_dim=192,
        num_classes=num_classes,
    )


def swin_tiny(num_classes: int = NUM_CLASSES) -> nn.Module:
    """Swin with 2x2 patches, 4x4 windows, three stages of depth 2 (widths 32, 64, 128)."""
    return SwinTransformer(
        patch_size=[2, 2],
        embed_dim=32,
        depths=[2, 2, 2],
        num_heads=[2, 4, 8],
        window_size=[4, 4],
        stochastic_depth_prob=0.1,
        num_classes=num_classes,
    )


def swinv2_tiny(num_classes: int = NUM_CLASSES) -> nn.Module:
    """Swin V2 (cosine attention, continuous position bias) in the shape of :func:`swin_tiny`."""
    return SwinTransformer(
        patch_size=[2, 2],
        embed_dim=32,
        depths=[2, 2, 2],
        num_heads=[2, 4, 8],
        window_size=[4, 4],
        stochastic_depth_prob=0.1,
        num_classes=num_classes,
        block=SwinTransformerBlockV2,
        downsample_layer=PatchMergingV2,
    )


def convnext_tiny(num_classes: int = NUM_CLASSES) -> nn.Module:
    """ConvNeXt with three stages of two blocks (widths 32, 64, 128)."""
    setting = [CNBlockConfig(32, 64, 2), CNBlockConfig(64, 128, 2), CNBlockConfig(128, None, 2)]
    return ConvNeXt(setting, stochastic_depth_prob=0.1, num_classes=num_classes)


def maxvit_tiny(num_classes: int = NUM_CLASSES) -> nn.Module:
    """MaxViT with a 16-channel stem, two blocks (32, 64 channels), 4x4 partitions."""
    return MaxVit(
        input_size=(32, 32),
        stem_channels=16,
        partition_size=4,
        block_channels=[32, 64],
        block_layers=[1, 1],
        head_dim=16,
        stochastic_depth_prob=0.1,
        num_classes=num_classes,
    )


FACTORIES = {
    f.__name__: f
    for f in (vit_tiny, vit_narrow, swin_tiny, swinv2_tiny, convnext_tiny, maxvit_tiny)
}
