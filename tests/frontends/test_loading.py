"""Data loading: formats, label forms, and the checks on each batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert.errors import InputError
from sjconvert.frontends.arch import parse_arch
from sjconvert.frontends.loading import load_data, load_model


def test_npz_pt_and_one_hot_labels(tmp_path) -> None:
    x = np.random.rand(10, 1, 4, 4).astype(np.float32)
    y = np.arange(10) % 3
    np.savez(tmp_path / "d.npz", x=x, y=np.eye(3)[y])
    torch.save({"x": torch.tensor(x), "y": torch.tensor(y)}, tmp_path / "d.pt")
    for name in ("d.npz", "d.pt"):
        batches = list(load_data(str(tmp_path / name), batch_size=4))
        assert [b.x.shape[0] for b in batches] == [4, 4, 2]
        assert torch.equal(torch.cat([b.y for b in batches]), torch.tensor(y))
        assert torch.equal(torch.cat([b.x for b in batches]), torch.tensor(x))


def test_bad_data_is_named(tmp_path) -> None:
    np.savez(tmp_path / "nan.npz", x=np.array([[np.nan, 1.0]], np.float32))
    with pytest.raises(InputError, match=r"nan.npz: .x. holds NaN or Inf"):
        list(load_data(str(tmp_path / "nan.npz")))
    np.savez(tmp_path / "three.npz", a=np.ones((2, 2)), b=np.ones((2, 2)), c=np.ones(2))
    with pytest.raises(InputError, match=r"three.npz: holds no array 'x' .*a \[2, 2\] float64"):
        load_data(str(tmp_path / "three.npz"))
    np.savez(tmp_path / "len.npz", x=np.ones((3, 2)), y=np.ones(2))
    with pytest.raises(InputError, match="3 samples but 'y' has 2"):
        load_data(str(tmp_path / "len.npz"))


def test_arch_factory_arguments_are_literals_only() -> None:
    name, args, kwargs = parse_arch("pkg.mod:make(3, k=(1, 2), s='x', n=None, d={'a': -1.5})")
    assert name == "pkg.mod:make" and args == (3,)
    assert kwargs == {"k": (1, 2), "s": "x", "n": None, "d": {"a": -1.5}}
    assert parse_arch("pkg.mod:Class") == ("pkg.mod:Class", (), {})
    assert parse_arch("torchvision.models:resnet18(num_classes=10)")[2] == {"num_classes": 10}
    bad = {
        "pkg.mod:make(open('x'))": "argument open\\('x'\\) is not a literal",
        "pkg.mod:make(k=__import__('os'))": "argument __import__\\('os'\\) is not",
        "pkg.mod:make(*xs)": "\\*args and \\*\\*kwargs",
        "pkg.mod:make(3": "not a call with arguments",
        "pkg.mod:make()[0]": "expected package.module:name\\(arguments\\)",
        "pkg.mod:(lambda: 1)()": "expected package.module:name\\(arguments\\)",
    }
    for spec, why in bad.items():
        with pytest.raises(InputError, match=why):
            parse_arch(spec)


def test_state_dict_loads_into_a_factory_called_with_arguments(tmp_path) -> None:
    from samples.models import DigitsCNN

    torch.save(DigitsCNN(num_classes=4).state_dict(), tmp_path / "m.pt")
    model = load_model(tmp_path / "m.pt", arch="samples.models:DigitsCNN(num_classes=4)")
    assert isinstance(model, DigitsCNN) and not model.training
    with pytest.raises(InputError, match=r"state dict does not fit samples\.models:DigitsCNN\("):
        load_model(tmp_path / "m.pt", arch="samples.models:DigitsCNN(num_classes=5)")
    with pytest.raises(InputError, match=r"cannot construct samples\.models:DigitsCNN\(nope=1\)"):
        load_model(tmp_path / "m.pt", arch="samples.models:DigitsCNN(nope=1)")
    with pytest.raises(InputError, match=r"argument os\.getcwd\(\) is not a literal"):
        load_model(tmp_path / "m.pt", arch="samples.models:DigitsCNN(num_classes=os.getcwd())")
