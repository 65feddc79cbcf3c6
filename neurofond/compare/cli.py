"""``neurofond compare``: recorded grating responses vs candidate models (files in ``--out``).

Registered on the main parser by :func:`register_cli`; nothing heavy (torch, xarray) is
imported until the command runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

__all__ = ["register_cli"]


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` command to ``subparsers`` (sets ``func``); returns its parser."""
    p = subparsers.add_parser(
        "compare", help="compare candidate models with recorded grating responses",
        description="Compare candidates (checkpoints and baselines) with recorded V1 responses "
                    "to gratings: fitted time scale / delay / contrast gain, cross-validated "
                    "predictivity with noise ceilings, property KS similarities. Writes "
                    "comparison.csv, units.csv, fits.json, summary.json and figures into --out "
                    "(see docs/compare.md).")
    p.add_argument("--recordings", required=True, metavar="PATH_OR_DATASET",
                   help="an Ecker 2010 .mat file, an .nwb or neo file, or a dataset name "
                        "(ecker2010, ecker2010_v1_gratings_drifting)")
    p.add_argument("--models", nargs="+", default=None, metavar="NAME_OR_PATH",
                   help="checkpoints (shipped names or paths) and baselines gabor-energy, "
                        "pixel-pca, lca, stimulus-floor (default: shipped models + baselines)")
    p.add_argument("--sessions", nargs="+", type=int, default=None,
                   help="session indices (default: all in the recordings)")
    p.add_argument("--quick", action="store_true", help="fast settings (coarser grids and bins)")
    p.add_argument("--out", default="results/compare", help="output folder (default %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    p.add_argument("--sf-cpd", type=float, default=None,
                   help="assumed spatial frequency where the recordings lack 'sf' (default 3)")
    p.add_argument("--phase-deg", type=float, default=None, help="assumed phase (default 0)")
    p.add_argument("--size-deg", type=float, default=None,
                   help="assumed full-field size in deg (default 8)")
    p.add_argument("--contrast", type=float, default=None,
                   help="assumed contrast (0-1) where the recordings lack 'contrast'")
    p.add_argument("--ms-grid", type=float, nargs="+", default=None,
                   help="ms per model step candidates (VAEs)")
    p.add_argument("--delays", type=float, nargs="+", default=None, help="delay grid (ms)")
    p.add_argument("--contrast-gains", type=float, nargs="+", default=None,
                   help="contrast gain grid (VAEs)")
    p.add_argument("--centered", action="store_true",
                   help="score only the condition-specific part of the PSTHs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_compare)
    return p


def _cmd_compare(args: argparse.Namespace) -> int:
    from .api import compare
    from .outputs import check_out_dir, write_outputs

    check_out_dir(args.out, args.overwrite)  # before any work
    t0 = time.perf_counter()
    comp = compare(args.recordings, args.models, sessions=args.sessions, quick=args.quick,
                   sf_cpd=args.sf_cpd, phase_deg=args.phase_deg, size_deg=args.size_deg,
                   contrast=args.contrast, centered=args.centered, ms_grid=args.ms_grid,
                   delays_ms=args.delays, contrast_gains=args.contrast_gains, seed=args.seed,
                   progress=not args.no_progress)
    seconds = time.perf_counter() - t0
    out = write_outputs(comp, args.out, overwrite=args.overwrite, seed=args.seed,
                        extra={"seconds": seconds})
    import json

    cards = json.loads((out / "summary.json").read_text())["candidates"]
    def num(v):
        return float("nan") if v is None else float(v)

    for c in cards:
        lo, hi = (num(v) for v in c["ci95"])
        print(f"{c['rank']:>2d} {c['model']:>28s}: ceiled "
              f"{num(c['median_ceiled_predictivity']):.3f} [{lo:.3f}, {hi:.3f}]  mean KS "
              f"{num(c['mean_ks_similarity']):.3f}", file=sys.stderr)
    print(f"wrote {out} ({seconds:.0f} s)")
    return 0
