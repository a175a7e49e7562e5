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
