"""Tests for neurofond.stimuli.spatial_sweeps (size and cross-orientation sweeps)."""

import numpy as np
import pytest

from neurofond.stimuli import ScreenGeometry, Stimuli, aperture_window, grating
from neurofond.stimuli.spatial_sweeps import cross_orientation_sweep, size_sweep

G = ScreenGeometry(pixels_per_degree=16.0, size_px=64)  # 4 x 4 deg canvas


# --------------------------------------------------------------------------- size sweep


def test_size_sweep_columns_order_and_container():
    d = [0.25, 0.5, 1.0, 2.0]
    s = size_sweep(G, d, orientations=[0, 90], sf=2.0, phases=[0, 180], contrast=0.8,
                   center_deg=(0.25, -0.5))
    assert isinstance(s, Stimuli) and len(s) == 2 * 4 * 2 and s.frames.shape[1:] == (1, 64, 64)
    # product(orientations, sf, diameters, phases), phase fastest
    np.testing.assert_allclose(s.params["size_deg"][:4], [0.25, 0.25, 0.5, 0.5])
    np.testing.assert_allclose(s.params["radius_deg"], s.params["size_deg"] / 2)
    np.testing.assert_allclose(s.params["phase"][:2], [0, 180])
    assert set(s.params["orientation"].tolist()) == {0.0, 90.0}
    np.testing.assert_allclose(s.params["center_x_deg"], 0.25)
    np.testing.assert_allclose(s.params["center_y_deg"], -0.5)
    np.testing.assert_allclose(s.params["contrast"], 0.8)
    assert s.geometry == G and s.meta["builder"] == "size_sweep"


def test_aperture_area_grows_as_pi_r_squared_and_inside_is_the_grating():
    d = [0.5, 1.0, 1.5, 2.0, 3.0]
    s = size_sweep(G, d, orientations=30.0, sf=1.5, phases=45.0, contrast=1.0)
    full = grating(G, 30.0, 1.5, phase=45.0, contrast=1.0).frames[0, 0]
    areas = []
    for k, diam in enumerate(d):
        frame = s.frames[k, 0]
        w = aperture_window(G, "circular", diam / 2)
        inside = w > 0
        np.testing.assert_allclose(frame[inside], full[inside], atol=1e-6)
        np.testing.assert_allclose(frame[~inside], 0.5, atol=1e-7)
        areas.append(inside.sum() / G.pixels_per_degree**2)
    assert np.all(np.diff(areas) > 0)
    np.testing.assert_allclose(areas, np.pi * (np.array(d) / 2) ** 2, rtol=0.06)


def test_raised_cosine_aperture_has_half_amplitude_at_the_radius():
    s = size_sweep(G, [1.0, 2.0], sf=1.0, phases=90.0, aperture="raised_cosine")
    w = aperture_window(G, "raised_cosine", 1.0)
    full = grating(G, 0.0, 1.0, phase=90.0).frames[0, 0]
    np.testing.assert_allclose(s.frames[1, 0] - 0.5, w * (full - 0.5), atol=1e-6)


def test_uneven_diameters_are_accepted():
    s = size_sweep(G, np.geomspace(0.2, 3.2, 5), phases=[0])
    np.testing.assert_allclose(s.params["size_deg"], np.geomspace(0.2, 3.2, 5))


@pytest.mark.parametrize("diameters, match", [
    ([1.0], "at least 2"),
    ([1.0, 0.5, 2.0], "strictly increasing"),
    ([0.5, 0.5, 1.0], "strictly increasing"),
    ([-0.5, 1.0], "diameters_deg"),
    ([0.0, 1.0], "diameters_deg"),
    ([0.5, np.inf], "diameters_deg"),
    ([0.5, np.nan], "diameters_deg"),
])
def test_size_sweep_rejects_bad_diameters(diameters, match):
    with pytest.raises(ValueError, match=match):
        size_sweep(G, diameters)


def test_size_sweep_rejects_bad_arguments():
    with pytest.raises(ValueError, match="contrast"):
        size_sweep(G, [0.5, 1.0], contrast=-0.1)
    with pytest.raises(ValueError, match="contrast"):
        size_sweep(G, [0.5, 1.0], contrast=1.5)
    with pytest.raises(ValueError, match="aperture"):
        size_sweep(G, [0.5, 1.0], aperture=None)
    with pytest.raises(ValueError, match="geometry"):
        size_sweep((64, 64), [0.5, 1.0])
    with pytest.raises(ValueError, match="sf"):
        size_sweep(G, [0.5, 1.0], sf=-1.0)


# --------------------------------------------------------------------------- cross-orientation


def _frame(s, **cond):
    mask = np.ones(len(s), dtype=bool)
    for key, value in cond.items():
        col = s.params[key]
        mask &= np.isclose(col.astype(float), value) if col.dtype.kind in "fiu" else col == value
    assert mask.sum() == 1, cond
    return s.frames[np.flatnonzero(mask)[0], 0].astype(float)


def test_cross_orientation_conditions_and_columns():
    s = cross_orientation_sweep(G, test_orientations=[0, 45], test_contrasts=[0.25, 0.5],
                                mask_contrasts=[0.125, 0.5], sf=1.0, phases=[0, 90])
    # per orientation: 2 tests x (0 + 2 masks) + 2 masks alone + 1 blank = 9 conditions
    assert len(s) == 2 * 9 * 2
    kinds = s.params["kind"]
    assert (kinds == "blank").sum() == 4 and (kinds == "mask").sum() == 8
    assert (kinds == "test").sum() == 8 and (kinds == "plaid").sum() == 16
    np.testing.assert_allclose(s.params["mask_orientation"], s.params["orientation"] + 90)
    np.testing.assert_allclose(s.params["contrast"],
                               s.params["test_contrast"] + s.params["mask_contrast"])
    assert np.all(np.isinf(s.params["radius_deg"]))
    np.testing.assert_allclose(s.params["mask_phase"], s.params["phase"])


def test_components_match_the_grating_renderer_and_plaid_is_their_sum():
    s = cross_orientation_sweep(G, test_orientations=30.0, test_contrasts=0.4,
                                mask_contrasts=[0.1, 0.3], sf=1.5, phases=[0, 60],
                                mask_phase=20.0)
    for ph in (0.0, 60.0):
        test = _frame(s, kind="test", phase=ph)
        np.testing.assert_allclose(test, grating(G, 30.0, 1.5, phase=ph, contrast=0.4).frames[0, 0],
                                   atol=1e-6)
        for cm in (0.1, 0.3):
            mask = _frame(s, kind="mask", phase=ph, mask_contrast=cm)
            np.testing.assert_allclose(
                mask, grating(G, 120.0, 1.5, phase=20.0, contrast=cm).frames[0, 0], atol=1e-6)
            plaid = _frame(s, kind="plaid", phase=ph, mask_contrast=cm)
            np.testing.assert_allclose(plaid - 0.5, (test - 0.5) + (mask - 0.5), atol=2e-6)


def test_blank_and_zero_contrast_mask_equal_the_mean_screen():
    s = cross_orientation_sweep(G, test_contrasts=0.5, mask_contrasts=[0.0, 0.25], phases=[0])
    blank = _frame(s, kind="blank")
    np.testing.assert_array_equal(blank, 0.5)
    # a zero-contrast grating (a mask at contrast 0) is the same screen
    np.testing.assert_allclose(blank, grating(G, 90.0, 1.0, contrast=0.0).frames[0, 0], atol=0)
    np.testing.assert_allclose(_frame(s, test_contrast=0.5, mask_contrast=0.0),
                               grating(G, 0.0, 1.0, contrast=0.5).frames[0, 0], atol=1e-6)


def test_cross_orientation_aperture_keeps_the_mean_outside():
    s = cross_orientation_sweep(G, test_contrasts=0.5, mask_contrasts=[0.5], phases=[0],
                                diameter_deg=1.0, center_deg=(0.5, 0.0))
    w = aperture_window(G, "circular", 0.5, (0.5, 0.0))
    for k in range(len(s)):
        np.testing.assert_allclose(s.frames[k, 0][w == 0], 0.5, atol=1e-7)
    np.testing.assert_allclose(s.params["radius_deg"], 0.5)
    assert s.meta["aperture"] == "circular"


def test_cross_orientation_rejects_bad_input():
    with pytest.raises(ValueError, match="mask_contrasts"):
        cross_orientation_sweep(G, mask_contrasts=[-0.1, 0.5])
    with pytest.raises(ValueError, match="test_contrasts"):
        cross_orientation_sweep(G, test_contrasts=[-0.5])
    with pytest.raises(ValueError, match="test_contrasts"):
        cross_orientation_sweep(G, test_contrasts=[0.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        cross_orientation_sweep(G, mask_contrasts=[0.5, 0.25])
    with pytest.raises(ValueError, match="leave"):  # 0.75 + 0.5 > 1 at mean 0.5
        cross_orientation_sweep(G, test_contrasts=0.75, mask_contrasts=[0.5])
    with pytest.raises(ValueError, match="diameter_deg"):
        cross_orientation_sweep(G, aperture="circular")
    with pytest.raises(ValueError, match="geometry"):
        cross_orientation_sweep(None)
