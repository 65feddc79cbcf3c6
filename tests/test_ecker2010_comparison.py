"""The comparison engine (neurofond.compare), its script analyses/ecker2010_comparison.py and
the baselines of neurofond.models.

The end-to-end test runs ``run()`` on one recorded Ecker et al. (2010) session (marker
``data``; skipped when ../shared/data is absent) with a tiny K=32 iP-VAE checkpoint made
here (a random-Gabor dictionary, as in test_analyses_scripts.py) and both baselines, with
tiny settings. The other tests need no data.
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

ANALYSES = Path(__file__).resolve().parents[1] / "analyses"
K = 32


def _load(name: str):
    """Import analyses/<name>.py as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"analyses_{name}", ANALYSES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _checkpoint(folder: Path) -> Path:
    import torch

    from neurofond.fond import IterativeVAE, ModelConfig, Preprocessing, save_checkpoint
    from neurofond.population import random_gabor_dictionary

    model = IterativeVAE(ModelConfig.for_family("poisson", n_latents=K),
                         generator=torch.Generator().manual_seed(0))
    phi = torch.from_numpy(random_gabor_dictionary(K, 16, seed=1))
    with torch.no_grad():
        model.phi.copy_(phi * 0.3)
        model.log_eta.fill_(math.log(0.1))
    path = folder / f"tiny-ipvae-k{K}.safetensors"
    save_checkpoint(model, path, preprocessing=Preprocessing(), overwrite=True)
    return path


def _float(cell: str) -> float:
    return float("nan") if cell == "" else float(cell)


@pytest.mark.data
def test_run_one_session_tiny_model_and_baselines(tmp_path, shared_data_dir):
    mat = shared_data_dir / "ecker2010_v1_gratings" / "data_v1_binned_static.mat"
    if not mat.is_file():
        pytest.skip(f"{mat} not found")
    mod = _load("ecker2010_comparison")
    ck = _checkpoint(tmp_path)
    out = tmp_path / "out"
    res = mod.run(out, models=[str(ck), "gabor-energy", "pixel-pca"], sessions=[12],
                  quick=True, seed=0, n_trials=4, bin_ms=50.0, ms_grid=(10.0,),
                  delays_ms=(0.0, 40.0), contrast_gains=(1.0, 0.3), n_folds=4,
                  n_bootstrap=50, data_path=mat,
                  progress=False)

    with (out / "ecker2010_comparison.csv").open() as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        rows = list(reader)
    from neurofond.compare import REQUIRED_COLUMNS

    assert list(header[:len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    models = [ck.stem, "gabor-energy", "pixel-pca"]
    for m in models:
        sessions = sorted(r["session"] for r in rows if r["model"] == m)
        assert sessions == ["12", "all"], (m, sessions)
    assert len(rows) == 2 * len(models)

    for r in rows:
        assert int(r["n_units"]) > 0
        raw, ceiling, ceiled = (_float(r[k]) for k in ("predictivity_raw", "ceiling",
                                                        "predictivity_ceiled"))
        assert -1.0 <= raw <= 1.0, r
        assert 0.0 < ceiling <= 1.0, r
        assert ceiled >= 0.0 and math.isfinite(ceiled), r
        if r["session"] != "all":  # the summary row holds medians over sessions
            assert ceiled == pytest.approx(max(raw, 0.0) ** 2 / ceiling, rel=1e-4, abs=1e-6)
        for prop in ("cv", "fano", "latency"):
            v = _float(r[f"ks_similarity_{prop}"])
            if math.isnan(v):
                assert f"ks_{prop}:" in r["notes"], (prop, r["notes"])
            else:
                assert 0.0 <= v <= 1.0, (prop, v)

    data = json.loads((out / "ecker2010_comparison.json").read_text())
    assert data["winner"]["model"] in models
    assert {x["model"] for x in data["winner"]["ranking"]} == set(models)
    assert data["fits"][ck.stem]["ms_per_step"] == 10.0
    assert data["fits"][ck.stem]["delay_ms"] in (0.0, 40.0)
    assert data["fits"][ck.stem]["contrast_gain"] in (1.0, 0.3)
    assert data["fits"]["gabor-energy"]["contrast_gain"] == 1.0
    assert data["fits"]["gabor-energy"]["time_scale_fitted"] is False
    assert data["assumptions"]["stimulus"]["sf_cpd"] > 0
    assert res["winner"]["model"] == data["winner"]["model"]
    for name in ("ecker2010_predictivity.png", "ecker2010_properties.png",
                 "ecker2010_fit_grid.png"):
        path = out / name
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (out / "ecker2010_properties.csv").open() as fh:
        sources = {r["source"] for r in csv.DictReader(fh)}
    assert sources == {"data", *models}
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_gabor_energy_baseline_is_orientation_selective():
    """Behavioural check: the energy channels are tuned to their filter orientation."""
    import xarray as xr

    from neurofond.analysis import orientation_selectivity
    from neurofond.models import GaborEnergyBaseline
    from neurofond.stimuli import ScreenGeometry, grating_sweep

    geometry = ScreenGeometry.from_size_deg(4.0, 128)
    oris = np.arange(0.0, 180.0, 15.0)
    stim = grating_sweep(geometry, orientations=oris, sfs=[3.0], phases=[0.0, 90.0],
                         contrasts=[0.5, 1.0])
    model = GaborEnergyBaseline(sfs_cpd=(3.0,), positions_deg=[(0.0, 0.0), (0.25, 0.0)])
    energy = model.energy(stim.frames, geometry)  # (stimulus, channel)
    ch = model.channels()
    p = stim.params
    full = p["contrast"] == 1.0
    curve = np.stack([energy[full & (p["orientation"] == o)].mean(0) for o in oris])
    sel = orientation_selectivity(xr.DataArray(curve, dims=("orientation", "neuron"),
                                               coords={"orientation": oris}))
    assert np.all(oris[curve.argmax(0)] == ch["orientation"])
    assert float(np.median(sel["osi"].values)) > 0.9
    assert float(np.median(sel["circular_variance"].values)) < 0.5
    # phase invariance (complex cell) and linear contrast scaling of the energy
    ph0 = energy[full & (p["phase"] == 0.0)]
    ph90 = energy[full & (p["phase"] == 90.0)]
    assert np.allclose(ph0.max(0), ph90.max(0), rtol=0.05)
    half = energy[(p["contrast"] == 0.5)]
    assert np.allclose(half, 0.5 * energy[full], rtol=1e-3, atol=1e-6)


def test_gabor_lnp_channels_through_the_property_code():
    """The LNP Gabor channels analysed with the comparison's own property code are tuned."""
    from neurofond import compare as mod
    from neurofond.responses import make_responses

    params = mod.stimulus_parameters()
    cand = mod.BaselineCandidate("gabor-energy", params)
    oris = np.repeat(np.arange(0.0, 180.0, 22.5), 2)
    con = np.tile([0.1, 1.0], 8)
    stim = mod.render_conditions(oris, con, params)
    steps = cand.steps(40.0)
    edges = np.arange(-200.0, 500.0 + 1e-9, 10.0)
    w = mod.resample_matrix(steps, 5.0, 40.0, edges)
    fmask = mod.fano_step_mask(steps, 5.0, 40.0)
    fano_counts, binned = mod.model_spikes(cand, stim, steps, w, fmask, n_trials=20, seed=0)
    resp = make_responses(binned, bin_ms=10.0, time_start_ms=edges[:-1],
                          stimulus_coords={"orientation": oris, "contrast": con})
    props = mod.unit_properties(resp, fano_counts, threshold_hz=5.0)
    ok = props["responsive"]
    assert ok.sum() >= 9  # the SF-3 channels at least
    assert np.nanmedian(props["circular_variance"][ok]) < 0.5
    assert np.nanmedian(props["fano"][ok]) == pytest.approx(1.0, abs=0.25)  # Poisson
    shift = props["latency_shift_ms"][ok]
    assert np.nanmedian(shift) >= 0  # low contrast is not faster than high contrast


def test_resample_matrix_time_scale_and_delay():
    from neurofond import compare as mod

    steps = np.arange(-5, 20)
    edges = np.arange(0.0, 201.0, 10.0)
    counts = (steps >= 0).astype(float)  # one count per step from onset
    for m, d in ((10.0, 0.0), (5.0, 40.0), (20.0, 30.0)):
        per_bin = mod.resample_matrix(steps, m, d, edges) @ counts
        t = edges[:-1]
        expected = np.where(t >= d, 10.0 / m, 0.0)
        covered = t + 10.0 <= (steps[-1] + 1) * m + d
        assert np.allclose(per_bin[covered], expected[covered]), (m, d)
    mask = mod.fano_step_mask(np.arange(-10, 100), 5.0, 20.0)
    assert mask.sum() == 100 and np.arange(-10, 100)[mask][0] == -4
