"""Files of a comparison: tables, fits, a per-candidate scorecard and figures, in one folder.

:func:`write_outputs` writes into a temporary sibling folder and renames it onto ``out`` at
the end, so ``out`` holds either nothing new or the complete set:

``comparison.csv``
    One row per candidate x session (plus ``session = all``: medians over sessions of the
    predictivity columns, KS on units pooled over sessions): ``model``, ``session``,
    ``n_units``, ``predictivity_raw``, ``ceiling``, ``predictivity_ceiled``, one
    ``ks_similarity_<property>`` column per property (and ``_ceiling`` / ``_ceiled``;
    including ``contrast`` (contrast index), ``c50`` and the pair property ``r_sc``),
    ``mean_r_sc_data`` / ``mean_r_sc_model`` and the numbers of pairs, the fitted
    ``ms_per_step``, ``delay_ms``, ``contrast_gain``.
``units.csv``
    Per candidate and unit: cross-validated r and split-half reliability.
``fits.json``
    Fitted time scale, delay and contrast gain per candidate (with their grids).
``summary.json``
    Per candidate: the median over sessions of the ceiled predictivity with a 95 %
    hierarchical bootstrap CI (:func:`scorecard`), the mean KS similarity over the
    properties, the rank, the mean noise correlation r_sc over the candidate's pairs with a
    95 % bootstrap CI over pairs (``noise_correlation``; the recorded one in
    ``data_noise_correlation``); plus the engine's ``results`` (assumptions, settings).
``predictivity.png``, ``properties.png``
    Ceiled predictivity per session with bootstrap CIs; property distributions (CV, Fano,
    latency shift, contrast index, r_sc), data vs each candidate.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_directory
from .protocol import PAIR_PROPERTIES, PROPERTIES, REQUIRED_COLUMNS
from .scores import ceiled, mean_ci, nanmedian

__all__ = ["check_out_dir", "scorecard", "write_outputs"]

#: The properties whose KS similarities are averaged into ``mean_ks_similarity``.
KS_MEAN = ("cv", "fano", "latency")


def check_out_dir(out: str | os.PathLike, overwrite: bool) -> Path:
    """``out`` as a Path; refuses a non-empty folder (or a file) unless ``overwrite``.

    Raises
    ------
    FileExistsError
        ``out`` is a file, or a non-empty folder and ``overwrite`` is False.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out: {out} is a file")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"--out: {out} is not empty (use --overwrite to replace it)")
    return out


def _session_stat(r: np.ndarray, rel: np.ndarray) -> float:
    return ceiled(nanmedian(r), nanmedian(rel))


def scorecard(comp: Any, *, n_bootstrap: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """Per candidate: median ceiled predictivity with a 95 % bootstrap CI, mean KS, rank.

    The point estimate is the engine's (median over sessions of each session's ceiled
    score). The CI is a paired hierarchical percentile bootstrap: sessions resampled with
    replacement, then units within each drawn session, with the same draws for every
    candidate; per draw and session the ceiled score is recomputed from the units' median r
    and median split-half reliability (the per-unit approximation of the engine's fold
    aggregate), then the median over the drawn sessions. Candidates are ranked by the
    point estimate (1 = best). ``noise_correlation``: mean r_sc over the candidate's
    distinct simulated pairs with a 95 % percentile bootstrap CI over them
    (:func:`~neurofond.compare.scores.mean_ci`): sessions showing the same conditions share
    the model's simulated trials (identical r_sc), so one session per distinct condition set
    enters (``comparison.csv``'s ``mean_r_sc_model`` pools all sessions, like the unit
    properties); and its KS similarity to the recorded pairs.
    """
    from .engine import pooled_pairs

    rng = np.random.default_rng(seed)
    by: dict[str, dict[Any, tuple[np.ndarray, np.ndarray]]] = {}
    for row in comp.unit_rows:
        d = by.setdefault(row["model"], {}).setdefault(row["session"], ([], []))
        d[0].append(row["r"])
        d[1].append(row["reliability"])
    sessions = [s.index for s in comp.sessions]
    first: dict[tuple, int] = {}
    for s in comp.sessions:
        first.setdefault(s.condition_key(), s.index)
    distinct = list(first.values())
    draws = []
    for _ in range(int(n_bootstrap)):
        pick = rng.integers(0, len(sessions), len(sessions))
        draws.append([(sessions[i], rng.integers(0, comp.sessions[i].n_units,
                                                 comp.sessions[i].n_units)) for i in pick])
    summary = {r["model"]: r for r in comp.rows if r["session"] == "all"}
    cards = []
    for key, per in by.items():
        arr = {s: (np.asarray(v[0], float), np.asarray(v[1], float)) for s, v in per.items()}
        boot = np.array([nanmedian([_session_stat(arr[s][0][u], arr[s][1][u]) for s, u in d])
                         for d in draws]) if n_bootstrap else np.array([])
        boot = boot[np.isfinite(boot)]
        row = summary[key]
        ks = [row.get(f"ks_similarity_{p}") for p in KS_MEAN]
        ks = [float(v) for v in ks if v is not None and np.isfinite(v)]
        cards.append({
            "model": key, "label": row.get("label"),
            "median_ceiled_predictivity": row["predictivity_ceiled"],
            "ci95": ([float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]
                     if boot.size else [None, None]),
            "median_raw_predictivity": row["predictivity_raw"],
            "median_ceiling": row["ceiling"],
            "mean_ks_similarity": float(np.mean(ks)) if ks else None,
            "ks_properties": list(KS_MEAN),
            "n_sessions": len(sessions), "n_units": row["n_units"],
            "fit": {k: comp.fits[key][k] for k in ("ms_per_step", "delay_ms", "contrast_gain")},
            "noise_correlation": {
                **_rsc_card(pooled_pairs(comp.model_pairs.get(key, {}), distinct),
                            n_bootstrap, seed, row.get("ks_similarity_r_sc")),
                "n_condition_sets": len(distinct),
                "pairs": "distinct simulated pairs: one session per distinct condition set"},
        })
    order = sorted(cards, key=lambda c: -(c["median_ceiled_predictivity"]
                                          if np.isfinite(c["median_ceiled_predictivity"])
                                          else -np.inf))
    for i, c in enumerate(order):
        c["rank"] = i + 1
    return order


def _rsc_card(values: np.ndarray, n_bootstrap: int, seed: int,
              ks: float | None = None) -> dict[str, Any]:
    res = mean_ci(values, n_bootstrap=n_bootstrap, seed=seed)
    out = {"mean_r_sc": res["mean"], "ci95": res["ci95"], "sem": res["sem"],
           "n_pairs": res["n"]}
    if ks is not None:
        out["ks_similarity_r_sc"] = ks
    return out


def write_outputs(comp: Any, out: str | os.PathLike, *, overwrite: bool = False,
                  n_bootstrap: int = 1000, seed: int = 0, figures: bool = True,
                  extra: dict[str, Any] | None = None) -> Path:
    """Write the comparison files (module docstring) into ``out``; returns ``out``.

    Built in a temporary sibling folder and renamed onto ``out`` (an existing ``out`` is
    replaced only with ``overwrite``; see :func:`check_out_dir`). ``extra`` is merged into
    ``summary.json`` (e.g. the wall time).
    """
    from .._scripts import write_csv, write_json

    out = check_out_dir(out, overwrite)
    with atomic_directory(out) as tmp:
        rows = comp.rows
        columns = list(REQUIRED_COLUMNS) + [k for k in rows[0] if k not in REQUIRED_COLUMNS]
        write_csv(tmp / "comparison.csv", rows, columns)
        write_csv(tmp / "units.csv", comp.unit_rows)
        write_csv(tmp / "properties.csv", comp.prop_rows)
        write_csv(tmp / "fit_grid.csv", comp.grid_rows)
        write_json(tmp / "fits.json", comp.fits)
        cards = scorecard(comp, n_bootstrap=n_bootstrap, seed=seed)
        from .engine import pooled_pairs

        data_rsc = _rsc_card(pooled_pairs(comp.data_pairs, [s.index for s in comp.sessions]),
                             n_bootstrap, seed)
        summary = {"candidates": cards, "winner": cards[0]["model"] if cards else None,
                   "criterion": "median over sessions of predictivity_ceiled",
                   "data_noise_correlation": data_rsc,
                   "results": comp.results, **(extra or {})}
        write_json(tmp / "summary.json", summary)
        if figures:
            _figure_predictivity(comp, cards, tmp / "predictivity.png", seed)
            _figure_properties(comp, tmp / "properties.png")
    return out


def _figure_predictivity(comp, cards, path: Path, seed: int) -> Path:
    from .._files import save_figure
    from .._scripts import pyplot

    plt = pyplot()
    keys = [c["model"] for c in cards]
    sessions = [s.index for s in comp.sessions]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(sessions) * len(keys) / 2 + 3), 4))
    rng = np.random.default_rng(seed)
    width = 0.8 / max(1, len(keys))
    for j, key in enumerate(keys):
        for i, s in enumerate(sessions):
            u = [r for r in comp.unit_rows if r["model"] == key and r["session"] == s]
            r = np.array([x["r"] for x in u], float)
            rel = np.array([x["reliability"] for x in u], float)
            val = next(x["predictivity_ceiled"] for x in comp.rows
                       if x["model"] == key and x["session"] == s)
            boot = [_session_stat(r[b], rel[b]) for b in
                    (rng.integers(0, r.size, r.size) for _ in range(200))] if r.size else []
            boot = np.array(boot, float)
            boot = boot[np.isfinite(boot)]
            x = i + (j - (len(keys) - 1) / 2) * width
            ax.bar(x, val if np.isfinite(val) else 0, width, color=f"C{j % 10}",
                   label=key if i == 0 else None)
            if boot.size:
                ax.plot([x, x], np.percentile(boot, [2.5, 97.5]), color="k", lw=1)
    ax.set_xticks(range(len(sessions)))
    ax.set_xticklabels([str(s) for s in sessions])
    ax.set_xlabel("session")
    ax.set_ylabel("ceiled predictivity (95 % bootstrap CI over units)")
    ax.axhline(0, color="k", lw=0.6)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def _figure_properties(comp, path: Path) -> Path:
    from .._files import save_figure
    from .._scripts import pyplot
    from .engine import gather, pooled_pairs

    plt = pyplot()
    idx = [s.index for s in comp.sessions]
    d = gather(comp.data_props, idx)
    shown = [*KS_MEAN, "contrast", *PAIR_PROPERTIES]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 3.6))
    for ax, short in zip(np.atleast_1d(axes), shown):
        pair = short in PAIR_PROPERTIES
        prop, bins = PAIR_PROPERTIES[short] if pair else PROPERTIES[short]
        dv = pooled_pairs(comp.data_pairs, idx, prop) if pair else d[prop]
        dv = dv[np.isfinite(dv)]
        if dv.size:
            ax.hist(np.clip(dv, bins[0], bins[-1]), bins=bins, density=True, color="0.6",
                    alpha=0.6, label=f"data (n={dv.size})")
        for j, key in enumerate(comp.model_props):
            mv = (pooled_pairs(comp.model_pairs.get(key, {}), idx, prop) if pair
                  else gather(comp.model_props[key], idx)[prop])
            mv = mv[np.isfinite(mv)]
            if mv.size:
                h, _ = np.histogram(np.clip(mv, bins[0], bins[-1]), bins=bins, density=True)
                ax.stairs(h, bins, color=f"C{j % 10}", lw=1.5, label=f"{key} (n={mv.size})")
        ax.set_title(prop + (" (pairs)" if pair else ""), fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
        else:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return save_figure(fig, path)
