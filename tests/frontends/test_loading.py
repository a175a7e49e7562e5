"""Data loading: formats, label forms, and the checks on each batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert.errors import InputError
from sjconvert.frontends.loading import load_data


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
    np.savez(tmp_path / "noy.npz", z=np.ones((2, 2)))
    with pytest.raises(InputError, match=r"noy.npz: holds no array 'x'"):
        load_data(str(tmp_path / "noy.npz"))
    np.savez(tmp_path / "len.npz", x=np.ones((3, 2)), y=np.ones(2))
    with pytest.raises(InputError, match="3 samples but 'y' has 2"):
        load_data(str(tmp_path / "len.npz"))
