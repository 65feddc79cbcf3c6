"""Benchmark: the comparison engine's fit, shared work vs the previous per-candidate path.

One recorded Ecker 2010 session (default 7: 22 units, 14 conditions) and the shipped iP-VAE
at one contrast gain. Both paths start from the same simulated trial-mean rates and score the
same grid of time scales x delays in the full settings (10-ms bins, K outer folds = the
number of orientations, 5 inner folds):

- **previous** (the engine before issue 13's speed work): per grid point, the full K = 512
  features through :func:`neurofond.compare.scores.predictivity` (cross-validated ridge,
  one eigendecomposition per outer and inner fit); its selection was not nested;
- **shared** (now): the model responses reduced once to their leading 32 PCs, then per grid
  point :class:`neurofond.compare.nested.NestedRidge` (per-condition statistics, one
  batched eigendecomposition for every inner split of every outer fold), which does *more*
  (a nested selection per fold).

Also reported: the simulated chain-steps of the full 17-session run (previous: every session
x gain, 20 trials, property spikes per session at the finest step; now: every distinct
grating once, 4 trials, property spikes per distinct condition set at the fitted step).
Timings are wall times on whatever the machine is doing (state its load).

Usage::

    python benchmarks/bench_compare.py [--session 7] [--grid-points 10] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from neurofond._files import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--session", type=int, default=7)
    parser.add_argument("--grid-points", type=int, default=10,
                        help="time scale x delay settings timed (of the 36 per gain)")
    parser.add_argument("--model", default="ipvae-k512-b24-photos")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    from threadpoolctl import threadpool_limits

    from neurofond import compare
    from neurofond.compare.nested import NestedRidge, fold_plan, reduce_features
    from neurofond.compare.protocol import DELAYS_MS, MS_GRID
    from neurofond.compare.scores import predictivity
    from neurofond.pretrained import CheckpointInfo

    args = parse_args(argv)
    sess = compare.load_sessions([args.session])[0]
    params = compare.stimulus_parameters()
    cand = compare.VAECandidate(CheckpointInfo.from_spec(args.model), patch_size_deg=1.0,
                                device="cpu")
    steps = cand.steps(max(DELAYS_MS))
    stim = compare.render_conditions(sess.orientation, sess.contrast, params)
    t0 = time.perf_counter()
    rates = cand.simulate(stim, steps, 4, args.seed, spikes=False).astype(np.float64)
    t_sim = time.perf_counter() - t0
    grid = [(m, d) for m in MS_GRID for d in DELAYS_MS]
    grid = grid[:: max(1, len(grid) // args.grid_points)]
    grid = grid[: args.grid_points]
    edges = np.arange(0.0, 500.0 + 1e-9, 10.0)
    y = np.nanmean(sess.binned(10.0), axis=0)  # (cond, unit, bin)
    n_folds, inner = sess.n_orientations, 5
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        old = []
        for m, d in grid:
            x = rates @ compare.resample_matrix(steps, m, d, edges).T
            old.append(float(predictivity(x, y, sess.contrast, n_folds=n_folds,
                                          seed=args.seed, inner_folds=inner)["score"]))
        t_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        red, kept = reduce_features(rates, 32)
        ridge = NestedRidge(y.transpose(0, 2, 1),
                            fold_plan(sess.contrast, n_folds, inner, args.seed))
        from neurofond.compare.engine import design

        new = []
        for m, d in grid:
            scores, _ = ridge.inner_scores(design(red, steps, m, d, edges, False))
            new.append(float(np.nanmean(scores)))
        t_new = time.perf_counter() - t0
    # simulated chain-steps of the full run (17 sessions, 3 gains, 5 distinct condition
    # sets with 78 conditions; 8 contrasts x gains 1, 0.3, 0.1 give 19 distinct contrasts)
    n_steps = steps.size
    prev_chain = 17 * 3 * 16 * 20 * n_steps + 17 * 16 * 40 * n_steps
    sessions = compare.load_sessions(range(17))
    shown = {(o, round(c * g, 9)) for s in sessions for g in (1.0, 0.3, 0.1)
             for o, c in zip(s.orientation, s.contrast)}
    fitted_steps = cand.steps(max(DELAYS_MS), 10.0).size
    now_chain = len(shown) * 4 * n_steps + 78 * 40 * fitted_steps + 600 * 4
    res = {
        "session": args.session, "model": args.model, "n_units": sess.n_units,
        "n_conditions": int(sess.orientation.size), "grid_points": len(grid),
        "simulate_seconds": t_sim, "previous_seconds": t_old, "shared_seconds": t_new,
        "speedup": t_old / t_new, "per_grid_point_previous_s": t_old / len(grid),
        "per_grid_point_shared_s": t_new / len(grid), "variance_kept_32_pcs": kept,
        "previous_scores": old, "shared_inner_scores": new,
        "chain_steps_full_run": {"previous": prev_chain, "shared": now_chain,
                                 "ratio": prev_chain / now_chain,
                                 "distinct_gratings": len(shown)},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()},
    }
    print(f"fit, {len(grid)} grid points x session {args.session}: previous {t_old:.1f} s, "
          f"shared (nested, more work) {t_new:.1f} s, speed-up {t_old / t_new:.1f}x; "
          f"simulated chain-steps of the full run {prev_chain:.3g} -> {now_chain:.3g} "
          f"({prev_chain / now_chain:.1f}x); load {os.getloadavg()[0]:.1f}")
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "bench_compare.json", res)
    return res


if __name__ == "__main__":
    main()
