"""Figures of the main job's report: numbers in, PNG out (no analysis here).

Every figure labels its axes with units, states n and shows error bars, quartile bands or
confidence intervals where the numbers carry them; one colour per model name across all
figures (:func:`model_colours`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._files import save_figure
from .._scripts import pyplot as _pyplot

__all__ = ["bar_figure", "contrast_figure", "convergence_figure", "correlation_figure",
           "dictionary_figure", "direction_figure", "fano_figure",
           "gabor_figure", "model_colours", "rf_figure", "size_figure", "sparsification_figure",
           "tuning_figure"]

#: Fixed colours: the shipped families (as in analyses/, neurofond._scripts.COLORS) and the
#: comparison's baselines; other names get the spare colours in order of appearance.
FIXED_COLOURS = {"ipvae": "C3", "igvae": "C0", "igrelu": "C2", "gabor-energy": "C1",
                 "pixel-pca": "C4", "stimulus-floor": "C7"}
SPARE_COLOURS = ("C5", "C6", "C8", "C9", "k", "tab:olive", "tab:cyan")
DPI = 100


def model_colours(names: Iterable[str]) -> dict[str, str]:
    """One colour per model name, the same in every figure of a report.

    A name whose key (the part before the first ``-`` for checkpoints such as
    ``ipvae-k512-b24-photos``, or the whole name) has a fixed colour gets it; the others
    get the spare colours in order.
    """
    out: dict[str, str] = {}
    spare = iter(SPARE_COLOURS * 4)
    for name in names:
        if name in out:
            continue
        key = name if name in FIXED_COLOURS else str(name).split("-")[0]
        taken = set(out.values())
        colour = FIXED_COLOURS.get(key)
        if colour is None or colour in taken:
            colour = next(c for c in spare if c not in taken)
        out[name] = colour
    return out


def _colour(colours: Mapping[str, str], name: str) -> str:
    return colours.get(name) or model_colours([name])[name]


def convergence_figure(traces: Mapping[str, Mapping[str, np.ndarray]], path: Path,
                       convergence: Mapping[str, int] | None = None, *,
                       colours: Mapping[str, str] | None = None, n_patches: int | None = None
                       ) -> Path:
    """Mean R^2 (with the median), proportion of zeros and du norm against inference step."""
    plt = _pyplot()
    colours = colours or model_colours(traces)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, tr in traces.items():
        col = _colour(colours, name)
        steps = np.arange(1, len(tr["r2"]) + 1)
        axes[0].plot(steps, tr["r2"], color=col, label=f"{name} (mean)")
        if "r2_median" in tr:
            axes[0].plot(steps, tr["r2_median"], color=col, ls="--", lw=1, label="median")
        axes[1].plot(steps, tr["zeros"], color=col, label=name)
        axes[2].plot(steps, tr["du_norm"], color=col, label=name)
        if convergence and name in convergence:
            for ax in axes:
                ax.axvline(convergence[name], color=col, ls=":", lw=1)
    n = f" (n = {n_patches} held-out patches)" if n_patches else ""
    for ax, label in zip(axes, ("R$^2$ of the reconstruction", "proportion of zero responses",
                                "||u$_t$ - u$_{t-1}$|| (a.u.)")):
        ax.set_xscale("log")
        ax.set_xlabel("inference step (model steps)")
        ax.set_ylabel(label)
    axes[0].set_ylim(-0.1, 1.0)
    axes[0].set_title("reconstruction" + n, fontsize=9)
    axes[1].set_title("sparsity; dotted: convergence index", fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


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
    return save_figure(fig, path, dpi=DPI)


def _hist(ax: Any, data: Mapping[str, np.ndarray], colours: Mapping[str, str], bins: Any,
          xlabel: str, *, line: float | None = None, log: bool = False) -> None:
    for name, v in data.items():
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        if v.size == 0:
            continue
        ax.hist(np.clip(v, bins[0], bins[-1]), bins=bins, histtype="step", lw=1.5,
                color=_colour(colours, name),
                label=f"{name} (n={v.size}, median {np.median(v):.3g})")
    if line is not None:
        ax.axvline(line, color="k", ls=":", lw=1)
    if log:
        ax.set_xscale("log")
        _log_ticks(ax, bins)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("neurons")
    ax.legend(fontsize=7)


def _log_ticks(ax: Any, values: Any) -> None:
    """Plain tick labels (0.5, 1, 2 ...) on a log axis spanning ``values``."""
    lo, hi = float(np.min(values)), float(np.max(values))
    ticks = [t for t in (0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1, 2, 4, 8, 16) if lo <= t <= hi]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()


def gabor_figure(r2: Mapping[str, np.ndarray], threshold: float, path: Path, *,
                 colours: Mapping[str, str]) -> Path:
    """Distribution of the Gabor-fit R^2 of the live dictionary elements per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    _hist(ax, r2, colours, np.linspace(0, 1, 41), "Gabor fit R$^2$ (dimensionless)",
          line=threshold)
    ax.set_ylabel("dictionary elements")
    ax.set_title(f"Gabor fits of the live elements; dotted: threshold {threshold:g}",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def tuning_figure(data: Mapping[str, Mapping[str, np.ndarray]], path: Path, *,
                  colours: Mapping[str, str], osi_threshold: float) -> Path:
    """OSI, orientation bandwidth, peak SF and SF bandwidth of the responsive neurons."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
    panels = (("osi", "OSI (dimensionless)", np.linspace(0, 1, 21), osi_threshold, False),
              ("orientation_bandwidth", "orientation bandwidth (deg)",
               np.linspace(0, 90, 19), None, False),
              ("peak_sf", "peak SF (cycles/deg)", np.geomspace(0.4, 8, 16), None, True),
              ("sf_bandwidth_octaves", "SF bandwidth (octaves)", np.linspace(0, 5, 21), None,
               False))
    for ax, (key, label, bins, line, log) in zip(axes, panels):
        _hist(ax, {m: d[key] for m, d in data.items()}, colours, bins, label, line=line,
              log=log)
    axes[0].set_title(f"dotted: selectivity criterion OSI > {osi_threshold:.2g}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def contrast_figure(data: Mapping[str, Any], path: Path, *, colours: Mapping[str, str]) -> Path:
    """Evoked rate vs contrast with the Naka-Rushton fit, latency vs contrast, population
    PSTH per contrast (first model)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    for name, ds in data.items():
        col = _colour(colours, name)
        c = np.asarray(ds["contrast"].values, dtype=float)
        n = int(ds.attrs.get("n_neurons", 0))
        axes[0].errorbar(c, ds["evoked_rate"].values, yerr=ds["evoked_rate_sem"].values,
                         color=col, marker="o", ls="none", capsize=3,
                         label=f"{name} (mean +/- SEM, n={n} neurons)")
        axes[0].plot(c, ds["naka_rushton"].values, color=col, lw=1,
                     label="Naka-Rushton fit")
        for key, marker, ls in (("onset_ms", "o", "-"), ("peak_ms", "s", "--")):
            med = np.asarray(ds[key].values, dtype=float)
            err = np.abs(np.stack([med - ds[f"{key}_q25"].values,
                                   ds[f"{key}_q75"].values - med]))
            axes[1].errorbar(c, med, yerr=err, color=col, marker=marker, ls=ls, capsize=3,
                             label=f"{name}: {'onset' if key == 'onset_ms' else 'peak'}")
    first = next(iter(data.values()), None)
    if first is not None:
        cmap = plt.get_cmap("viridis")
        c = np.asarray(first["contrast"].values, dtype=float)
        for j, cj in enumerate(c):
            axes[2].plot(first["time"].values, first["population_psth"].values[j],
                         color=cmap(j / max(1, c.size - 1)), label=f"{cj:.2g}")
        axes[2].axvline(0, color="k", ls=":", lw=0.8)
        axes[2].legend(title="contrast", fontsize=7)
        axes[2].set_title(f"{next(iter(data))}: population PSTH "
                          f"(n={int(first.attrs.get('n_neurons', 0))} neurons)", fontsize=9)
    for ax in axes[:2]:
        ax.set_xscale("log")
        if first is not None:
            _log_ticks(ax, first["contrast"].values)
        ax.set_xlabel("contrast (Michelson)")
    axes[0].set_ylabel("evoked rate (spikes/s)")
    axes[1].set_ylabel("latency after onset (ms; median, IQR)")
    axes[1].set_title("onset and time to peak, neurons with a response", fontsize=9)
    axes[2].set_xlabel("time from onset (ms)")
    axes[2].set_ylabel("evoked rate / neuron's max (mean)")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def fano_figure(data: Mapping[str, Any], path: Path, *, colours: Mapping[str, str]) -> Path:
    """Fano factors in the counting window (histogram) and over time (median, IQR band)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for name, ds in data.items():
        col = _colour(colours, name)
        f = np.asarray(ds["fano_factor"].values, dtype=float)[np.asarray(ds["included"].values)]
        axes[0].hist(np.clip(f, 0, 3), bins=np.linspace(0, 3, 31), histtype="step", lw=1.5,
                     color=col, label=f"{name} (n={f.size} pairs, median "
                                      f"{ds.attrs['median_fano_factor']:.3g})")
        t = ds["time"].values
        axes[1].plot(t, ds["fano_median"].values, color=col, label=f"{name} median")
        axes[1].fill_between(t, ds["fano_q25"].values, ds["fano_q75"].values, color=col,
                             alpha=0.2, label="IQR over pairs")
    axes[0].axvline(1.0, color="k", ls=":", lw=1)
    axes[0].set_xlabel("Fano factor (Var/mean of counts; dotted: Poisson)")
    axes[0].set_ylabel("(stimulus, neuron) pairs")
    axes[1].axhline(1.0, color="k", ls=":", lw=1)
    axes[1].axvline(0.0, color="k", lw=0.8)
    axes[1].set_xlabel("window centre, time from onset (ms)")
    axes[1].set_ylabel("Fano factor (sliding window)")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def sparsification_figure(data: Mapping[str, Any], path: Path, *,
                          colours: Mapping[str, str]) -> Path:
    """Proportion of zeros and population sparseness per time bin (mean +/- SEM)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for name, ds in data.items():
        col = _colour(colours, name)
        t = ds["time"].values
        n = int(ds.attrs.get("n_stimuli", 0))
        for ax, key in zip(axes, ("proportion_zeros", "population_sparseness")):
            m, s = ds[key].values, ds[f"{key}_sem"].values
            ax.plot(t, m, color=col, label=f"{name} (mean +/- SEM, n={n} gratings)")
            ax.fill_between(t, m - s, m + s, color=col, alpha=0.25)
    for ax, label in zip(axes, ("proportion of zero counts per bin",
                                "population sparseness (Treves-Rolls)")):
        ax.axvline(0.0, color="k", lw=0.8, ls=":")
        ax.set_xlabel("time from onset (ms)")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def correlation_figure(data: Mapping[str, Any], path: Path, *,
                       colours: Mapping[str, str]) -> Path:
    """Distribution of r_sc and mean r_sc (+/- SEM) against signal correlation."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for name, ds in data.items():
        col = _colour(colours, name)
        centers = ds["r_sc_center"].values
        width = float(centers[1] - centers[0]) if centers.size > 1 else 0.05
        h = np.asarray(ds["r_sc_histogram"].values, dtype=float)
        axes[0].step(centers, h / max(h.sum(), 1) / width, where="mid", color=col,
                     label=f"{name} (n={ds.attrs['n_pairs']} pairs, mean "
                           f"{ds.attrs['mean_r_sc']:.3g} +/- {ds.attrs['sem_r_sc']:.1g})")
        axes[1].errorbar(ds["bin_center"].values, ds["mean_r_sc"].values,
                         yerr=ds["sem_r_sc"].values, color=col, marker="o", capsize=3,
                         label=f"{name} (mean +/- SEM per bin)")
    axes[0].set_xlabel("noise correlation r$_{sc}$ (Pearson r)")
    axes[0].set_ylabel("probability density (1/r)")
    axes[1].axhline(0.0, color="k", lw=0.8, ls=":")
    axes[1].set_xlabel("signal correlation (Pearson r)")
    axes[1].set_ylabel("mean r$_{sc}$ (Pearson r)")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def direction_figure(data: Mapping[str, Mapping[str, np.ndarray]], path: Path, *,
                     colours: Mapping[str, str], dsi_threshold: float) -> Path:
    """DSI and global DSI of the responsive neurons."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    bins = np.linspace(0, 1, 21)
    _hist(axes[0], {m: d["dsi"] for m, d in data.items()}, colours, bins,
          "DSI (dimensionless)", line=dsi_threshold)
    _hist(axes[1], {m: d["global_dsi"] for m, d in data.items()}, colours, bins,
          "global (vector-sum) DSI (dimensionless)")
    axes[0].set_title(f"dotted: direction-selective criterion DSI >= {dsi_threshold:.2g}",
                      fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def size_figure(data: Mapping[str, Mapping[str, np.ndarray]], path: Path, *,
                colours: Mapping[str, str]) -> Path:
    """Normalised size-tuning curves (median, IQR band over neurons) and the SI histogram."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for name, d in data.items():
        col = _colour(colours, name)
        norm = np.asarray(d["normalised"], dtype=float)
        n = norm.shape[1]
        if n:
            q25, med, q75 = np.nanpercentile(norm, [25, 50, 75], axis=1)
            axes[0].plot(d["size_deg"], med, color=col, marker="o",
                         label=f"{name} (median, IQR; n={n} neurons)")
            axes[0].fill_between(d["size_deg"], q25, q75, color=col, alpha=0.2)
    _hist(axes[1], {m: d["si"] for m, d in data.items()}, colours, np.linspace(0, 1, 21),
          "surround suppression index (1 - R_largest / R_peak)")
    axes[0].set_xlabel("aperture diameter (deg)")
    axes[0].set_ylabel("response / neuron's peak")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def rf_figure(data: Mapping[str, Mapping[str, np.ndarray]], examples: Mapping[str, Any] | None,
              path: Path, *, colours: Mapping[str, str]) -> Path:
    """Histograms of the map-element and map-STA correlations; example maps and elements."""
    plt = _pyplot()
    n_ex = 0 if examples is None else len(examples["units"])
    fig = plt.figure(figsize=(14, 4.2 if n_ex == 0 else 7.5))
    cols = 2 * max(n_ex, 1)
    gs = fig.add_gridspec(2 if n_ex == 0 else 4, cols)
    bins = np.linspace(-1, 1, 41)
    for j, (key, label) in enumerate((("corr_element", "r(ON - OFF map, decoder element)"),
                                      ("corr_sta", "r(ON - OFF map, STA)"))):
        ax = fig.add_subplot(gs[0:2, j * cols // 2:(j + 1) * cols // 2])
        _hist(ax, {m: d[key] for m, d in data.items() if key in d}, colours, bins,
              label + " (Pearson r)")
    for i in range(n_ex):
        for r, (key, title) in enumerate((("maps", "ON - OFF map"), ("elements", "element"))):
            ax = fig.add_subplot(gs[2 + r, 2 * i:2 * i + 2])
            img = np.asarray(examples[key][i], dtype=float)
            lim = float(np.nanmax(np.abs(img))) or 1.0
            ext = examples["extent_deg"] if key == "maps" else None
            ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=ext)
            ax.set_title(f"{examples['model']} unit {int(examples['units'][i])}: {title}",
                         fontsize=7)
            ax.tick_params(labelsize=6)
            if key == "maps":
                ax.set_xlabel("x (deg)", fontsize=7)
                ax.set_ylabel("y (deg)", fontsize=7)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def bar_figure(rows: Sequence[Mapping[str, Any]], path: Path, *, group: str, label: str,
               value: str, lower: str | None, upper: str | None, error: str | None = None,
               ylabel: str, title: str, colours: Mapping[str, str]) -> Path:
    """Grouped bars: one group per ``group`` value, one bar per ``label`` (model) with its
    interval (``lower``/``upper`` columns) or symmetric ``error``."""
    plt = _pyplot()
    groups = list(dict.fromkeys(str(r[group]) for r in rows))
    labels = list(dict.fromkeys(str(r[label]) for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) * max(1, len(labels)) / 2), 4))
    width = 0.8 / max(1, len(labels))
    for j, name in enumerate(labels):
        xs, ys, lo, hi = [], [], [], []
        for i, g in enumerate(groups):
            for r in rows:
                if str(r[group]) == g and str(r[label]) == name:
                    v = r.get(value)
                    v = np.nan if v is None else float(v)
                    xs.append(i + (j - (len(labels) - 1) / 2) * width)
                    ys.append(v)
                    if error is not None:
                        e = r.get(error)
                        e = 0.0 if e is None or not np.isfinite(e) else float(e)
                        lo.append(e)
                        hi.append(e)
                    else:
                        a = r.get(lower) if lower else None
                        b = r.get(upper) if upper else None
                        lo.append(0.0 if a is None else max(0.0, v - float(a)))
                        hi.append(0.0 if b is None else max(0.0, float(b) - v))
        ax.bar(xs, ys, width=width, color=_colour(colours, name), label=name,
               yerr=np.array([lo, hi]), capsize=3)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)
