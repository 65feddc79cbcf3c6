"""Shared pytest configuration: the ``data`` marker and the recorded-data fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "data: reads recorded/third-party data from ../shared/data (or $NEUROFOND_DATA_DIR); "
        "skipped when absent",
    )


def _shared_data_path() -> Path:
    env = os.environ.get("NEUROFOND_DATA_DIR")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared data folder, or skip the test naming the missing path."""
    path = _shared_data_path()
    if not path.is_dir():
        pytest.skip(
            f"shared data folder not found at {path} (set NEUROFOND_DATA_DIR to the folder "
            "holding ecker2010_v1_gratings/ etc.)"
        )
    return path
