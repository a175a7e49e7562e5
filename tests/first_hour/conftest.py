"""The user's folder, made once for the walkthrough's modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.first_hour.user import make_home


@pytest.fixture(scope="package")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's folder, outside the repository (:func:`make_home`)."""
    return make_home(tmp_path_factory.mktemp("first_hour"))
