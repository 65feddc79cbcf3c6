"""Benchmark: noise correlations (r_sc) on count arrays vs elephant's correlation_coefficient.

Synthetic counts (seeded) for N neurons x T trials x C conditions (default 10^3 x 100 x 100;
Poisson counts at condition-dependent rates plus a shared Poisson term, so pairs are
correlated) are analysed twice:

- neurofond: ``noise_correlations(responses)`` (one 500 ms counting bin per trial; per
  condition on z-scored counts, averaged over conditions) on the whole array, and on the
  first ``--elephant-neurons`` neurons;
- elephant: for each condition, the counts of those neurons across trials as a
  ``BinnedSpikeTrain`` (neuron x trial "bins", built from the count array) and
  ``elephant.spike_train_correlation.correlation_coefficient``, averaged over conditions
  (equal trial counts, so trial and equal weights coincide).

The script asserts that both give the same matrix (to 1e-12) on the subset, and writes the
times, the ratio and the versions to ``--out`` (JSON).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_correlations.py \
        --out benchmarks/results/bench_correlations.json
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from neurofond._files import atomic_write_json


def make_counts(n_neurons: int, n_trials: int, n_cond: int, seed: int) -> np.ndarray:
    """uint16 counts (trial, condition, neuron, 1): Poisson(lam_cn) + shared Poisson(1)."""
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.5, 10.0, (1, n_cond, n_neurons))
    shared = rng.poisson(1.0, (n_trials, n_cond, 1))
    counts = rng.poisson(lam, (n_trials, n_cond, n_neurons)) + shared
    return counts.astype(np.uint16)[..., None]


def time_neurofond(responses, repeats: int) -> tuple[np.ndarray, float]:
    from neurofond.analysis import noise_correlations

    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        nc = noise_correlations(responses, min_trials=2)
        best = min(best, time.perf_counter() - t0)
    return np.asarray(nc["r_sc"].values), best


def time_elephant(counts: np.ndarray, n_sub: int) -> tuple[np.ndarray, float, float]:
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain
    from elephant.spike_train_correlation import correlation_coefficient

    n_cond = counts.shape[1]
    total = np.zeros((n_sub, n_sub))
    t_build = t_corr = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantities 'copy' deprecation
        for c in range(n_cond):
            x = np.ascontiguousarray(counts[:, c, :n_sub, 0].T.astype(np.int64))
            t0 = time.perf_counter()
            bst = BinnedSpikeTrain(x, bin_size=500 * pq.ms, t_start=0 * pq.ms)
            t1 = time.perf_counter()
            total += correlation_coefficient(bst)
            t2 = time.perf_counter()
            t_build += t1 - t0
            t_corr += t2 - t1
    return total / n_cond, t_build, t_corr


def uptime() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unavailable"


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the figures")
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--conditions", type=int, default=100)
    parser.add_argument("--elephant-neurons", type=int, default=200,
                        help="neurons compared with (and timed on) elephant")
    parser.add_argument("--repeats", type=int, default=3, help="best-of repeats (neurofond)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    n_sub = min(args.elephant_neurons, args.neurons)

    import elephant

    from neurofond.responses import make_responses

    load_before = uptime()
    t0 = time.perf_counter()
    counts = make_counts(args.neurons, args.trials, args.conditions, args.seed)
    responses = make_responses(counts, bin_ms=500.0, source="synthetic:poisson+shared")
    t_gen = time.perf_counter() - t0

    r_full, t_full = time_neurofond(responses, args.repeats)
    r_sub, t_sub = time_neurofond(responses.isel(neuron=slice(0, n_sub)), args.repeats)
    r_el, t_build, t_corr = time_elephant(counts, n_sub)
    max_diff = float(np.max(np.abs(r_sub - r_el)))
    max_diff_full = float(np.max(np.abs(r_full[:n_sub, :n_sub] - r_el)))
    assert max_diff < 1e-12 and max_diff_full < 1e-12, (max_diff, max_diff_full)
    iu = np.triu_indices(args.neurons, 1)
    result = {
        "shape": {"neurons": args.neurons, "trials": args.trials,
                  "conditions": args.conditions, "dtype": str(counts.dtype)},
        "seed": args.seed,
        "neurofond_s": {"full": t_full, "subset": t_sub,
                        "note": f"best of {args.repeats} runs"},
        "elephant_s": {"neurons": n_sub, "build_binned": t_build,
                       "correlation_coefficient": t_corr, "total": t_build + t_corr,
                       "note": "one BinnedSpikeTrain + correlation_coefficient per condition, "
                               "averaged over conditions"},
        "speed_ratio_subset": {"correlation_only": t_corr / t_sub,
                               "including_binning": (t_build + t_corr) / t_sub},
        "identical": {"max_abs_diff_subset": max_diff, "max_abs_diff_full_vs_subset":
                      max_diff_full, "neurons_compared": n_sub},
        "mean_r_sc_full": float(r_full[iu].mean()),
        "data_generation_s": t_gen,
        "load_average": {"before": load_before, "after": uptime()},
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "elephant": elephant.__version__},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
    }
    print(f"{args.neurons} neurons x {args.trials} trials x {args.conditions} conditions")
    print(f"neurofond noise_correlations: {t_full:.3f} s (full), {t_sub:.4f} s "
          f"({n_sub} neurons)")
    print(f"elephant ({n_sub} neurons, {args.conditions} conditions): correlation_coefficient "
          f"{t_corr:.3f} s + BinnedSpikeTrain {t_build:.3f} s")
    print(f"max |diff| {max_diff:.1e}; ratio {t_corr / t_sub:.1f}x (correlation only), "
          f"{(t_build + t_corr) / t_sub:.1f}x (including binning)")
    print(f"load average before/after: {load_before} / {uptime()}")
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
