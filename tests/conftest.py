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


@pytest.fixture(scope="module")
def brainscore_env(tmp_path_factory):
    """Environment for importing brainscore_vision offline: no pip installs, no EC2 metadata
    look-ups, caches in a temporary folder (see docs/install.md)."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("brainscore")
    mp.setenv("BS_INSTALL_DEPENDENCIES", "no")
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
    mp.setenv("RESULTCACHING_HOME", str(home / "result_caching"))
    mp.setenv("BRAINSCORE_HOME", str(home / "brainscore"))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def shipped_heldout():
    """``get(n) -> (model, x)``: the shipped iP-VAE in evaluation mode and ``n`` held-out photo
    patches of its own preprocessing (float32, seed 0), loaded once per session and size.
    Read-only: tests that change a model build their own."""
    import torch

    from neurofond.fond.data import heldout_patches
    from neurofond.pretrained import DEFAULT_MODEL, load_pretrained

    model, prep, _ = load_pretrained(DEFAULT_MODEL)
    model.eval()
    patches: dict[int, torch.Tensor] = {}

    def get(n: int):
        if n not in patches:
            patches[n] = torch.as_tensor(heldout_patches(prep, n, seed=0), dtype=torch.float32)
        return model, patches[n]

    return get
