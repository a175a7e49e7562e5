"""The README's command-line reference, generated from the commands themselves: the synopsis
of every command (from its Click parameters), the table of conversion options (from
:class:`~sjconvert.passes.options.ConversionOptions`) and the exit codes
(:data:`.exits.EXIT_CODES`).

``python -m sjconvert.cli.reference README.md docs/*.md`` rewrites the generated sections in
place, each between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->`` (``commands``,
or ``commands:to-nir,from-nir`` for some commands; ``conversion-options``;
``exit-codes``); a test fails while a committed file differs from what this generates.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ..passes.options import ConversionOptions
from .exits import EXIT_CODES
from .main import app
from .options import cli_default, cli_flags

WIDTH = 96
NBSP = "\u00a0"  # keeps one option and its value on one line


def _flag(p: Any) -> str:
    """The spelling shown: the short flag where there is one (``-o``, ``-T``)."""
    short = [o for o in p.opts if not o.startswith("--")]
    return short[0] if short else p.opts[0]


def _word(p: Any) -> str:
    """One Click parameter as the synopsis shows it."""
    if p.param_type_name == "argument":
        return (p.name or "").upper()
    if p.is_flag:
        off = p.secondary_opts[0] if p.default and p.secondary_opts else _flag(p)
        return f"[{off}]"
    metavar = p.metavar or (p.name or "").upper()
    if p.required:
        return f"{_flag(p)} {metavar}"
    shown = p.metavar if p.metavar else p.default if p.default is not None else metavar
    return f"[{_flag(p)} {shown}]"


def synopsis(name: str, command: Any) -> str:
    """``sjconvert NAME ARGS [OPTIONS]``, wrapped at :data:`WIDTH` columns."""
    words = [_word(p).replace(" ", NBSP) for p in command.params if p.name != "help"]
    lead = f"sjconvert {name} "
    text = textwrap.fill(
        " ".join(words),
        WIDTH,
        initial_indent=lead,
        subsequent_indent=" " * len(lead),
        break_long_words=False,
        break_on_hyphens=False,
    )
    return text.replace(NBSP, " ")


def summary(command: Any) -> str:
    """The first sentence of a command's help, without Rich markup."""
    text = re.sub(r"\[/?(bold)?\]", "", " ".join((command.help or "").split()))
    return re.split(r"(?<=\.)\s", text, maxsplit=1)[0]


def commands_text(names: list[str] | None = None) -> str:
    """The synopsis and first help sentence of every command (or of ``names``)."""
    blocks = []
    table = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    unknown = sorted(set(names or ()) - set(table))
    if unknown:
        raise ValueError(f"no command {', '.join(unknown)} to describe")
    for name in names or table:
        command = table[name]
        about = textwrap.fill(summary(command), WIDTH, initial_indent="# ", subsequent_indent="# ")
        blocks.append(f"{about}\n{synopsis(name, command)}")
    return "```text\n" + "\n\n".join(blocks) + "\n```"


def options_table() -> str:
    """The conversion options of ``ann2snn`` (and of every command that converts an ANN)."""
    lines = ["| option | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(ConversionOptions):
        flags = " ".join(f"`{s}`" for spec in cli_flags(f) for s in spec.split("/"))
        default = f.metadata["shown_default"] or cli_default(f)
        if isinstance(default, bool):
            default = cli_flags(f)[0].split("/")[0 if default else 1]
        lines.append(f"| {flags} | `{default}` | {f.metadata['help']} |")
    return "\n".join(lines)


def exit_codes_table() -> str:
    """Every exit code and its meaning."""
    rows = [f"| {code} | {meaning} |" for code, meaning in sorted(EXIT_CODES.items())]
    return "\n".join(["| code | meaning |", "|---|---|", *rows])


SECTIONS: dict[str, Callable[[], str]] = {
    "conversion-options": options_table,
    "exit-codes": exit_codes_table,
}
MARKER = re.compile(r"<!-- generated: (\S+) -->\n")


def section(name: str) -> str:
    """What the section ``name`` holds (``commands[:a,b]`` or one of :data:`SECTIONS`)."""
    kind, _, names = name.partition(":")
    if kind == "commands":
        return commands_text(names.split(",") if names else None)
    if name not in SECTIONS:
        raise ValueError(f"unknown generated section {name!r}")
    return SECTIONS[name]()


def render(text: str) -> str:
    """``text`` with every generated section replaced by what it generates now."""
    at = 0
    while (start := MARKER.search(text, at)) is not None:
        name = start.group(1)
        end = text.find(f"<!-- end: {name} -->", start.end())
        if end < 0:
            raise ValueError(f"section {name!r} has no '<!-- end: {name} -->'")
        body = section(name) + "\n"
        text = text[: start.end()] + body + text[end:]
        at = start.end() + len(body)
    return text


def main(paths: list[str]) -> None:
    """Rewrite the generated sections of the files at ``paths``."""
    for path in paths:
        file = Path(path)
        file.write_text(render(file.read_text()))


if __name__ == "__main__":
    main(sys.argv[1:] or ["README.md"])
