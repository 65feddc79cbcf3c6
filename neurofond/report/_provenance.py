"""Where a report came from: package versions, the git commit, machine and time."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

#: Distributions whose versions every report records (absent ones are left out).
PACKAGES = ("neurofond", "numpy", "scipy", "torch", "xarray", "matplotlib", "scikit-image",
            "scikit-learn", "elephant", "brainscore-vision", "brainscore-core")


def versions() -> dict[str, str]:
    """Installed versions of :data:`PACKAGES` (without importing them)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit(folder: Path | None = None) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the repository holding neurofond, None outside one."""
    root = folder or Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], check=True, capture_output=True,
                               text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(dirty)}


def environment() -> dict[str, Any]:
    """Versions, git commit, machine (CPUs, load) and start time of a run."""
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {"versions": versions(), "git": git_commit(),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "load_average_1_5_15_min": load, "executable": sys.executable},
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
