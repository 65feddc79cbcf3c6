"""Tests for neurofond.stimuli.gratings."""

import numpy as np
import pytest

from neurofond.stimuli import (
    ScreenGeometry,
    Stimuli,
    aperture_window,
    concat,
    counterphase_grating,
    drifting_grating_sweep,
    grating,
    grating_sweep,
    plaid,
    render_gratings,
)

G = ScreenGeometry(pixels_per_degree=8.0, size_px=32)  # 4 deg canvas


def closed_form(g, ori, sf, phase, contrast, mean, tf=0.0, t=0.0):
    x, y = g.grid_deg()
    th = np.deg2rad(ori)
    u = x * np.cos(th) + y * np.sin(th)
    return mean + mean * contrast * np.sin(2 * np.pi * (sf * u - tf * t) + np.deg2rad(phase))


def test_matches_closed_form():
    img = grating(G, orientation=30.0, sf=1.5, phase=60.0, contrast=0.4, mean=0.4).frames[0]
    assert img.shape == (1, 32, 32) and img.dtype == np.float32
    np.testing.assert_allclose(img[0], closed_form(G, 30, 1.5, 60, 0.4, 0.4), atol=1e-6)


def test_known_points():
    # 1 px/deg grid offsets: with an odd size the centre pixel sits at x = 0.
    g = ScreenGeometry(pixels_per_degree=4.0, size_px=5)
    img = grating(g, orientation=0.0, sf=1.0, phase=0.0, contrast=1.0).frames[0, 0]
    # x = 0 -> sin(0) = 0 -> mean; x = 0.25 deg -> sin(pi/2) = 1 -> 1.0; x = -0.25 -> 0.0
    assert img[2, 2] == pytest.approx(0.5)
    assert img[2, 3] == pytest.approx(1.0)
    assert img[2, 1] == pytest.approx(0.0, abs=1e-7)
    np.testing.assert_allclose(img[:, 3], 1.0)  # vertical bars for orientation 0


def test_mean_and_michelson_contrast_over_full_cycle():
    # 32 px at 8 px/deg with sf 1 -> exactly 4 cycles across the canvas
    img = grating(G, orientation=0.0, sf=1.0, phase=0.0, contrast=0.6, mean=0.5).frames[0, 0]
    assert img.mean() == pytest.approx(0.5, abs=1e-6)
    # odd size: a pixel centre sits at x = 0 and at the peaks x = +-0.25 deg
    g = ScreenGeometry(pixels_per_degree=8.0, size_px=33)
    img = grating(g, orientation=0.0, sf=1.0, phase=0.0, contrast=0.6, mean=0.4).frames[0, 0]
    lmax, lmin = img.max(), img.min()
    assert lmax == pytest.approx(0.4 * 1.6) and lmin == pytest.approx(0.4 * 0.4)
    assert (lmax - lmin) / (lmax + lmin) == pytest.approx(0.6, rel=1e-3)


def test_orientation_0_and_90_are_transposes():
    a = grating(G, orientation=0.0, sf=1.3, phase=20.0).frames[0, 0]
    b = grating(G, orientation=90.0, sf=1.3, phase=20.0).frames[0, 0]
    np.testing.assert_allclose(b, a.T, atol=1e-6)


def test_drift_shifts_phase_per_frame():
    fr, tf = 60.0, 3.0
    movie = grating(G, 45.0, 1.0, phase=10.0, tf=tf, n_frames=5, frame_rate_hz=fr).frames[0]
    step_deg = 360.0 * tf / fr
    for k in range(5):
        static = grating(G, 45.0, 1.0, phase=10.0 - k * step_deg).frames[0, 0]
        np.testing.assert_allclose(movie[k], static, atol=1e-6)
        np.testing.assert_allclose(movie[k], closed_form(G, 45, 1, 10, 1, 0.5, tf, k / fr),
                                   atol=1e-6)


def test_temporal_mean_over_cycle_is_mean():
    movie = grating(G, 0.0, 1.0, phase=33.0, contrast=0.8, tf=2.0, n_frames=10,
                    frame_rate_hz=20.0).frames[0]
    np.testing.assert_allclose(movie.mean(axis=0), 0.5, atol=1e-6)


def test_counterphase_is_standing_wave():
    fr, tf = 20.0, 2.0
    movie = counterphase_grating(G, 0.0, 1.0, tf=tf, n_frames=10, frame_rate_hz=fr,
                                 contrast=0.8).frames[0]
    spatial = grating(G, 0.0, 1.0, contrast=1.0).frames[0, 0] - 0.5
    for k in range(10):
        expected = 0.5 + 0.8 * spatial * np.cos(2 * np.pi * tf * k / fr)
        np.testing.assert_allclose(movie[k], expected, atol=1e-6)
    # sum of two opposite drifting gratings at half contrast
    a = grating(G, 0.0, 1.0, contrast=0.4, tf=tf, n_frames=10, frame_rate_hz=fr).frames[0]
    b = grating(G, 180.0, 1.0, contrast=0.4, phase=180.0, tf=tf, n_frames=10,
                frame_rate_hz=fr).frames[0]
    np.testing.assert_allclose(movie, a + b - 0.5, atol=1e-5)


def test_circular_aperture_outside_is_mean():
    img = grating(G, 10.0, 2.0, phase=90.0, aperture="circular", radius_deg=1.0,
                  center_deg=(0.5, -0.25)).frames[0, 0]
    r = G.radius_deg((0.5, -0.25))
    np.testing.assert_allclose(img[r > 1.0], 0.5)
    np.testing.assert_allclose(img[r <= 1.0], closed_form(G, 10, 2, 90, 1, 0.5)[r <= 1.0],
                               atol=1e-6)


def test_raised_cosine_monotone_in_ramp():
    g = ScreenGeometry(pixels_per_degree=20.0, size_px=81)
    w = aperture_window(g, "raised_cosine", radius_deg=1.0, ramp_deg=0.5)
    r = g.radius_deg()
    order = np.argsort(r, axis=None)
    assert np.all(np.diff(w.ravel()[order]) <= 1e-12)  # non-increasing with radius
    assert np.all(w[r <= 0.75] == 1.0) and np.all(w[r >= 1.25] == 0.0)
    ramp = (r > 0.76) & (r < 1.24)
    assert np.all((w[ramp] > 0) & (w[ramp] < 1))
    img = grating(g, 0.0, 1.0, aperture="raised_cosine", radius_deg=1.0, ramp_deg=0.5).frames[0, 0]
    np.testing.assert_allclose(img[r >= 1.25], 0.5)


def test_plaid_is_sum_and_clips():
    a = {"orientation": 0.0, "sf": 1.0, "contrast": 0.3}
    b = {"orientation": 90.0, "sf": 2.0, "contrast": 0.2, "phase": 45.0}
    p = plaid(G, a, b).frames[0, 0]
    ga = grating(G, 0.0, 1.0, contrast=0.3).frames[0, 0]
    gb = grating(G, 90.0, 2.0, contrast=0.2, phase=45.0).frames[0, 0]
    np.testing.assert_allclose(p, ga + gb - 0.5, atol=1e-6)
    strong = {"orientation": 0.0, "sf": 1.0, "contrast": 1.0}
    clipped = plaid(G, strong, dict(strong, orientation=90.0)).frames
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    with pytest.raises(ValueError, match="clip"):
        plaid(G, strong, dict(strong, orientation=90.0), clip=False)
    with pytest.raises(ValueError, match="b.spatial"):
        plaid(G, a, {"orientation": 0.0, "sf": 1.0, "spatial": 2})


def test_grating_and_plaid_return_the_sweeps_container():
    """grating(), counterphase_grating() and plaid() give a Stimuli like the sweeps: the same
    parameter columns, concat-able with a sweep, and presentable as they are."""
    one = grating(G, 30.0, 2.0, phase=90.0, contrast=0.5)
    sweep = grating_sweep(G, orientations=[30.0], sfs=[2.0], phases=[90.0], contrasts=[0.5])
    assert isinstance(one, Stimuli) and len(one) == 1 and one.frame_rate_hz is None
    assert set(one.params) == set(sweep.params)
    for key in sweep.params:
        np.testing.assert_array_equal(one.params[key], sweep.params[key])
    np.testing.assert_array_equal(one.frames, sweep.frames)
    both = concat([one, sweep])
    assert len(both) == 2 and both.geometry == G
    movie = grating(G, 0.0, 1.0, tf=2.0, n_frames=4, frame_rate_hz=20.0)
    assert movie.frame_rate_hz == 20.0 and movie.params["kind"].tolist() == ["drifting"]
    cp = counterphase_grating(G, 0.0, 1.0, tf=2.0, n_frames=4, frame_rate_hz=20.0)
    assert cp.params["kind"].tolist() == ["counterphase"]
    ap = grating(G, 0.0, 1.0, aperture="circular", radius_deg=1.0, center_deg=(0.5, 0.0))
    assert ap.params["radius_deg"][0] == 1.0 and ap.params["center_x_deg"][0] == 0.5
    a = {"orientation": 0.0, "sf": 1.0, "contrast": 0.3}
    b = {"orientation": 90.0, "sf": 2.0, "contrast": 0.2, "phase": 45.0}
    p = plaid(G, a, b)
    assert isinstance(p, Stimuli) and p.frames.shape == (1, 1, 32, 32)
    assert p.params["kind"].tolist() == ["plaid"]
    assert p.params["orientation"][0] == 0.0 and p.params["mask_orientation"][0] == 90.0
    assert p.params["test_contrast"][0] == 0.3 and p.params["mask_contrast"][0] == 0.2
    assert p.params["contrast"][0] == pytest.approx(0.5) and p.params["mask_phase"][0] == 45.0
    assert p.params["mask_sf"][0] == 2.0 and np.isinf(p.params["radius_deg"][0])


def test_grating_sweep_factorial():
    s = grating_sweep(G, orientations=[0, 45, 90], sfs=[1, 2], phases=[0, 90, 180, 270],
                      contrasts=[0.5, 1.0])
    assert isinstance(s, Stimuli) and len(s) == 3 * 2 * 4 * 2
    assert s.frames.shape == (48, 1, 32, 32)
    assert s.frame_rate_hz is None
    # phase varies fastest, orientation slowest
    np.testing.assert_array_equal(s.params["phase"][:4], [0, 90, 180, 270])
    np.testing.assert_array_equal(np.unique(s.params["orientation"][:16]), [0])
    i = 13
    p = {k: v[i] for k, v in s.params.items()}
    expected = grating(G, p["orientation"], p["sf"], p["phase"], p["contrast"]).frames[0]
    np.testing.assert_allclose(s.frames[i], expected)
    assert set(s.params["kind"]) == {"static"}
    table = grating_sweep(G, orientations=[0, 45], params_only=True)
    assert isinstance(table, dict) and table["orientation"].size == 2


def test_drifting_sweep_directions():
    s = drifting_grating_sweep(G, directions=[0, 90, 180, 270], sfs=[1.0], tfs=[2.0],
                               n_frames=3, frame_rate_hz=20.0)
    assert len(s) == 4 and s.frame_rate_hz == 20.0 and s.n_frames == 3
    np.testing.assert_array_equal(s.params["orientation"], [0, 90, 0, 90])
    np.testing.assert_array_equal(s.params["direction"], [0, 90, 180, 270])
    # direction 180 moves the opposite way to direction 0
    np.testing.assert_allclose(s.frames[2],
                               grating(G, 180.0, 1.0, tf=2.0, n_frames=3,
                                       frame_rate_hz=20.0).frames[0])
    assert not np.allclose(s.frames[0], s.frames[2])


def test_stimuli_select_concat_where():
    s = grating_sweep(G, orientations=[0, 90], sfs=[1, 2])
    sub = s.select([3, 0])
    np.testing.assert_array_equal(sub.params["sf"], [2, 1])
    np.testing.assert_array_equal(sub.frames, s.frames[[3, 0]])
    assert len(s.select(np.array([True, False, True, False]))) == 2
    assert len(s.where(sf=2.0)) == 2
    other = Stimuli(frames=np.full((1, 1, 32, 32), 0.5), params={"kind": ["blank"]}, geometry=G)
    both = concat([s, other])
    assert len(both) == 5 and both.params["kind"][-1] == "blank"
    assert np.isnan(both.params["sf"][-1])
    assert both.coords()["stimulus_id"].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="indices"):
        s.select([7])
    with pytest.raises(ValueError, match="frame shape"):
        concat([s, Stimuli(frames=np.zeros((1, 2, 32, 32)))])
    with pytest.raises(ValueError, match="nope"):
        s.where(nope=1)


def test_stimuli_validation():
    with pytest.raises(ValueError, match="frames"):
        Stimuli(frames=np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="frames"):
        Stimuli(frames=np.full((1, 1, 2, 2), np.nan))
    with pytest.raises(ValueError, match="frames"):
        Stimuli(frames=np.full((1, 1, 2, 2), 1.5))
    with pytest.raises(ValueError, match="orientation"):
        Stimuli(frames=np.zeros((2, 1, 2, 2)), params={"orientation": [0.0, 1.0, 2.0]})
    with pytest.raises(ValueError, match="geometry"):
        Stimuli(frames=np.zeros((1, 1, 2, 2)), geometry=G)
    with pytest.raises(ValueError, match="frame_rate_hz"):
        Stimuli(frames=np.zeros((1, 1, 2, 2)), frame_rate_hz=0.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"orientation": float("nan")}, "orientation"),
        ({"sf": -1.0}, "sf"),
        ({"contrast": 1.5}, "contrast"),
        ({"mean": 0.8}, "contrast"),  # mean * (1 + contrast) > 1
        ({"mean": 0.0}, "mean"),
        ({"phase": float("inf")}, "phase"),
        ({"n_frames": 0}, "n_frames"),
        ({"tf": 1.0, "n_frames": 3}, "frame_rate_hz"),
        ({"aperture": "square"}, "aperture"),
        ({"aperture": "circular"}, "radius_deg"),
        ({"aperture": "circular", "radius_deg": -1.0}, "radius_deg"),
        ({"aperture": "raised_cosine", "radius_deg": 1.0, "ramp_deg": 0.0}, "ramp_deg"),
    ],
)
def test_grating_bad_input(kwargs, match):
    args = {"orientation": 0.0, "sf": 1.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        grating(G, **args)


def test_sweep_bad_input():
    with pytest.raises(ValueError, match="orientations"):
        grating_sweep(G, orientations=[])
    with pytest.raises(ValueError, match="contrasts"):
        grating_sweep(G, contrasts=[0.5, 2.0])
    with pytest.raises(ValueError, match="radii_deg"):
        grating_sweep(G, aperture="circular")
    with pytest.raises(ValueError, match="tfs"):
        drifting_grating_sweep(G, tfs=[0.0])
    with pytest.raises(ValueError, match="spin"):
        render_gratings({"orientation": [0.0], "sf": [1.0], "spin": [1]}, G)
    with pytest.raises(ValueError, match="geometry"):
        grating("not a geometry", 0.0, 1.0)


def test_modules_split_along_concerns():
    """Container in base, apertures in apertures; gratings and the package re-export them."""
    import neurofond.stimuli as pkg
    from neurofond.stimuli import apertures, base, gratings

    assert pkg.Stimuli is base.Stimuli is gratings.Stimuli
    assert pkg.concat is base.concat is gratings.concat
    assert pkg.aperture_window is apertures.aperture_window is gratings.aperture_window
    with pytest.raises(ValueError, match=r"batch_size: expected an integer >= 1"):
        next(base.Stimuli(np.zeros((2, 1, 4, 4))).iter_batches(0))
    with pytest.raises(ValueError, match=r"frame_rate_hz: expected a finite number > 0"):
        base.Stimuli(np.zeros((1, 2, 4, 4)), frame_rate_hz=0)
