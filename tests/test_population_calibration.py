"""Presentation on a physiological scale (issue 15.6) and present()'s guards (issue 17.7):
the clamp warning, monotone contrast response of the shipped iP-VAE, record_steps,
mutated Stimuli and the result-size limit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from neurofond.fond import IterativeVAE, ModelConfig, Preprocessing
from neurofond.population import InSilicoPopulation, PresentationTransform, gabor_element
from neurofond.population.timing import recorded_steps
from neurofond.stimuli import ScreenGeometry, grating_sweep

K = 8


def _toy(gain: float) -> InSilicoPopulation:
    model = IterativeVAE(ModelConfig.for_family("poisson", n_latents=K),
                         generator=torch.Generator().manual_seed(0))
    phi = torch.zeros(256, K)
    col = torch.as_tensor(gabor_element(16, theta=45.0, frequency=0.125, sigma=3.0).ravel(),
                          dtype=torch.float32)
    phi[:, 0] = col / col.norm()
    with torch.no_grad():
        model.phi.copy_(phi)
        model.log_eta.fill_(float(np.log(0.1)))
    prep = Preprocessing()
    return InSilicoPopulation(model, prep, transform=PresentationTransform(prep, gain=gain))


def _sweep(contrasts=(1.0,), orientations=(45.0, 135.0), size=16):
    return grating_sweep(ScreenGeometry(16.0, size), orientations=orientations, sfs=[2.0],
                         phases=[0, 90], contrasts=contrasts)


KW = {"n_trials": 1, "blank_steps": 2, "steps_per_frame": 10, "seed": 0, "progress": False}


def test_clamp_warning_fires_for_a_huge_gain_and_records_the_fraction():
    with pytest.warns(UserWarning, match=r"soft clamp.*lower the stimulus contrast"):
        resp = _toy(1e5).present(_sweep(), **KW)
    assert 0 < resp.attrs["clamp_fraction_steps"] <= 1
    assert resp.attrs["clamp_fraction_neurons"] == pytest.approx(1 / K)  # the Gabor unit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = _toy(40.0).present(_sweep(), **KW)
    assert quiet.attrs["clamp_fraction_steps"] == 0.0 == quiet.attrs["clamp_fraction_neurons"]


def test_gaussian_models_have_no_clamp_fraction():
    model = IterativeVAE(ModelConfig.for_family("gaussian", n_latents=K),
                         generator=torch.Generator().manual_seed(0))
    prep = Preprocessing()
    pop = InSilicoPopulation(model, prep, transform=PresentationTransform(prep, gain=40.0))
    resp = pop.present(_sweep(), **KW)
    assert resp.attrs["clamp_fraction_steps"] == "" == resp.attrs["clamp_fraction_neurons"]


@pytest.fixture(scope="module")
def shipped() -> InSilicoPopulation:
    torch.set_num_threads(1)
    return InSilicoPopulation.from_pretrained()


def test_shipped_ipvae_full_contrast_gratings_no_clamp_and_old_calibration_warns(shipped):
    stim = grating_sweep(ScreenGeometry(16.0, 32), orientations=range(0, 180, 30),
                         sfs=[2.0, 4.0], phases=[0, 90, 180, 270], contrasts=[1.0])
    kw = {"n_trials": 1, "blank_steps": 5, "stimulus_steps": 20, "seed": 0, "progress": False,
          "check_steady_state": False}  # the short blank is deliberate (settling: 14.6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resp = shipped.present(stim, **kw)
    assert resp.attrs["clamp_fraction_steps"] == 0.0
    assert int(resp.max()) < 100  # counts per 10-ms step (the old calibration: ~22,000)
    old = InSilicoPopulation(shipped.model, shipped.preprocessing,
                             transform=PresentationTransform(shipped.preprocessing,
                                                             calibration="photo_std"))
    with pytest.warns(UserWarning, match="soft clamp"):
        old.present(stim, **kw)


def test_shipped_ipvae_rate_is_monotone_in_contrast(shipped):
    contrasts = [0.0, 0.125, 0.25, 0.5, 1.0]
    stim = grating_sweep(ScreenGeometry(16.0, 32), orientations=range(0, 180, 30), sfs=[2.0],
                         phases=[0, 90, 180, 270], contrasts=contrasts)
    ds = shipped.present(stim, n_trials=1, blank_steps=5, stimulus_steps=20, seed=0,
                         progress=False, return_rates=True)
    # expected counts per step, steps 5-19 (50-200 ms), mean over stimuli of one contrast;
    # each neuron's response at its best stimulus of that contrast, then the population median
    rates = ds["rates"].isel(trial=0, time=slice(10, 25)).mean("time").values  # (stim, neuron)
    c = ds["contrast"].values
    best = np.stack([rates[c == ci].max(axis=0) for ci in contrasts])  # (contrast, neuron)
    median = np.median(best, axis=1)
    assert np.all(np.diff(median) > 0), median
    # every neuron's drive grows from blank to full contrast. Strict per-neuron monotonicity over
    # all five contrasts held for > 90 % of the 8000-step iP-VAE but holds for 70 % of the
    # retrained 28000-step one (2026-12-04; 85 % above contrast 0.125): some of its neurons
    # dip slightly at low contrast or saturate, as some V1 cells do.
    assert np.mean(best[-1] > best[0]) > 0.95


def test_record_steps_that_are_not_integers_are_refused_not_truncated():
    for bad in ([0.5, 1.7], [1, 2.5], [True], ["3"], "12", [np.nan]):
        with pytest.raises(ValueError, match="record_steps"):
            recorded_steps(bad, 2, 10)
    np.testing.assert_array_equal(recorded_steps([2.0, -1, np.int64(3)], 2, 10), [-1, 2, 3])
    with pytest.raises(ValueError, match="record_steps"):
        _toy(40.0).present(_sweep(), record_steps=[0.5, 1.7], **KW)


def test_stimuli_mutated_after_validation_are_refused():
    pop = _toy(40.0)
    stim = _sweep()
    stim.frames[0, 0, 0, 0] = 2.0  # outside [0, 1]
    with pytest.raises(ValueError, match=r"stimuli: no longer valid.*luminance in \[0, 1\]"):
        pop.present(stim, **KW)
    stim = _sweep()
    stim.params["orientation"] = np.array([0.0, 90.0])  # not one value per stimulus
    with pytest.raises(ValueError, match=r"stimuli: no longer valid.*orientation"):
        pop.present(stim, **KW)
    stim = _sweep()
    stim.frames = stim.frames[:, :, :8]  # no longer matches its geometry
    with pytest.raises(ValueError, match="stimuli: no longer valid.*geometry"):
        pop.present(stim, **KW)


def test_a_huge_result_is_refused_before_allocating():
    pop = _toy(40.0)
    kw = dict(KW, n_trials=10**8)  # 38 GB of uint8 counts
    with pytest.raises(ValueError, match=r"n_trials: the result would take ~[0-9.]+ GB"):
        pop.present(_sweep(), **kw)
    with pytest.raises(ValueError, match="max_result_gb"):
        pop.present(_sweep(), max_result_gb=0.0, **KW)
    # a small limit applies to small results too; rates count 4 bytes more per value
    n = 1 * 4 * K * 12
    pop.present(_sweep(), max_result_gb=n * 1e-9, **KW)
    with pytest.raises(ValueError, match="x 5 bytes"):
        pop.present(_sweep(), max_result_gb=n * 1e-9, return_rates=True, **KW)


def test_every_shipped_protocol_keeps_the_shipped_ipvae_off_the_clamp(shipped):
    from neurofond.stimuli import PROTOCOL_DIR, list_protocols, load_protocol

    names = list_protocols(PROTOCOL_DIR)
    assert len(names) >= 5
    for name in names:
        protocol = load_protocol(name)
        pop = InSilicoPopulation(shipped.model, shipped.preprocessing,
                                 ms_per_step=protocol.presentation["ms_per_step"])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the clamp warning would fail the test
            resp = pop.present_protocol(protocol, n_trials=1, seed=0, progress=False,
                                        record_steps=[0])
        assert resp.attrs["clamp_fraction_neurons"] == 0.0, name


def test_protocol_survey_script_writes_its_table(tmp_path, shipped):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "analyses" / "protocol_survey.py"
    spec = importlib.util.spec_from_file_location("protocol_survey", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--out", str(tmp_path), "--protocols", "sf_tuning", "natural_movie",
                     "--trials", "1", "--no-progress"]) == 0
    res = json.loads((tmp_path / "protocol_survey.json").read_text())["protocols"]
    sf = res["sf_tuning"]
    assert sf["clamp_fraction_neurons"] == 0.0 and sf["settings"]["calibration"] == "training_range"
    assert 10 < sf["peak_rate_hz"]["median"] < 300 and sf["osi"]["median"] > 0.5
    assert res["natural_movie"]["tuned_over"] is None and "osi" not in res["natural_movie"]
    assert (tmp_path / "protocol_survey.png").stat().st_size > 0
