"""Issue 16 items 1-3: the main job's results.json (keys, plausible values, provenance) and its
argument checks; with the recorded data, the comparison and Brain-Score sections."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neurofond.cli import main
from neurofond.pretrained import DEFAULT_MODEL
from neurofond.report import PRESETS, run_main_job
from neurofond.report.figures import model_colours
from neurofond.report.sections import SECTIONS

CORE = ["convergence", "tuning", "contrast", "variability"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "results"
    rc = main(["run", "--out", str(out), "--mode", "tiny", "--no-recordings", "--no-progress",
               "--seed", "3", "--sections", *CORE])
    assert rc == 0
    return out, json.loads((out / "results.json").read_text())


def test_results_hold_the_headline_keys_with_plausible_values(tiny_run):
    _, res = tiny_run
    assert res["model_names"] == [DEFAULT_MODEL]
    m = res["models"][DEFAULT_MODEL]
    steps = PRESETS["tiny"]["convergence"]["steps"]
    assert 0.0 < m["r2"] <= 1.0 and 0.0 <= m["zeros"] <= 1.0
    assert isinstance(m["convergence_step"], int) and 1 <= m["convergence_step"] <= steps
    # onset latency per contrast: one value per contrast, shorter at higher contrast
    lat = res["onset_latency_ms"][DEFAULT_MODEL]
    contrasts = PRESETS["tiny"]["contrast"]["contrasts"]
    assert [float(c) for c in lat] == pytest.approx(contrasts)
    highest = list(lat.values())[-1]
    lowest = next(v for v in lat.values() if v is not None)
    assert 0.0 < highest < lowest < 500.0
    frac = res["fraction_orientation_selective"][DEFAULT_MODEL]
    assert 0.5 < frac <= 1.0  # the shipped iP-VAE: 100 % in the tuning survey
    fano = res["median_fano_factor"][DEFAULT_MODEL]
    assert 0.3 < fano < 2.0


def test_results_record_provenance_settings_and_timings(tiny_run):
    out, res = tiny_run
    assert res["command"].startswith("neurofond run --out ")
    assert "--mode tiny" in res["command"] and "--seed 3" in res["command"]
    assert res["seed"] == 3 and res["mode"] == "tiny"
    assert {"python", "numpy", "torch", "xarray", "neurofond"} <= set(res["versions"])
    assert res["git"] is None or len(res["git"]["commit"]) == 40
    assert res["settings"]["contrast"]["n_trials"] == PRESETS["tiny"]["contrast"]["n_trials"]
    assert res["section_order"] == CORE and set(res["sections"]) == set(CORE)
    for name, sec in res["sections"].items():
        assert sec["status"] == "ok", (name, sec.get("error"))
        assert sec["seconds"] > 0
        for fig in sec["figures"]:
            assert (out / fig).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    total = sum(s["seconds"] for s in res["sections"].values())
    assert total <= res["seconds"] + 1.0
    # every figure's numbers: the contrast section carries its curves, with error bars
    c = res["sections"]["contrast"]["results"][DEFAULT_MODEL]
    assert len(c["evoked_rate_hz"]) == len(c["evoked_rate_sem_hz"]) == len(c["contrasts"])
    assert c["naka_rushton"]["r2"] > 0.8
    fd = res["sections"]["contrast"]["results"]["figure_data"][DEFAULT_MODEL]
    assert len(fd["population_psth"]) == len(c["contrasts"])
    assert len(fd["population_psth"][0]) == len(fd["time_ms"])
    for name in CORE:
        assert res["sections"][name]["results"]["figure_data"], name
    tr = res["sections"]["convergence"]["results"]["figure_data"]["traces"][DEFAULT_MODEL]
    assert len(tr["r2"]) == PRESETS["tiny"]["convergence"]["steps"]
    assert tr["r2"][-1] == pytest.approx(m_r2 := res["models"][DEFAULT_MODEL]["r2"], rel=1e-5)
    assert 0 < m_r2 <= 1
    html = (out / "index.html").read_text()
    assert res["command"].replace("--", "") in html.replace("--", "")


def test_one_colour_per_model_across_figures():
    names = ["ipvae-k512-b24-photos", "igvae-k512-b8-photos", "igrelu-k512-b8-photos",
             "gabor-energy", "stimulus-floor", "my-model", "other"]
    col = model_colours(names)
    assert col["ipvae-k512-b24-photos"] == "C3" and col["gabor-energy"] == "C1"
    assert len(set(col.values())) == len(names)
    assert model_colours(reversed(names))["ipvae-k512-b24-photos"] == "C3"


@pytest.mark.parametrize(("args", "pattern"), [
    (["--models", "no-such-model"], r"models: .*no-such-model"),
    (["--recordings", "/no/such/file.mat"], r"recordings: /no/such/file.mat does not exist"),
    (["--sections", "convergence", "nonsense"], r"sections: expected names from"),
    (["--steps", "0"], r"steps: expected"),
])
def test_bad_arguments_name_the_argument_and_create_nothing(tmp_path, capsys, args, pattern):
    import re

    out = tmp_path / "new" / "results"
    assert main(["run", "--out", str(out), "--no-progress", *args]) == 2
    assert re.search(pattern, capsys.readouterr().err)
    assert not (tmp_path / "new").exists()


def test_quick_and_full_are_exclusive(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--quick", "--full"])
    assert "not allowed with" in capsys.readouterr().err


def test_every_section_has_sizes_in_every_mode():
    for mode, settings in PRESETS.items():
        assert set(SECTIONS) <= set(settings), mode


@pytest.mark.data
@pytest.mark.slow
def test_with_recordings_the_comparison_summary_per_candidate(shared_data_dir, tmp_path):
    mat = shared_data_dir / "ecker2010_v1_gratings" / "data_v1_binned_static.mat"
    if not mat.is_file():
        pytest.skip(f"Ecker 2010 recordings not found at {mat}")
    out = run_main_job(tmp_path / "results", mode="tiny", recordings=mat,
                       sections=["comparison", "brainscore"], progress=False).parent
    res = json.loads((out / "results.json").read_text())
    assert res["sections"]["comparison"]["status"] == "ok"
    comp = res["comparison"]
    assert set(comp) == {DEFAULT_MODEL, "stimulus-floor"}
    for row in comp.values():
        v = row["median_ceiled_predictivity"]
        assert math.isfinite(v) and -1.0 <= v <= 1.5
        assert row["ci95_low"] <= v <= row["ci95_high"]
        assert row["n_units"] > 0 and row["rank"] in (1, 2)
    if res["sections"]["brainscore"]["status"] == "ok":
        scores = res["brainscore"][DEFAULT_MODEL]
        assert scores and all(0.0 <= s <= 1.5 for s in scores.values() if s is not None
                              and np.isfinite(s))


def test_a_terminated_run_leaves_no_temporary_folder(tmp_path):
    """SIGTERM during the run: exit status 143, the output folder absent, nothing beside it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "neurofond.cli", "run", "--out", str(out),
                             "--mode", "tiny", "--no-recordings", "--no-progress",
                             "--sections", "convergence", "--steps", "100000"],
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".results.tmp-")
                                              for p in tmp_path.iterdir()):
        time.sleep(0.2)
    assert any(p.name.startswith(".results.tmp-") for p in tmp_path.iterdir())
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _import_interrupted_by(signal_exc: BaseException):
    """What a pybind11 module's initialisation does when a signal handler raises inside it."""
    def run(ctx):
        try:
            raise signal_exc
        except BaseException as exc:
            raise ImportError("initialization failed") from exc
    return run


@pytest.mark.parametrize("request_exc", [SystemExit(143), KeyboardInterrupt()])
def test_an_exit_request_converted_by_an_extension_ends_the_run(request_exc):
    """SIGTERM landing while a section imports scipy.optimize (pybind11) arrives as
    ImportError caused by SystemExit: the run must still end, not report a failed section."""
    from neurofond.report import _run_section
    from neurofond.report.sections import Section

    section = Section("interrupted", "", _import_interrupted_by(request_exc))
    with pytest.raises(type(request_exc)) as info:
        _run_section(section, None)
    assert info.value is request_exc
    if isinstance(request_exc, SystemExit):
        assert info.value.code == 143
    # an ordinary error (no exit request behind it) is still the section's failure only
    plain = Section("failing", "", _import_interrupted_by(ValueError("bad")))
    status, _ = _run_section(plain, None)
    assert status["status"] == "failed" and status["error"].startswith("ImportError")


def test_same_seed_same_numbers_other_seed_other_spikes(tmp_path):
    def numbers(seed: int, name: str) -> dict:
        run_main_job(tmp_path / name, mode="tiny", recordings=None, seed=seed,
                     sections=["variability", "direction"], progress=False)
        res = json.loads((tmp_path / name / "results.json").read_text())
        return {k: res["sections"][k]["results"] for k in ("variability", "direction")}

    a, b, c = numbers(5, "a"), numbers(5, "b"), numbers(6, "c")
    assert a == b
    fa = a["variability"]["figure_data"][DEFAULT_MODEL]["fano_factor_included"]
    fc = c["variability"]["figure_data"][DEFAULT_MODEL]["fano_factor_included"]
    assert fa != fc  # the spike sampler follows the seed
