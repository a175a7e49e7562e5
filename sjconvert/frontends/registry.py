"""The one way a frontend registers a builder: a :class:`Builders` table per kind of key.

Every table maps a key that capture or import meets to the builder of its IR node(s):

=====================================  ==============================  =======================
table                                  key                             builder
=====================================  ==============================  =======================
``builders.MODULE_BUILDERS``           a torch module class (and its   ``(module, Ctx) -> Node``
                                       subclasses)
``builders.NAMED_BUILDERS``            a class name (SpikingJelly's,   :class:`NamedBuilder`
                                       never imported)
``functions.FUNCTION_BUILDERS``        a function, or a tensor         ``(Ctx) -> Node | Chain``
                                       method's name
``functions.NAMED_FUNCTIONS``          ``module.qualname`` of a        ``(Ctx) -> Node | Chain``
                                       function sjconvert never
                                       imports
``onnx_ops.OP_BUILDERS``               an ONNX op type                 ``(Importer) -> None``
=====================================  ==============================  =======================

A builder is registered with the table's decorator, or with :meth:`Builders.add` for a
builder made by a factory::

    @MODULE_BUILDERS.register(nn.LayerNorm)
    def _layer_norm(m: nn.LayerNorm, ctx: Ctx) -> ir.Node: ...

    FUNCTION_BUILDERS.add((F.gelu, "gelu"), _gelu)

Registering a key a second time raises :class:`ValueError` naming the table, the key and the
builder already there: no builder silently replaces another (a caller wanting another
mapping for a key removes it first with :meth:`Builders.remove`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

K = TypeVar("K")
B = TypeVar("B")


def _describe(key: Any) -> str:
    if isinstance(key, str):
        return repr(key)
    module = getattr(key, "__module__", "")
    name = getattr(key, "__qualname__", None) or getattr(key, "__name__", None)
    return f"{module}.{name}" if name and module else repr(key)


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


class Builders(Generic[K, B]):
    """Builders keyed by what a frontend recognises; each key is registered once.

    Parameters
    ----------
    kind
        What the keys are, for messages ("torch module class", "ONNX op type").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._table: dict[K, B] = {}

    def add(self, keys: Iterable[K], builder: B) -> B:
        """Register ``builder`` for every key in ``keys``; returns ``builder``.

        Raises
        ------
        ValueError
            A key is registered already (naming it and its builder) or ``keys`` is empty.
        """
        keys = list(keys)
        if not keys:
            raise ValueError(f"{self.kind} builder {builder!r}: no key to register it for")
        bad = [k for k in keys if not _hashable(k)]
        if bad:
            raise ValueError(f"{self.kind} {bad[0]!r} cannot be a key (unhashable)")
        keys = list(dict.fromkeys(keys))  # aliases (F.relu_ is torch.relu_) name one key
        for key in keys:
            if key in self._table:
                held = self._table[key]
                raise ValueError(
                    f"a builder for {self.kind} {_describe(key)} is registered already "
                    f"({getattr(held, '__name__', held)!r}); remove it first to replace it"
                )
        for key in keys:
            self._table[key] = builder
        return builder

    def register(self, *keys: K) -> Callable[[B], B]:
        """Decorator: register the decorated builder for each of ``keys``."""

        def deco(builder: B) -> B:
            return self.add(keys, builder)

        return deco

    def remove(self, key: K) -> B:
        """Unregister ``key`` and return its builder (``KeyError`` if it has none)."""
        return self._table.pop(key)

    def get(self, key: Any) -> B | None:
        """The builder of ``key``, or None (also for an unhashable key)."""
        return self._table.get(key) if _hashable(key) else None

    def __contains__(self, key: object) -> bool:
        return _hashable(key) and key in self._table

    def __getitem__(self, key: K) -> B:
        return self._table[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def items(self) -> Iterator[tuple[K, B]]:
        """``(key, builder)`` pairs in registration order."""
        return iter(self._table.items())
