"""Every code block of README.md and docs/*.md runs as written (issue 26: docs that run).

Each fence names its language. ``python`` and ``bash`` blocks run in a fresh process from
a temporary directory outside the repository, where only ``sjconvert`` is importable (not
``samples`` or ``tests``); shell blocks run where ``samples/`` is the repository's (the
README's commands run from a clone's root) with the environment's ``sjconvert`` and
``python`` first on ``PATH``. ``text`` and ``json`` blocks show output or formats.

An HTML comment on the line before a fence, ``<!-- docs-test: WORD ... -->``, says more:

* ``lava`` / ``onnx`` / ``interop`` / ...: the block needs that test group's packages (it
  runs in the environment that has them, with the group's marker);
* ``dry``: the block takes too long for a test run (a benchmark, a multi-node launch); its
  commands are checked, not run: ``python -m MOD ARGS`` with ``--help`` appended, ``make
  TARGET`` as ``make -n``, ``sjconvert ARGS`` (also under ``torchrun``) with ``--help``;
* ``excerpt=PATH``: the block is quoted from that repository file, and must stay a
  verbatim part of it (comments aside);
* ``tested-by=PATH``: a test of its own runs the block (a change applied to a copy of the
  package, say); that test must exist and read this document.

No file may hold a placeholder (a line that is one ``UPPER_CASE`` word, ``{{ }}``, TODO)
or a path on one machine (``/work/``, ``/tmp/``, ``/home/``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import GROUPS, ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"python", "bash", "text", "json"}
TIMEOUT = 600
FENCE = re.compile(r"^```(\S*)\s*$")
NOTE = re.compile(r"^<!-- docs-test: (.*?) -->$")
PLACEHOLDERS = [
    (re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$"), "a placeholder line"),
    (re.compile(r"\{\{\s*[\w.]+\s*\}\}"), "a template placeholder"),  # {{ NAME }}
    (re.compile(r"\b(TODO|FIXME|XXX)\b"), "a TODO"),
    (re.compile(r"(?<![\w.])/(work|tmp|home|root|Users)/"), "a path on one machine"),
]
# Files yet to be brought to these rules: their checks are expected to fail, strictly (once
# a file passes, its entry must go). None now.
PENDING: dict[str, str] = {}


def _pending(path: Path) -> list[pytest.MarkDecorator]:
    reason = PENDING.get(str(path.relative_to(ROOT)))
    return [] if reason is None else [pytest.mark.xfail(strict=True, reason=reason)]


@dataclass
class Block:
    """One fenced code block: where it is, its language, text and ``docs-test`` words."""

    file: Path
    line: int
    lang: str
    code: str
    words: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"

    def option(self, key: str) -> str | None:
        found = [w.split("=", 1)[1] for w in self.words if w.startswith(f"{key}=")]
        return found[0] if found else None


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a markdown file (fences inside list items included)."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if m is None:
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        note = NOTE.match(lines[i - 1].strip()) if i else None
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        code = "\n".join(line[indent:] for line in lines[i + 1 : end]) + "\n"
        words = note.group(1).split() if note else []
        out.append(Block(path, i + 1, m.group(1), code, words))
        i = end + 1
    return out


ALL = [b for path in DOCS for b in blocks(path)]
RUN = [b for b in ALL if b.lang in ("python", "bash")]


def _param(block: Block) -> object:
    """A block's test, marked ``examples`` (run once, in the lean environment) or with the
    groups it needs (``lava``: run in the Lava environment instead)."""
    marks = [getattr(pytest.mark, w) for w in block.words if w in GROUPS]
    if not any(w in ("lava", "interop", "cupy", "gpu") for w in block.words):
        marks.append(pytest.mark.examples)
    return pytest.param(block, id=block.name, marks=[*marks, *_pending(block.file)])


def _doc(path: Path) -> object:
    return pytest.param(path, id=str(path.relative_to(ROOT)), marks=_pending(path))


@pytest.mark.parametrize("path", [_doc(p) for p in DOCS])
def test_every_fence_names_its_language(path: Path) -> None:
    bad = [b.name for b in blocks(path) if b.lang not in LANGUAGES]
    assert not bad, f"fences without a language among {sorted(LANGUAGES)}: {bad}"


@pytest.mark.parametrize("path", [_doc(p) for p in DOCS])
def test_no_placeholders_and_no_paths_on_one_machine(path: Path) -> None:
    found = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        for pattern, what in PLACEHOLDERS:
            if pattern.search(line.strip()):
                found.append(f"line {n}: {what}: {line.strip()[:80]}")
    assert not found, "\n".join(found)


def _environment(tmp: Path, samples: bool) -> tuple[Path, dict[str, str]]:
    """A working directory outside the repository and an environment where only sjconvert
    imports (and, for shell examples, ``samples/`` is the repository's)."""
    (tmp / "path").mkdir()
    (tmp / "path" / "sjconvert").symlink_to(ROOT / "sjconvert")
    work = tmp / "work"
    work.mkdir()
    if samples:
        (work / "samples").symlink_to(ROOT / "samples")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SJCONVERT_DEBUG")}
    env["PYTHONPATH"] = str(tmp / "path")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    env["PET_LOG_DIR"] = str(tmp / "torchelastic")  # torchrun's --log-dir: not a /tmp folder
    return work, env


def _code_lines(text: str) -> str:
    """Code without comments, trailing spaces or blank lines (what an excerpt must keep)."""
    lines = (re.sub(r"\s+#.*$", "", line).rstrip() for line in text.splitlines())
    return "\n".join(line for line in lines if line.strip())


def _excerpt(block: Block, source: str) -> None:
    text = _code_lines((ROOT / source).read_text())
    assert _code_lines(block.code) in text, f"{block.name} is no longer quoted from {source}"


def _dry_command(words: list[str]) -> list[str] | None:
    """The check of one command line of a ``dry`` block (None: nothing to run)."""
    if not words or words[0].startswith("#"):
        return None
    if words[0] == "make":
        return ["make", "-n", *words[1:]]
    if words[0] == "torchrun":
        at = words.index("-m")
        return _dry_command(["python", *words[at:]])
    if words[0] == "python" and words[1:2] == ["-m"]:
        return [sys.executable, "-m", *words[2:], "--help"]
    if words[0] == "sjconvert":
        return [sys.executable, "-m", "sjconvert", *words[1:], "--help"]
    if "=" in words[0] or words[0] in ("cd", "export"):
        return None
    raise AssertionError(f"a dry block cannot check {' '.join(words)!r}")


def _dry(block: Block, env: dict[str, str]) -> None:
    """Each command of the block checked (module found, options parsed), nothing run."""
    script = re.sub(r"\\\n\s*", " ", block.code)
    variables: dict[str, str] = {}
    checked: set[tuple[str, ...]] = set()
    for line in script.splitlines():
        line = re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), line)
        words = shlex.split(line, comments=True)
        if words and re.fullmatch(r"\w+=.*", words[0]) and len(words) == 1:
            name, value = words[0].split("=", 1)
            variables[name] = value
            continue
        command = _dry_command(words)
        if command is None or tuple(command[:4]) in checked:
            continue  # one check per program (--help reads no further than its parser)
        checked.add(tuple(command[:4]))
        env = env | {"PYTHONPATH": f"{ROOT}{os.pathsep}{env['PYTHONPATH']}"}
        res = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert res.returncode == 0, f"{block.name}: {' '.join(command)}\n{res.stderr[-2000:]}"


@pytest.mark.parametrize("block", [_param(b) for b in RUN])
def test_every_example_runs_as_written(block: Block, tmp_path: Path) -> None:
    source = block.option("excerpt")
    if source is not None:
        _excerpt(block, source)
        return
    tester = block.option("tested-by")
    if tester is not None:
        assert block.file.name in (ROOT / tester).read_text(), f"{tester} does not read it"
        return
    work, env = _environment(tmp_path, samples=block.lang == "bash")
    if "dry" in block.words:
        _dry(block, env)
        return
    if block.lang == "python":
        command = [sys.executable, "-c", block.code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    res = subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert res.returncode == 0, (
        f"{block.name} failed (exit {res.returncode}):\n{block.code}\n--- stdout ---\n"
        f"{res.stdout[-3000:]}\n--- stderr ---\n{res.stderr[-3000:]}"
    )
