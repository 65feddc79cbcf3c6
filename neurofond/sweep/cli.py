"""``neurofond sweep SPEC.toml``: the command-line entry of :mod:`neurofond.sweep`."""

from __future__ import annotations

import argparse

__all__ = ["register_cli"]


def _cmd_sweep(args: argparse.Namespace) -> int:
    from . import run_sweep_from_spec  # noqa: F401  (filled in by the sweep implementation)

    raise SystemExit("neurofond sweep: not available yet")


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand to the top-level parser."""
    p = sub.add_parser("sweep", help="population or training sweeps on dask.distributed")
    p.add_argument("spec", help="sweep specification (TOML)")
    p.set_defaults(func=_cmd_sweep)
