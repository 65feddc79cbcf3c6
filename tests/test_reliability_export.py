"""`brainscore export --overwrite` (issue 17.2): validate first, build aside, swap atomically,
never remove files the export did not write.

Runs with brainscore_vision installed (the whole BrainModel is built to check the settings) and
with it hidden (population settings only); the export module itself never needs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import neurofond.brainscore as nb
from neurofond.brainscore._testing import random_gabor_checkpoint
from neurofond.cli import main as cli_main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return random_gabor_checkpoint(tmp_path_factory.mktemp("ck") / "ipvae-k32-test.safetensors")


@pytest.fixture(params=["with_brainscore", "without_brainscore"])
def brainscore_mode(request, monkeypatch):
    if request.param == "with_brainscore":
        pytest.importorskip("brainscore_vision")
    else:
        def absent():
            raise ImportError("brainscore_vision hidden for this test")

        monkeypatch.setattr(nb, "require_brainscore", absent)
    return request.param


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


def _plugin(checkpoint, folder, **kw):
    return nb.export_plugin(checkpoint, folder, transform_gain=40.0, validate=False, **kw)


def test_invalid_settings_leave_an_existing_plugin_untouched(checkpoint, tmp_path,
                                                             brainscore_mode):
    out = _plugin(checkpoint, tmp_path / "plugin")
    (out / "notes.txt").write_text("mine")
    before = _snapshot(out)
    for bad in ({"ms_per_step": -1.0}, {"ms_per_step": 0.0}, {"patch_size_deg": -2.0}):
        with pytest.raises(ValueError, match="cannot be built.*" + next(iter(bad))):
            _plugin(checkpoint, out, overwrite=True, **bad)
        assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plugin"]  # no temporary folders left


def test_cli_overwrite_with_invalid_ms_per_step_keeps_the_folder(checkpoint, tmp_path, capsys):
    out = _plugin(checkpoint, tmp_path / "plugin")
    before = _snapshot(out)
    rc = cli_main(["brainscore", "export", str(checkpoint), "--out", str(out), "--overwrite",
                   "--ms-per-step", "-5"])
    assert rc == 2 and "ms_per_step" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_overwrite_keeps_files_the_export_did_not_write(checkpoint, tmp_path):
    out = _plugin(checkpoint, tmp_path / "plugin", identifier="nf-old")
    (out / "notes.txt").write_text("mine")
    (out / "data").mkdir()
    (out / "data" / "table.csv").write_text("a,b\n1,2\n")
    (out / "__pycache__").mkdir()
    (out / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"stale")
    other = tmp_path / "other-model.safetensors"
    shutil.copyfile(checkpoint, other)
    _plugin(other, out, identifier="nf-new", overwrite=True)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["__init__.py", "model.py", "test.py", "requirements.txt",
                            "metadata.yaml", "other-model.safetensors", "notes.txt", "data"])
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "data" / "table.csv").read_text() == "a,b\n1,2\n"
    assert "'nf-new'" in (out / "__init__.py").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-model.safetensors", "plugin"]


def test_a_folder_not_written_by_an_export_is_never_replaced(checkpoint, tmp_path):
    out = tmp_path / "project"
    out.mkdir()
    (out / "model.py").write_text("# my own model\n")
    (out / "README").write_text("mine")
    before = _snapshot(out)
    with pytest.raises(FileExistsError, match="did not write"):
        _plugin(checkpoint, out, overwrite=True)
    assert _snapshot(out) == before
    with pytest.raises(FileExistsError, match="not empty"):
        _plugin(checkpoint, out)
    # unrelated files only: the plugin is added next to them
    (out / "model.py").unlink()
    _plugin(checkpoint, out, overwrite=True)
    assert (out / "README").read_text() == "mine" and (out / "model.py").exists()


def test_a_failure_while_writing_leaves_the_old_plugin(checkpoint, tmp_path, monkeypatch):
    from neurofond.brainscore import export

    out = _plugin(checkpoint, tmp_path / "plugin")
    before = _snapshot(out)

    def broken(identifier):
        raise OSError("disk full")

    monkeypatch.setattr(export, "_test_py", broken)
    with pytest.raises(OSError, match="disk full"):
        _plugin(checkpoint, out, overwrite=True, ms_per_step=5.0)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plugin"]
