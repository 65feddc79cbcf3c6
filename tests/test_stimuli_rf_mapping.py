"""RF-mapping stimuli: sparse noise, swept and flashed bars (geometry, closed forms, seeds,
bad input)."""

from __future__ import annotations

import numpy as np
import pytest

from neurofond.stimuli import ScreenGeometry, Stimuli
from neurofond.stimuli.rf_mapping import (
    bar_positions_deg,
    bar_sweep,
    flashed_bars,
    sparse_noise,
)

GEOM = ScreenGeometry(16.0, 32)  # 2 x 2 deg


def _centroid(delta: np.ndarray, geometry: ScreenGeometry = GEOM) -> tuple[float, float]:
    x, y = geometry.grid_deg()
    w = np.abs(delta)
    return float((w * x).sum() / w.sum()), float((w * y).sum() / w.sum())


def test_sparse_noise_grid_polarities_and_blanks():
    stim = sparse_noise(GEOM, 0.25, n_positions=(4, 3), n_repeats=2, n_blanks=3, seed=0)
    assert isinstance(stim, Stimuli) and stim.n_frames == 1
    assert len(stim) == 2 * (4 * 3 * 2 + 3)
    pol = stim.params["polarity"]
    assert (pol == "blank").sum() == 6 and (pol == "on").sum() == 24
    on = pol == "on"
    assert np.unique(stim.params["center_x_deg"][on]).tolist() == [-0.375, -0.125, 0.125, 0.375]
    assert np.unique(stim.params["center_y_deg"][on]).tolist() == [-0.25, 0.0, 0.25]
    assert np.isnan(stim.params["center_x_deg"][pol == "blank"]).all()
    assert np.all(stim.frames[pol == "blank"] == 0.5)
    assert stim.params["repeat"].tolist() == [0] * 27 + [1] * 27
    # each repeat holds every (x, y, polarity) once
    for rep in (0, 1):
        sel = on & (stim.params["repeat"] == rep)
        cells = set(zip(stim.params["center_x_deg"][sel], stim.params["center_y_deg"][sel]))
        assert len(cells) == 12


@pytest.mark.parametrize("x, y, side", [(0.3, -0.2, 0.25), (0.0317, 0.2, 0.1), (-0.5, 0.5, 0.5)])
def test_a_square_has_the_exact_area_contrast_and_centre(x, y, side):
    stim = sparse_noise(GEOM, side, n_positions=1, center_deg=(x, y), contrast=0.8,
                        n_blanks=0, seed=0)
    for pol, sign in (("on", 1.0), ("off", -1.0)):
        delta = stim.frames[stim.params["polarity"] == pol][0, 0].astype(np.float64) - 0.5
        # integral of the luminance change = mean * contrast * area (area coverage is exact)
        assert delta.sum() / GEOM.pixels_per_degree**2 == pytest.approx(
            sign * 0.5 * 0.8 * side**2, rel=1e-5)
        assert np.max(np.abs(delta)) == pytest.approx(0.4, abs=1e-6)
        # centroid of the sampled coverage: within a tenth of a pixel of the square's centre
        assert _centroid(delta) == pytest.approx((x, y), abs=0.1 / GEOM.pixels_per_degree)


def test_default_grid_fills_the_canvas_and_seed_fixes_the_order():
    stim = sparse_noise(GEOM, 0.125, seed=1)
    grid = stim.meta["grid_x_deg"]
    assert len(grid) == 16 and grid[0] == pytest.approx(-0.9375) and grid[-1] == 0.9375
    again = sparse_noise(GEOM, 0.125, seed=1)
    other = sparse_noise(GEOM, 0.125, seed=2)
    assert np.array_equal(stim.frames, again.frames)
    assert not np.array_equal(stim.params["center_x_deg"], other.params["center_x_deg"])
    assert sorted(map(str, zip(stim.params["center_x_deg"], stim.params["polarity"]))) == \
        sorted(map(str, zip(other.params["center_x_deg"], other.params["polarity"])))
    spaced = sparse_noise(GEOM, 0.125, grid_deg=0.5)
    assert spaced.meta["grid_x_deg"] == pytest.approx([-0.75, -0.25, 0.25, 0.75])


def test_sparse_noise_bad_input():
    with pytest.raises(ValueError, match="n_positions.*leaves"):
        sparse_noise(GEOM, 0.25, n_positions=9)
    with pytest.raises(ValueError, match="square_deg"):
        sparse_noise(GEOM, 0.0)
    with pytest.raises(ValueError, match="square_deg.*does not fit"):
        sparse_noise(GEOM, 1.5, center_deg=(0.5, 0.0))
    with pytest.raises(ValueError, match="polarities"):
        sparse_noise(GEOM, 0.25, polarities=("on", "grey"))
    with pytest.raises(ValueError, match="contrast"):
        sparse_noise(GEOM, 0.25, contrast=0.5, mean=0.8)
    with pytest.raises(ValueError, match="n_repeats"):
        sparse_noise(GEOM, 0.25, n_repeats=0)
    with pytest.raises(ValueError, match="n_blanks"):
        sparse_noise(GEOM, 0.25, n_blanks=-1)
    with pytest.raises(ValueError, match="geometry"):
        sparse_noise((32, 32), 0.25)
    with pytest.raises(ValueError, match="seed"):
        sparse_noise(GEOM, 0.25, seed=-3)


def test_bar_sweep_moves_the_bar_along_its_normal():
    stim = bar_sweep(GEOM, [0.0, 45.0], length_deg=1.0, width_deg=0.25, speed_deg_per_s=10.0,
                     sweep_deg=1.0, frame_rate_hz=100.0, center_deg=(0.1, -0.1))
    assert len(stim) == 4 and stim.n_frames == 11 and stim.frame_rate_hz == 100.0
    assert stim.params["direction"].tolist() == [0.0, 180.0, 45.0, 225.0]
    assert stim.params["orientation"].tolist() == [0.0, 0.0, 45.0, 45.0]
    assert stim.params["sweep_ms"][0] == pytest.approx(110.0)
    pos = bar_positions_deg(11, 10.0, -0.5, 100.0)
    assert stim.meta["positions_deg"] == pytest.approx(pos.tolist())
    for i, d in enumerate(stim.params["direction"]):
        th = np.deg2rad(d)
        for k in (2, 5, 8):
            delta = stim.frames[i, k].astype(np.float64) - 0.5
            want = (0.1 + pos[k] * np.cos(th), -0.1 + pos[k] * np.sin(th))
            assert _centroid(delta) == pytest.approx(want, abs=0.02)
    # an axis-aligned bar fully on the canvas: exact area and a vertical bar for orientation 0
    delta = stim.frames[0, 5].astype(np.float64) - 0.5
    assert delta.sum() / GEOM.pixels_per_degree**2 == pytest.approx(0.5 * 0.25 * 1.0, rel=1e-5)
    rows = np.flatnonzero(delta.max(axis=1) > 0.49)
    assert np.ptp(delta[rows[1:-1]], axis=0).max() < 1e-6  # constant down the bar


def test_bar_orientation_90_is_the_transpose_of_orientation_0():
    stim = bar_sweep(GEOM, [0.0, 90.0], length_deg=0.75, width_deg=0.125, speed_deg_per_s=5.0,
                     sweep_deg=1.0, frame_rate_hz=20.0, both_directions=False,
                     polarities=("off",))
    assert np.allclose(stim.frames[1], np.transpose(stim.frames[0], (0, 2, 1)), atol=1e-6)
    assert stim.frames.min() == pytest.approx(0.0, abs=1e-6)


def test_flashed_bars_positions_and_blanks():
    stim = flashed_bars(GEOM, [0.0, 60.0], [-0.25, 0.0, 0.5], length_deg=0.75,
                        width_deg=0.125, center_deg=(0.2, 0.1), n_blanks=2, contrast=0.6)
    assert len(stim) == 2 * 3 * 2 + 2
    pol = stim.params["polarity"]
    assert (pol == "blank").sum() == 2 and np.all(stim.frames[pol == "blank"] == 0.5)
    for i in np.flatnonzero(pol != "blank"):
        th = np.deg2rad(stim.params["orientation"][i])
        s = stim.params["position_deg"][i]
        want = (0.2 + s * np.cos(th), 0.1 + s * np.sin(th))
        assert (stim.params["center_x_deg"][i], stim.params["center_y_deg"][i]) == \
            pytest.approx(want)
        delta = stim.frames[i, 0].astype(np.float64) - 0.5
        assert _centroid(delta) == pytest.approx(want, abs=0.02)
        assert np.max(np.abs(delta)) == pytest.approx(0.3, abs=1e-6)


def test_bar_bad_input():
    with pytest.raises(ValueError, match="orientations.*distinct"):
        bar_sweep(GEOM, [0.0, 180.0], length_deg=1, width_deg=0.1, speed_deg_per_s=5,
                  sweep_deg=1)
    with pytest.raises(ValueError, match="speed_deg_per_s"):
        bar_sweep(GEOM, [0.0], length_deg=1, width_deg=0.1, speed_deg_per_s=0, sweep_deg=1)
    with pytest.raises(ValueError, match="frame_rate_hz"):
        bar_sweep(GEOM, [0.0], length_deg=1, width_deg=0.1, speed_deg_per_s=100,
                  sweep_deg=0.1, frame_rate_hz=1.0)
    with pytest.raises(ValueError, match="width_deg"):
        flashed_bars(GEOM, [0.0], length_deg=1, width_deg=-1)
    with pytest.raises(ValueError, match="positions_deg"):
        flashed_bars(GEOM, [0.0], [0.0, 0.0], length_deg=1, width_deg=0.1)
