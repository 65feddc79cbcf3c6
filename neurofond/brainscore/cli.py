"""Command-line entry points of :mod:`neurofond.brainscore`.

``register_cli(subparsers)`` adds two commands to ``neurofond``:

``neurofond score [--model NAME_OR_PATH] [--benchmark ecker2010-pls|ecker2010-orientation|all]
[--quick] [--data FILE] [--json]``
    Scores a model on the local, offline benchmarks
    (:mod:`neurofond.brainscore.benchmarks`) and prints raw score, ceiling
    and ceiled score for each.

``neurofond brainscore export CHECKPOINT --out DIR [--identifier ID] ...``
    Writes a Brain-Score model plugin folder (:func:`~neurofond.brainscore.export_plugin`).

Nothing here imports ``brainscore_vision`` until a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import time
from typing import Any

from .registry import BENCHMARK_NAMES  # names only: no brainscore_vision import

__all__ = ["register_cli"]



def _fmt(value: float) -> str:
    return "nan" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.4f}"


def _cmd_score(args: argparse.Namespace) -> int:
    import warnings

    try:
        from . import require_brainscore

        require_brainscore()
    except ImportError as exc:
        raise SystemExit(f"neurofond score: {exc}") from None
    from .benchmarks import load_local_benchmarks, score_benchmarks
    from .model import IterativeVAEBrainModel

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model = IterativeVAEBrainModel.from_name_or_path(
        args.model, device=args.device, visual_degrees=args.visual_degrees,
        patch_size_deg=args.patch_size_deg, grid_deg=args.grid_deg,
        ms_per_step=args.ms_per_step, seed=args.seed, transform=args.transform,
        trials="average")
    t0 = time.time()
    with warnings.catch_warnings(), contextlib.ExitStack() as quiet:
        if not args.verbose:  # Brain-Score's warnings and tqdm bars (stderr)
            warnings.simplefilter("ignore")
            quiet.enter_context(contextlib.redirect_stderr(io.StringIO()))
        benchmarks = load_local_benchmarks(args.benchmark, quick=args.quick,
                                           data_path=args.data)
        rows = []
        for identifier, bench in benchmarks.items():
            rows.extend(score_benchmarks(model, {identifier: bench}))
            if not args.json:
                r = rows[-1]
                print(f"{r['benchmark']:<58} raw={_fmt(r['raw'])} ceiling={_fmt(r['ceiling'])} "
                      f"ceiled={_fmt(r['ceiled'])}  ({r['convention']})", flush=True)
    if args.json:
        print(json.dumps({"model": model.identifier, "quick": bool(args.quick),
                          "seconds": round(time.time() - t0, 1), "scores": rows}, indent=2,
                         default=str))
    else:
        print(f"model {model.identifier}: {len(rows)} score(s) in {time.time() - t0:.1f} s",
              file=sys.stderr)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_plugin

    settings: dict[str, Any] = {}
    for key in ("visual_degrees", "patch_size_deg", "grid_deg", "ms_per_step", "latency_ms",
                "blank_steps", "trials", "bin_statistic", "seed", "transform"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    out = export_plugin(args.checkpoint, args.out, identifier=args.identifier,
                        neurofond_requirement=args.neurofond_requirement, pin=not args.no_pin,
                        overwrite=args.overwrite, **settings)
    identifier = (out / "__init__.py").read_text().split("model_registry[")[1].split("]")[0]
    print(f"plugin {identifier} written to {out}")
    print("files: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0


def register_cli(subparsers: Any) -> None:
    """Add ``score`` and ``brainscore`` (``brainscore export``) to a subparsers object."""
    p = subparsers.add_parser(
        "score", help="score a model on the local Brain-Score benchmarks (offline)",
        description="Score a model on local Brain-Score benchmarks built on recorded data on "
                    "disk (Ecker et al. 2010 V1). Prints raw score, ceiling and ceiled score.")
    p.add_argument("--model", default=None,
                   help="shipped model name or .safetensors path (default: the default model)")
    p.add_argument("--benchmark", default="all", choices=BENCHMARK_NAMES)
    p.add_argument("--quick", action="store_true",
                   help="fewer model trials (3) and the small orientation grid (96 images)")
    p.add_argument("--data", default=None,
                   help="Ecker 2010 data_v1_binned_static.mat (default: dataset search path)")
    p.add_argument("--visual-degrees", dest="visual_degrees", type=float, default=8.0)
    p.add_argument("--patch-size-deg", dest="patch_size_deg", type=float, default=1.0)
    p.add_argument("--grid-deg", dest="grid_deg", type=float, default=2.0)
    p.add_argument("--ms-per-step", dest="ms_per_step", type=float, default=10.0)
    p.add_argument("--transform", choices=["linear", "training"], default="linear",
                   help="presentation transform (default linear: contrast preserving)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--verbose", action="store_true",
                   help="show library warnings and progress bars (stderr)")
    p.set_defaults(func=_cmd_score)

    bs = subparsers.add_parser("brainscore", help="Brain-Score tools (export a submission)")
    bsub = bs.add_subparsers(dest="brainscore_command", required=True)
    e = bsub.add_parser("export", help="write a Brain-Score model plugin folder",
                        description="Write a brainscore_vision model plugin folder (__init__.py, "
                                    "model.py, checkpoint, test.py, requirements.txt, "
                                    "metadata.yaml); see docs/brainscore.md.")
    e.add_argument("checkpoint", help=".safetensors checkpoint or shipped model name")
    e.add_argument("--out", required=True,
                   help="plugin folder to create (its name must be a valid Python identifier)")
    e.add_argument("--identifier", help="Brain-Score model identifier "
                   "(default neurofond-<checkpoint stem>)")
    e.add_argument("--visual-degrees", dest="visual_degrees", type=float)
    e.add_argument("--patch-size-deg", dest="patch_size_deg", type=float)
    e.add_argument("--grid-deg", dest="grid_deg", type=float)
    e.add_argument("--ms-per-step", dest="ms_per_step", type=float)
    e.add_argument("--latency-ms", dest="latency_ms", type=float)
    e.add_argument("--blank-steps", dest="blank_steps", type=int)
    e.add_argument("--trials", choices=["average", "separate"],
                   help="repeated trials averaged (default; Brain-Score benchmarks need it) or "
                        "returned as separate presentations")
    e.add_argument("--bin-statistic", dest="bin_statistic", choices=["rate", "sum", "mean"])
    e.add_argument("--seed", type=int)
    e.add_argument("--transform", choices=["linear", "training"],
                   help="presentation transform (default linear; its gain is frozen)")
    e.add_argument("--neurofond-requirement", dest="neurofond_requirement",
                   help="requirements.txt line for neurofond (default neurofond==<version>)")
    e.add_argument("--no-pin", dest="no_pin", action="store_true",
                   help="do not pin package versions in requirements.txt")
    e.add_argument("--overwrite", action="store_true")
    e.set_defaults(func=_cmd_export)
