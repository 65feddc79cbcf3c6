"""Benchmark: Fano factor + PSTH on count arrays vs elephant's SpikeTrain path.

Synthetic Poisson counts (seeded) for N neurons x T trials x B bins (default 10^4 x 100 x
100 bins of 10 ms, one stimulus) are analysed twice:

- neurofond: ``fano_factor(responses)`` (whole 1 s window) and
  ``psth(responses, units="count")`` on the ``Responses`` array;
- elephant: for each neuron, the T trials as ``neo.SpikeTrain`` objects (spikes placed
  evenly inside their bins), ``elephant.statistics.fanofactor`` and
  ``elephant.statistics.time_histogram(..., output="mean")``.

Elephant is timed on the first ``--elephant-neurons`` neurons only and its time is
extrapolated linearly to N neurons (its cost is one independent call per neuron). The
script checks that both give identical numbers on that subset, prints the speed ratio and
writes the figures to ``--out`` (JSON).

Usage::

    python benchmarks/bench_variability.py --out bench_variability.json
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


def make_counts(n_neurons: int, n_trials: int, n_bins: int, bin_ms: float, seed: int):
    """uint8 Poisson counts (trial, 1, neuron, bin); rates 2-40 spikes/s per neuron."""
    rng = np.random.default_rng(seed)
    rates_hz = rng.uniform(2.0, 40.0, n_neurons)
    counts = np.empty((n_trials, 1, n_neurons, n_bins), dtype=np.uint8)
    chunk = 1000
    for lo in range(0, n_neurons, chunk):
        lam = rates_hz[lo : lo + chunk] * bin_ms / 1000.0
        counts[:, 0, lo : lo + chunk, :] = rng.poisson(
            lam[None, :, None], (n_trials, lam.size, n_bins)
        )
    return counts


def time_neurofond(responses, repeats: int):
    from neurofond.analysis import fano_factor, psth

    best_ff, best_psth = np.inf, np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        ff = fano_factor(responses)
        t1 = time.perf_counter()
        ps = psth(responses, units="count")
        t2 = time.perf_counter()
        best_ff, best_psth = min(best_ff, t1 - t0), min(best_psth, t2 - t1)
    return ff.values[0], ps.values[0], best_ff, best_psth


def time_elephant(counts: np.ndarray, bin_ms: float, n_sub: int):
    import neo
    import quantities as pq
    from elephant.statistics import fanofactor, time_histogram

    from neurofond.conversions.neo_io import spike_times_from_counts

    n_trials, _, _, n_bins = counts.shape
    starts = bin_ms * np.arange(n_bins)
    ends = starts + bin_ms
    t_stop = n_bins * bin_ms * pq.ms
    t_build = t_ff = t_hist = 0.0
    ff = np.empty(n_sub)
    hist = np.empty((n_sub, n_bins))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # quantities 'copy' argument
        for n in range(n_sub):
            t0 = time.perf_counter()
            trains = [
                neo.SpikeTrain(
                    spike_times_from_counts(counts[i, 0, n], starts, ends) * pq.ms,
                    t_start=0 * pq.ms,
                    t_stop=t_stop,
                )
                for i in range(n_trials)
            ]
            t1 = time.perf_counter()
            ff[n] = fanofactor(trains)
            t2 = time.perf_counter()
            h = time_histogram(trains, bin_size=bin_ms * pq.ms, output="mean")
            t3 = time.perf_counter()
            hist[n] = np.asarray(h.magnitude)[:, 0]
            t_build += t1 - t0
            t_ff += t2 - t1
            t_hist += t3 - t2
    return ff, hist, t_build, t_ff, t_hist


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the figures")
    parser.add_argument("--neurons", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--bins", type=int, default=100)
    parser.add_argument("--bin-ms", type=float, default=10.0)
    parser.add_argument(
        "--elephant-neurons",
        type=int,
        default=100,
        help="neurons timed with elephant (extrapolated linearly)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="best-of repeats (neurofond)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    n_sub = min(args.elephant_neurons, args.neurons)

    import elephant
    import neo

    from neurofond.responses import make_responses

    t0 = time.perf_counter()
    counts = make_counts(args.neurons, args.trials, args.bins, args.bin_ms, args.seed)
    responses = make_responses(counts, bin_ms=args.bin_ms, source="synthetic:poisson")
    t_gen = time.perf_counter() - t0

    ff_nf, psth_nf, t_ff_nf, t_psth_nf = time_neurofond(responses, args.repeats)
    ff_el, hist_el, t_build, t_ff_el, t_hist_el = time_elephant(counts, args.bin_ms, n_sub)

    scale = args.neurons / n_sub
    same_ff = bool(np.array_equal(ff_nf[:n_sub], ff_el, equal_nan=True))
    same_psth = bool(np.array_equal(psth_nf[:n_sub], hist_el))
    max_diff_ff = float(np.nanmax(np.abs(ff_nf[:n_sub] - ff_el)))
    max_diff_psth = float(np.max(np.abs(psth_nf[:n_sub] - hist_el)))
    nf_total = t_ff_nf + t_psth_nf
    el_analysis = (t_ff_el + t_hist_el) * scale
    el_with_build = el_analysis + t_build * scale
    result = {
        "shape": {
            "neurons": args.neurons,
            "trials": args.trials,
            "bins": args.bins,
            "bin_ms": args.bin_ms,
            "dtype": str(counts.dtype),
        },
        "seed": args.seed,
        "neurofond_s": {
            "fano_factor": t_ff_nf,
            "psth": t_psth_nf,
            "total": nf_total,
            "note": f"best of {args.repeats} runs on the full array",
        },
        "elephant_s": {
            "neurons_timed": n_sub,
            "build_spiketrains": t_build * scale,
            "fanofactor": t_ff_el * scale,
            "time_histogram": t_hist_el * scale,
            "analysis_total": el_analysis,
            "total_with_build": el_with_build,
            "note": f"timed on {n_sub} neurons, extrapolated linearly x{scale:g}",
        },
        "speed_ratio": {
            "analysis_only": el_analysis / nf_total,
            "including_spiketrain_construction": el_with_build / nf_total,
        },
        "identical": {
            "fano_factor": same_ff,
            "psth_vs_time_histogram_mean": same_psth,
            "max_abs_diff_fano": max_diff_ff,
            "max_abs_diff_psth": max_diff_psth,
            "neurons_compared": n_sub,
        },
        "data_generation_s": t_gen,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "elephant": elephant.__version__,
            "neo": neo.__version__,
        },
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
    }
    print(
        f"{args.neurons} neurons x {args.trials} trials x {args.bins} bins "
        f"({args.bin_ms:g} ms, {counts.dtype})"
    )
    print(f"neurofond  fano {t_ff_nf:.3f} s + psth {t_psth_nf:.3f} s = {nf_total:.3f} s")
    print(
        f"elephant   fanofactor {t_ff_el * scale:.1f} s + time_histogram "
        f"{t_hist_el * scale:.1f} s = {el_analysis:.1f} s (+ {t_build * scale:.1f} s building "
        f"SpikeTrains); timed on {n_sub} neurons, extrapolated x{scale:g}"
    )
    print(f"identical numbers on {n_sub} neurons: fano {same_ff}, psth {same_psth}")
    print(
        f"speed ratio: {result['speed_ratio']['analysis_only']:.0f}x (analysis only), "
        f"{result['speed_ratio']['including_spiketrain_construction']:.0f}x "
        "(including SpikeTrain construction)"
    )
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
