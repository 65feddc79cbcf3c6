"""Tests for neurofond.stimuli.protocols and the shipped protocols (package data)."""

from pathlib import Path

import numpy as np
import pytest

from neurofond.stimuli import PROTOCOL_DIR, expand_values, list_protocols, load_protocol

SHIPPED = ["contrast_latency", "marques2020_orientation", "natural_movie", "orientation_tuning",
           "sf_tuning"]


def test_shipped_files_exist():
    import neurofond

    # package data: neurofond/data/protocols, not the repository's stimuli/ folder
    assert PROTOCOL_DIR.name == "protocols"
    assert PROTOCOL_DIR.parent == Path(neurofond.__file__).parent / "data"
    assert set(SHIPPED) <= set(list_protocols())
    assert set(SHIPPED) == set(list_protocols(PROTOCOL_DIR))


def test_user_protocol_by_path_and_from_working_directory(tmp_path, monkeypatch):
    text = (PROTOCOL_DIR / "sf_tuning.toml").read_text().replace(
        'name = "sf_tuning"', 'name = "my_sf"')
    (tmp_path / "stimuli").mkdir()
    path = tmp_path / "stimuli" / "my_sf.toml"
    path.write_text(text)
    assert load_protocol(path, render=False).name == "my_sf"
    monkeypatch.chdir(tmp_path)
    assert "my_sf" in list_protocols()
    assert load_protocol("my_sf", render=False).path == path


def test_orientation_tuning():
    stimuli, settings = load_protocol("orientation_tuning")
    assert len(stimuli) == 12 * 3 * 8
    assert np.unique(stimuli.params["orientation"]).tolist() == list(range(0, 180, 15))
    assert settings["n_trials"] == 10 and settings["steps_per_frame"] == 50
    assert settings["ms_per_step"] == 10.0 and settings["blank_steps"] == 20


def test_contrast_latency():
    p = load_protocol("contrast_latency")
    contrasts = np.unique(p.stimuli.params["contrast"])
    assert contrasts.size >= 6
    assert contrasts.min() == pytest.approx(0.02) and contrasts.max() == pytest.approx(1.0)
    np.testing.assert_allclose(np.diff(np.log(contrasts)), np.log(50) / 6)
    rate = 1000.0 / (p.presentation["steps_per_frame"] * p.presentation["ms_per_step"])
    assert p.stimuli.frame_rate_hz == pytest.approx(rate)
    assert len(p.stimuli) == 8 * 2 * contrasts.size
    assert set(p.stimuli.params["kind"]) == {"drifting"}


def test_marques_and_movie_protocols():
    p = load_protocol("marques2020_orientation", size_px=24)
    assert len(p.stimuli) == 1152 and p.stimuli.size_px == (24, 24)
    assert p.stimuli.geometry.size_deg == (12.0, 12.0)
    assert p.presentation["response_window_ms"] == (70.0, 170.0)
    lazy = load_protocol("marques2020_orientation", render=False)
    assert lazy.stimuli is None and lazy.params["sf"].size == 1152
    sf = load_protocol("sf_tuning", render=False)
    assert sf.params["sf"].size == 4 * 8 * 8
    movie = load_protocol("natural_movie")
    assert movie.stimuli.frame_rate_hz == 25.0 and movie.stimuli.frames.shape[1:] == (100, 32, 32)
    again = load_protocol(PROTOCOL_DIR / "natural_movie.toml")
    np.testing.assert_array_equal(movie.stimuli.frames, again.stimuli.frames)


def write(tmp_path, text, name="p.toml"):
    f = tmp_path / name
    f.write_text(text)
    return f


BASE = """
[geometry]
size_px = 8
pixels_per_degree = 4.0
[stimulus]
type = "grating_sweep"
orientations = [0, 90]
{extra}
[presentation]
n_trials = 2
{pres}
"""


def test_custom_file_and_ranges(tmp_path):
    f = write(tmp_path, BASE.format(extra="sfs = {start = 0.5, stop = 2, num = 3, log = true}",
                                    pres=""))
    p = load_protocol(f)
    assert p.name == "p" and len(p.stimuli) == 6
    np.testing.assert_allclose(np.unique(p.stimuli.params["sf"]), [0.5, 1.0, 2.0])
    assert p.presentation["blank_steps"] == 0  # default
    assert expand_values({"start": 0, "stop": 1, "num": 3}, "x") == [0.0, 0.5, 1.0]
    assert expand_values({"start": 0, "stop": 90, "step": 45}, "x") == [0.0, 45.0]


@pytest.mark.parametrize(
    "extra, pres, match",
    [
        ("orientationz = [1]", "", "orientationz"),
        ("", "trials = 3", "trials"),
        ("sfs = {start = 1, stop = 2, nums = 3}", "", "nums"),
        ("contrasts = [2.0]", "", "contrasts"),
        ("n_frames = 4\ntfs = [1.0]\nframe_rate_hz = 30.0", "ms_per_step = 10.0",
         "frame_rate_hz"),
        ("", "ms_per_step = -1.0", "ms_per_step"),
        ("", "response_window_ms = [170, 70]", "response_window_ms"),
    ],
)
def test_bad_keys_and_values(tmp_path, extra, pres, match):
    f = write(tmp_path, BASE.format(extra=extra, pres=pres))
    with pytest.raises(ValueError, match=match):
        load_protocol(f)


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match="path_or_name"):
        load_protocol("no_such_protocol")
    with pytest.raises(ValueError, match="path_or_name"):
        load_protocol(write(tmp_path, "this is = = not toml"))
    with pytest.raises(ValueError, match="stimulus.type"):
        load_protocol(write(tmp_path, "[stimulus]\ntype = 'checkerboard'\n"))
    with pytest.raises(ValueError, match="extra_section"):
        load_protocol(write(tmp_path, "[extra_section]\n[stimulus]\ntype = 'grating_sweep'\n"))
