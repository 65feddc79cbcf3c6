"""The in-silico experiment scripts in analyses/: each run() on tiny K=32 checkpoints.

The checkpoints are random-Gabor dictionaries (neurofond.population.random_gabor_dictionary)
saved with save_checkpoint in tmp_path, so the tests need no shipped model.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neurofond.fond import IterativeVAE, ModelConfig, Preprocessing, save_checkpoint
from neurofond.population import random_gabor_dictionary

ANALYSES = Path(__file__).resolve().parents[1] / "analyses"
K = 32


def _load(name: str):
    """Import analyses/<name>.py as a module (the folder is not a package; no sys.path edit:
    a script imports only the package)."""
    spec = importlib.util.spec_from_file_location(f"analyses_{name}", ANALYSES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _checkpoint(folder: Path, family: str) -> Path:
    model = IterativeVAE(ModelConfig.for_family(family, n_latents=K),
                         generator=torch.Generator().manual_seed(0))
    phi = torch.from_numpy(random_gabor_dictionary(K, 16, seed=1))
    with torch.no_grad():
        model.phi.copy_(phi * (0.3 if family == "poisson" else 1.0))
        model.log_eta.fill_(math.log(0.1))
    path = folder / f"{family}-k{K}.safetensors"
    save_checkpoint(model, path, preprocessing=Preprocessing(), overwrite=True)
    return path


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread: the tiny models gain nothing from more, and on a loaded machine
    spinning OpenMP threads slow the per-step operations many-fold."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ckpt")
    return {fam: _checkpoint(folder, fam) for fam in ("poisson", "gaussian", "gaussian_relu")}


def _json(path: Path):
    assert path.is_file(), path
    return json.loads(path.read_text())


def _png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000, path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _in(value, lo, hi) -> bool:
    return value is not None and lo <= value <= hi


def test_convergence_three_models(tmp_path, checkpoints):
    mod = _load("convergence")
    specs = [str(checkpoints[f]) for f in ("poisson", "gaussian", "gaussian_relu")]
    res = mod.run(tmp_path, specs, n_patches=20, steps=30, progress=False)
    assert set(res) == {"ipvae", "igvae", "igrelu"}
    on_disk = _json(tmp_path / "convergence.json")
    assert set(on_disk) == {"ipvae", "igvae", "igrelu"}
    for key, r in on_disk.items():
        for field in ("convergence_step", "r2_final", "zeros_final", "zeros_at_convergence",
                      "r2_map_final", "du_norm_final", "sparsity_gain_after_convergence"):
            assert field in r, (key, field)
        assert 0 <= r["convergence_step"] <= 29
        assert _in(r["zeros_final"], 0, 1) and _in(r["zeros_at_convergence"], 0, 1)
        assert r["du_norm_final"] >= 0
        assert math.isclose(r["sparsity_gain_after_convergence"],
                            r["zeros_final"] - r["zeros_at_convergence"], abs_tol=1e-12)
    assert on_disk["igvae"]["zeros_final"] == 0.0  # Gaussian samples are never exactly 0
    traces = _csv_rows(tmp_path / "convergence_traces.csv")
    assert len(traces) == 3 * 30
    _png(tmp_path / "convergence.png")


def test_contrast_latency(tmp_path, checkpoints):
    mod = _load("contrast_latency")
    contrasts = [0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
    res = mod.run(tmp_path, str(checkpoints["poisson"]), contrasts=contrasts, n_trials=4,
                  n_neurons=3, blank_steps=20, tf_hz=4.0, osi_min=0.0, min_rate_hz=0.0,
                  progress=False)
    on_disk = _json(tmp_path / "contrast_latency.json")
    for key in ("contrasts", "onset_latency_ms", "peak_latency_ms", "n_neurons", "ms_per_step",
                "shift_steps", "shift_ms", "n_responding"):
        assert key in on_disk, key
    assert on_disk["contrasts"] == pytest.approx(contrasts)
    for key in ("onset_latency_ms", "peak_latency_ms", "n_responding", "peak_rate_hz"):
        assert len(on_disk[key]) == len(contrasts), key
    assert 1 <= on_disk["n_neurons"] <= 3 and on_disk["ms_per_step"] == 5.0
    window = 1000.0 / 4.0  # one cycle at 4 Hz
    for v in on_disk["onset_latency_ms"] + on_disk["peak_latency_ms"]:
        assert v is None or 0 <= v <= window
    if on_disk["shift_ms"] is not None:
        assert on_disk["shift_steps"] == pytest.approx(on_disk["shift_ms"] / 5.0)
    assert res["n_neurons"] == on_disk["n_neurons"]
    rows = _csv_rows(tmp_path / "contrast_latency.csv")
    assert len(rows) == len(contrasts) * on_disk["n_neurons"]
    _png(tmp_path / "contrast_latency.png")


def test_tuning_survey(tmp_path, checkpoints):
    mod = _load("tuning_survey")
    specs = [str(checkpoints["poisson"]), str(checkpoints["gaussian"])]
    res = mod.run(tmp_path, specs, n_trials=1, canvas_deg=2.0, stimulus_steps=17, n_phases=4,
                  progress=False)
    on_disk = _json(tmp_path / "tuning_survey.json")
    assert set(on_disk) == set(res) == {"ipvae", "igvae"}
    for key, s in on_disk.items():
        assert s["n_neurons"] == K and 0 <= s["n_responsive"] <= K
        frac = s["fraction_orientation_selective"]
        assert frac is None or 0 <= frac <= 1
        for metric in ("circular_variance", "osi", "orientation_bandwidth_deg", "peak_sf_cpd",
                       "sf_bandwidth_octaves", "modulation_ratio"):
            assert {"median", "q25", "q75", "n"} <= set(s[metric]), (key, metric)
        if s["n_responsive"]:
            assert _in(s["circular_variance"]["median"], 0, 1)
            assert _in(s["osi"]["median"], -1, 1)
            assert _in(s["peak_sf_cpd"]["median"], 0.3, 8.0)  # the SFs below Nyquist
    # a random-Gabor dictionary is orientation tuned
    assert on_disk["ipvae"]["n_responsive"] > 0
    assert len(_csv_rows(tmp_path / "tuning_survey.csv")) == 2 * K
    _png(tmp_path / "tuning_survey.png")


def test_variability(tmp_path, checkpoints):
    mod = _load("variability")
    res = mod.run(tmp_path, str(checkpoints["poisson"]), n_trials=6,
                  orientations=[0.0, 45.0, 90.0, 135.0], sfs=[2.0], phases=[0.0],
                  blank_steps=10, stimulus_steps=30, count_window_ms=(100.0, 300.0),
                  n_resamples=3, contrast=1.0, progress=False)
    on_disk = _json(tmp_path / "variability.json")
    ff = on_disk["fano_factor"]
    assert {"median", "q25", "q75", "iqr", "n"} <= set(ff)
    assert ff["n"] == on_disk["n_pairs"] > 0
    assert ff["q25"] <= ff["median"] <= ff["q75"] and ff["median"] >= 0
    assert len(on_disk["time_ms"]) == len(on_disk["mean_matched_fano_over_time"])
    assert res["n_trials"] == 6
    _png(tmp_path / "variability.png")
    with pytest.raises(ValueError, match="spike counts"):
        mod.run(tmp_path / "g", str(checkpoints["gaussian"]), progress=False)


def test_dictionary(tmp_path, checkpoints):
    mod = _load("dictionary")
    res = mod.run(tmp_path, [str(checkpoints["poisson"]), str(checkpoints["gaussian"])],
                  n_starts=1, progress=False)
    on_disk = _json(tmp_path / "dictionary.json")
    assert set(on_disk) == set(res) == {"ipvae", "igvae"}
    for r in on_disk.values():
        assert {"fraction", "n_elements", "n_fit", "median_r2"} <= set(r)
        assert r["n_elements"] == K and 0 < r["n_fit"] <= K
        assert 0 <= r["fraction"] <= 1 and r["median_r2"] <= 1
    # random Gabors are fit well
    assert on_disk["ipvae"]["fraction"] > 0.8 and on_disk["ipvae"]["median_r2"] > 0.9
    for key in on_disk:
        _png(tmp_path / f"dictionary_{key}.png")
    _png(tmp_path / "dictionary.png")
    assert len(_csv_rows(tmp_path / "dictionary.csv")) == 2 * K


def test_checkpoint_resolution_errors(tmp_path):
    """Scripts resolve checkpoints with the package's one rule (neurofond.pretrained)."""
    from neurofond.pretrained import resolve_checkpoints

    with pytest.raises(ValueError, match="shipped"):
        resolve_checkpoints(["no-such-model-xyz"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_checkpoints([tmp_path / "missing.safetensors"])
    mod = _load("dictionary")
    with pytest.raises(ValueError, match="shipped"):
        mod.run(tmp_path, ["no-such-model-xyz"], progress=False)


def test_scripts_are_thin():
    """analyses/ holds scripts only: no sys.path edits, no script imports another script."""
    names = {p.stem for p in ANALYSES.glob("*.py")}
    assert "_common" not in names and "baselines" not in names
    for path in ANALYSES.glob("*.py"):
        text = path.read_text()
        assert "sys.path" not in text, path.name
        for other in names:
            assert f"import {other}\n" not in text and f"from {other} import" not in text, (
                path.name, other)


def test_command_line_writes_outputs(tmp_path, checkpoints):
    mod = _load("dictionary")
    assert mod.main(["--checkpoint", str(checkpoints["gaussian_relu"]), "--out", str(tmp_path),
                     "--n-starts", "1", "--no-progress"]) == 0
    assert set(_json(tmp_path / "dictionary.json")) == {"igrelu"}
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries
    np.testing.assert_equal(len(list(tmp_path.glob("*.png"))), 2)
