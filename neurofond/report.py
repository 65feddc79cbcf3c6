"""The main job: evaluate the shipped population and write figures + an HTML report.

``neurofond run --out results`` runs, on embedded defaults (the shipped
checkpoints and the photos bundled with scikit-image / scikit-learn):

1. inference convergence of every shipped model on held-out photo patches
   (R^2, proportion of zeros and du_norm per step; convergence index), the
   paper's Fig. 3 analysis (:func:`neurofond.fond.convergence.run_convergence`, the
   implementation ``analyses/convergence.py`` uses too);
2. the learned dictionaries as image grids;
3. a results table (``results.json``) and ``report.html`` linking the figures.

Nothing is lost: a non-empty output folder is refused unless ``overwrite=True``
(``--overwrite``), and then only when it holds nothing but files of an earlier run. All
files are written into a temporary folder beside the output folder and moved into place by
renames, so a killed run leaves either the old folder or the complete new one, never a mix.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import check_int, check_seed
from ._files import atomic_directory, atomic_write_json, atomic_write_text, save_figure
from ._scripts import pyplot as _pyplot

__all__ = ["dictionary_figure", "convergence_figure", "run_main_job"]


def convergence_figure(traces: dict[str, dict[str, np.ndarray]], path: Path,
                       convergence: dict[str, int] | None = None) -> Path:
    """R^2, proportion of zeros and du_norm against inference step, one line per model."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, tr in traces.items():
        steps = np.arange(1, len(tr["r2"]) + 1)
        for ax, key in zip(axes, ("r2_median", "zeros", "du_norm")):
            line, = ax.plot(steps, tr[key], label=name)
            if convergence and name in convergence and key == "r2":
                c = convergence[name]
                ax.axvline(c, color=line.get_color(), ls=":", lw=1)
    axes[0].set_ylim(-0.1, 1.0)  # the median; runaway samples are counted in the table
    for ax, title in zip(axes, ("median R$^2$ (sampled)", "proportion of zeros", "du norm")):
        ax.set_xscale("log")
        ax.set_xlabel("inference step")
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def dictionary_figure(phi: np.ndarray, path: Path, n_show: int = 128, title: str = "") -> Path:
    """Decoder columns (features) as a grid of patches, sorted by norm."""
    plt = _pyplot()
    d, k = phi.shape
    side = int(round(np.sqrt(d)))
    order = np.argsort(-np.linalg.norm(phi, axis=0))[:n_show]
    cols = 16
    rows = int(np.ceil(len(order) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.6, rows * 0.6))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, j in zip(np.ravel(axes), order):
        w = phi[:, j].reshape(side, side)
        lim = np.abs(w).max() or 1.0
        ax.imshow(w, cmap="gray", vmin=-lim, vmax=lim)
    fig.suptitle(title or f"{len(order)} of {k} features (largest norm first)")
    return save_figure(fig, path, dpi=110)


# files a run writes; an --overwrite target may hold only these
_RUN_FILES = re.compile(r"(results\.json|report\.html|convergence\.png|dictionary_[^/]+\.png)")


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that would lose files (before anything is computed)."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"out_dir: {out} exists and is not a folder")
    if not out.is_dir():
        return
    present = sorted(p.name for p in out.iterdir())
    if not present:
        return
    if not overwrite:
        raise FileExistsError(
            f"out_dir: {out} is not empty ({len(present)} entries, e.g. {present[0]!r}); "
            "pass --overwrite (overwrite=True) to replace an earlier run's report, or choose "
            "another folder"
        )
    foreign = [name for name in present
               if not (_RUN_FILES.fullmatch(name) and (out / name).is_file())]
    if foreign:
        raise FileExistsError(
            f"out_dir: {out} holds files a run does not write ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}); not replaced even with --overwrite. "
            "Choose another folder or move them"
        )


def run_main_job(out_dir: str | Path = "results", *, steps: int = 300, n_patches: int = 2000,
                 seed: int = 0, progress: bool = True, overwrite: bool = False) -> Path:
    """Evaluate every shipped model on held-out photo patches and write a report.

    Parameters
    ----------
    out_dir : path
        Output folder; created if absent. A non-empty folder is refused unless
        ``overwrite``; even then it may hold only files of an earlier run
        (``results.json``, ``report.html``, ``convergence.png``, ``dictionary_*.png``).
    steps, n_patches, seed : int
        Inference steps, held-out patches and seed (checked before anything is written).
    overwrite : bool
        Replace an earlier run's report in ``out_dir``.

    Returns
    -------
    Path
        ``<out_dir>/report.html``.

    Raises
    ------
    ValueError
        If ``steps``/``n_patches``/``seed`` are invalid (nothing is created).
    FileExistsError
        If ``out_dir`` is not empty and ``overwrite`` is False, holds files a run does not
        write, or is a file.

    Notes
    -----
    The files are written into a temporary folder beside ``out_dir`` and moved into place
    by renames (:func:`neurofond._files.atomic_directory`); on any error the temporary
    folder is removed and ``out_dir`` is left as it was.
    """
    steps = check_int(steps, "steps", minimum=1)
    n_patches = check_int(n_patches, "n_patches", minimum=1)
    seed = check_seed(seed)
    if seed is None:
        raise ValueError("seed: expected an integer in [0, 2**63 - 1], got None")
    out = Path(out_dir)
    _check_out(out, bool(overwrite))
    # the folder is checked again before the swap: it may have changed meanwhile
    with atomic_directory(out, before_swap=lambda: _check_out(out, bool(overwrite))) as tmp:
        report = _run_into(tmp, steps=steps, n_patches=n_patches, seed=seed, progress=progress)
    return out / report.name


def _run_into(out: Path, *, steps: int, n_patches: int, seed: int, progress: bool) -> Path:
    from .fond.convergence import run_convergence
    from .pretrained import list_pretrained

    models = list_pretrained()
    if not models:
        raise ValueError("no shipped pretrained models found in neurofond/pretrained/")
    rows: list[dict[str, Any]] = []
    traces: dict[str, dict[str, np.ndarray]] = {}
    conv: dict[str, int] = {}
    figures: list[tuple[str, Path]] = []
    t0 = time.perf_counter()
    runs = run_convergence([info["name"] for info in models], n_patches=n_patches, steps=steps,
                           seed=seed, progress=progress)
    for info, run in zip(models, runs):
        res, summary = run.result, run.train_summary
        traces[info["name"]] = res.traces
        conv[info["name"]] = res.summary["convergence_step"]
        rows.append({"model": info["name"], "family": info["family"], "beta": info["beta"],
                     **{k: res.summary[k] for k in ("r2", "r2_median", "r2_map", "r2_pooled",
                                                    "zeros", "convergence_step", "distance",
                                                    "runaway_fraction")},
                     "train_seconds": summary.get("train_seconds"),
                     "train_steps": summary.get("steps")})
        fig = dictionary_figure(run.model.phi.detach().numpy(),
                                out / f"dictionary_{info['name']}.png",
                                title=f"{info['name']}: learned features")
        figures.append((f"Dictionary of {info['name']}", fig))
    figures.insert(0, ("Inference convergence on held-out photo patches",
                       convergence_figure(traces, out / "convergence.png", conv)))
    results = {"steps": steps, "n_patches": n_patches, "seed": seed, "models": rows,
               "seconds": time.perf_counter() - t0}
    atomic_write_json(out / "results.json", results)
    return _write_html(out / "report.html", results, figures)


def _write_html(path: Path, results: dict[str, Any], figures: list[tuple[str, Path]]) -> Path:
    keys = ["model", "beta", "r2", "r2_median", "r2_map", "r2_pooled", "zeros",
            "convergence_step", "distance", "runaway_fraction", "train_steps"]
    head = "".join(f"<th>{k}</th>" for k in keys)
    body = ""
    for row in results["models"]:
        cells = []
        for k in keys:
            v = row.get(k)
            text = f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))
            cells.append(f"<td>{text}</td>")
        body += "<tr>" + "".join(cells) + "</tr>"
    figs = "".join(f"<h2>{html.escape(t)}</h2><img src='{p.name}' style='max-width:100%'>"
                   for t, p in figures)
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>neurofond report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style></head><body>
<h1>neurofond: shipped population</h1>
<p>{results['n_patches']} held-out photo patches, {results['steps']} inference steps, seed
{results['seed']}. Per-sample R<sup>2</sup> averaged (paper's definition) and its median, pooled
R<sup>2</sup>, proportion of zero responses at the final step, convergence index of the mean
R<sup>2</sup> trace, distance to the ideal point sqrt((1-R<sup>2</sup>)<sup>2</sup> +
(1-zeros)<sup>2</sup>), and the fraction of patches whose inference ran away (R<sup>2</sup> &lt; -1;
see docs/pretrained.md, known limitation of the shipped iP-VAE).</p>
<table><tr>{head}</tr>{body}</table>{figs}
<p>Raw numbers: <a href="results.json">results.json</a></p></body></html>"""
    return atomic_write_text(path, doc)
