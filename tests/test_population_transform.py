"""PresentationTransform: linear (contrast-preserving) and training modes."""

from __future__ import annotations

import numpy as np
import pytest

from neurofond.fond.data import Preprocessing, whiten
from neurofond.population import PresentationTransform, calibrate_gain
from neurofond.population.transform import (
    HEADROOM,
    training_patch_std,
    whitening_peak,
)
from neurofond.stimuli import ScreenGeometry, grating, grating_sweep, load_protocol


def _prep() -> Preprocessing:
    return Preprocessing(global_mean=0.05, global_std=0.8)


def _gratings(contrasts, size=32):
    geo = ScreenGeometry(16.0, size)
    return np.stack([grating(geo, 30.0, 2.0, contrast=c).frames[0, 0] for c in contrasts])


def test_linear_mode_preserves_contrast_ratios_training_mode_does_not():
    prep = _prep()
    frames = _gratings([0.1, 0.25, 1.0])
    lin = PresentationTransform(prep, "linear", gain=50.0)(frames)
    train = PresentationTransform(prep, "training")(frames)
    lin_std = lin.reshape(3, -1).std(axis=1)
    np.testing.assert_allclose(lin_std / lin_std[-1], [0.1, 0.25, 1.0], rtol=1e-4)
    train_std = train.reshape(3, -1).std(axis=1)
    # the per-image z-score and LCN divide contrast out
    np.testing.assert_allclose(train_std / train_std[-1], 1.0, rtol=1e-3)


def test_linear_mode_is_whitening_times_gain_then_standardize():
    prep = _prep()
    rng = np.random.default_rng(0)
    frame = rng.uniform(0.2, 0.8, size=(20, 24))
    out = PresentationTransform(prep, gain=7.0, pad=0)(frame)
    expected = prep.standardize(7.0 * whiten(frame - 0.5, prep.f0))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    # padding with mean gray changes only the borders' context, not the shape
    padded = PresentationTransform(prep, gain=7.0)(frame[None, None])
    assert padded.shape == (1, 1, 20, 24)
    assert PresentationTransform(prep, gain=7.0)(frame, keep_pad=True).shape == (52, 56)


def test_training_mode_is_exactly_the_training_pipeline():
    prep = _prep()
    frame = _gratings([0.3])[0] + 0.1 * np.linspace(0, 1, 32)[None]
    out = PresentationTransform(prep, "training")(frame)
    np.testing.assert_allclose(out, prep.standardize(prep.image(frame)), rtol=1e-5, atol=1e-5)


def test_uniform_frame_gives_the_blank_value_in_both_modes():
    prep = _prep()
    for mode in ("linear", "training"):
        kwargs = {"gain": 3.0} if mode == "linear" else {}
        t = PresentationTransform(prep, mode, **kwargs)
        out = t(np.full((2, 16, 16), 0.5))
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, t.blank_value())
        np.testing.assert_allclose(t.blank_value(), (0.0 - 0.05) / 0.8)


def test_photo_std_calibration_matches_the_training_std():
    # the earlier default calibration, now explicit (calibration="photo_std"): whole photos
    # get inputs of unit standard deviation
    prep = _prep()
    rng = np.random.default_rng(1)
    images = {"a": rng.uniform(0, 255, (40, 50)), "b": rng.uniform(50, 200, (30, 30))}
    gain = calibrate_gain(prep, images=images, calibration="photo_std")
    t = PresentationTransform(prep, gain=gain, pad=0)
    pooled = np.concatenate([t(img / 255.0).ravel() for img in images.values()])
    np.testing.assert_allclose(pooled.std(), 1.0, rtol=1e-6)


def test_default_gain_is_calibrated_on_bundled_photos_and_cached():
    prep = Preprocessing()
    g1 = PresentationTransform(prep).gain
    assert g1 is not None and np.isfinite(g1) and g1 > 0
    assert calibrate_gain(prep) == g1  # served from the cache
    assert PresentationTransform(prep, "training").gain is None
    old = PresentationTransform(prep, calibration="photo_std")
    assert old.gain == calibrate_gain(prep, calibration="photo_std") != g1
    assert old.to_dict()["calibration"] == "photo_std"
    assert PresentationTransform(prep).to_dict()["calibration"] == "training_range"
    assert PresentationTransform(prep, gain=2.0).to_dict()["calibration"] == "fixed"


def test_training_range_gain_is_the_documented_formula():
    prep = Preprocessing(global_std=0.7)
    s_q = training_patch_std(prep, 0.99)
    f_star, r_star = whitening_peak(prep)
    np.testing.assert_allclose(f_star, 0.4 / 4**0.25)
    np.testing.assert_allclose(r_star, f_star * np.exp(-((f_star / 0.4) ** 4)))
    expected = HEADROOM * np.sqrt(2) * s_q * 0.7 / (0.5 * r_star)
    np.testing.assert_allclose(calibrate_gain(prep), expected, rtol=1e-12)
    # a higher quantile -> a larger gain; no whitening -> R = 1
    assert calibrate_gain(prep, quantile=0.999) > calibrate_gain(prep)
    assert whitening_peak(Preprocessing(whiten=False))[1] == 1.0
    with pytest.raises(ValueError, match="quantile"):
        calibrate_gain(prep, quantile=1.5)
    with pytest.raises(ValueError, match="calibration"):
        calibrate_gain(prep, calibration="photos")
    with pytest.raises(ValueError, match="background"):
        calibrate_gain(prep, background=0.0)


def _shipped_preprocessing() -> Preprocessing:
    from neurofond.pretrained import DEFAULT_MODEL, load_pretrained

    return load_pretrained(DEFAULT_MODEL)[1]


def _max_patch_std(images: np.ndarray, size: int = 16, stride: int = 2) -> float:
    win = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(-2, -1))
    win = win[..., ::stride, ::stride, :, :].reshape(-1, size * size)
    return float(win.std(axis=1).max())


def test_full_contrast_gratings_stay_within_the_training_quantile():
    # the contrast mapping: every grating of contrast <= 1 (any SF up to Nyquist, any
    # orientation and phase, at any patch position) stays below the 0.99 quantile of the
    # checkpoint's training patches' standard deviations
    prep = _shipped_preprocessing()
    t = PresentationTransform(prep)
    s_q = training_patch_std(prep, 0.99)
    sweep = grating_sweep(ScreenGeometry(16.0, 32), orientations=range(0, 180, 15),
                          sfs=[1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 6.0, 7.0],
                          phases=range(0, 360, 45), contrasts=[1.0])
    worst = _max_patch_std(t(sweep.frames[:, 0]))
    assert 0.9 * s_q < worst <= s_q
    for name in ("orientation_tuning", "sf_tuning"):
        stim = load_protocol(name).stimuli
        assert _max_patch_std(t(stim.frames[:, 0])) <= s_q
    # input amplitude proportional to contrast
    half = grating_sweep(ScreenGeometry(16.0, 32), orientations=[30.0], sfs=[4.5],
                         phases=[0.0], contrasts=[0.5, 1.0])
    stds = t(half.frames[:, 0])[:, 8:24, 8:24].reshape(2, -1).std(axis=1)
    np.testing.assert_allclose(stds[0] / stds[1], 0.5, rtol=1e-4)


def test_errors_name_the_argument():
    prep = _prep()
    t = PresentationTransform(prep, gain=1.0)
    with pytest.raises(ValueError, match="frames"):
        t(np.array([0.5, 0.5]))
    bad = np.full((16, 16), 0.5)
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="frames"):
        t(bad)
    with pytest.raises(ValueError, match="mode"):
        PresentationTransform(prep, "lcn")
    with pytest.raises(ValueError, match="gain"):
        PresentationTransform(prep, gain=-1.0)
    with pytest.raises(ValueError, match="gain"):
        PresentationTransform(prep, "training", gain=2.0)
    with pytest.raises(ValueError, match="background"):
        PresentationTransform(prep, background=2.0)
