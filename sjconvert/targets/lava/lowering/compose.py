"""Linear paths as one synapse: the pure weight math behind :mod:`.paths`.

A path is the chain of linear ops (convolutions, average pools, scales, flattening, linear
layers, concatenation) between a source population and the neuron it feeds. Its linear
part (biases are handled apart, see :mod:`.paths`) is kept as one of:

* :class:`ConvMap`: one convolution with a dense-channel kernel ``[C_out, C_in, *k]``.
  Composing ``B ∘ A`` per spatial axis (dilation 1)::

      k = k_A + (k_B − 1)·s_A,   s = s_A·s_B,   p = p_A + p_B·s_A
      W[o, i, m·s_A + n] += Σ_c W_B[o, c, m] · W_A[c, i, n]

  It is exact when B's zero padding falls where A's window sees only padding
  (``k_A ≤ s_A + p_A`` if ``p_B > 0``; ``L_A·s_A − p_A ≥ L_in`` if B reads past A's end)
  and the composed length equals B's; otherwise :class:`Uncomposable` is raised. A 1×1
  stride-1 map composes with any dilation.
* :class:`DenseMap`: a matrix ``[n_out, n_in]`` over the source flattened in PyTorch order
  (``Flatten → Linear`` after a ConvMap: ``W_lin`` pulled back with a transposed
  convolution, never materialising the convolution's matrix).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

Ints = tuple[int, ...]


class Uncomposable(ValueError):
    """Two linear ops that are not one convolution (see the module docstring)."""


def _conv_fn(dims: int, transpose: bool = False) -> Callable[..., torch.Tensor]:
    if transpose:
        return F.conv_transpose1d if dims == 1 else F.conv_transpose2d
    return F.conv1d if dims == 1 else F.conv2d


def expand_groups(weight: np.ndarray, groups: int) -> np.ndarray:
    """A grouped kernel ``[C_out, C_in/g, *k]`` as the dense-channel ``[C_out, C_in, *k]``."""
    w = np.asarray(weight, np.float64)
    if groups == 1:
        return w
    co, cig = w.shape[:2]
    out = np.zeros((co, cig * groups, *w.shape[2:]))
    per = co // groups
    for g in range(groups):
        out[g * per : (g + 1) * per, g * cig : (g + 1) * cig] = w[g * per : (g + 1) * per]
    return out


def find_groups(weight: np.ndarray, groups: int = 1) -> tuple[np.ndarray, int]:
    """The largest group count ``g`` for which the dense-channel form of ``weight`` (a
    ``groups``-grouped kernel ``[C_out, C_in/groups, *k]``) is block diagonal, and the kernel
    ``[C_out, C_in/g, *k]``. Only the ``[C_out, C_in]`` zero mask and one block of rows at a
    time are ever dense (ResNeXt-101's 2048-channel kernels stay 32 × smaller)."""
    co, ci = weight.shape[0], weight.shape[1] * groups
    nonzero = expand_groups(np.abs(weight).reshape(co, weight.shape[1], -1).sum(-1), groups) != 0
    for g in sorted({d for d in range(1, math.gcd(co, ci) + 1) if math.gcd(co, ci) % d == 0})[::-1]:
        po, pi = co // g, ci // g
        mask = np.kron(np.eye(g, dtype=bool), np.ones((po, pi), bool))
        if not np.any(nonzero & ~mask):
            if g == groups:  # the kernel as it is (float64 as the dense one was)
                return np.array(weight, weight.dtype if groups == 1 else np.float64), g
            blocks = [
                _dense_rows(weight, groups, i * po, (i + 1) * po)[:, i * pi : (i + 1) * pi]
                for i in range(g)
            ]
            return np.concatenate(blocks, 0), g
    return _dense_rows(weight, groups, 0, co), 1


def _dense_rows(weight: np.ndarray, groups: int, start: int, stop: int) -> np.ndarray:
    """Output channels ``[start, stop)`` of a grouped kernel, dense-channel."""
    if groups == 1:
        return weight[start:stop]
    per, cig = len(weight) // groups, weight.shape[1]
    out = np.zeros((stop - start, cig * groups, *weight.shape[2:]))
    for o in range(start, stop):
        g = o // per
        out[o - start, g * cig : (g + 1) * cig] = weight[o]
    return out


ROWS = 256  # rows of a Linear layer's weight pulled back at once (VGG's is 4096 × 25088)


def by_rows(fn: Callable[[np.ndarray], np.ndarray], matrix: np.ndarray) -> np.ndarray:
    """``fn`` applied to ``matrix`` in float64 blocks of :data:`ROWS` rows, stacked: the
    pull-back of a large Linear weight never holds a float64 copy of it whole."""
    return np.concatenate(
        [fn(np.asarray(matrix[i : i + ROWS], np.float64)) for i in range(0, len(matrix), ROWS)]
    )


@dataclass(frozen=True)
class ConvMap:
    """``y = conv(x, weight, stride, padding, dilation, groups)`` from ``in_shape`` to
    ``out_shape`` (``[C, *spatial]``). A grouped kernel ``[C_out, C_in/groups, *k]`` stays
    grouped while it is only scaled (a convolution read straight from a population, then
    batch norm); anything that mixes it with another map first makes it dense-channel
    (:meth:`ungrouped`)."""

    weight: np.ndarray
    stride: Ints
    padding: Ints
    dilation: Ints
    in_shape: Ints
    out_shape: Ints
    groups: int = 1

    @classmethod
    def identity(cls, shape: Ints) -> ConvMap:
        dims = len(shape) - 1
        w = np.eye(shape[0]).reshape(shape[0], shape[0], *([1] * dims))
        return cls(w, (1,) * dims, (0,) * dims, (1,) * dims, tuple(shape), tuple(shape))

    @property
    def pointwise(self) -> bool:
        """1×1, stride 1, no padding: a pure channel mix."""
        k = self.weight.shape[2:]
        return all(v == 1 for v in (*k, *self.stride, *self.dilation)) and not any(self.padding)

    def ungrouped(self) -> ConvMap:
        """The same map with a dense-channel kernel ``[C_out, C_in, *k]``."""
        if self.groups == 1:
            return self
        return replace(self, weight=expand_groups(self.weight, self.groups), groups=1)

    def is_identity(self) -> bool:
        """The map of a population to itself (:meth:`identity`)."""
        if self.groups > 1:
            return (
                self.pointwise
                and self.in_shape == self.out_shape
                and (self.ungrouped().is_identity())
            )
        w = self.weight
        if not self.pointwise or w.shape[0] != w.shape[1] or self.in_shape != self.out_shape:
            return False
        return bool(np.array_equal(w.reshape(w.shape[:2]), np.eye(w.shape[0])))

    def then_conv(
        self,
        w: np.ndarray,
        stride: Ints,
        padding: Ints,
        dilation: Ints,
        out_shape: Ints,
        groups: int = 1,
    ) -> ConvMap:
        """``conv_w ∘ self`` (``w``: ``[C_out, C_mid/groups, *k]``)."""
        b = ConvMap(w, stride, padding, dilation, self.out_shape, tuple(out_shape), groups)
        if self.is_identity():  # a population's own map: w itself (a C³ product saved)
            return replace(b, weight=np.asarray(w, np.float64), in_shape=self.in_shape)
        return self.ungrouped()._then(b.ungrouped())

    def _then(self, b: ConvMap) -> ConvMap:
        """``b ∘ self``, both dense-channel."""
        w, stride, padding, out_shape = b.weight, b.stride, b.padding, b.out_shape
        if self.pointwise:
            mixed = np.moveaxis(
                np.tensordot(w, self.weight[(..., *([0] * (self.weight.ndim - 2)))], ([1], [0])),
                -1,
                1,
            )
            return replace(b, weight=mixed, in_shape=self.in_shape)
        if b.pointwise:
            mixed = np.tensordot(w.reshape(w.shape[:2]), self.weight, ([1], [0]))
            return replace(self, weight=mixed, out_shape=tuple(out_shape))
        if any(d != 1 for d in (*self.dilation, *b.dilation)):
            raise Uncomposable("dilated convolutions compose only with 1×1 ones")
        self._check(b)
        ka, kb = self.weight.shape[2:], w.shape[2:]
        k = tuple(a + (bb - 1) * s for a, bb, s in zip(ka, kb, self.stride, strict=True))
        out = np.zeros((w.shape[0], self.weight.shape[1], *k))
        for m in itertools.product(*(range(v) for v in kb)):
            at = tuple(
                slice(mi * s, mi * s + a) for mi, s, a in zip(m, self.stride, ka, strict=True)
            )
            out[(slice(None), slice(None), *at)] += np.tensordot(
                w[(slice(None), slice(None), *m)], self.weight, ([1], [0])
            )
        return ConvMap(
            out,
            tuple(sa * sb for sa, sb in zip(self.stride, stride, strict=True)),
            tuple(
                pa + pb * sa for pa, pb, sa in zip(self.padding, padding, self.stride, strict=True)
            ),
            (1,) * len(k),
            self.in_shape,
            tuple(out_shape),
        )

    def _check(self, b: ConvMap) -> None:
        for axis, (ka, sa, pa, lin, la) in enumerate(
            zip(
                self.weight.shape[2:],
                self.stride,
                self.padding,
                self.in_shape[1:],
                self.out_shape[1:],
                strict=True,
            )
        ):
            kb, sb, pb, lb = (
                b.weight.shape[2 + axis],
                b.stride[axis],
                b.padding[axis],
                b.out_shape[1 + axis],
            )
            if pb > 0 and ka > sa + pa:
                raise Uncomposable("the second op pads where the first one reads its input")
            if (lb - 1) * sb - pb + kb - 1 >= la and la * sa - pa < lin:
                raise Uncomposable("the second op reads past the end of the first one's output")
            k, s, p = ka + (kb - 1) * sa, sa * sb, pa + pb * sa
            if (lin + 2 * p - k) // s + 1 != lb:
                raise Uncomposable("the composed convolution has another output length")

    def then_scale(self, factor: np.ndarray) -> ConvMap:
        f = np.broadcast_to(np.asarray(factor, np.float64).reshape(-1), (self.out_shape[0],))
        return replace(self, weight=self.weight * f.reshape(-1, *([1] * (self.weight.ndim - 1))))

    def embed(self, offset: int, channels: int) -> ConvMap:
        """The map into channels ``[offset, offset + C_out)`` of a ``channels``-wide concat."""
        self = self.ungrouped()
        w = np.zeros((channels, *self.weight.shape[1:]))
        w[offset : offset + self.weight.shape[0]] = self.weight
        return replace(self, weight=w, out_shape=(channels, *self.out_shape[1:]))

    def rows(self, matrix: np.ndarray | None = None) -> np.ndarray:
        """``matrix @ J`` with ``J`` this map's matrix over flattened in/out shapes
        (``matrix``: ``[n, C_out·∏S_out]``, default the identity: ``J`` itself)."""
        n_out = math.prod(self.out_shape)
        if matrix is None:
            matrix = np.eye(n_out)
        return by_rows(self.ungrouped()._rows, matrix)

    def _rows(self, m: np.ndarray) -> np.ndarray:
        dims = len(self.in_shape) - 1
        y = torch.tensor(m.reshape(len(m), *self.out_shape))
        full = [
            (o - 1) * s - 2 * p + d * (k - 1) + 1
            for o, s, p, d, k in zip(
                self.out_shape[1:],
                self.stride,
                self.padding,
                self.dilation,
                self.weight.shape[2:],
                strict=True,
            )
        ]
        extra = tuple(i - f for i, f in zip(self.in_shape[1:], full, strict=True))
        x = _conv_fn(dims, transpose=True)(
            y, torch.tensor(self.weight), None, self.stride, self.padding, extra, 1, self.dilation
        )
        return x.reshape(len(m), -1).numpy()

    def grouped(self) -> tuple[np.ndarray, int]:
        return find_groups(self.weight, self.groups)


@dataclass(frozen=True)
class DenseMap:
    """``y = matrix @ flatten(x)`` over the source shape ``in_shape`` (PyTorch order)."""

    matrix: np.ndarray
    in_shape: Ints
    eye: bool = False  # the matrix is the identity (a Linear layer's weight is taken as is)

    @classmethod
    def identity(cls, shape: Ints) -> DenseMap:
        return cls(np.eye(math.prod(shape)), tuple(shape), eye=True)

    def then_linear(self, w: np.ndarray) -> DenseMap:
        w = np.asarray(w, np.float64)
        return replace(self, matrix=w if self.eye else w @ self.matrix, eye=False)

    def then_scale(self, factor: np.ndarray) -> DenseMap:
        f = np.asarray(factor, np.float64).reshape(-1)
        rows = len(self.matrix)
        per = np.repeat(f, rows // f.size) if f.size > 1 else np.full(rows, float(f[0]))
        return replace(self, matrix=self.matrix * per[:, None], eye=False)

    def embed(self, offset: int, total: int) -> DenseMap:
        m = np.zeros((total, self.matrix.shape[1]))
        m[offset : offset + len(self.matrix)] = self.matrix
        return replace(self, matrix=m, eye=False)


@dataclass(frozen=True)
class PoolMap:
    """A :class:`ConvMap` followed by adaptive average pooling to ``out_shape`` where no
    convolution expresses it (output cells that repeat, windows of uneven size): the same
    spatial matrix ``S`` (``[∏out, ∏in]``, from PyTorch's own pooling) for every channel,
    kept lazy until a Linear layer reads it through a flatten."""

    conv: ConvMap
    out_shape: Ints

    @property
    def in_shape(self) -> Ints:
        return self.conv.in_shape

    def spatial(self) -> np.ndarray:
        size = self.conv.out_shape[1:]
        n = math.prod(size)
        pool = F.adaptive_avg_pool1d if len(size) == 1 else F.adaptive_avg_pool2d
        eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, *size)
        return pool(eye, self.out_shape[1:]).reshape(n, -1).T.numpy()

    def rows(self, matrix: np.ndarray | None = None) -> np.ndarray:
        """``matrix @ J`` (``J``: this map's matrix): pulled back through the pool, then
        through the convolution (:meth:`ConvMap.rows`)."""
        c, out = self.out_shape[0], math.prod(self.out_shape[1:])
        spatial = self.spatial()

        def pull(m: np.ndarray) -> np.ndarray:
            return self.conv.rows((m.reshape(len(m), c, out) @ spatial).reshape(len(m), -1))

        return by_rows(pull, np.eye(c * out) if matrix is None else matrix)

    def then_scale(self, factor: np.ndarray) -> PoolMap:
        return replace(self, conv=self.conv.then_scale(factor))


@dataclass(frozen=True)
class FlatMap:
    """A :class:`ConvMap` (or :class:`PoolMap`) followed by ``Flatten``: kept lazy until a
    Linear layer reads it."""

    conv: ConvMap | PoolMap

    @property
    def in_shape(self) -> Ints:
        return self.conv.in_shape

    def dense(self) -> DenseMap:
        return DenseMap(self.conv.rows(), self.conv.in_shape)

    def then_linear(self, w: np.ndarray) -> DenseMap:
        return DenseMap(self.conv.rows(w), self.conv.in_shape)


PathMap = ConvMap | DenseMap | FlatMap | PoolMap
