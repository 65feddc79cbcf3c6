"""The one luminance rule: BT.709 weights (as rounded by scikit-image) for every colour image."""

from __future__ import annotations

import numpy as np
import pytest

from neurofond.stimuli.images import BT709_WEIGHTS, LUMINANCE_WEIGHTS, rgb_to_luminance


def test_weights_are_bt709_rounded_as_the_shipped_models_were_trained():
    # ITU-R BT.709 item 3.2: Y = 0.2126 R + 0.7152 G + 0.0722 B
    assert BT709_WEIGHTS == (0.2126, 0.7152, 0.0722)
    assert LUMINANCE_WEIGHTS == (0.2125, 0.7154, 0.0721)
    assert sum(LUMINANCE_WEIGHTS) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(LUMINANCE_WEIGHTS, BT709_WEIGHTS, atol=2.1e-4)
    # not BT.601 (0.299, 0.587, 0.114)
    assert abs(LUMINANCE_WEIGHTS[0] - 0.299) > 0.08


def test_pure_primaries_give_the_closed_form_weights():
    rgb = np.eye(3)  # pure red, green, blue
    np.testing.assert_array_equal(rgb_to_luminance(rgb), LUMINANCE_WEIGHTS)
    np.testing.assert_allclose(rgb_to_luminance([[1.0, 1.0, 1.0]]), [1.0], rtol=1e-15)
    px = np.array([0.2, 0.5, 0.9])
    assert rgb_to_luminance(px) == pytest.approx(0.2125 * 0.2 + 0.7154 * 0.5 + 0.0721 * 0.9,
                                                 rel=1e-15)


def test_matches_scikit_image_rgb2gray_and_drops_alpha():
    from skimage.color import rgb2gray

    rng = np.random.default_rng(0)
    img = rng.random((7, 9, 3))
    np.testing.assert_allclose(rgb_to_luminance(img), rgb2gray(img), rtol=1e-12)
    rgba = np.concatenate([img, rng.random((7, 9, 1))], axis=-1)
    np.testing.assert_array_equal(rgb_to_luminance(rgba), rgb_to_luminance(img))
    u8 = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    out = rgb_to_luminance(u8)  # units kept: uint8 gives [0, 255]
    assert out.dtype == np.float64 and out.shape == (4, 5)
    np.testing.assert_allclose(out, 255 * rgb2gray(u8), rtol=1e-12)
    gray = np.repeat(rng.random((3, 4, 1)), 3, axis=-1)  # R = G = B
    np.testing.assert_allclose(rgb_to_luminance(gray), gray[..., 0], rtol=1e-12)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="frames"):
        rgb_to_luminance(np.zeros((4, 5)), name="frames")
    with pytest.raises(ValueError, match="image"):
        rgb_to_luminance(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="image"):
        rgb_to_luminance(np.ones((2, 3), dtype=bool))


def test_training_data_and_movies_use_the_same_rule():
    from neurofond.fond.data import _to_gray
    from neurofond.stimuli import movie_from_image

    rng = np.random.default_rng(1)
    rgb = rng.random((24, 24, 3))
    np.testing.assert_array_equal(_to_gray(rgb), rgb_to_luminance(rgb))
    path = np.zeros((1, 2))
    movie = movie_from_image(rgb, path, window_px=24, frame_rate_hz=10.0)
    np.testing.assert_allclose(movie.frames[0, 0], rgb_to_luminance(rgb), rtol=1e-6)  # float32
