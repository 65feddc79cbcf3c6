"""The population's concerns one by one: timing (trial schedule), tiling (space), readout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurofond.fond import IterativeVAE, ModelConfig, Preprocessing
from neurofond.fond.model import RESPONSE_CONVENTIONS
from neurofond.population import InSilicoPopulation, PresentationTransform
from neurofond.population.readout import family_attrs, widen_dtype
from neurofond.population.tiling import (
    check_positions,
    resample,
    tile_layout,
    tile_neuron_coords,
)
from neurofond.population.timing import (
    BLANK,
    DEFAULT_STATIC_STEPS,
    frame_timing,
    recorded_steps,
    trial_schedule,
)
from neurofond.responses import validate_responses
from neurofond.stimuli import ScreenGeometry, grating_sweep

# --------------------------------------------------------------------------- timing


def test_frame_timing_derives_steps_per_frame_from_the_frame_rate():
    assert frame_timing(4, 25.0, 10.0) == (4, 16)  # 40 ms frames = 4 steps of 10 ms
    assert frame_timing(4, 25.0, 10.0, stimulus_steps=9) == (4, 9)  # truncated movie
    assert frame_timing(1, None, 10.0) == (DEFAULT_STATIC_STEPS, DEFAULT_STATIC_STEPS)
    assert frame_timing(1, 25.0, 10.0, stimulus_steps=7) == (DEFAULT_STATIC_STEPS, 7)
    assert frame_timing(3, None, 10.0) == (1, 3)  # a movie without a frame rate
    with pytest.raises(ValueError, match="ms_per_step"):
        frame_timing(4, 30.0, 10.0)  # 33.3 ms is not a whole number of 10 ms steps
    with pytest.raises(ValueError, match="ms_per_step"):
        frame_timing(4, 25.0, 10.0, steps_per_frame=5)
    with pytest.raises(ValueError, match="stimulus_steps"):
        frame_timing(4, 25.0, 10.0, stimulus_steps=17)  # a movie cannot be extended
    with pytest.raises(ValueError, match="steps_per_frame"):
        frame_timing(1, None, 10.0, steps_per_frame=0)


def test_trial_schedule_inputs_and_record_slots():
    sched = trial_schedule(3, 50.0, 10.0, blank_steps=2, record_steps=[-1, 0, 3, 5])
    assert sched.steps_per_frame == 2 and sched.stimulus_steps == 6
    assert list(sched.steps) == [-2, -1, 0, 1, 2, 3, 4, 5]
    assert [sched.input_at(s) for s in sched.steps] == [BLANK, BLANK, 0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(sched.record_slot, [-1, 0, 1, -1, -1, 2, -1, 3])
    np.testing.assert_allclose(sched.time_start_ms(10.0), [-10.0, 0.0, 30.0, 50.0])
    # a static image stays on; the last movie frame stays on when stimulus_steps outlasts it
    static = trial_schedule(1, None, 10.0, blank_steps=0, stimulus_steps=4)
    assert [static.input_at(s) for s in static.steps] == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="blank_steps"):
        trial_schedule(1, None, 10.0, blank_steps=-1)


def test_recorded_steps_are_sorted_unique_and_inside_the_trial():
    np.testing.assert_array_equal(recorded_steps(None, 2, 3), [-2, -1, 0, 1, 2])
    np.testing.assert_array_equal(recorded_steps([2, -2, 2], 2, 3), [-2, 2])
    for bad in ([], [3], [-3], ["a"]):
        with pytest.raises(ValueError, match="record_steps"):
            recorded_steps(bad, 2, 3)


# --------------------------------------------------------------------------- tiling


def test_grid_tiles_are_centred_and_labelled_in_degrees():
    geo = ScreenGeometry(16.0, 40)  # 40 px at 16 px/deg
    lay = tile_layout(geo, patch_size=16, positions="grid")
    # two 16-px tiles fit in 40 px, centred: span 32, starts 4 and 20
    np.testing.assert_array_equal(np.unique(lay.rows), [4, 20])
    np.testing.assert_array_equal(np.unique(lay.cols), [4, 20])
    np.testing.assert_allclose(np.unique(lay.x_deg), [-0.5, 0.5])
    coords = tile_neuron_coords(lay, 3)
    np.testing.assert_array_equal(coords["position"], np.repeat(np.arange(4), 3))
    np.testing.assert_array_equal(coords["unit"], np.tile(np.arange(3), 4))
    np.testing.assert_allclose(coords["x_deg"][3:6], lay.x_deg[1])


def test_explicit_positions_snap_to_model_pixels_and_need_a_geometry():
    lay = tile_layout(ScreenGeometry(16.0, 32), patch_size=16, positions=check_positions((0.5, 0)))
    assert lay.n_tiles == 1 and lay.x_deg[0] == pytest.approx(0.5) and lay.y_deg[0] == 0.0
    with pytest.raises(ValueError, match="positions"):
        tile_layout((32, 32), patch_size=16, positions=check_positions([(0.0, 0.0)]))
    with pytest.raises(ValueError, match="positions"):
        check_positions([(np.nan, 0.0)])
    with pytest.raises(ValueError, match="stimuli"):
        tile_layout((32, 32), patch_size=16, patch_size_deg=1.0)


def test_resample_keeps_the_mean_luminance_and_is_identity_at_the_same_size():
    frames = np.random.default_rng(0).random((2, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(resample(frames, (32, 32)), frames)
    down = resample(frames, (16, 16))
    assert down.shape == (2, 16, 16) and down.dtype == np.float32
    np.testing.assert_allclose(down.mean((1, 2)), frames.mean((1, 2)), atol=0.01)
    flat = resample(np.full((1, 30, 30), 0.25), (10, 10))
    np.testing.assert_allclose(flat, 0.25, rtol=1e-6)


# --------------------------------------------------------------------------- readout


def test_widen_dtype_grows_counts_only_when_needed():
    assert widen_dtype(np.uint8, 255) == np.uint8
    assert widen_dtype(np.uint8, 256) == np.uint16
    assert widen_dtype(np.uint8, 70000) == np.float32
    assert widen_dtype(np.uint16, 70000) == np.float32
    assert widen_dtype(np.float32, 1e9) == np.float32


def _population(family: str) -> InSilicoPopulation:
    model = IterativeVAE(ModelConfig.for_family(family, n_latents=8),
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.phi.mul_(3000.0)  # a visible drive
    prep = Preprocessing()
    return InSilicoPopulation(model, prep, transform=PresentationTransform(prep, gain=40.0))


@pytest.mark.parametrize("family", ["gaussian", "gaussian_relu"])
def test_gaussian_outputs_state_units_and_sign_convention(family):
    pop = _population(family)
    stim = grating_sweep(ScreenGeometry(16.0, 16), orientations=[0, 90], sfs=[2.0], phases=[0])
    ds = pop.present(stim, n_trials=2, blank_steps=1, steps_per_frame=5, seed=0,
                     progress=False, return_rates=True)
    conv = RESPONSE_CONVENTIONS[family]
    spikes, rates = ds["spikes"], ds["rates"]
    assert spikes.attrs["units"] == conv.response_units and "a.u." in spikes.attrs["units"]
    assert spikes.attrs["sign_convention"] == conv.sign
    assert spikes.attrs["response_kind"] == "activations (not spikes)"
    assert rates.attrs["units"] == conv.mean_units
    assert spikes.dtype == np.float32 and rates.dtype == np.float32
    if family == "gaussian":  # signed activations are kept, not rectified
        assert (spikes.values < 0).any() and (rates.values < 0).any()
        assert spikes.attrs["sign_convention"].startswith("signed")
    else:  # non-negative: a valid Responses array as it stands
        validate_responses(spikes)
        assert (rates.values >= 0).all()
        # E[relu] >= 0 and > 0 where the posterior has mass above 0: never all zero
        assert (rates.values > 0).mean() > 0.5


def test_poisson_outputs_are_spike_counts_per_bin():
    attrs = family_attrs(_population("poisson").model)
    assert attrs["units"] == "spikes per bin" and attrs["response_kind"] == "spike counts"
