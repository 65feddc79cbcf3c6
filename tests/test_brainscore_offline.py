"""Offline safety of neurofond.brainscore: no network, no pip, during import, load_model, scoring.

A child interpreter (started before any guard, with none of the Brain-Score environment
variables set) installs the guards first: ``socket.socket.connect`` / ``connect_ex``,
``socket.create_connection`` and ``socket.getaddrinfo`` raise, and ``subprocess.Popen``
raises when its command line contains ``pip``. Every attempt is recorded. Under the guards
it imports neurofond.brainscore and brainscore_vision, exports a plugin into
brainscore_vision/models/, loads it with ``brainscore_vision.load_model``, runs ``look_at``
and scores a local NeuralBenchmark (pls + internal_consistency) on synthetic recordings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD = textwrap.dedent(r'''
    import json, os, re, shutil, socket, subprocess, sys, uuid
    from pathlib import Path

    attempts = []

    def blocked(kind):
        def guard(*args, **kwargs):
            attempts.append([kind, repr(args[1:3] if kind.startswith("socket.") else args)[:200]])
            raise OSError(f"network access blocked by the offline test ({kind})")
        return guard

    socket.socket.connect = blocked("socket.connect")
    socket.socket.connect_ex = blocked("socket.connect_ex")
    socket.create_connection = blocked("create_connection")
    socket.getaddrinfo = blocked("getaddrinfo")
    _Popen = subprocess.Popen

    class GuardedPopen(_Popen):
        def __init__(self, args, *a, **kw):
            text = args if isinstance(args, (str, bytes)) else " ".join(map(str, args))
            if re.search(r"(^|[\s/])pip3?(\s|$)", str(text)):
                attempts.append(["subprocess pip", str(text)[:200]])
                raise OSError("pip blocked by the offline test")
            super().__init__(args, *a, **kw)

    subprocess.Popen = GuardedPopen

    tmp = Path(sys.argv[1])
    import neurofond.brainscore as nb
    env = {k: os.environ[k] for k in nb.ENV_DEFAULTS}
    import brainscore_vision
    from neurofond.brainscore._testing import (grating_stimuli, random_gabor_checkpoint,
                                               synthetic_v1_responses)
    from neurofond.brainscore.benchmarks import neural_benchmark_from_responses, score_benchmarks
    from neurofond.brainscore.stimuli import stimulus_set_from_stimuli

    ck = random_gabor_checkpoint(tmp / "offline-k32.safetensors")
    name = "neurofond_offline_" + uuid.uuid4().hex[:8]
    identifier = "neurofond-offline-" + name[-8:]
    plugin = nb.export_plugin(ck, tmp / name, identifier=identifier, transform_gain=40.0)
    dest = Path(brainscore_vision.__file__).parent / "models" / name
    print(json.dumps({"plugin_dir": str(dest)}), flush=True)
    shutil.copytree(plugin, dest)
    try:
        model = brainscore_vision.load_model(identifier)
        stim = grating_stimuli(orientations=range(0, 180, 15), contrasts=(0.5, 1.0))
        stimulus_set = stimulus_set_from_stimuli(stim, tmp / "stim", "offline_gratings")
        model.start_recording("V1", time_bins=[(70, 170)])
        asm = model.look_at(stimulus_set, number_of_trials=2)
        bench = neural_benchmark_from_responses(
            synthetic_v1_responses(stim), stimulus_set, identifier="offline.synthetic.V1-pls",
            window_ms=(50, 300), visual_degrees=8.0, number_of_trials=2)
        row = score_benchmarks(model, {bench.identifier: bench})[0]
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    during = list(attempts)
    # the guards work: these must be caught and recorded
    sanity = []
    try:
        socket.create_connection(("example.org", 80), timeout=1)
    except OSError:
        sanity.append("network")
    try:
        subprocess.run("pip --version", shell=True, check=False)
    except OSError:
        sanity.append("pip")
    print(json.dumps({"attempts": during, "sanity": sanity, "env": env,
                      "shape": list(asm.shape), "score": row}), flush=True)
''')


def test_no_network_no_pip_during_import_load_and_scoring(tmp_path):
    pytest.importorskip("brainscore_vision")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {k: v for k, v in os.environ.items() if k not in (
        "BS_INSTALL_DEPENDENCIES", "AWS_EC2_METADATA_DISABLED", "RESULTCACHING_HOME",
        "BRAINSCORE_HOME")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["PYTHONWARNINGS"] = "ignore"
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, str(script), str(work)], env=env, capture_output=True,
                          text=True, timeout=240, cwd=Path(__file__).resolve().parents[1])
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    plugin_dirs = [Path(d["plugin_dir"]) for d in lines if "plugin_dir" in d]
    for d in plugin_dirs:  # in case the child died before its own cleanup
        if d.exists():
            import shutil

            shutil.rmtree(d, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = lines[-1]
    assert result["attempts"] == [], result["attempts"]
    assert sorted(result["sanity"]) == ["network", "pip"]
    assert result["env"]["BS_INSTALL_DEPENDENCIES"] == "no"
    assert result["env"]["AWS_EC2_METADATA_DISABLED"] == "true"
    cache = str(tmp_path / "cache")
    assert result["env"]["RESULTCACHING_HOME"].startswith(cache)
    assert result["env"]["BRAINSCORE_HOME"].startswith(cache)
    assert result["shape"] == [24, 128, 1]
    row = result["score"]
    assert 0 <= row["ceiling"] <= 1 and -1 <= row["raw"] <= 1
    assert all(not d.exists() for d in plugin_dirs)


def test_clear_import_error_without_brainscore(tmp_path):
    """brainscore_vision absent: a clear ImportError; the environment and export still work."""
    code = textwrap.dedent('''
        import sys
        sys.modules["brainscore_vision"] = None  # import of brainscore_vision fails
        import neurofond.brainscore as nb
        out = {"env": nb.ENV_DEFAULTS["BS_INSTALL_DEPENDENCIES"]}
        for what in ("attr", "module"):
            try:
                if what == "attr":
                    nb.IterativeVAEBrainModel
                else:
                    import neurofond.brainscore.benchmarks  # noqa: F401
            except ImportError as exc:
                out[what] = str(exc)
        out["export"] = callable(nb.export_plugin)
        print(out)
    ''')
    env = {k: v for k, v in os.environ.items() if k != "BS_INSTALL_DEPENDENCIES"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = eval(proc.stdout.strip().splitlines()[-1])  # noqa: S307 - our own dict literal
    assert out["env"] == "no" and out["export"] is True
    for what in ("attr", "module"):
        assert "pip install brainscore-vision" in out[what]


def test_environment_left_alone_when_brainscore_came_first(tmp_path):
    """Loaded as a Brain-Score plugin (brainscore_vision first): Brain-Score's policy applies."""
    pytest.importorskip("brainscore_vision")
    code = textwrap.dedent('''
        import os, warnings
        import brainscore_vision  # noqa: F401
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import neurofond.brainscore as nb
        print(repr({"env": "BS_INSTALL_DEPENDENCIES" in os.environ, "defaults": nb.ENV_DEFAULTS,
                    "warned": any("left unchanged" in str(w.message) for w in caught)}))
    ''')
    env = {k: v for k, v in os.environ.items() if k not in (
        "BS_INSTALL_DEPENDENCIES", "RESULTCACHING_HOME", "BRAINSCORE_HOME")}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = eval(proc.stdout.strip().splitlines()[-1])  # noqa: S307 - our own dict literal
    assert out["env"] is False and out["warned"] is True
    assert "BS_INSTALL_DEPENDENCIES" not in out["defaults"]
