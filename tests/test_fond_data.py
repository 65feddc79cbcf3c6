"""Natural-image preprocessing: whitening, contrast normalisation, patches, splits."""

import numpy as np
import pytest

from neurofond.fond.data import (
    bundled_images,
    extract_patches,
    load_images,
    local_contrast_normalize,
    make_patch_data,
    whiten,
)


def _pink_noise(n=256, seed=0):
    rng = np.random.default_rng(seed)
    f = np.sqrt(np.fft.fftfreq(n)[:, None] ** 2 + np.fft.fftfreq(n)[None] ** 2)
    f[0, 0] = 1
    spectrum = np.fft.fft2(rng.standard_normal((n, n))) / f
    return np.real(np.fft.ifft2(spectrum))


def _radial_power(img, bands):
    n = img.shape[0]
    f = np.sqrt(np.fft.fftfreq(n)[:, None] ** 2 + np.fft.fftfreq(n)[None] ** 2)
    p = np.abs(np.fft.fft2(img)) ** 2
    return np.array([p[(f >= lo) & (f < hi)].mean() for lo, hi in bands])


def test_whitening_flattens_a_one_over_f_spectrum():
    img = _pink_noise()
    bands = [(0.02, 0.04), (0.05, 0.08), (0.1, 0.15)]
    before = _radial_power(img, bands)
    after = _radial_power(whiten(img, f0=0.4), bands)
    assert before[0] / before[2] > 10  # 1/f^2 power falls ~14x over these bands
    assert 0.5 < after[0] / after[2] < 2.0  # flat after whitening
    assert abs(whiten(img).mean()) < 1e-10
    with pytest.raises(ValueError, match="f0"):
        whiten(img, f0=0.9)


def test_lcn_equalises_contrast_and_keeps_flat_regions_flat():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((64, 128))
    img[:, 64:] *= 10.0
    out = local_contrast_normalize(img)
    left, right = out[8:-8, 8:56].std(), out[8:-8, 72:-8].std()
    # high contrast is normalised to ~1; low contrast is divided by the mean local std (~5.5),
    # never amplified
    assert 0.85 < right < 1.15
    assert 0.1 < left < 0.3
    flat = np.zeros((40, 40))
    flat[:, 20:] = rng.standard_normal((40, 20))
    assert np.abs(local_contrast_normalize(flat)[:, :10]).max() == 0.0


def test_patches_are_deterministic_and_filtered():
    images = [np.random.default_rng(i).standard_normal((40, 50)) for i in range(3)]
    images[1][:] = 0.001 * images[1]
    a = extract_patches(images, 8, 500, seed=3)
    b = extract_patches(images, 8, 500, seed=3)
    assert a.shape == (500, 64) and np.array_equal(a, b)
    c = extract_patches(images, 8, 500, seed=3, min_std=0.5)
    assert c.std(1).min() >= 0.5
    with pytest.raises(ValueError, match="min_std"):
        extract_patches(images, 8, 500, seed=3, min_std=50)
    with pytest.raises(ValueError, match="patch_size"):
        extract_patches([np.zeros((4, 4))], 8, 10)


def test_bundled_photos_and_split_by_image():
    imgs = bundled_images(["camera", "china"])
    assert imgs["camera"].shape == (512, 512) and imgs["china"].shape == (427, 640)
    data = make_patch_data(n_train=3000, n_validation=500, seed=0)
    assert data.train.shape == (3000, 256) and data.validation.shape == (500, 256)
    assert set(data.validation_images) == {"chelsea", "flower"}
    assert not set(data.train_images) & set(data.validation_images)
    assert abs(data.train.mean()) < 1e-3 and abs(data.train.std() - 1) < 1e-3
    again = make_patch_data(n_train=3000, n_validation=500, seed=0)
    assert np.array_equal(again.train, data.train)
    assert data.preprocessing.validation_images == ["chelsea", "flower"]
    with pytest.raises(ValueError, match="names"):
        bundled_images(["nonexistent"])


def test_load_images_validates(tmp_path):
    arr = np.random.default_rng(0).standard_normal((3, 32, 32))
    np.save(tmp_path / "imgs.npy", arr)
    assert len(load_images(tmp_path / "imgs.npy")) == 3
    bad = arr.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        load_images(bad)
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="junk.npy"):
        load_images(tmp_path / "junk.npy")
    with pytest.raises(ValueError, match="does not exist"):
        load_images(tmp_path / "missing")
