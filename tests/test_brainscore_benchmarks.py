"""Local Brain-Score benchmarks: synthetic data (always) and Ecker 2010 (marker data).

Brain-Score's own NeuralBenchmark, 'pls' metric, 'internal_consistency' ceiling, Marques2020
property functions and ks_similarity, run offline on local assemblies.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import neurofond.brainscore  # noqa: F401  (environment before brainscore_vision)

pytest.importorskip("brainscore_vision")

from brainscore_vision.benchmark_helpers.neural_common import NeuralBenchmark  # noqa: E402

from neurofond.brainscore import IterativeVAEBrainModel  # noqa: E402
from neurofond.brainscore._testing import (  # noqa: E402
    grating_stimuli,
    has_coord,
    random_gabor_checkpoint,
    synthetic_v1_responses,
)
from neurofond.brainscore.benchmarks import (  # noqa: E402
    ecker2010_assembly,
    ecker2010_orientation_benchmarks,
    ecker2010_pls_benchmark,
    neural_benchmark_from_responses,
    score_benchmarks,
)
from neurofond.brainscore.stimuli import stimulus_set_from_stimuli  # noqa: E402

ECKER_FILE = Path("ecker2010_v1_gratings") / "data_v1_binned_static.mat"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    return {fam: random_gabor_checkpoint(d / f"{fam}-k32.safetensors", family=fam)
            for fam in ("poisson", "gaussian")}


def _model(path, **kw):
    kw.setdefault("transform_gain", 40.0)
    return IterativeVAEBrainModel.from_checkpoint(path, **kw)


def _check_neural_score(row):
    assert -1.0 <= row["raw"] <= 1.0
    assert 0.0 <= row["ceiling"] <= 1.0
    assert math.isclose(row["ceiled"], row["raw"] ** 2 / row["ceiling"], rel_tol=1e-6)


def test_neural_benchmark_on_synthetic_responses(checkpoints, tmp_path):
    stim = grating_stimuli(orientations=np.arange(0, 180, 15), contrasts=(0.5, 1.0))
    stimulus_set = stimulus_set_from_stimuli(stim, tmp_path / "stim", "synthetic_gratings")
    responses = synthetic_v1_responses(stim, n_neurons=10, n_trials=8)
    bench = neural_benchmark_from_responses(
        responses, stimulus_set, identifier="test.synthetic.V1-pls", window_ms=(50, 300),
        visual_degrees=8.0, number_of_trials=2)
    assert isinstance(bench, NeuralBenchmark)
    rep = bench.assembly_repetition
    assert rep.dims == ("presentation", "neuroid") and rep.shape == (24 * 8, 10)
    assert all(has_coord(rep, c) for c in ("repetition", "stimulus_id", "region"))
    assert int(rep["time_bin_start"].values) == 50 and int(rep["time_bin_end"].values) == 300
    assert bench.assembly.shape == (24, 10)
    ceiling = bench.ceiling
    assert bench.ceiling is ceiling  # memoised in memory, not on disk by identifier
    row = score_benchmarks(_model(checkpoints["poisson"], trials="separate"),
                           {bench.identifier: bench})[0]
    _check_neural_score(row)
    assert row["ceiling"] > 0.5  # strongly tuned fake neurons are reliable


# --------------------------------------------------------------------------- Ecker 2010


@pytest.fixture(scope="module")
def ecker_path(shared_data_dir):
    path = shared_data_dir / ECKER_FILE
    if not path.is_file():
        pytest.skip(f"Ecker 2010 data not found at {path}")
    return path


@pytest.fixture(scope="module")
def pls_benchmark(ecker_path):
    return ecker2010_pls_benchmark(ecker_path, number_of_trials=2)


@pytest.mark.data
def test_pls_score_does_not_depend_on_the_blas_thread_count(ecker_path):
    """The PLS regression's result moved by 0.03 between one and two OpenBLAS threads (the
    quick tutorial score 0.592 vs 0.562): scoring pins BLAS to one thread, whatever the
    caller's setting."""
    from threadpoolctl import threadpool_limits

    from neurofond.brainscore.benchmarks import load_local_benchmarks

    model = IterativeVAEBrainModel.from_pretrained("ipvae-k512-b24-photos", trials="average")
    bench = load_local_benchmarks("ecker2010-pls", quick=True)
    raws = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            raws.append(score_benchmarks(model, bench)[0]["raw"])
    assert raws[0] == raws[1]
    assert raws[0] == pytest.approx(0.592, abs=5e-4)  # the tutorial's value (docs/tutorials)


@pytest.mark.data
def test_ecker2010_assembly_layout(ecker_path):
    asm = ecker2010_assembly(ecker_path)
    assert asm.dims == ("presentation", "neuroid")
    for name in ("stimulus_id", "orientation", "contrast", "repetition"):
        assert has_coord(asm, name), name
    for name in ("neuroid_id", "region", "session"):
        assert has_coord(asm, name), name
    assert int(asm["time_bin_start"].values) == 50 and int(asm["time_bin_end"].values) == 500
    assert np.unique(asm["stimulus_id"].values).size == 16
    assert set(np.round(asm["contrast"].values, 6)) == {0.2, 0.5}
    assert set(asm["session"].values) == {12, 13, 14, 15, 16}
    assert asm.sizes["neuroid"] == 53
    assert np.nanmin(asm.values) >= 0


@pytest.mark.data
@pytest.mark.parametrize("family", ["poisson", "gaussian"])
def test_ecker2010_pls_score_with_ceiling(pls_benchmark, checkpoints, family):
    stimulus_set = pls_benchmark.assembly.stimulus_set
    assert len(stimulus_set) == 16 and "contrast" in stimulus_set.columns
    row = score_benchmarks(_model(checkpoints[family]),
                           {pls_benchmark.identifier: pls_benchmark})[0]
    _check_neural_score(row)
    assert row["ceiling"] > 0.5  # recorded units are reliable across repetitions


@pytest.mark.data
def test_ecker2010_orientation_properties(ecker_path, checkpoints, tmp_path):
    benches = ecker2010_orientation_benchmarks(ecker_path, quick=True, number_of_trials=1,
                                               size_px=96, stimulus_dir=tmp_path)
    assert len(benches) == 4
    data = next(iter(benches.values())).data_properties
    assert data.sizes["neuroid"] > 20
    cv = data.sel(neuronal_property="circular_variance").values
    assert np.all((cv >= 0) & (cv <= 1))
    rows = score_benchmarks(_model(checkpoints["poisson"]), benches)
    for row in rows:
        assert 0.0 <= row["raw"] <= 1.0 and 0.0 < row["ceiling"] <= 1.0
        assert math.isclose(row["ceiled"], row["raw"] / row["ceiling"], rel_tol=1e-6)


@pytest.mark.data
def test_cli_score_quick(ecker_path, checkpoints, capsys):
    import argparse
    import json

    from neurofond.brainscore.cli import register_cli

    parser = argparse.ArgumentParser(prog="neurofond")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["score", "--model", str(checkpoints["poisson"]), "--benchmark",
                              "ecker2010-pls", "--quick", "--data", str(ecker_path), "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["scores"]
    assert row["benchmark"] == "neurofond.Ecker2010.V1-pls"
    _check_neural_score(row)


def test_registry_names_loaders_and_no_brainscore_import():
    import subprocess
    import sys

    from neurofond.brainscore import benchmarks, registry
    from neurofond.brainscore.benchmarks.neural import load_ecker2010_pls
    from neurofond.brainscore.benchmarks.orientation import load_ecker2010_orientation

    assert benchmarks.BENCHMARK_NAMES == ("ecker2010-pls", "ecker2010-orientation", "all")
    assert registry.benchmark_loader("ecker2010-pls") is load_ecker2010_pls
    assert registry.benchmark_loader("ecker2010-orientation") is load_ecker2010_orientation
    with pytest.raises(ValueError, match="benchmark"):
        registry.benchmark_loader("all")
    with pytest.raises(ValueError, match="benchmark"):
        benchmarks.load_local_benchmarks("nope")
    code = ("import sys; from neurofond.brainscore.registry import BENCHMARK_NAMES; "
            "from neurofond.recordings.ecker2010 import ECKER2010_STIMULUS; "
            "assert 'brainscore_vision' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_ecker2010_stimulus_facts_live_beside_the_reader():
    from neurofond.brainscore.benchmarks import ECKER2010_STIMULUS
    from neurofond.recordings.ecker2010 import ECKER2010_STIMULUS as facts

    assert ECKER2010_STIMULUS is facts
    assert facts == {"sf_cpd": 3.0, "phase_deg": 0.0, "size_deg": 8.0, "size_px": 256,
                     "mean": 0.5}


def test_assembly_window_is_the_one_window_rule():
    from neurofond.brainscore.benchmarks import responses_to_assembly
    from neurofond.responses import Window

    stim = grating_stimuli(orientations=np.arange(0, 180, 45), contrasts=(1.0,))
    resp = synthetic_v1_responses(stim, n_neurons=3, n_trials=2)  # 10 ms bins, -100..300 ms
    asm = responses_to_assembly(resp, (50, 300))
    rates = Window(50, 300).rates(resp)  # trial, stimulus, neuron
    np.testing.assert_allclose(asm.values, rates.transpose(1, 0, 2).reshape(-1, 3))
    assert float(asm["time_bin_start"]) == 50 and float(asm["time_bin_end"]) == 300
    with pytest.raises(ValueError, match="cuts the bin"):
        responses_to_assembly(resp, (55, 300))
