"""Tests for neurofond.stimuli.geometry."""

import numpy as np
import pytest

from neurofond.stimuli import ScreenGeometry


def test_conversions_and_size():
    g = ScreenGeometry.from_size_deg(12.0, 672)
    assert g.pixels_per_degree == 56.0
    assert g.size_px == (672, 672)
    assert g.size_deg == (12.0, 12.0)
    assert g.deg_to_px(0.5) == 28.0
    assert g.px_to_deg(28) == 0.5
    assert g.nyquist_cpd == 28.0
    np.testing.assert_allclose(g.px_to_deg(g.deg_to_px(np.array([0.1, 3.0]))), [0.1, 3.0])


def test_rectangular_grid_is_centred():
    g = ScreenGeometry(pixels_per_degree=4.0, size_px=(3, 4))
    x, y = g.grid_deg()
    assert x.shape == y.shape == (3, 4)
    np.testing.assert_allclose(x[0], [-0.375, -0.125, 0.125, 0.375])
    np.testing.assert_allclose(y[:, 0], [-0.25, 0.0, 0.25])
    assert np.all(np.diff(y[:, 0]) > 0)  # y grows downwards (row order)
    assert g.size_deg == (0.75, 1.0)


def test_with_size_px_keeps_degrees():
    g = ScreenGeometry.from_size_deg(12.0, 672).with_size_px(64)
    assert g.size_deg[1] == pytest.approx(12.0)
    assert g.pixels_per_degree == pytest.approx(64 / 12)


@pytest.mark.parametrize("ppd", [0, -1.0, float("nan"), float("inf"), "10"])
def test_bad_pixels_per_degree(ppd):
    with pytest.raises(ValueError, match="pixels_per_degree"):
        ScreenGeometry(ppd, 10)


@pytest.mark.parametrize("size", [0, -3, (10, 0), (1, 2, 3), 2.5, True])
def test_bad_size(size):
    with pytest.raises(ValueError, match="size_px"):
        ScreenGeometry(10.0, size)


def test_bad_center_and_size_deg():
    g = ScreenGeometry(10.0, 8)
    with pytest.raises(ValueError, match="center_deg"):
        g.radius_deg((0.0, float("nan")))
    with pytest.raises(ValueError, match="size_deg"):
        ScreenGeometry.from_size_deg(0.0, 8)
