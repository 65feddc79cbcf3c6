"""Tests for neurofond.stimuli.marques2020."""

import numpy as np
import pytest

from neurofond.stimuli import (
    grating,
    marques2020_geometry,
    marques2020_grid,
    marques2020_orientation_grid,
    marques2020_rf_grid,
    marques2020_sf_grid,
    marques2020_size_grid,
)
from neurofond.stimuli import marques2020 as m


def test_constants():
    assert m.ORIENTATIONS.tolist() == list(range(0, 180, 15))
    assert m.PHASES.tolist() == list(range(0, 360, 45))
    assert m.SPATIAL_FREQUENCIES.size == 22
    assert m.SPATIAL_FREQUENCIES[0] == pytest.approx(0.386, abs=1e-3)
    assert m.SPATIAL_FREQUENCIES[-1] == pytest.approx(14.67, abs=1e-2)
    np.testing.assert_allclose(np.diff(np.log2(m.SPATIAL_FREQUENCIES)), 0.25)
    assert m.RADII_DEG.size == 12
    assert m.RADII_DEG[0] == pytest.approx(0.105, abs=1e-3)
    assert m.RADII_DEG[-1] == pytest.approx(4.757, abs=1e-3)
    np.testing.assert_allclose(m.ORIENTATION_SET_SFS, [0.771, 1.542, 3.084, 6.169], atol=1e-3)
    g = marques2020_geometry()
    assert g.pixels_per_degree == 56.0 and g.size_px == (672, 672)


def test_orientation_grid_params():
    p = marques2020_orientation_grid(params_only=True)
    assert p["orientation"].size == 1152
    assert np.unique(p["orientation"]).size == 12 and np.unique(p["phase"]).size == 8
    np.testing.assert_allclose(np.unique(p["sf"]), m.ORIENTATION_SET_SFS)
    cycles = 2 * p["radius_deg"] * p["sf"]  # aperture diameter in cycles
    np.testing.assert_allclose(np.unique(np.round(cycles, 9)), [2, 3, 4])
    assert len(set(zip(p["sf"], p["radius_deg"]))) == 12
    assert np.all(p["contrast"] == 1.0) and np.all(p["kind"] == "static")
    combos = set(zip(p["sf"], p["radius_deg"], p["orientation"], p["phase"]))
    assert len(combos) == 1152


def test_other_grid_counts_and_values():
    sf = marques2020_sf_grid(params_only=True)
    assert sf["sf"].size == 22 * 2 * 6 * 8
    np.testing.assert_allclose(np.unique(sf["radius_deg"]), [0.75, 2.25])
    assert np.unique(sf["orientation"]).tolist() == [0, 30, 60, 90, 120, 150]
    size = marques2020_size_grid(params_only=True)
    assert size["sf"].size == 12 * 4 * 6 * 8
    np.testing.assert_allclose(np.unique(size["radius_deg"]), m.RADII_DEG)
    rf = marques2020_rf_grid(params_only=True)
    assert rf["sf"].size == 21 * 21 * 4 * 2
    np.testing.assert_allclose(np.unique(rf["center_x_deg"]), np.linspace(-2.5, 2.5, 21))
    assert np.all(rf["sf"] == 3.0) and np.allclose(rf["radius_deg"], 1 / 6)
    assert marques2020_grid("size", params_only=True)["sf"].size == 2304


def test_render_small_resolution():
    s = marques2020_orientation_grid(size_px=24, params_only=False)
    assert s.frames.shape == (1152, 1, 24, 24)
    assert s.geometry.size_deg == (12.0, 12.0)
    i = 500
    p = {k: v[i] for k, v in s.params.items()}
    expected = grating(s.geometry, p["orientation"], p["sf"], p["phase"], aperture="circular",
                       radius_deg=p["radius_deg"]).frames[0]
    np.testing.assert_allclose(s.frames[i], expected)
    r = s.geometry.radius_deg()
    np.testing.assert_allclose(s.frames[i, 0][r > p["radius_deg"]], 0.5)


def test_bad_input():
    with pytest.raises(ValueError, match="name"):
        marques2020_grid("colour", params_only=True)
    with pytest.raises(ValueError, match="contrast"):
        marques2020_orientation_grid(params_only=True, contrast=2.0)
    with pytest.raises(ValueError, match="size_px"):
        marques2020_orientation_grid(size_px=0)
