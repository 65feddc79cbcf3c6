"""iP-VAE KL-beta sweep: train one model per beta (or reuse them) and tabulate R^2 / sparsity.

Reproduces the rate-distortion sweep of Vafaii, Galor & Yates (2025) at a given schedule:
for each beta, R^2 and the proportion of zeros at t = 16 (the paper's sweep) and at
T_test (default 1000), on held-out patches of the training source. Writes
``<out>/beta_sweep.json``, ``.csv`` and ``.png`` (R^2 vs zeros, with the paper's points).

    python scripts/beta_sweep.py --data OLSHAUSEN.npy --no-whiten --validation-images 8 9 \\
        --betas 8 16 24 32 64 --max-steps 2500 --runs runs3 --out results/beta_sweep

Checkpoints ``<runs>/ip-ol-b<beta>.safetensors`` that exist are reused (no retraining).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

# Paper, iP-VAE on vH16 at t = 16 (beta: R^2, zeros); ALGORITHM.md.
PAPER_T16 = {8: (0.916, 0.675), 16: (0.872, 0.729), 24: (0.827, 0.775), 32: (0.776, 0.816),
             64: (0.603, 0.905)}


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="image array (.npy), e.g. the Olshausen images")
    ap.add_argument("--no-whiten", action="store_true")
    ap.add_argument("--validation-images", nargs="+", default=["8", "9"])
    ap.add_argument("--betas", type=float, nargs="+", default=[8, 16, 24, 32, 64])
    ap.add_argument("--max-steps", type=int, default=2500)
    ap.add_argument("--steps", type=int, default=1000, help="T_test")
    ap.add_argument("--n-patches", type=int, default=2000)
    ap.add_argument("--runs", type=Path, default=Path("runs"))
    ap.add_argument("--out", type=Path, default=Path("results/beta_sweep"))
    return ap


def main() -> int:
    ap = build_parser()
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from neurofond._files import atomic_write_json
    from neurofond.fond import evaluate, load_checkpoint

    args.out.mkdir(parents=True, exist_ok=True)
    heldout_images = list(np.load(args.data)[[int(i) for i in args.validation_images]])
    rows = []
    for beta in args.betas:
        name = f"ip-ol-b{beta:g}"
        ckpt = args.runs / f"{name}.safetensors"
        if not ckpt.exists():
            cmd = [sys.executable, "-m", "neurofond.cli", "train", "--family", "poisson",
                   "--beta", f"{beta:g}", "--data", args.data, "--validation-images",
                   *args.validation_images, "--n-train", "100000", "--max-steps",
                   str(args.max_steps), "--eval-every", "1", "--checkpoint-every", "1",
                   "--threads", "1", "--out", str(args.runs), "--name", name]
            if args.no_whiten:
                cmd.append("--no-whiten")
            subprocess.run(cmd, check=True)
        model, prep, summary = load_checkpoint(ckpt)
        patches = prep.patches(heldout_images, args.n_patches, seed=0)
        res = evaluate(model, patches, args.steps, seed=0)
        tr, s = res.traces, res.summary
        rows.append({"beta": beta, "train_steps": summary.get("steps"),
                     "train_seconds": summary.get("train_seconds"),
                     "r2_t16": float(tr["r2"][15]), "zeros_t16": float(tr["zeros"][15]),
                     "r2": s["r2"], "r2_median": s["r2_median"], "r2_map": s["r2_map"],
                     "zeros": s["zeros"], "runaway_fraction": s["runaway_fraction"],
                     "convergence_step": s["convergence_step"],
                     "paper_r2_t16": PAPER_T16.get(int(beta), (None, None))[0],
                     "paper_zeros_t16": PAPER_T16.get(int(beta), (None, None))[1]})
        r = rows[-1]
        print(f"beta {beta:g}: t=16 R^2 {r['r2_t16']:.3f} zeros {r['zeros_t16']:.3f} | "
              f"T={args.steps} R^2 {r['r2']:.3f} (median {r['r2_median']:.3f}) "
              f"zeros {r['zeros']:.3f} runaway {r['runaway_fraction']:.4f}", flush=True)
    atomic_write_json(args.out / "beta_sweep.json", {"rows": rows, "settings": vars(args) | {
        "runs": str(args.runs), "out": str(args.out)}})
    tmp = args.out / "beta_sweep.csv.tmp"
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(args.out / "beta_sweep.csv")
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.plot([r["zeros_t16"] for r in rows], [r["r2_t16"] for r in rows], "o-", label="t = 16")
    ax.plot([r["zeros"] for r in rows], [r["r2_median"] for r in rows], "s-",
            label=f"t = {args.steps} (median R$^2$)")
    ax.plot([v[1] for v in PAPER_T16.values()], [v[0] for v in PAPER_T16.values()], "k^--",
            label="paper, t = 16 (vH16)")
    for r in rows:
        ax.annotate(f"{r['beta']:g}", (r["zeros_t16"], r["r2_t16"]), fontsize=7)
    ax.set_xlabel("proportion of zeros")
    ax.set_ylabel("R$^2$")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "beta_sweep.png", dpi=120)
    print(args.out / "beta_sweep.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
