"""Issue 17 item 11: the Brain-Score stimulus cache verifies file contents.

Before the fix the cache trusted the manifest key and file existence: two swapped cached
PNGs were served as they were (the ecker2010-pls raw score moved from 0.298 to -0.0014).
The swap and truncation tests failed on the parent commit (no warning, swapped images
returned).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("brainscore_core")
pytest.importorskip("PIL")

from neurofond.brainscore._testing import grating_stimuli  # noqa: E402
from neurofond.brainscore.stimuli import (  # noqa: E402
    grating_stimulus_set,
    load_image,
    stimulus_set_from_stimuli,
)
from neurofond.stimuli import ScreenGeometry  # noqa: E402


def _images(stimulus_set) -> list[np.ndarray]:
    return [load_image(stimulus_set.get_stimulus(sid)) for sid in stimulus_set["stimulus_id"]]


def test_manifest_records_sha256_of_every_file(tmp_path):
    ss = stimulus_set_from_stimuli(grating_stimuli(), tmp_path, "t")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(manifest["sha256"]) == sorted(ss["filename"])
    assert all(len(h) == 64 for h in manifest["sha256"].values())


def test_swapped_pngs_are_detected_and_rebuilt(tmp_path):
    stim = grating_stimuli()
    ss = stimulus_set_from_stimuli(stim, tmp_path, "t")
    good = _images(ss)
    a, b = tmp_path / ss["filename"][0], tmp_path / ss["filename"][1]
    assert not np.array_equal(good[0], good[1])
    tmp = tmp_path / "swap"
    os.replace(a, tmp)
    os.replace(b, a)
    os.replace(tmp, b)
    with pytest.warns(RuntimeWarning, match=r"stimulus cache .*00000\.png, 00001\.png.*rebuild"):
        again = stimulus_set_from_stimuli(stim, tmp_path, "t")
    assert again.identifier == ss.identifier
    for x, y in zip(_images(again), good):
        np.testing.assert_array_equal(x, y)


def test_truncated_or_missing_png_is_rebuilt(tmp_path):
    stim = grating_stimuli()
    ss = stimulus_set_from_stimuli(stim, tmp_path, "t")
    good = _images(ss)
    (tmp_path / ss["filename"][2]).write_bytes(b"\x89PNG")
    (tmp_path / ss["filename"][3]).unlink()
    with pytest.warns(RuntimeWarning, match="00002.png, 00003.png"):
        again = stimulus_set_from_stimuli(stim, tmp_path, "t")
    for x, y in zip(_images(again), good):
        np.testing.assert_array_equal(x, y)


def test_manifest_without_hashes_is_rebuilt_and_a_good_cache_is_reused(tmp_path):
    geometry = ScreenGeometry(pixels_per_degree=8.0, size_px=(16, 16))
    params = {"orientation": np.array([0.0, 90.0]), "sf": np.array([1.0, 1.0]),
              "phase": np.zeros(2), "contrast": np.ones(2)}
    grating_stimulus_set(params, geometry, tmp_path, "g")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    old_format = {"key": manifest["key"], "n": manifest["n"]}  # as written before hashes
    (tmp_path / "manifest.json").write_text(json.dumps(old_format))
    grating_stimulus_set(params, geometry, tmp_path, "g")
    assert "sha256" in json.loads((tmp_path / "manifest.json").read_text())
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grating_stimulus_set(params, geometry, tmp_path, "g")  # verified, not rewritten
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_a_cache_that_cannot_be_rebuilt_is_reported_with_its_path(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write into read-only folders")
    stim = grating_stimuli()
    ss = stimulus_set_from_stimuli(stim, tmp_path, "t")
    (tmp_path / ss["filename"][0]).write_bytes(b"x")
    tmp_path.chmod(0o555)
    try:
        with pytest.warns(RuntimeWarning), pytest.raises(OSError, match=str(tmp_path)):
            stimulus_set_from_stimuli(stim, tmp_path, "t")
    finally:
        tmp_path.chmod(0o755)
