"""Tests for neurofond.stimuli.movies."""

import numpy as np
import pytest

from neurofond.stimuli import (
    Stimuli,
    eye_movement_path,
    movie_from_array,
    movie_from_image,
    movie_from_video,
    natural_movie,
    pink_noise_image,
)

BOUNDS = ((0.0, 40.0), (0.0, 30.0))
KW = dict(bounds=BOUNDS, drift_sd_px=1.0, microsaccade_rate=5.0, saccade_rate=3.0,
          saccade_amp_px=60.0)


def test_path_reproducible_and_in_bounds():
    a = eye_movement_path(300, seed=3, **KW)
    b = eye_movement_path(300, seed=3, **KW)
    c = eye_movement_path(300, seed=4, **KW)
    assert a.shape == (300, 2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a[:, 0].min() >= 0 and a[:, 0].max() <= 40
    assert a[:, 1].min() >= 0 and a[:, 1].max() <= 30
    np.testing.assert_allclose(a[0], [20.0, 15.0])  # starts at the centre of bounds
    g = np.random.default_rng(3)
    np.testing.assert_array_equal(eye_movement_path(300, g, **KW), a)


def test_path_components():
    still = eye_movement_path(50, 0, bounds=(10, 10), drift_sd_px=0.0, microsaccade_rate=0.0,
                              saccade_rate=0.0)
    np.testing.assert_array_equal(still, np.full((50, 2), 5.0))
    drift = eye_movement_path(2000, 0, bounds=(1e6, 1e6), drift_sd_px=0.7,
                              microsaccade_rate=0.0, saccade_rate=0.0)
    assert np.std(np.diff(drift, axis=0)) == pytest.approx(0.7, rel=0.05)
    jumps = eye_movement_path(3000, 0, bounds=(1e6, 1e6), frame_rate_hz=100.0, drift_sd_px=0.0,
                              microsaccade_rate=0.0, saccade_rate=10.0, saccade_amp_px=20.0)
    steps = np.linalg.norm(np.diff(jumps, axis=0), axis=1)
    n_jumps = np.sum(steps > 0)
    expected = 2999 * (1 - np.exp(-10.0 / 100.0))
    assert abs(n_jumps - expected) < 4 * np.sqrt(expected)
    assert steps[steps > 0].min() >= 10.0 - 1e-9 and steps.max() <= 30.0 + 1e-9


def test_movie_window_equals_crop():
    img = np.random.default_rng(0).random((50, 40))
    path = np.array([[0, 0], [3, 7], [10, 5], [50 - 12, 40 - 9]], dtype=float)
    for interp in ("bilinear", "nearest"):
        mv = movie_from_image(img, path, (12, 9), frame_rate_hz=25.0, interpolation=interp)
        assert isinstance(mv, Stimuli) and mv.frames.shape == (1, 4, 12, 9)
        assert mv.frame_rate_hz == 25.0
        for k, (r, c) in enumerate(path.astype(int)):
            np.testing.assert_allclose(mv.frames[0, k], img[r:r + 12, c:c + 9], atol=1e-6)


def test_bilinear_subpixel():
    img = np.tile(np.arange(20, dtype=float) / 20, (10, 1))  # linear ramp along columns
    mv = movie_from_image(img, [[0.0, 2.5]], (4, 4))
    np.testing.assert_allclose(mv.frames[0, 0, 0], (np.arange(4) + 2.5) / 20, atol=1e-6)
    near = movie_from_image(img, [[0.0, 2.4]], (4, 4), interpolation="nearest")
    np.testing.assert_allclose(near.frames[0, 0], img[0:4, 2:6], atol=1e-6)


def test_natural_movie_reproducible():
    img = pink_noise_image(64, seed=0)
    assert img.shape == (64, 64) and img.min() == 0.0 and img.max() == 1.0
    np.testing.assert_array_equal(img, pink_noise_image(64, seed=0))
    a = natural_movie(img, 20, 16, seed=5, n_movies=3, frame_rate_hz=30.0)
    b = natural_movie(img, 20, 16, seed=5, n_movies=3, frame_rate_hz=30.0)
    assert a.frames.shape == (3, 20, 16, 16) and a.frame_rate_hz == 30.0
    np.testing.assert_array_equal(a.frames, b.frames)
    assert a.meta["path"].shape == (3, 20, 2)
    assert not np.array_equal(a.frames[0], a.frames[1])
    with pytest.raises(ValueError, match="jitter"):
        natural_movie(img, 5, 16, seed=0, jitter=1.0)


def test_movie_from_array_and_file(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, size=(6, 8, 10), dtype=np.uint8)
    mv = movie_from_array(arr, frame_rate_hz=24.0)
    np.testing.assert_allclose(mv.frames[0], arr / 255.0, atol=1e-6)
    f = tmp_path / "clip.npy"
    np.save(f, arr)
    mv2 = movie_from_video(f, frame_rate_hz=24.0)
    np.testing.assert_array_equal(mv2.frames, mv.frames)
    assert mv2.meta["source"] == str(f)
    with pytest.raises(ValueError, match="frame_rate_hz"):
        movie_from_video(f)
    with pytest.raises(FileNotFoundError):
        movie_from_video(tmp_path / "missing.mp4")


def test_movie_from_gif(tmp_path):
    iio = pytest.importorskip("imageio.v3")
    arr = np.random.default_rng(2).integers(0, 256, size=(3, 8, 8), dtype=np.uint8)
    f = tmp_path / "clip.gif"
    iio.imwrite(f, arr, duration=100, loop=0)
    mv = movie_from_video(f)
    assert mv.frames.shape == (1, 3, 8, 8)
    assert mv.frame_rate_hz == pytest.approx(10.0)


def test_bad_input():
    with pytest.raises(ValueError, match="array"):
        movie_from_array(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="array"):
        movie_from_array(np.full((2, 4, 4), np.nan))
    with pytest.raises(ValueError, match="array"):
        movie_from_array(np.full((2, 4, 4), 3.0))
    assert movie_from_array(np.full((2, 4, 4), 3.0), rescale="minmax").frames.max() == 0.5
    img = np.zeros((20, 20))
    with pytest.raises(ValueError, match="path"):
        movie_from_image(img, [[0, 15]], 8)
    with pytest.raises(ValueError, match="path"):
        movie_from_image(img, [0, 1, 2], 8)
    with pytest.raises(ValueError, match="window_px"):
        movie_from_image(img, [[0, 0]], 30)
    with pytest.raises(ValueError, match="window_px"):
        movie_from_image(img, [[0, 0]], 0)
    with pytest.raises(ValueError, match="bounds"):
        eye_movement_path(10, 0, bounds=((5, 1), (0, 3)))
    with pytest.raises(ValueError, match="n_frames"):
        eye_movement_path(0, 0, bounds=(5, 5))
    with pytest.raises(ValueError, match="drift_sd_px"):
        eye_movement_path(5, 0, bounds=(5, 5), drift_sd_px=-1.0)
    with pytest.raises(ValueError, match="start"):
        eye_movement_path(5, 0, bounds=(5, 5), start=(9.0, 0.0))
