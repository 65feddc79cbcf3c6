"""``neurofond sweep SPEC.toml --out STORE``: the command-line entry of :mod:`neurofond.sweep`."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register_cli"]


def _cmd_sweep(args: argparse.Namespace) -> int:
    from . import SweepError, run_sweep_from_spec

    try:
        result = run_sweep_from_spec(args.spec, args.out, workers=args.workers,
                                     scheduler=args.scheduler, progress=not args.no_progress)
    except SweepError as exc:
        print(f"neurofond sweep: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"out": str(result.out), "tasks": result.n_tasks,
                      "skipped": result.n_skipped, "run": result.n_run,
                      "workers": result.workers, "seconds": round(result.seconds, 2)}))
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand to the top-level parser."""
    p = sub.add_parser("sweep", help="population or training sweeps on dask.distributed")
    p.add_argument("spec", help="sweep specification (TOML; see docs/scale.md)")
    p.add_argument("--out", required=True,
                   help="the sweep store (created; a store of the same spec is resumed)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running dask scheduler (default: a LocalCluster here)")
    p.add_argument("--workers", type=int,
                   help="LocalCluster worker processes (default: one per CPU); 0 runs every "
                        "task in this process")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_sweep)
