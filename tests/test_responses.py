"""Responses: the lazy package face, the time index, stimulus selection and the Window rule."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from neurofond.responses import (
    Window,
    make_responses,
    select_stimuli,
    validate_responses,
    window_bins,
)


def _resp(n_time: int = 20, t0: float = -50.0, bin_ms: float = 10.0):
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, size=(3, 6, 4, n_time))
    return make_responses(
        counts, bin_ms=bin_ms, time_start_ms=t0,
        stimulus_coords={"orientation": [0.0, 0.0, 45.0, 45.0, 90.0, 90.0],
                         "contrast": [0.1, 1.0, 0.1, 1.0, 0.1, 1.0],
                         "kind": ["a", "b", "a", "b", "a", "b"]},
    )


# ------------------------------------------------------------------------------ lazy face


def _assert_runs_clean(code: str) -> None:
    """Run ``code`` in a fresh interpreter without OMP_WAIT_POLICY set; it must exit 0."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr


def test_torch_free_layers_import_without_torch_or_environment_changes():
    code = (
        "import os, sys, xarray\n"
        "before = dict(os.environ)\n"
        "import neurofond, neurofond.analysis, neurofond.responses, neurofond.recordings\n"
        "import neurofond.stimuli, neurofond.conversions\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "keys = set(before) | set(os.environ)\n"
        "changed = {k for k in keys if before.get(k) != os.environ.get(k)}\n"
        "assert not changed, changed\n"
        "assert callable(neurofond.make_responses) and 'torch' not in sys.modules\n"
    )
    _assert_runs_clean(code)


def test_model_side_of_the_face_loads_on_demand_and_sets_the_omp_policy():
    code = (
        "import os, sys, neurofond\n"
        "assert 'OMP_WAIT_POLICY' not in os.environ\n"
        "pop_cls = neurofond.InSilicoPopulation\n"
        "assert 'torch' in sys.modules and os.environ['OMP_WAIT_POLICY'] == 'PASSIVE'\n"
        "assert pop_cls.__name__ == 'InSilicoPopulation'\n"
    )
    _assert_runs_clean(code)


def test_unknown_attribute_of_the_face_raises_attribute_error():
    import neurofond

    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        neurofond.not_there  # noqa: B018


# ------------------------------------------------------------------------------ time index


def test_time_is_indexed_by_bin_start_in_ms():
    resp = _resp()
    np.testing.assert_allclose(resp["time"].values, resp["time_start_ms"].values)
    sub = resp.sel(time=slice(0, 100))
    np.testing.assert_allclose(sub["time_start_ms"].values, np.arange(0, 101, 10))
    assert sub.sizes["time"] == 11
    one = resp.sel(time=20.0)
    np.testing.assert_array_equal(one.values, resp.isel(time=7).values)


def test_validate_refuses_responses_without_time_edges():
    resp = _resp().drop_vars("time_end_ms")
    with pytest.raises(ValueError, match="time_end_ms"):
        validate_responses(resp)


# ------------------------------------------------------------------------------ stimuli


def test_select_stimuli_by_scalar_list_slice_and_string():
    resp = _resp()
    assert select_stimuli(resp, orientation=45).stimulus_id.values.tolist() == [2, 3]
    assert select_stimuli(resp, orientation=45.0 + 1e-12).stimulus_id.values.tolist() == [2, 3]
    assert select_stimuli(resp, orientation=[0, 90], contrast=1.0).stimulus_id.values.tolist() \
        == [1, 5]
    assert select_stimuli(resp, orientation=slice(40, None)).stimulus_id.values.tolist() \
        == [2, 3, 4, 5]
    assert select_stimuli(resp, kind="a").stimulus_id.values.tolist() == [0, 2, 4]
    np.testing.assert_array_equal(select_stimuli(resp, orientation=90).values,
                                  resp.isel(stimulus=[4, 5]).values)


def test_select_stimuli_errors_name_the_problem():
    resp = _resp()
    with pytest.raises(ValueError, match="unknown stimulus coordinate 'sf'.*orientation"):
        select_stimuli(resp, sf=2.0)
    with pytest.raises(ValueError, match="selects no stimulus"):
        select_stimuli(resp, orientation=30)
    with pytest.raises(ValueError, match="'kind' holds"):
        select_stimuli(resp, kind=3)


def test_select_stimuli_on_recorded_ecker_data(shared_data_dir):
    from neurofond.recordings import load_ecker2010

    path = shared_data_dir / "ecker2010_v1_gratings" / "data_v1_binned_static.mat"
    if not path.is_file():
        pytest.skip(f"Ecker 2010 static release not found at {path}")
    resp = load_ecker2010(path, session=[0])[0]
    ori = float(np.unique(resp["orientation"].values)[1])
    sub = select_stimuli(resp, orientation=ori)
    assert sub.sizes["stimulus"] >= 1
    np.testing.assert_allclose(sub["orientation"].values, ori)
    mask = np.isclose(resp["orientation"].values, ori)
    np.testing.assert_array_equal(np.nan_to_num(sub.values, nan=-1),
                                  np.nan_to_num(resp.values[:, mask], nan=-1))
    # the recorded time axis is indexed in ms too: the stimulus period starts at 0 ms
    assert resp.sel(time=slice(0, 490)).sizes["time"] == 50


# ------------------------------------------------------------------------------ Window


def test_window_selects_whole_bins_inside():
    resp = _resp()
    assert Window(0, 30).bins(resp).tolist() == [5, 6, 7]
    assert window_bins(resp, (0, 30)).tolist() == [5, 6, 7]
    assert window_bins(resp, None).tolist() == list(range(20))
    expected = resp.values[..., 5:8].sum(axis=-1)
    np.testing.assert_array_equal(Window(0, 30).counts(resp), expected)
    np.testing.assert_allclose(Window(0, 30).rates(resp), expected / 0.030)
    assert Window(0, 30).covered_ms(resp) == 30.0
    np.testing.assert_array_equal(Window(0, 30).select(resp).values, resp.values[..., 5:8])


def test_window_edge_cutting_a_bin_is_an_error():
    resp = _resp()
    with pytest.raises(ValueError, match=r"window_ms: the edge 5 ms cuts the bin \[0, 10\) ms"):
        Window(5, 55).bins(resp)
    with pytest.raises(ValueError, match="search_window_ms: the edge 55 ms"):
        window_bins(resp, (0, 55), "search_window_ms")


def test_window_bad_values_and_outside_range():
    resp = _resp()
    with pytest.raises(ValueError, match="outside the time range"):
        Window(0, 500).bins(resp)
    with pytest.raises(ValueError, match="start_ms < end_ms"):
        Window(30, 10)
    with pytest.raises(ValueError, match="finite"):
        Window(0, float("nan"))
    with pytest.raises(ValueError, match=r"window_ms: expected \(start_ms, end_ms\)"):
        Window.parse((0, 10, 20))
    with pytest.raises(ValueError, match="window start_ms: expected a number"):
        Window("0", 10)


def test_window_on_uneven_bins_counts_their_real_duration():
    counts = np.ones((1, 1, 1, 3))
    resp = make_responses(counts, bin_ms=10, time_start_ms=[0.0, 10.0, 30.0])
    # bins [0,10), [10,20), [30,40): a window (0, 40) holds all three, 30 ms of bins
    assert Window(0, 40).covered_ms(resp) == 30.0
    np.testing.assert_allclose(Window(0, 40).rates(resp), 3 / 0.030)


def test_cli_parser_builds_without_torch():
    code = (
        "import sys\n"
        "from neurofond.cli import build_parser\n"
        "build_parser()\n"
        "assert 'torch' not in sys.modules\n"
    )
    _assert_runs_clean(code)


def test_signed_activations_are_built_and_validated_through_make_responses():
    from neurofond.responses import holds_spike_counts, is_signed

    acts = np.array([-1.5, 0.0, 2.0, -0.25]).reshape(1, 1, 1, 4)
    resp = make_responses(acts, bin_ms=10, units="a.u. per step", signed=True)
    assert is_signed(resp) and not holds_spike_counts(resp)
    assert resp.attrs["units"] == "a.u. per step"
    validate_responses(resp)
    with pytest.raises(ValueError, match="negative spike counts"):
        make_responses(acts, bin_ms=10)
    with pytest.raises(ValueError, match="signed: spike counts cannot be negative"):
        make_responses(acts, bin_ms=10, signed=True)
    with pytest.raises(ValueError, match=r"attrs\['units'\].*contradicts"):
        make_responses(np.ones((1, 1, 1, 1)), bin_ms=10, attrs={"units": "Hz"})
    # a counts array relabelled as signed later is still checked as counts when unsigned
    unsigned = resp.copy()
    del unsigned.attrs["signed"]
    with pytest.raises(ValueError, match="negative spike counts"):
        validate_responses(unsigned)


def test_atomic_directory_replaces_whole_folders_or_nothing(tmp_path):
    from neurofond._files import atomic_directory

    out = tmp_path / "results"
    with atomic_directory(out) as tmp:
        (tmp / "a.txt").write_text("first")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_directory(out) as tmp:
            (tmp / "b.txt").write_text("second")
            raise RuntimeError("boom")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no leftovers
    with atomic_directory(out) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]  # old files gone, not mixed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
