"""Compute the model card of checkpoints and store it in their JSON sidecars.

    python scripts/model_card.py ipvae-k512-b24-photos --olshausen PATH.npy
    python scripts/model_card.py runs/my-ipvae.safetensors --print

The card (training data, schedule, steps, wall time, seed; held-out R^2, zeros, distance,
drift, post-convergence sparsification; Gabor fraction) is described in
neurofond/pretrained/cards.py; ``neurofond pretrained`` shows it.
"""

from __future__ import annotations

import argparse
import json
import sys


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="shipped names or checkpoint paths")
    ap.add_argument("--olshausen", help="the 10 Olshausen images (.npy); 8-9 are evaluated")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--n-patches", dest="n_patches", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gabor-starts", dest="gabor_starts", type=int, default=2)
    ap.add_argument("--print", dest="print_only", action="store_true",
                    help="print the card instead of writing it into the sidecar")
    return ap


def main(argv: list[str] | None = None) -> int:
    from neurofond.pretrained import resolve_checkpoint
    from neurofond.pretrained.cards import model_card, write_model_card

    ap = build_parser()
    args = ap.parse_args(argv)
    for spec in args.checkpoints:
        path = resolve_checkpoint(spec)
        card = model_card(path, olshausen=args.olshausen, n_patches=args.n_patches,
                          steps=args.steps, seed=args.seed, gabor_starts=args.gabor_starts)
        if args.print_only:
            print(json.dumps(card, indent=2))
        else:
            print(f"card written into {write_model_card(path, card)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
