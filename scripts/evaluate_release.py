"""Evaluate trained checkpoints at T_test steps on held-out patches (JSON with traces).

    python scripts/evaluate_release.py runs/*.safetensors --olshausen PATH.npy --out runs/eval.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints", nargs="+", help="checkpoint paths or shipped names")
    ap.add_argument("--olshausen", help="the 10 Olshausen images; held-out images 8-9 are used")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--n-patches", type=int, default=10_000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--out", required=True)
    return ap


def main() -> int:
    from neurofond._files import atomic_write_json
    from neurofond.fond import evaluate, load_checkpoint
    from neurofond.fond.data import heldout_patches
    from neurofond.pretrained import resolve_checkpoint

    ap = build_parser()
    args = ap.parse_args()
    results = {}
    for spec in args.checkpoints:
        path = resolve_checkpoint(spec)
        model, prep, summary = load_checkpoint(path)
        name = path.stem
        sets = {}
        if prep.source == "bundled":
            sets["heldout_photos"] = heldout_patches(prep, args.n_patches, seed=0)
        if args.olshausen:
            images = np.load(args.olshausen)[8:10]
            if prep.source == "bundled":  # whitening is part of this model's pipeline: skip it
                from dataclasses import replace
                prep_o = replace(prep, whiten=False)
            else:
                prep_o = prep
            sets["olshausen_8_9"] = prep_o.patches(list(images), args.n_patches, seed=0)
        results[name] = {"train_seconds": summary.get("train_seconds"),
                         "steps": summary.get("steps"), "command": summary.get("command")}
        for set_name, patches in sets.items():
            res = evaluate(model, patches, args.steps, batch_size=args.batch_size, seed=0,
                           device=args.device)
            results[name][set_name] = {**res.summary,
                                       "traces": {k: v.tolist() for k, v in res.traces.items()}}
            s = res.summary
            print(f"{name:32s} {set_name:15s} r2 {s['r2']:.3f} pooled {s['r2_pooled']:.3f} "
                  f"map {s['r2_map']:.3f} zeros {s['zeros']:.3f} conv {s['convergence_step']} "
                  f"dist {s['distance']:.3f}", flush=True)
    atomic_write_json(Path(args.out), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
