"""torchvision classifiers (random weights, nothing downloaded): ReLU-family models capture
and convert with a rate model equal to the ANN, the others are refused in one line, the
ONNX route gives the same SNN, and ``--arch`` builds them with arguments. Runs where
torchvision is installed (the full environment); ``benchmarks/zoo.py`` covers every model."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from typer.testing import CliRunner

import sjconvert
from sjconvert.cli.main import app
from sjconvert.errors import UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.ir import load

SIZE = 32


def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, num_classes=10)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    return model.eval()


def _x(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", ["squeezenet1_1", "shufflenet_v2_x0_5", "mnasnet0_5"])
def test_relu_family_models_convert_with_the_rate_model_equal_to_the_ann(name: str) -> None:
    model, x = _model(name), _x()
    conv = sjconvert.ann2snn(model, [x], mode="max", T=None)
    got = Simulator(conv.snn).rate(x)[conv.snn.outputs[0]]
    with torch.no_grad():
        want = model(x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    assert torch.isfinite(Simulator(conv.snn).run(x, T=4).output).all()


def test_an_op_without_spiking_semantics_is_refused_in_one_short_line() -> None:
    """Every torchvision classifier captures (benchmarks/zoo.py); an op with no IR node is
    named, counted and located in one line."""
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ELU(), nn.Conv2d(4, 4, 3), nn.ELU(), nn.Flatten())
    with pytest.raises(UnsupportedOpError) as info:
        sjconvert.capture(m, _x(2))
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("Sequential: cannot capture 2 ELU; at 1 (ELU), 3 (ELU)")


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x0_5"])
def test_the_onnx_route_gives_the_same_snn(name: str, tmp_path: Path) -> None:
    model, x = _model(name), _x(8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x[:2],),
            str(tmp_path / "m.onnx"),
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            dynamic_axes={"x": {0: "n"}},
        )
    convs = [sjconvert.ann2snn(m, [x], mode="max", T=None) for m in (tmp_path / "m.onnx", model)]
    lams = [sorted(float(np.mean(v)) for v in c.scales.values()) for c in convs]
    np.testing.assert_allclose(lams[0], lams[1], rtol=1e-5)
    outs = [Simulator(c.snn).run(x, T=8).output[-1] for c in convs]
    assert torch.equal(outs[0].argmax(-1), outs[1].argmax(-1))
    # the two routes fold batch norm in another float order, so a membrane at a threshold
    # may spike one step apart: the outputs agree on average, not element by element
    diff = (outs[0] - outs[1]).abs().mean() / outs[1].abs().max()
    assert float(diff) < 0.02


def test_arch_with_arguments_builds_the_model(tmp_path: Path) -> None:
    torch.save(_model("resnet18").state_dict(), tmp_path / "r.pt")
    np.savez(tmp_path / "x.npz", x=_x(2).numpy())
    arch = "torchvision.models:resnet18(num_classes=10)"
    result = CliRunner().invoke(
        app,
        [
            "capture",
            str(tmp_path / "r.pt"),
            "--arch",
            arch,
            "--data",
            str(tmp_path / "x.npz"),
            "-o",
            str(tmp_path / "r.sjir"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert load(tmp_path / "r.sjir").shapes["fc"] == (10,)
    conv = sjconvert.ann2snn(tmp_path / "r.pt", [_x(2)], arch=arch, T=None)
    assert sum(node.spiking for _, node in conv.snn) == 17


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_relu_classifiers_export_to_nir_that_nir_reads(name: str, tmp_path: Path) -> None:
    """Issue 26: ResNets stopped at their padded max pool, MobileNetV2's depthwise
    convolutions failed NIR's own type check. Converted plainly (as to-nir does), with the
    lossy mappings a ReLU classifier needs, at 64×64: NIR's type inference and reader take
    the file. (``python -m benchmarks.nir_census``: 31 of the 43 ReLU-family classifiers
    export; the 12 others concatenate, which NIR has no node for.)"""
    import nir

    from sjconvert.api import PLAIN
    from sjconvert.targets.nir import DT, lossy, save, to_nir

    model = _model(name)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    snn = sjconvert.ann2snn(model, [x], mode="max", **PLAIN).snn
    chosen = lossy.parse(["soft-reset-as-hard", "maxpool-as-avgpool"])
    graph = to_nir(snn, DT, chosen)
    graph.infer_types()
    assert graph.check_types()
    save(tmp_path / "m.nir", graph)
    assert nir.read(tmp_path / "m.nir", type_check=True).check_types()
