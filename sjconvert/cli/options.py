"""Command-line options generated from their one declaration,
:class:`~sjconvert.passes.options.ConversionOptions`: :func:`with_conversion_options` gives a
Typer command one option per field (its flags, help text and default from the field) and
hands the command one validated ``options`` object.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ..passes.options import NAMES, ConversionOptions
from .exits import run_body


def cli_flags(f: dataclasses.Field[Any]) -> tuple[str, ...]:
    """The flags of option field ``f``: its own, else ``--field-name`` (``--x/--no-x`` for a
    boolean)."""
    if f.metadata["flags"]:
        return tuple(f.metadata["flags"])
    name = "--" + f.name.replace("_", "-")
    return (f"{name}/--no-{name[2:]}",) if isinstance(f.default, bool) else (name,)


def cli_type(f: dataclasses.Field[Any]) -> type:
    """The type the command line parses option field ``f`` as."""
    kind = f.metadata["cli_type"] or type(f.default)
    return kind if f.default is not None else kind | None  # type: ignore[return-value]


def cli_default(f: dataclasses.Field[Any]) -> Any:
    """The default the command line shows and starts from (text for a parsed option)."""
    return f.default if f.metadata["parse"] is None else str(f.default)


def _parameter(f: dataclasses.Field[Any]) -> inspect.Parameter:
    meta = f.metadata
    choices = meta["choices"]
    info = typer.Option(
        *cli_flags(f),
        help=meta["help"],
        metavar="|".join(choices) if choices else None,
        show_default=meta["shown_default"] or True,
    )
    return inspect.Parameter(
        f.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=cli_default(f),
        annotation=Annotated[cli_type(f), info],
    )


def parse_options(values: dict[str, Any]) -> ConversionOptions:
    """The options object from the command line's values (each parsed as its field says)."""
    fields = {f.name: f for f in dataclasses.fields(ConversionOptions)}
    parsed = {}
    for name, value in values.items():
        parse = fields[name].metadata["parse"]
        parsed[name] = parse(value) if parse is not None and value is not None else value
    return ConversionOptions(**parsed)


def with_conversion_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a Typer command every conversion option, where it declares its ``options``
    parameter (``--help`` lists them there); it receives the validated
    :class:`ConversionOptions` (an invalid value is one line and exit 2, as every error)."""
    signature = inspect.signature(command, eval_str=True)
    names = list(signature.parameters)
    at = names.index("options")
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in signature.parameters.values()]
    added = [_parameter(f) for f in dataclasses.fields(ConversionOptions)]
    clash = set(names) & set(NAMES)
    if clash:
        raise TypeError(f"{command.__name__}: parameters {sorted(clash)} are conversion options")

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in NAMES}
        options = run_body(lambda: parse_options(values))
        return command(**kwargs, options=options)

    parameters = [*own[:at], *added, *own[at + 1 :]]
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {}
    return wrapper
