"""InSilicoPopulation.present: semantics of time, seeds, tiling, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from neurofond.fond import IterativeVAE, ModelConfig, Preprocessing
from neurofond.population import InSilicoPopulation, PresentationTransform, gabor_element
from neurofond.responses import validate_responses
from neurofond.stimuli import ScreenGeometry, Stimuli, grating, grating_sweep

K = 32
GAIN = 40.0


def _model(columns=(), family="poisson", eta=0.1) -> IterativeVAE:
    """K=32 model whose decoder holds the given unit-norm columns (others zero)."""
    model = IterativeVAE(ModelConfig.for_family(family, n_latents=K),
                         generator=torch.Generator().manual_seed(0))
    phi = torch.zeros(256, K)
    for k, col in enumerate(columns):
        col = torch.as_tensor(np.asarray(col, dtype=np.float32).ravel())
        phi[:, k] = col / col.norm()
    with torch.no_grad():
        model.phi.copy_(phi)
        model.log_eta.fill_(float(np.log(eta)))
    return model


def _gabor(theta, freq=0.125, **kw):
    return gabor_element(16, theta=theta, frequency=freq, sigma=3.0, **kw)


def _population(model=None, **kwargs) -> InSilicoPopulation:
    prep = Preprocessing()
    model = model if model is not None else _model([_gabor(45.0), _gabor(135.0, phase=90)])
    kwargs.setdefault("transform", PresentationTransform(prep, gain=GAIN))
    return InSilicoPopulation(model, prep, **kwargs)


def _sweep(orientations=(45.0, 135.0), size=16, **kw):
    return grating_sweep(ScreenGeometry(16.0, size), orientations=orientations, sfs=[2.0],
                         phases=[0, 90, 180, 270], **kw)


def test_responses_layout_and_provenance():
    pop = _population()
    resp = pop.present(_sweep(), n_trials=2, blank_steps=3, steps_per_frame=5, seed=3,
                       progress=False)
    validate_responses(resp)
    assert resp.dims == ("trial", "stimulus", "neuron", "time")
    assert resp.shape == (2, 8, K, 8)
    assert resp.dtype == np.uint8
    np.testing.assert_array_equal(resp["step"].values, np.arange(-3, 5))
    np.testing.assert_allclose(resp["time_start_ms"].values, 10.0 * np.arange(-3, 5))
    assert resp.attrs["bin_ms"] == 10.0 == resp.attrs["ms_per_step"]
    assert resp.attrs["source"] == f"model:{pop.name}"
    for key in ("seed", "n_trials", "blank_steps", "steps_per_frame", "transform",
                "model_config", "preprocessing"):
        assert key in resp.attrs
    assert resp.attrs["transform"] == "linear" and resp.attrs["seed"] == 3
    from neurofond.fond.sampling import compiled_sampler_available
    assert resp.attrs["spike_sampler"] == ("compiled" if compiled_sampler_available()
                                           else "torch")
    np.testing.assert_array_equal(resp["orientation"].values, np.repeat([45.0, 135.0], 4))
    np.testing.assert_array_equal(resp["unit"].values, np.arange(K))
    np.testing.assert_allclose(resp["x_deg"].values, 0.0)
    # only the recorded steps are stored; rates come as a Dataset
    ds = pop.present(_sweep(), n_trials=2, blank_steps=3, steps_per_frame=5, seed=3,
                     progress=False, record_steps=[-1, 0, 4], return_rates=True)
    assert isinstance(ds, xr.Dataset)
    np.testing.assert_array_equal(ds["step"].values, [-1, 0, 4])
    np.testing.assert_array_equal(ds["spikes"].values, resp.isel(time=[2, 3, 7]).values)
    assert (ds["rates"].values > 0).all() and ds["rates"].dtype == np.float32
    # the time index is in ms and the documented stimulus idiom selects by parameter
    np.testing.assert_array_equal(resp.sel(time=slice(0, 20)).values, resp.values[..., 3:6])
    from neurofond.responses import select_stimuli
    sub = select_stimuli(resp, orientation=135.0)
    np.testing.assert_array_equal(sub.values, resp.values[:, 4:])
    np.testing.assert_array_equal(sub["orientation"].values, [135.0] * 4)


def test_same_seed_identical_spikes_different_seed_differs():
    pop = _population()
    kw = {"n_trials": 3, "blank_steps": 2, "steps_per_frame": 10, "progress": False}
    a = pop.present(_sweep(), seed=7, **kw)
    b = pop.present(_sweep(), seed=7, **kw)
    c = pop.present(_sweep(), seed=8, **kw)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    # trials differ only by the sampling noise
    assert not np.array_equal(a.isel(trial=0).values, a.isel(trial=1).values)


def test_oriented_column_prefers_the_matching_grating():
    pop = _population(_model([_gabor(45.0)]))
    resp = pop.present(_sweep((45.0, 135.0)), n_trials=4, blank_steps=0, steps_per_frame=20,
                       seed=0, progress=False)
    mean = resp.isel(neuron=0).mean(("trial", "time")).groupby("orientation").mean()
    pref, orth = float(mean.sel(orientation=45.0)), float(mean.sel(orientation=135.0))
    assert pref > 1.0 and pref > 5 * orth


def test_blank_period_is_independent_of_the_stimulus():
    pop = _population()
    kw = {"n_trials": 3, "blank_steps": 6, "steps_per_frame": 6, "seed": 11, "progress": False,
          "return_rates": True}
    a = pop.present(_sweep((45.0,)).select([0]), **kw)
    b = pop.present(_sweep((135.0,)).select([1]), **kw)
    blank = a["step"].values < 0
    np.testing.assert_array_equal(a["spikes"].values[..., blank], b["spikes"].values[..., blank])
    np.testing.assert_array_equal(a["rates"].values[..., blank], b["rates"].values[..., blank])
    assert not np.array_equal(a["rates"].values[..., ~blank], b["rates"].values[..., ~blank])


def _manual(model, inputs, blank_steps, steps_per_input, seed, blank_value):
    """Reference loop with model.step: prior, blank, then each input without reset."""
    gen = torch.Generator().manual_seed(seed)
    b = inputs.shape[0]
    state = model.initial_state(b, generator=gen)
    blank = torch.full((b, 256), blank_value)
    counts, rates = [], []
    with torch.no_grad():
        for _ in range(blank_steps):
            state, _ = model.step(state, blank, generator=gen)
            counts.append(state.response.clone())
            rates.append(torch.exp(state.u))
        for f in range(inputs.shape[1]):
            x = torch.as_tensor(inputs[:, f], dtype=torch.float32)
            for _ in range(steps_per_input):
                state, _ = model.step(state, x, generator=gen)
                counts.append(state.response.clone())
                rates.append(torch.exp(state.u))
    return torch.stack(counts, -1).numpy(), torch.stack(rates, -1).numpy()


def test_movie_frames_are_presented_without_reset():
    prep = Preprocessing()
    transform = PresentationTransform(prep, gain=GAIN)
    pop = _population(transform=transform)
    geo = ScreenGeometry(16.0, 16)
    stim = grating(geo, 45.0, 2.0, tf=5.0, n_frames=3, frame_rate_hz=25.0)  # a Stimuli
    frames = stim.frames[0]
    ds = pop.present(stim, n_trials=1, blank_steps=2, steps_per_frame=4, seed=5,
                     progress=False, return_rates=True)
    inputs = transform(frames).reshape(1, 3, 256)  # a 16 px canvas is exactly one patch
    counts, rates = _manual(pop.model, inputs, 2, 4, 5, transform.blank_value())
    np.testing.assert_array_equal(ds["spikes"].values[0, 0], counts[0])
    np.testing.assert_allclose(ds["rates"].values[0, 0], rates[0], rtol=1e-6)
    # a frame-by-frame reset would start each frame from the prior: not what happened
    reset, _ = _manual(pop.model, inputs[:, :1], 0, 4, 5, transform.blank_value())
    assert not np.array_equal(ds["rates"].values[0, 0][:, 2 + 4:2 + 8], reset[0])


def test_counts_equal_a_manual_loop_for_a_tiny_batch():
    prep = Preprocessing()
    transform = PresentationTransform(prep, gain=GAIN)
    pop = _population(transform=transform)
    stim = _sweep((45.0, 135.0)).select([0, 5])  # 2 stimuli, 16 px canvas
    ds = pop.present(stim, n_trials=2, blank_steps=3, steps_per_frame=5, seed=2,
                     progress=False, return_rates=True)
    resp = ds["spikes"]
    # rows are ordered (stimulus, trial, tile)
    inputs = np.repeat(transform(stim.frames).reshape(2, 1, 256), 2, axis=0)[:, None, 0]
    counts, rates = _manual(pop.model, inputs, 3, 5, 2, transform.blank_value())
    counts = counts.reshape(2, 2, K, 8)  # (stimulus, trial, neuron, time)
    np.testing.assert_array_equal(resp.values, counts.transpose(1, 0, 2, 3))
    np.testing.assert_allclose(ds["rates"].values,
                               rates.reshape(2, 2, K, 8).transpose(1, 0, 2, 3), rtol=1e-6)
    small = pop.present(stim, n_trials=2, blank_steps=3, steps_per_frame=5, seed=2,
                        progress=False, batch_size=1)
    assert small.shape == resp.shape


def test_grid_tiling_labels_positions_in_degrees():
    pop = _population(_model([_gabor(0.0)]), positions="grid")
    geo = ScreenGeometry(16.0, 48)  # 3 x 3 deg, 3 x 3 tiles of 1 deg
    # a small vertical-bar grating patch at x = +1 deg (right), y = -1 deg (up)
    stim = grating_sweep(geo, orientations=[0.0], sfs=[2.0], phases=[0, 90, 180, 270],
                         radii_deg=[0.45], aperture="raised_cosine", center_deg=(1.0, -1.0))
    resp = pop.present(stim, n_trials=2, blank_steps=0, steps_per_frame=15, seed=0,
                       progress=False)
    assert resp.sizes["neuron"] == 9 * K
    tiles = resp.sel(neuron=resp["unit"] == 0)
    np.testing.assert_allclose(tiles["x_deg"].values, np.tile([-1.0, 0.0, 1.0], 3))
    np.testing.assert_allclose(tiles["y_deg"].values, np.repeat([-1.0, 0.0, 1.0], 3))
    best = int(np.argmax(tiles.mean(("trial", "stimulus", "time")).values))
    assert (float(tiles["x_deg"][best]), float(tiles["y_deg"][best])) == (1.0, -1.0)
    np.testing.assert_array_equal(resp["neuron_id"].values, np.arange(9 * K))
    # explicit positions and a stride in degrees
    lay = _population(positions=[(1.0, -1.0), (0.0, 0.5)]).layout(geo)
    np.testing.assert_allclose(lay.x_deg, [1.0, 0.0])
    np.testing.assert_allclose(lay.y_deg, [-1.0, 0.5])
    lay = _population(positions="grid", stride_deg=0.5).layout(geo)
    np.testing.assert_allclose(np.unique(lay.x_deg), [-1.0, -0.5, 0.0, 0.5, 1.0])


def test_patch_size_deg_resamples_to_the_model_resolution():
    # 64 px at 32 px/deg (2 deg); a 16 px patch covering 1 deg -> 16 px/deg
    pop = _population(_model([_gabor(0.0, freq=0.125)]), patch_size_deg=1.0)
    geo = ScreenGeometry(32.0, 64)
    lay = pop.layout(geo)
    assert lay.model_size == (32, 32) and lay.model_ppd == (16.0, 16.0)
    stim = grating_sweep(geo, orientations=[0.0], sfs=[1.0, 2.0, 4.0], phases=[0, 90, 180, 270])
    resp = pop.present(stim, n_trials=2, blank_steps=0, steps_per_frame=15, seed=0,
                       progress=False)
    assert resp.attrs["model_pixels_per_degree"] == 16.0
    # 0.125 cycles/px at 16 px/deg = 2 cycles/deg
    by_sf = resp.isel(neuron=0).mean(("trial", "time")).groupby("sf").mean()
    assert float(by_sf.idxmax()) == 2.0


def test_gaussian_model_returns_activations_and_mean_rates():
    pop = _population(_model([_gabor(45.0)], family="gaussian_relu"))
    ds = pop.present(_sweep(), n_trials=2, blank_steps=2, steps_per_frame=4, seed=0,
                     progress=False, return_rates=True)
    assert ds["spikes"].dtype == np.float32
    assert (ds["rates"].values >= 0).all() and np.isfinite(ds["rates"].values).all()


def test_errors_name_the_argument():
    pop = _population()
    stim = _sweep()
    kw = {"progress": False, "steps_per_frame": 2, "blank_steps": 0}
    with pytest.raises(ValueError, match="n_trials"):
        pop.present(stim, n_trials=0, **kw)
    with pytest.raises(ValueError, match="n_trial"):
        pop.present(stim, n_trial=2, **kw)
    with pytest.raises(ValueError, match="stimuli"):
        pop.present(np.zeros(16), **kw)
    frames = stim.frames.copy()
    frames[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="stimuli"):
        pop.present(frames, **kw)
    movie = Stimuli(frames=np.full((1, 4, 16, 16), 0.5), frame_rate_hz=30.0)
    with pytest.raises(ValueError, match="ms_per_step"):
        pop.present(movie, n_trials=1, steps_per_frame=5, progress=False)
    with pytest.raises(ValueError, match="ms_per_step"):
        pop.present(movie, n_trials=1, progress=False)  # 33.3 ms is not a whole number of steps
    with pytest.raises(ValueError, match="record_steps"):
        pop.present(stim, record_steps=[5], **kw)
    with pytest.raises(ValueError, match="seed"):
        pop.present(stim, seed=-1, **kw)
    with pytest.raises(ValueError, match="transform"):
        _population(transform="whitened")
    with pytest.raises(ValueError, match="positions"):
        _population(positions="random")
    with pytest.raises(ValueError, match="ms_per_step"):
        _population(ms_per_step=0.0)
    with pytest.raises(ValueError, match="positions"):
        _population(positions=[(5.0, 0.0)]).layout(ScreenGeometry(16.0, 32))
    with pytest.raises(ValueError, match="stimuli"):
        _population(patch_size_deg=1.0).present(stim.frames, **kw)


def test_present_protocol_uses_its_presentation_settings():
    from neurofond.stimuli import load_protocol

    protocol = load_protocol("orientation_tuning", size_px=16)
    pop = _population()
    resp = pop.present_protocol(protocol, n_trials=1, steps_per_frame=3, blank_steps=2,
                                progress=False)
    assert resp.shape == (1, len(protocol.stimuli), K, 5)
    assert resp.attrs["protocol"] == "orientation_tuning"
    with pytest.raises(ValueError, match="ms_per_step"):
        _population(ms_per_step=5.0).present_protocol(protocol, progress=False)


def test_from_checkpoint_names_the_population_after_the_file(tmp_path):
    from neurofond.fond import save_checkpoint

    model = _model([_gabor(45.0)])
    path = save_checkpoint(model, tmp_path / "toy.safetensors", preprocessing=Preprocessing())
    pop = InSilicoPopulation.from_checkpoint(path, ms_per_step=5.0)
    assert pop.name == "toy" and pop.ms_per_step == 5.0 and pop.n_units == K
    torch.testing.assert_close(pop.model.phi, model.phi)
    with pytest.raises(ValueError, match="path"):
        InSilicoPopulation.from_checkpoint(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="name"):
        InSilicoPopulation.from_pretrained("no-such-model")


# --------------------------------------------------------- spontaneous steady state (14.6)


def test_spontaneous_settling_finds_where_the_blank_rate_stops_drifting():
    pop = _population()
    ds = pop.spontaneous_settling(max_steps=200, n_rows=8)
    assert ds is pop.spontaneous_settling(max_steps=200, n_rows=8)  # cached
    rate, n = ds["rate"].values, ds.attrs["settling_steps"]
    steady, band = ds.attrs["steady_rate"], ds.attrs["band"]
    assert ds.attrs["settled"] and 1 < n < 200
    # the definition: within the band from step n on, outside it at step n - 1
    assert np.all(np.abs(rate[n - 1:] - steady) <= band)
    assert abs(rate[n - 2] - steady) > band
    assert steady == pytest.approx(rate[-40:].mean())
    assert ds.attrs["settling_ms"] == n * pop.ms_per_step
    # the blank of present() is the same simulation: its rates follow the measured curve
    resp = pop.present(_sweep(orientations=(45.0,)), n_trials=8, blank_steps=n, seed=1,
                       stimulus_steps=1, progress=False, return_rates=True)
    blank_rate = resp["rates"].values[..., :n].mean(axis=(0, 1, 2))
    np.testing.assert_allclose(blank_rate[[0, n - 1]], rate[[0, n - 1]], rtol=0.05)


def test_present_warns_when_the_blank_is_shorter_than_the_settling_time():
    from neurofond.population.population import SpontaneousStateWarning

    pop = _population()
    kw = {"n_trials": 1, "stimulus_steps": 2, "seed": 0, "progress": False}
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a toy population is not checked unless asked
        quiet = pop.present(_sweep(), blank_steps=3, **kw)
    assert quiet.attrs["spontaneous_settling_steps"] == ""
    n = pop.spontaneous_settling(max_steps=200).attrs["settling_steps"]
    with pytest.warns(SpontaneousStateWarning, match=rf"blank_steps=3 .*{n} steps"):
        resp = pop.present(_sweep(), blank_steps=3, **kw)  # measured now: checked
    assert resp.attrs["spontaneous_settling_steps"] == n
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        long = pop.present(_sweep(), blank_steps=n, **kw)
        pop.present(_sweep(), blank_steps=3, check_steady_state=False, **kw)
    assert long.attrs["spontaneous_settling_steps"] == n
    with pytest.raises(ValueError, match="check_steady_state"):
        pop.present(_sweep(), blank_steps=3, check_steady_state="yes", **kw)
    with pytest.raises(ValueError, match="max_steps"):
        pop.spontaneous_settling(max_steps=5)


def test_shipped_ipvae_needs_about_500_blank_steps_and_the_default_blank_warns():
    """Measured 2026-12-04 on the shipped iP-VAE (linear transform, training-range gain):
    the mean expected rate falls from 0.87 spikes/step (prior) through 0.57 after the default
    20-step blank to its floor 3.4e-4 (u at -8) after ~495 steps (seeds 0-2: 495-496)."""
    from neurofond.population.population import SpontaneousStateWarning

    torch.set_num_threads(1)
    pop = InSilicoPopulation.from_pretrained("ipvae-k512-b24-photos")
    ds = pop.spontaneous_settling()
    assert 400 <= ds.attrs["settling_steps"] <= 600
    assert ds.attrs["steady_rate"] == pytest.approx(np.exp(-8.0), rel=0.05)
    assert ds["rate"].values[19] > 100 * ds.attrs["steady_rate"]  # after the default blank
    stim = _sweep(orientations=(45.0,), size=16)
    with pytest.warns(SpontaneousStateWarning, match="blank_steps=20"):
        pop.present(stim.select([0]), n_trials=1, blank_steps=20, stimulus_steps=1,
                    progress=False)


# ------------------------------------------------------ runaway (clamp) warning, verified


def test_clamp_warning_fractions_equal_an_independent_count_from_the_rates():
    """The clamp warning counts steps with u >= c - ln 2, i.e. a Poisson rate exp(u) >=
    exp(c) / 2: recount it from the recorded rates (every step recorded, blank included)."""
    import math

    prep = Preprocessing()
    pop = _population(transform=PresentationTransform(prep, gain=1e5))  # runs away
    stim = _sweep(orientations=(45.0, 135.0), contrasts=[0.02, 1.0])
    with pytest.warns(UserWarning, match=r"soft clamp.*stimuli, e\.g\. stimulus.*ran away"):
        ds = pop.present(stim, n_trials=2, blank_steps=2, steps_per_frame=6, seed=0,
                         progress=False, return_rates=True)
    c = float(pop.model.clamp_c)
    at = ds["rates"].values >= math.exp(c) / 2 * (1 - 1e-6)  # (trial, stim, neuron, time)
    assert ds.attrs["clamp_fraction_steps"] == pytest.approx(at.mean(), rel=1e-6)
    assert ds.attrs["clamp_fraction_neurons"] == pytest.approx(at.any(axis=(0, 1, 3)).mean())
    assert ds.attrs["clamp_fraction_stimuli"] == pytest.approx(at.any(axis=(0, 2, 3)).mean())
    assert 0 < ds.attrs["clamp_fraction_stimuli"] < 1  # some phases stay below the clamp
    # counts at the clamp are huge: the runaway shows in the spikes too
    assert ds["spikes"].values[at].min() > 1000
