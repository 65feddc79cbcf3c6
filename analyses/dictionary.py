"""Learned dictionaries and how Gabor-like they are (paper Fig. 3 right, Fig. 11).

Protocol (Vafaii, Galor & Yates 2025: "iP-VAE learns Gabor-like features, iG-VAE
localized pixel-like patterns"): column k of a model's linear decoder Phi, reshaped to
16 x 16, is neuron k's dictionary element - the model's receptive field. For every model:

- an image grid of the elements, largest L2 norm first
  (:func:`neurofond.report.dictionary_figure`);
- a 2-D Gabor least-squares fit to every element (:func:`neurofond.population.fit_gabors`,
  Levenberg-Marquardt from spectral-peak initialisations);
- fraction Gabor-like (:func:`neurofond.population.gabor_fraction`): among the *live*
  elements - L2 norm >= 10% of the 90th percentile of the norms (dead, unused elements are
  left out) - the fraction fit with R^2 >= 0.7.

Fast defaults fit every element with 2 initialisations; ``--full`` uses 8 and draws all K
elements in the grid (fast: the 128 largest).

Outputs in ``--out``: ``dictionary.json`` ``{model: {fraction, n_elements, n_fit,
n_gabor, median_r2, ...}}`` (``n_fit``: live elements fitted and counted), ``dictionary.csv``
(one row per element: Gabor parameters, R^2, norm), ``dictionary_<model>.png`` (the grid of
each model) and ``dictionary.png`` (R^2 distributions and example fits).

    python analyses/dictionary.py --out results/dictionary
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from neurofond import _scripts as common
from neurofond.pretrained import SHIPPED, list_pretrained, resolve_checkpoints

R2_THRESHOLD = 0.7


def run(out: str | Path, checkpoints: list[str] | None = None, *,
        r2_threshold: float = R2_THRESHOLD, norm_quantile: float = 0.9,
        norm_fraction: float = 0.1, n_starts: int | None = None, n_show: int | None = None,
        seed: int = 0, quick: bool = True, progress: bool = True) -> dict[str, Any]:
    """Fit Gabors to every shipped model's dictionary; returns ``dictionary.json``'s content.

    ``checkpoints`` default to all shipped models. ``seed`` is unused (the fits are
    deterministic) and kept for a uniform interface.
    """
    from tqdm.auto import tqdm

    from neurofond.population import GABOR_PARAMS, gabor_fraction
    from neurofond.report import dictionary_figure

    out = common.out_dir(out)
    shipped = [r["name"] for r in list_pretrained()] or list(SHIPPED)
    cks = resolve_checkpoints(checkpoints or shipped)
    n_starts = int(common.pick(n_starts, quick, 2, 8))
    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    fits: dict[str, Any] = {}
    phis: dict[str, np.ndarray] = {}
    for ck in tqdm(cks, desc="models", disable=not progress or len(cks) < 2):
        model, prep, _ = ck.load()
        phi = model.phi.detach().cpu().numpy().astype(np.float64)
        k = phi.shape[1]
        show = int(common.pick(n_show, quick, min(128, k), k))
        dictionary_figure(phi, out / f"dictionary_{ck.key}.png", n_show=show,
                          title=f"{ck.model_name} {ck.name}: {show} of "
                                f"{k} features (largest norm first)")
        gf = gabor_fraction(phi, r2_threshold, norm_quantile, norm_fraction=norm_fraction,
                            n_starts=n_starts, progress=progress)
        ds = gf.fits
        live = np.asarray(ds["considered"].values, dtype=bool)
        r2 = np.asarray(ds["r2"].values)
        results[ck.key] = {
            "model": ck.model_name,
            "fraction": gf.fraction,
            "n_elements": gf.n_elements,
            "n_fit": gf.n_considered,
            "n_gabor": gf.n_gabor,
            "median_r2": common.distribution(r2[live])["median"],
            "r2": common.distribution(r2[live]),
            "r2_threshold": r2_threshold,
            "norm_threshold": gf.norm_threshold,
            "criterion": f"R^2 >= {r2_threshold:g} among elements with L2 norm >= "
                         f"{norm_fraction:g} x the {norm_quantile:g} quantile of the norms",
            "settings": common.provenance(ck, n_starts=n_starts, norm_quantile=norm_quantile,
                                          norm_fraction=norm_fraction),
        }
        for i in range(k):
            rows.append({"model": ck.key, "unit": i, "norm": float(ds["norm"].values[i]),
                         "considered": bool(live[i]), "r2": float(r2[i]),
                         "gabor_like": bool(live[i] and r2[i] >= r2_threshold),
                         **{p: float(ds[p].values[i]) for p in GABOR_PARAMS}})
        fits[ck.key] = ds
        phis[ck.key] = phi
    common.write_json(out / "dictionary.json", results)
    common.write_csv(out / "dictionary.csv", rows)
    figure(results, fits, phis, out / "dictionary.png")
    return results


def figure(results: dict[str, Any], fits: dict[str, Any], phis: dict[str, np.ndarray],
           path: Path) -> Path:
    """R^2 histograms and, per model, the 6 largest elements above their Gabor fits."""
    from neurofond.population import GaborFit

    plt = common.pyplot()
    n_ex = 6
    fig = plt.figure(figsize=(4.6 + 1.1 * n_ex, max(3.2, 2.2 * len(results))))
    # column 1 is an empty spacer that keeps the row labels off the histogram
    gs = fig.add_gridspec(2 * len(results), 2 + n_ex, width_ratios=[4, 0.6] + [1] * n_ex)
    ax = fig.add_subplot(gs[:, 0])
    bins = np.linspace(0, 1, 26)
    spare_colors = iter(["C1", "C4", "C5", "C6", "C8", "C9", "C7"])  # checkpoints outside COLORS
    for key, res in results.items():
        ds = fits[key]
        live = np.asarray(ds["considered"].values, dtype=bool)
        r2 = np.clip(np.asarray(ds["r2"].values)[live], 0, 1)
        ax.hist(r2, bins=bins, histtype="step", lw=1.5,
                color=common.COLORS.get(key) or next(spare_colors, None),
                label=f"{key}: {100 * (res['fraction'] or 0):.0f}% Gabor-like (n={live.sum()})")
    ax.axvline(R2_THRESHOLD, color="k", ls=":", lw=1)
    ax.set_xlabel("Gabor fit R$^2$ (live elements)")
    ax.set_ylabel("elements")
    ax.legend(fontsize=7, loc="upper left")
    for row, key in enumerate(results):
        phi, ds = phis[key], fits[key]
        side = int(round(np.sqrt(phi.shape[0])))
        order = np.argsort(-np.linalg.norm(phi, axis=0))[:n_ex]
        for col, j in enumerate(order):
            elem = phi[:, j].reshape(side, side)
            params = {p: float(ds[p].values[j]) for p in ds.data_vars
                      if p not in ("r2", "norm", "considered")}
            fit = GaborFit(params=params, r2=float(ds["r2"].values[j])).render(side)
            lim = np.abs(elem).max() or 1.0
            for r_off, img in ((0, elem), (1, fit)):
                a = fig.add_subplot(gs[2 * row + r_off, 2 + col])
                a.imshow(img, cmap="gray", vmin=-lim, vmax=lim)
                a.set_xticks([])
                a.set_yticks([])
                if r_off == 1:
                    a.set_xlabel(f"R$^2$ {float(ds['r2'].values[j]):.2f}", fontsize=7)
                if col == 0:  # long names wrapped so the label stays within its row
                    parts = key.split("-")
                    name = "\n".join("-".join(parts[i:i + 2]) for i in range(0, len(parts), 2))
                    a.set_ylabel(f"{name}\n{'element' if r_off == 0 else 'fit'}", fontsize=7)
    fig.suptitle("Gabor fits of the learned dictionaries", fontsize=10)
    return common.save_figure(fig, path)


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = common.parser(__doc__, default_out="results/dictionary")
    ap.add_argument("--checkpoint", action="append", default=None, metavar="NAME_OR_PATH",
                    help="repeatable (default: every shipped model)")
    ap.add_argument("--r2-threshold", type=float, default=R2_THRESHOLD)
    ap.add_argument("--n-starts", type=int, default=None, help="fit starts (fast 2, full 8)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    common.setup_torch(args.threads)

    def go():
        res = run(args.out, args.checkpoint, r2_threshold=args.r2_threshold,
                  n_starts=args.n_starts, seed=args.seed, quick=not args.full,
                  progress=not args.no_progress)
        for key, r in res.items():
            print(f"{key:8s} Gabor-like {r['fraction']:.3f} ({r['n_gabor']}/{r['n_fit']} live "
                  f"of {r['n_elements']}), median R2 {r['median_r2']}", file=sys.stderr)
        return [Path(args.out) / "dictionary.json", Path(args.out) / "dictionary.png"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
