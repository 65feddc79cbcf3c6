"""Convergence of inference: R^2, sparsity and du_norm over 1000 steps (paper Fig. 3).

Protocol (Vafaii, Galor & Yates 2025, "Brain-like Variational Inference", Fig. 3 and
appendix C.2-C.3): every model (iP-VAE, iG-VAE, iGrelu-VAE) infers held-out natural
image patches - patches of the photos its checkpoint kept out of training, preprocessed
as in training (:func:`neurofond.fond.data.heldout_patches`) - for ``steps`` inference
steps from its learned prior, with hard (integer Poisson / sampled Gaussian) samples.
Per step we record (:func:`neurofond.fond.evaluate`; the experiment is
:func:`neurofond.fond.convergence.run_convergence`, shared with ``neurofond run``):

- ``r2``: per-sample R^2 of the reconstruction ``Phi z_t`` from the *sampled* responses,
  averaged over patches; ``r2_map`` decodes the posterior mean instead;
- ``zeros``: proportion of zero responses (spike counts / relu'd samples) - sparsity;
- ``du_norm``: mean over patches of ``||u_t - u_{t-1}||_2``.

The convergence index is :func:`neurofond.fond.metrics.convergence_index` on the R^2
trace (least-squares slope over sliding 20-step windows; the first run of 5 windows with
|slope| / 20 < 1e-5, reported as that window's start + 20). Sparsity gained after
convergence = zeros at the final step - zeros at the convergence index (the paper reports
~10% more zeros after R^2 has converged for iP-VAE and iGrelu-VAE).

Defaults (fast): 1000 patches x 1000 steps per model (a few minutes on 2 cores);
``--full``: 10000 patches x 1000 steps. Reference values (paper, vH16, T = 1000):
iP-VAE R^2 0.830, zeros 0.773, convergence 106; iGrelu 0.820 / 0.576 / 79;
iG 0.874 / 0.0 / 53 (``shared/reference``; the shipped models are trained on other
photos, with fewer steps, so expect the ordering rather than the numbers).

Outputs in ``--out``: ``convergence.json`` (keyed by model: ipvae, igvae, igrelu),
``convergence.csv`` (one row per model), ``convergence_traces.csv`` (per-step traces)
and ``convergence.png`` (three log-x panels).

    python analyses/convergence.py --out results/convergence
    python analyses/convergence.py --models runs/ipvae-k512-b24-photos.safetensors --steps 300
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from neurofond import _scripts as common
from neurofond.fond.convergence import convergence_summary, run_convergence
from neurofond.pretrained import SHIPPED


def run(out: str | Path, checkpoints: list[str] | None = None, *, n_patches: int | None = None,
        steps: int | None = None, batch_size: int | None = None, seed: int = 0,
        device: str = "cpu", quick: bool = True, progress: bool = True) -> dict[str, Any]:
    """Run the convergence experiment; returns the results written to ``convergence.json``.

    Parameters
    ----------
    out : folder for the outputs (created).
    checkpoints : names or paths; default the three shipped models.
    n_patches, steps : held-out patches and inference steps (fast: 1000 x 1000; full:
        10000 x 1000).
    batch_size : patches per batch (default min(n_patches, 1000)).
    seed : seed of the patch positions and of the spike sampler.
    quick : fast defaults (True) or paper-scale (False).
    """
    out = common.out_dir(out)
    n_patches = int(common.pick(n_patches, quick, 1000, 10_000))
    steps = int(common.pick(steps, quick, 1000, 1000))
    runs = run_convergence(checkpoints or list(SHIPPED), n_patches=n_patches, steps=steps,
                           batch_size=batch_size, seed=seed, device=device, progress=progress)
    results: dict[str, Any] = {}
    traces: dict[str, dict[str, np.ndarray]] = {}
    rows, trace_rows = [], []
    for r in runs:
        ck, tr = r.checkpoint, r.traces
        entry = {**convergence_summary(r),
                 **common.provenance(ck, n_patches=n_patches, steps=steps, seed=seed,
                                     patches=f"held-out images of {r.preprocessing.source!r}")}
        results[ck.key] = entry
        traces[ck.key] = tr
        rows.append({"key": ck.key, **{k: v for k, v in entry.items() if k != "paper"}})
        for t in range(steps):
            trace_rows.append({"model": ck.key, "step": t + 1,
                               **{k: tr[k][t] for k in ("r2", "r2_map", "zeros", "du_norm")}})
    common.write_json(out / "convergence.json", results)
    common.write_csv(out / "convergence.csv", rows)
    common.write_csv(out / "convergence_traces.csv", trace_rows,
                     ["model", "step", "r2", "r2_map", "zeros", "du_norm"])
    figure(traces, results, out / "convergence.png")
    return results


def figure(traces: dict[str, dict[str, np.ndarray]], results: dict[str, Any], path: Path) -> Path:
    """Three log-x panels: R^2, proportion of zeros, du_norm; dotted line = convergence."""
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    spare = iter(c for c in ("C1", "C4", "C5", "C6", "C7", "C8", "C9")
                 if c not in common.COLORS.values())
    for key, tr in traces.items():
        steps = np.arange(1, len(tr["r2"]) + 1)
        color = common.COLORS.get(key) or next(spare, None)  # extra models: unused colours
        conv = results[key]["convergence_step"]
        label = f"{results[key]['model']} ({key})"
        for ax, name in zip(axes, ("r2", "zeros", "du_norm")):
            line, = ax.plot(steps, tr[name], color=color, label=label)
            ax.axvline(max(conv, 1), color=line.get_color(), ls=":", lw=1)
        axes[0].plot(steps, tr["r2_map"], color=line.get_color(), ls="--", lw=0.8, alpha=0.7)
        paper = results[key].get("paper") or {}
        if paper:
            axes[0].plot(steps[-1], paper["r2_final"], marker="*", color=line.get_color(), ms=9)
            axes[1].plot(steps[-1], paper["zeros_final"], marker="*", color=line.get_color(),
                         ms=9)
    titles = ("R$^2$ (solid: sampled, dashed: MAP)", "proportion of zeros",
              r"$\|u_t - u_{t-1}\|_2$")
    for ax, title in zip(axes, titles):
        ax.set_xscale("log")
        ax.set_xlabel("inference step")
        ax.set_title(title, fontsize=10)
    axes[2].set_yscale("log")
    low = min(float(np.min(tr["r2"])) for tr in traces.values())
    if low < -0.5:  # a diverging model would flatten every other curve
        axes[0].set_ylim(-0.5, 1.0)
        axes[0].text(0.02, 0.02, f"min R$^2$ {low:.3g} (off scale)", transform=axes[0].transAxes,
                     fontsize=7)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Inference on held-out patches (dotted: convergence index on R$^2$; "
                 "stars: paper at T=1000)", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = common.parser(__doc__, default_out="results/convergence")
    ap.add_argument("--models", "--checkpoint", dest="models", nargs="+", action="extend",
                    metavar="NAME_OR_PATH",
                    help=f"checkpoints (default: {' '.join(SHIPPED)})")
    ap.add_argument("--n-patches", type=int, default=None, help="fast 1000, full 10000")
    ap.add_argument("--steps", type=int, default=None, help="inference steps (1000)")
    ap.add_argument("--batch-size", type=int, default=None)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    common.setup_torch(args.threads)

    def go():
        res = run(args.out, args.models, n_patches=args.n_patches, steps=args.steps,
                  batch_size=args.batch_size, seed=args.seed, device=args.device,
                  quick=not args.full, progress=not args.no_progress)
        for key, r in res.items():
            print(f"{key:8s} R2 {r['r2_final']:.3f} zeros {r['zeros_final']:.3f} "
                  f"conv {r['convergence_step']} zeros@conv {r['zeros_at_convergence']:.3f} "
                  f"gain {r['sparsity_gain_after_convergence']:+.3f}", file=sys.stderr)
        return [Path(args.out) / "convergence.json", Path(args.out) / "convergence.png"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
