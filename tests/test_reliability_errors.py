"""Issue 17 item 10: obscure errors now name the argument and what was expected.

Checked against the parent commit: ``make_responses(bin_ms='10')`` raised numpy's
"ufunc 'isfinite' not supported"; ``datasets info|verify|fetch`` printed the error on
stdout; an analyses script given a bad ``--checkpoint`` ended in a traceback and left its
new output folder behind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurofond.cli import main
from neurofond.responses import make_responses

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("bad", ["10", True, None, float("nan"), 0, -5.0])
def test_make_responses_bin_ms_names_the_argument(bad):
    with pytest.raises(ValueError, match=r"bin_ms: expected a finite number > 0, got"):
        make_responses(np.zeros((1, 1, 1, 2)), bin_ms=bad)
    assert make_responses(np.zeros((1, 1, 1, 2)), bin_ms=np.float32(10)).attrs["bin_ms"] == 10.0


@pytest.mark.parametrize("command", [["info", "nope"], ["verify", "nope"],
                                     ["fetch", "nope"]])
def test_datasets_errors_go_to_stderr_with_a_nonzero_exit(command, capsys):
    rc = main(["datasets", *command])
    out, err = capsys.readouterr()
    assert rc != 0
    assert out == ""
    assert "error: unknown dataset 'nope'" in err


@pytest.mark.parametrize("checkpoint", ["/nonexistent/model.safetensors", "no-such-model"])
def test_analyses_script_with_a_bad_checkpoint(tmp_path, checkpoint):
    out = tmp_path / "new" / "out"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "analyses" / "contrast_latency.py"), "--checkpoint",
         checkpoint, "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "contrast_latency.py: error: checkpoint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "new").exists()  # the folder it created is removed again


def test_main_wrapper_keeps_folders_with_results(tmp_path):
    from neurofond import _scripts

    def go():
        folder = _scripts.out_dir(tmp_path / "a" / "b")
        (folder / "partial.json").write_text("{}")
        raise ValueError("n_trials: expected an integer >= 1, got 0")

    assert _scripts.main_wrapper(go) == 2
    assert (tmp_path / "a" / "b" / "partial.json").is_file()
