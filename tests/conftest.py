"""Shared fixtures for the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The real data sets live beside the repository, never inside the package.
# MATHLEARN_DATA_DIR overrides the location.
_DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("MATHLEARN_DATA_DIR", _DEFAULT_DATA_DIR))
    if not path.is_dir():
        pytest.skip(f"real-data directory not found: {path} (set MATHLEARN_DATA_DIR)")
    return path
