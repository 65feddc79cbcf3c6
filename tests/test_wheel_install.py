"""A wheel built from the working tree carries the runtime data (protocols, dataset registry).

Builds a wheel (``pip wheel --no-deps --no-build-isolation``, offline) from a copy of the
package sources, installs it into a fresh virtual environment, and checks in a subprocess
that runs outside the repository that the datasets are listed and every shipped protocol
loads. The fresh environment borrows the dependencies (numpy, scipy, xarray, ...) from the
project's environment through a ``.pth`` line naming its site-packages: a directory named in
a ``.pth`` file is added to ``sys.path`` without processing the ``.pth`` files inside it, so
the editable install of neurofond there (``__editable__.neurofond-*.pth``) stays inactive
and ``import neurofond`` must find the installed wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

REPO_ROOT = Path(__file__).resolve().parents[1]

CHECK = r"""
import json, sys
import neurofond
from neurofond import datasets
from neurofond.stimuli import PROTOCOL_DIR, list_protocols, load_protocol

loaded = {}
for name in list_protocols(PROTOCOL_DIR):
    protocol = load_protocol(name)
    loaded[name] = len(protocol.stimuli)
print(json.dumps({
    "neurofond": neurofond.__file__,
    "registry": str(datasets.REGISTRY_FILE),
    "datasets": datasets.list_datasets(),
    "protocol_dir": str(PROTOCOL_DIR),
    "protocols": loaded,
    "torch_loaded": "torch" in sys.modules,
}))
"""


def _copy_sources(dest: Path) -> None:
    """The files a wheel is built from (no build/ or egg-info left in the shared tree)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, dest / name)
    shutil.copytree(REPO_ROOT / "neurofond", dest / "neurofond",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))


def _build_wheel(src: Path, out: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
           "--no-index", "--disable-pip-version-check", "-q", "-w", str(out), str(src)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"cannot build a wheel offline here: {err}")
    if proc.returncode != 0:
        text = proc.stdout + proc.stderr
        if "No module named pip" in text or ("setuptools" in text and "ModuleNotFound" in text):
            pytest.skip(f"cannot build a wheel offline (pip/setuptools missing): {text[-300:]}")
        raise AssertionError(f"pip wheel failed:\n{text}")
    wheels = sorted(out.glob("neurofond-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _fresh_venv(path: Path) -> tuple[Path, Path]:
    """A venv without pip on the base interpreter; returns (python, site-packages)."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True, timeout=60, cwd=path,
    ).stdout.strip()
    return python, Path(purelib)


def test_wheel_carries_protocols_and_registry(tmp_path):
    src = tmp_path / "src"
    _copy_sources(src)
    wheel = _build_wheel(src, tmp_path / "dist")

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert "neurofond/data/registry.json" in names
    shipped = sorted(p.name for p in (REPO_ROOT / "neurofond" / "data" / "protocols").glob(
        "*.toml"))
    assert shipped, "no protocol in neurofond/data/protocols"
    for name in shipped:
        assert f"neurofond/data/protocols/{name}" in names

    python, purelib = _fresh_venv(tmp_path / "venv")
    with zipfile.ZipFile(wheel) as zf:  # a wheel is a zip of purelib (no scripts needed)
        zf.extractall(purelib)
    # Dependencies from the project's environment, without its editable neurofond.
    deps = [Path(p) for p in site.getsitepackages() if Path(p).is_dir()]
    deps.append(Path(sysconfig.get_path("purelib")))
    (purelib / "_neurofond_test_deps.pth").write_text(
        "\n".join(dict.fromkeys(str(p) for p in deps)) + "\n")

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k != "NEUROFOND_DATA_DIR"}
    proc = subprocess.run([str(python), "-I", "-c", CHECK], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=1))

    installed = Path(out["neurofond"]).resolve()
    assert installed.is_relative_to(purelib.resolve()), installed
    assert not installed.is_relative_to(REPO_ROOT), installed
    assert Path(out["registry"]).resolve().is_relative_to(purelib.resolve())
    assert Path(out["protocol_dir"]).resolve().is_relative_to(purelib.resolve())

    import neurofond.datasets

    assert out["datasets"] == neurofond.datasets.list_datasets()
    assert sorted(out["protocols"]) == [n.removesuffix(".toml") for n in shipped]
    assert all(n > 0 for n in out["protocols"].values()), out["protocols"]
    assert not out["torch_loaded"]
