"""RF mapping on the shipped iP-VAE: sparse-noise and bar RFs agree with the model's own
dictionary elements and spike-triggered averages (tolerances on a subset of neurons)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurofond.insilico.rf_mapping import map_receptive_fields, summarize_rf_agreement

MODEL = "ipvae-k512-b24-photos"


@pytest.fixture(scope="module")
def population():
    import torch

    from neurofond.population import InSilicoPopulation

    torch.set_num_threads(1)
    return InSilicoPopulation.from_pretrained(MODEL, patch_size_deg=1.0)


def test_sparse_noise_and_flashed_bars_agree_with_the_dictionary(population):
    # fast version: 8 x 8 abutting 0.125-deg squares, 4 bar orientations, 16 neurons (the
    # coarse grid cannot measure sizes: sigma_deg needs the default 1-pixel grid, slow test)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the spontaneous-state warning is handled inside
        res = map_receptive_fields(population, units=range(0, 512, 32), grid_deg=0.125,
                                   n_trials=12, n_blanks=8, bar_orientations=(0, 45, 90, 135),
                                   bars=("flashed",), sta_noise=500, seed=0)
    s = summarize_rf_agreement(res)
    assert res.sizes["neuron"] == 16 and res.sizes["x_deg"] == 8
    # measured (loaded machine): 0.75 significant; medians r 0.89 (element), 0.73 (STA),
    # centre offset 0.053 deg, bars 8.2 deg from the element's orientation, 0.077 deg
    assert s["fraction_significant"] >= 0.6
    assert s["corr_element"]["median"] >= 0.8
    assert s["corr_sta"]["median"] >= 0.6
    assert s["centre_offset_deg"]["median"] <= 0.1  # 1.6 model pixels
    # simple-cell-like: segregated ON and OFF subregions
    assert s["onoff_overlap"]["median"] <= 0.1 and s["onoff_correlation"]["median"] < 0
    assert s["flashed_orientation_difference_deg"]["median"] <= 15.0
    assert s["flashed_position_error_deg"]["median"] <= 0.12
    assert res.attrs["model"] == MODEL and "sparse_noise_s" in res.attrs["timings_s"]
    assert np.all(res["unit"].values == np.arange(0, 512, 32))


def test_map_receptive_fields_bad_input(population):
    with pytest.raises(ValueError, match="units"):
        map_receptive_fields(population, units=[600], bar_orientations=None, sta_noise=0)
    with pytest.raises(ValueError, match="bars"):
        map_receptive_fields(population, bars=("wiggled",), sta_noise=0)
    with pytest.raises(ValueError, match="square_deg"):
        map_receptive_fields(population, square_deg=0.5, grid_deg=0.5, sta_noise=0)
    with pytest.raises(ValueError, match="stimulus_ms"):
        map_receptive_fields(population, stimulus_ms=15.0, sta_noise=0)


@pytest.mark.slow
def test_default_mapping_on_a_quarter_of_the_neurons(population):
    """The protocol of docs/insilico.md ("Receptive-field mapping") on every 4th neuron."""
    res = map_receptive_fields(population, units=range(0, 512, 4), seed=0)
    s = summarize_rf_agreement(res)
    assert s["fraction_significant"] >= 0.9
    assert s["corr_element"]["median"] >= 0.9
    assert s["corr_sta"]["median"] >= 0.85
    assert s["centre_offset_deg"]["median"] <= 0.08
    assert s["flashed_orientation_difference_deg"]["median"] <= 10.0
    assert s["swept_orientation_difference_deg"]["median"] <= 15.0
    assert 0.6 <= s["size_ratio"]["median"] <= 1.0
