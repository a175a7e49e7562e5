"""Generated documentation stays in step with the registries."""

from __future__ import annotations

from sjconvert.api.support import supported_ops_markdown
from tests.conftest import ROOT


def test_supported_ops_doc_is_current() -> None:
    committed = (ROOT / "docs" / "supported_ops.md").read_text()
    assert committed == supported_ops_markdown(), (
        "docs/supported_ops.md is stale: "
        "run python -m sjconvert.api.support > docs/supported_ops.md"
    )


def test_readme_cli_reference_is_generated_from_the_commands() -> None:
    """The synopsis of every command, the conversion options and the exit codes in the
    README are what the command line itself declares."""
    from sjconvert.cli.reference import render

    committed = (ROOT / "README.md").read_text()
    assert committed == render(committed), (
        "README.md's command-line reference is stale: run python -m sjconvert.cli.reference "
        "README.md"
    )
