"""Issue 17 item 4 (``neurofond run --out`` overwrite protection) and the ``run`` /
``evaluate`` argument errors of item 10.

Checked against the parent commit: the non-empty-folder, --overwrite, failure and
``--steps 0`` tests failed there (results were silently overwritten, the folder was created
before ``--steps 0`` failed, and there was no --overwrite flag).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurofond import report
from neurofond.cli import main


def _fake_run(out: Path, *, plan, progress) -> Path:
    seed = plan.seed
    steps = plan.settings["convergence"]["steps"]
    (out / "results.json").write_text(json.dumps({"steps": steps, "seed": seed}))
    (out / f"fig_new{seed}.png").write_bytes(b"png")
    path = out / "index.html"
    path.write_text("<html>new</html>")
    return path


def _earlier_run(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"results.json": b'{"old": 1}', "report.html": b"<html>old</html>",
             "dictionary_old.png": b"old", "convergence.png": b"old"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _leftovers(parent: Path, name: str) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]


def test_non_empty_out_is_refused_without_overwrite(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "_run_into", _fake_run)
    out = tmp_path / "results"
    files = _earlier_run(out)
    rc = main(["run", "--out", str(out), "--steps", "5"])
    assert rc == 2
    assert "--overwrite" in capsys.readouterr().err
    assert _contents(out) == files
    with pytest.raises(FileExistsError, match="out_dir: .* is not empty"):
        report.run_main_job(out, steps=5, progress=False)
    assert _contents(out) == files and not _leftovers(tmp_path, "results")


def test_overwrite_swaps_the_whole_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "_run_into", _fake_run)
    out = tmp_path / "results"
    _earlier_run(out)
    assert main(["run", "--out", str(out), "--steps", "5", "--seed", "3", "--overwrite"]) == 0
    # only the new run's files: the old dictionary figure is gone, no mix
    assert sorted(_contents(out)) == ["fig_new3.png", "index.html", "results.json"]
    assert json.loads((out / "results.json").read_text()) == {"steps": 5, "seed": 3}
    assert not _leftovers(tmp_path, "results")


def test_overwrite_never_removes_files_a_run_did_not_write(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "_run_into", _fake_run)
    out = tmp_path / "results"
    files = _earlier_run(out)
    (out / "notes.txt").write_text("mine")
    files["notes.txt"] = b"mine"
    with pytest.raises(FileExistsError, match="notes.txt.*not replaced even with --overwrite"):
        report.run_main_job(out, steps=5, progress=False, overwrite=True)
    assert _contents(out) == files


def test_a_failure_while_writing_leaves_the_old_run(tmp_path, monkeypatch):
    def failing(out, **kw):
        (out / "results.json").write_text("{}")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(report, "_run_into", failing)
    out = tmp_path / "results"
    files = _earlier_run(out)
    with pytest.raises(OSError, match="simulated"):
        report.run_main_job(out, steps=5, progress=False, overwrite=True)
    assert _contents(out) == files and not _leftovers(tmp_path, "results")


@pytest.mark.parametrize(("flag", "value", "word"), [
    ("--steps", "0", "steps"), ("--n-patches", "-1", "n_patches"), ("--seed", "-1", "seed"),
    ("--seed", str(2**64), "seed"),
])
def test_run_bad_arguments_create_nothing(tmp_path, flag, value, word, capsys):
    out = tmp_path / "new" / "results"
    assert main(["run", "--out", str(out), flag, value]) == 2
    err = capsys.readouterr().err
    assert f"{word}: expected" in err
    assert not (tmp_path / "new").exists()


def test_real_run_into_an_empty_folder_then_overwrite(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    args = ["run", "--out", str(out), "--steps", "2", "--n-patches", "16", "--mode", "tiny",
            "--sections", "convergence", "--no-recordings", "--no-progress"]
    assert main(args) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "index.html" in names and "results.json" in names
    assert main(args) == 2  # second run refused
    assert main([*args, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == names
    assert not _leftovers(tmp_path, "results")


@pytest.mark.parametrize(("flag", "value", "pattern"), [
    ("--device", "bogus", r"device: expected .*'bogus'"),
    ("--batch-size", "0", r"batch_size: expected an integer >= 1, got 0"),
    ("--seed", "-1", r"seed: expected"),
    ("--seed", str(2**64), r"seed: expected"),
])
def test_evaluate_bad_arguments_name_the_argument(flag, value, pattern, capsys):
    rc = main(["evaluate", "ipvae-k512-b24-photos", "--steps", "2", "--n-patches", "8",
               "--json", flag, value])
    assert rc == 2
    import re

    assert re.search(pattern, capsys.readouterr().err)


def test_evaluate_cuda_on_a_cpu_build_names_the_device(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    rc = main(["evaluate", "ipvae-k512-b24-photos", "--steps", "2", "--n-patches", "8",
               "--json", "--device", "cuda"])
    assert rc == 2
    assert re_search(r"device: 'cuda' is not available", capsys.readouterr().err)


def re_search(pattern: str, text: str) -> bool:
    import re

    return re.search(pattern, text) is not None
