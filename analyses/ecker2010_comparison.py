"""Model neurons vs recorded macaque V1 units on the Ecker et al. (2010) static gratings.

The command line of the comparison engine :func:`neurofond.compare.compare_ecker2010`: every
candidate (iP-VAE, iG-VAE, iGrelu-VAE checkpoints and the :mod:`neurofond.models` baselines,
Gabor energy, pixel/PCA, LCA sparse coding and the stimulus-parameter floor) is shown the
gratings of each recording session and compared with the recorded units - time-resolved PSTH
predictivity (time scale, delay and contrast gain selected inside the training folds;
ridge cross-validated over conditions, ceiled by split-half
reliability) and single-unit property distributions (circular variance, Fano factor,
contrast-dependent latency shift; KS similarity). The protocol, its assumptions and caveats
are documented in :mod:`neurofond.compare`.

Outputs in ``--out`` (written atomically):
``ecker2010_comparison.csv`` (one row per model x session, plus one ``session = all`` row
per model: medians over sessions for the predictivity columns, KS on the units pooled over
sessions), ``ecker2010_comparison.json`` (the table, the fitted time scales, the winner,
settings, assumptions, skipped models), ``ecker2010_units.csv`` (per-unit r and
reliability), ``ecker2010_properties.csv`` (property values of every unit / neuron),
``ecker2010_fit_grid.csv`` (median inner-CV score per setting over session folds), figures
``ecker2010_predictivity.png``, ``ecker2010_properties.png`` and ``ecker2010_fit_grid.png``.

    python analyses/ecker2010_comparison.py --out results/ecker2010
    python analyses/ecker2010_comparison.py --out results/ecker2010_full --full
    python analyses/ecker2010_comparison.py --models igvae-k512-b8-photos gabor-energy \\
        --sessions 12 13

Data licence: CC BY-NC-ND 3.0 (do not redistribute the data or arrays derived from them;
the outputs here are summary statistics).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurofond import _scripts as common
from neurofond.compare import BASELINES, PROPERTIES, REQUIRED_COLUMNS, compare_ecker2010, gather
from neurofond.compare.protocol import CONTRAST_GAINS, MS_GRID, QUICK_SESSIONS


def run(out: str | Path, models: Sequence[str] | None = None,
        sessions: Sequence[int] | None = None, **settings: Any) -> dict[str, Any]:
    """Compare candidates with the Ecker 2010 units and write the outputs to ``out``.

    ``models``, ``sessions`` and the keyword ``settings`` (``quick``, ``seed``, ``n_trials``,
    ``bin_ms``, ``ms_grid``, ``delays_ms``, ``contrast_gains``, ``n_folds``, ``n_bootstrap``,
    ``data_path``, ``progress``, ``blas_threads`` ...) are those of
    :func:`neurofond.compare.compare_ecker2010`. Returns what ``ecker2010_comparison.json``
    holds.
    """
    t_start = time.perf_counter()
    out = common.out_dir(out)
    comp = compare_ecker2010(models, sessions, **settings)
    rows, results = comp.rows, comp.results
    columns = list(REQUIRED_COLUMNS) + [k for k in rows[0] if k not in REQUIRED_COLUMNS]
    common.write_csv(out / "ecker2010_comparison.csv", rows, columns)
    common.write_csv(out / "ecker2010_units.csv", comp.unit_rows)
    common.write_csv(out / "ecker2010_properties.csv", comp.prop_rows)
    common.write_csv(out / "ecker2010_fit_grid.csv", comp.grid_rows)
    figure_predictivity(rows, comp.fits, out / "ecker2010_predictivity.png")
    figure_properties(comp.sessions, comp.data_props, comp.model_props, comp.fits,
                      out / "ecker2010_properties.png")
    figure_grid(comp.grid_rows, comp.fits, out / "ecker2010_fit_grid.png")
    results["seconds"] = time.perf_counter() - t_start
    common.write_json(out / "ecker2010_comparison.json", results)
    return results


# --------------------------------------------------------------------------- figures


def _colors(keys: Sequence[str]) -> dict[str, str]:
    return {k: f"C{i % 10}" for i, k in enumerate(keys)}


def figure_predictivity(rows, fits, path: Path) -> Path:
    plt = common.pyplot()
    keys = list(fits)
    col = _colors(keys)
    summary = {r["model"]: r for r in rows if r["session"] == "all"}
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(keys) + 4), 4.2))
    for ax, key_col, title in ((axes[0], "predictivity_ceiled",
                                "ceiled predictivity (r$^2$ / ceiling)"),
                               (axes[1], "predictivity_raw", "raw predictivity (median r)")):
        for i, k in enumerate(keys):
            v = summary[k][key_col]
            ax.bar(i, 0 if not np.isfinite(v) else v, color=col[k], alpha=0.8)
            pts = [r[key_col] for r in rows if r["model"] == k and r["session"] != "all"]
            ax.scatter(i + np.linspace(-0.2, 0.2, max(1, len(pts))), pts, s=12, color="k",
                       zorder=3)
        if key_col == "predictivity_raw":
            c = [r["ceiling"] for r in rows if r["session"] == "all"]
            if c and np.isfinite(c[0]):
                ax.axhline(math.sqrt(c[0]), color="gray", ls="--", lw=1,
                           label="sqrt(median ceiling)")
                ax.legend(fontsize=7)
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([f"{k}\n{fits[k]['ms_per_step']:g} ms/step, +{fits[k]['delay_ms']:g} "
                            f"ms, gain {fits[k]['contrast_gain']:g}" for k in keys], fontsize=7,
                           rotation=20, ha="right")
        ax.set_title(title + " (bar: median over sessions; dots: sessions)", fontsize=9)
        ax.axhline(0, color="k", lw=0.6)
    fig.suptitle("Ecker et al. 2010 V1 units: time-resolved PSTH predictivity", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def figure_properties(data, data_props, model_props, fits, path: Path) -> Path:
    plt = common.pyplot()
    idx = [s.index for s in data]
    d = gather(data_props, idx)
    keys = list(model_props)
    col = _colors(list(fits))
    shown = [("cv", "circular variance (high contrast)"), ("fano", "Fano factor (0-500 ms)"),
             ("latency", "onset latency shift low - high contrast (ms)")]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, (short, title) in zip(axes, shown):
        prop, bins = PROPERTIES[short]
        dv = d[prop][np.isfinite(d[prop])]
        if dv.size:
            ax.hist(np.clip(dv, bins[0], bins[-1]), bins=bins, density=True, color="0.6",
                    alpha=0.6, label=f"data (n={dv.size})")
        for k in keys:
            mv = gather(model_props[k], idx)[prop]
            mv = mv[np.isfinite(mv)]
            if mv.size:
                h, _ = np.histogram(np.clip(mv, bins[0], bins[-1]), bins=bins, density=True)
                ax.stairs(h, bins, color=col[k], lw=1.5, label=f"{k} (n={mv.size})")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("density")
        ax.legend(fontsize=6)
    fig.suptitle("Responsive recorded units vs model neurons (pooled over sessions; model at "
                 "its fitted time scale)", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def figure_grid(grid_rows, fits, path: Path) -> Path:
    plt = common.pyplot()
    keys = list(fits)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys) + 1, 3.4), squeeze=False,
                             sharey=True)
    for ax, k in zip(axes[0], keys):
        sub = [r for r in grid_rows if r["model"] == k]
        combos = sorted({(r["contrast_gain"], r["ms_per_step"]) for r in sub}, reverse=True)
        for j, (g, m) in enumerate(combos):
            pts = sorted((r["delay_ms"], r["median_unit_r"]) for r in sub
                         if r["ms_per_step"] == m and r["contrast_gain"] == g)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], ["-", "--", ":"][j % 3],
                    color=f"C{j // 3}", label=f"gain {g:g}, {m:g} ms/step")
        f = fits[k]
        ax.plot(f["delay_ms"], f["search_median_unit_r"] or np.nan, "ko")
        ax.set_title(f"{k}\nchosen: gain {f['contrast_gain']:g}, {f['ms_per_step']:g} ms/step, "
                     f"+{f['delay_ms']:g} ms", fontsize=7)
        ax.set_xlabel("delay (ms)")
        ax.legend(fontsize=5)
    axes[0, 0].set_ylabel("median unit r (cross-validated)")
    fig.suptitle("time scale / delay / contrast gain search (dot: chosen)", fontsize=9)
    fig.tight_layout()
    return common.save_figure(fig, path)


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = common.parser(__doc__, default_out="results/ecker2010")
    ap.add_argument("--models", nargs="+", default=None, metavar="NAME_OR_PATH",
                    help="checkpoints (shipped names or .safetensors paths) and baselines "
                         f"{BASELINES}; default: shipped models + baselines")
    ap.add_argument("--sessions", nargs="+", type=int, default=None,
                    help=f"session indices 0-16 (default quick {QUICK_SESSIONS}, full all)")
    ap.add_argument("--trials", type=int, default=None,
                    help="model trials for the properties (20)")
    ap.add_argument("--feature-trials", type=int, default=None,
                    help="model trials averaged into the regression features (4)")
    ap.add_argument("--bin-ms", type=float, default=None, help="PSTH bin (20)")
    ap.add_argument("--ms-grid", type=float, nargs="+", default=None,
                    help=f"ms per model step candidates (default {MS_GRID})")
    ap.add_argument("--delays", type=float, nargs="+", default=None,
                    help="delay candidates in ms (default 0-80 step 10)")
    ap.add_argument("--folds", type=int, default=None,
                    help="CV folds over conditions (quick 4, full: number of orientations)")
    ap.add_argument("--contrast-gains", type=float, nargs="+", default=None,
                    help=f"contrast gain candidates (default {CONTRAST_GAINS})")
    ap.add_argument("--inner-folds", type=int, default=None,
                    help="nested CV folds of the ridge penalty (quick 3, full 5)")
    ap.add_argument("--bootstrap", type=int, default=None, help="KS bootstrap samples")
    ap.add_argument("--threshold-hz", type=float, default=5.0, help="responsiveness threshold")
    ap.add_argument("--data", default=None, help="path of data_v1_binned_static.mat")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="BLAS threads (default 1: fastest on a shared CPU; 0 = BLAS default)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    common.setup_torch(args.threads)

    def go():
        res = run(args.out, args.models, args.sessions, quick=not args.full, seed=args.seed,
                  n_trials=args.trials, n_trials_features=args.feature_trials,
                  bin_ms=args.bin_ms, ms_grid=args.ms_grid,
                  delays_ms=args.delays, n_folds=args.folds, inner_folds=args.inner_folds,
                  contrast_gains=args.contrast_gains, n_bootstrap=args.bootstrap,
                  response_threshold_hz=args.threshold_hz, data_path=args.data,
                  device=args.device, progress=not args.no_progress,
                  blas_threads=args.blas_threads or None)
        for r in res["table"]:
            if r["session"] == "all":
                print(f"{r['model']:>28s}: raw {r['predictivity_raw']:.3f}  ceiling "
                      f"{r['ceiling']:.3f}  ceiled {r['predictivity_ceiled']:.3f}  KS cv "
                      f"{r['ks_similarity_cv']:.3f} fano {r['ks_similarity_fano']:.3f} "
                      f"latency {r['ks_similarity_latency']:.3f}", file=sys.stderr)
        w = res["winner"]
        print(f"winner: {w.get('model')} (margin {w.get('margin_ceiled')})", file=sys.stderr)
        out = Path(args.out)
        return [out / "ecker2010_comparison.csv", out / "ecker2010_comparison.json"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
