"""Spike-count noise correlations (r_sc) of the shipped iP-VAE and of the Ecker 2010 V1 units.

Same analysis code on both (:mod:`neurofond.analysis.correlations`): per stimulus condition,
the Pearson correlation of the counts of two neurons across repeated trials in a counting
window (default 0-500 ms after onset, the Ecker static gratings' duration), averaged over
the conditions where both neurons have >= ``min_trials`` trials and a mean rate >=
``min_rate_hz`` (trial-weighted, i.e. pooled per-condition z-scores), and signal
correlations between the trial-averaged responses over the same conditions.

Recorded data: Ecker et al. 2010 (Science 327:584) static release, all 17 sessions, units
with contamination < 0.05 (the loader's default); pairs only within a session. The paper
reports mean r_sc = 0.005 +/- 0.004 (SEM) in awake macaque V1; its own criteria (units,
windows) are not reproduced exactly here.

Model: the shipped iP-VAE (``--checkpoint``, default ``ipvae-k512-b24-photos``) at 10 ms per
step, one hypercolumn (all K neurons see the same 1-deg patch), full-field static gratings:
8 orientations x SF {1.5, 3} c/deg x phase 0 x contrast {0.1, 0.2, 0.3} (48 conditions;
``--full``: 12 orientations x phases {0, 90}, 144), 30 trials (``--full``: 60), 300 ms
blank then 500 ms grating. Trials differ only by the Poisson spike sampling; the only
interaction between neurons is the recurrent explaining-away term of the inference
dynamics, ``du_i ~ -sum_j G_ij z_j`` with ``G = Phi^T diag(1/sigma_x^2) Phi``: a spike of a
neuron whose dictionary element overlaps neuron i's lowers i's drive. This lateral
competition predicts negative r_sc for pairs with overlapping features (cosine of the
dictionary columns > 0) and positive r_sc for opposite features; the script measures r_sc
against that overlap (and against signal correlation).

Outputs in ``--out``: ``correlations.json`` (mean +/- SEM r_sc per source, binned by signal
correlation, by tetrode (data) and by dictionary overlap (model), over time),
``correlations_pairs.csv`` (one row per pair) and ``correlations.png``.

    python analyses/correlations.py --out results/correlations
    python analyses/correlations.py --skip-model      # recorded data only (no torch)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from neurofond import _scripts as common

SIGNAL_BINS = np.linspace(-1.0, 1.0, 9)
OVERLAP_BINS = np.array([-1.0, -0.3, -0.1, -0.03, 0.03, 0.1, 0.3, 1.0])


def _summary(values: np.ndarray) -> dict[str, Any]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    out = common.distribution(v)
    out["sem"] = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None
    out["fraction_negative"] = float(np.mean(v < 0)) if v.size else None
    return out


def _binned(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> list[dict[str, Any]]:
    ok = np.isfinite(x) & np.isfinite(y)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = ok & (x >= lo) & ((x < hi) | ((hi == edges[-1]) & (x <= hi)))
        rows.append({"bin": [float(lo), float(hi)], **{k: _summary(y[m])[k]
                                                       for k in ("n", "mean", "sem")}})
    return rows


def _pair_rows(nc, sc, extra: dict[str, np.ndarray] | None = None):
    from neurofond.analysis import correlation_pairs

    pairs = correlation_pairs(nc, sc, position=())
    cols = {"r_sc": pairs["r_sc"].values, "r_signal": pairs["r_signal"].values,
            "n_conditions": pairs["n_conditions"].values, "exclusion": pairs["exclusion"].values,
            "neuron_id": pairs["neuron_id"].values,
            "neuron_id_other": pairs["neuron_id_other"].values}
    if "same_tetrode" in pairs:
        cols["same_tetrode"] = pairs["same_tetrode"].values
    if "session" in pairs.coords:
        cols["session"] = pairs["session"].values
    for k, v in (extra or {}).items():
        cols[k] = v[pairs["i"].values, pairs["j"].values]
    return cols


def ecker(window_ms, min_trials: int, min_rate_hz: float, path: str | None = None):
    """r_sc and signal correlations of every static Ecker session; pairs and time course."""
    from neurofond.analysis import (
        noise_correlations,
        noise_correlations_over_time,
        signal_correlations,
    )
    from neurofond.recordings import load_ecker2010

    sessions = load_ecker2010(path)
    tables, session_means, over_time = [], [], []
    excluded: dict[str, int] = {}
    for resp in sessions:
        nc = noise_correlations(resp, window_ms, min_trials=min_trials, min_rate_hz=min_rate_hz)
        sc = signal_correlations(resp, window_ms)
        for k, v in nc.attrs.items():
            if k.startswith("n_pairs"):
                excluded[k] = excluded.get(k, 0) + int(v)
        t = _pair_rows(nc, sc)
        tables.append(t)
        r = t["r_sc"][np.isfinite(t["r_sc"])]
        if r.size:
            session_means.append(float(r.mean()))
        ot = noise_correlations_over_time(resp, 100.0, 100.0, span_ms=(-200.0, 700.0),
                                          min_trials=min_trials, min_rate_hz=min_rate_hz)
        over_time.append(ot)
    pairs = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
    t_mid = 0.5 * (over_time[0]["time_start_ms"].values + over_time[0]["time_end_ms"].values)
    n = np.stack([o["n_pairs"].values for o in over_time])
    m = np.stack([np.nan_to_num(o["mean_r_sc"].values) for o in over_time])
    with np.errstate(invalid="ignore"):
        mean_t = (n * m).sum(0) / n.sum(0)
    return pairs, {"session_means": session_means, "pair_counts": excluded,
                   "time_ms": t_mid, "mean_r_sc_over_time": mean_t,
                   "n_sessions": len(sessions)}


def model(checkpoint: str, *, contrasts, orientations, sfs, phases, n_trials: int,
          window_ms, min_trials: int, min_rate_hz: float, seed: int, device: str,
          progress: bool):
    """Present the grating sweep to the iP-VAE; r_sc, signal correlation, dictionary overlap."""
    from neurofond.analysis import (
        noise_correlations,
        noise_correlations_over_time,
        signal_correlations,
    )
    from neurofond.population import InSilicoPopulation
    from neurofond.stimuli import ScreenGeometry, grating_sweep

    pop = InSilicoPopulation.from_pretrained(checkpoint, ms_per_step=10.0, device=device)
    geometry = ScreenGeometry(pop.patch_size / 1.0, 32)
    stim = grating_sweep(geometry, orientations=orientations, sfs=sfs, phases=phases,
                         contrasts=contrasts)
    resp = pop.present(stim, n_trials=n_trials, blank_steps=30, stimulus_steps=50,
                       seed=seed, progress=progress)
    nc = noise_correlations(resp, window_ms, min_trials=min_trials, min_rate_hz=min_rate_hz)
    sc = signal_correlations(resp, window_ms)
    phi = pop.model.phi.detach().cpu().numpy().astype(np.float64)  # (D, K)
    unit = phi / np.linalg.norm(phi, axis=0, keepdims=True)
    overlap = unit.T @ unit  # cosine of dictionary elements: sign of the competition
    pairs = _pair_rows(nc, sc, {"dictionary_overlap": overlap})
    ot = noise_correlations_over_time(resp, 100.0, 100.0, span_ms=(-300.0, 500.0),
                                      min_trials=min_trials, min_rate_hz=min_rate_hz)
    t_mid = 0.5 * (ot["time_start_ms"].values + ot["time_end_ms"].values)
    included = np.asarray(nc["condition_exclusion"].values) == 0
    per_contrast = {}
    for c in contrasts:
        ncc = noise_correlations(resp, window_ms, min_trials=min_trials,
                                 min_rate_hz=min_rate_hz, where={"contrast": c})
        iu = np.triu_indices(ncc.sizes["neuron"], 1)
        per_contrast[f"{c:g}"] = _summary(ncc["r_sc"].values[iu])
    info = {"name": pop.name, "n_neurons": int(resp.sizes["neuron"]),
            "n_neurons_with_pairs": int(included.any(0).sum()),
            "n_conditions": int(resp.sizes["stimulus"]),
            "pair_counts": {k: int(v) for k, v in nc.attrs.items() if k.startswith("n_pairs")},
            "mean_count_included": float(np.asarray(nc["mean_count"].values)[included].mean())
            if included.any() else None,
            "time_ms": t_mid, "mean_r_sc_over_time": ot["mean_r_sc"].values,
            "by_contrast": per_contrast}
    return pairs, info


def run(out, checkpoint: str | None = None, *, window_ms=(0.0, 500.0), min_trials: int = 10,
        min_rate_hz: float = 1.0, n_trials: int | None = None, contrasts=(0.1, 0.2, 0.3),
        seed: int = 0, device: str = "cpu", quick: bool = True, skip_model: bool = False,
        skip_data: bool = False, data_path: str | None = None,
        progress: bool = True) -> dict[str, Any]:
    """Run both measurements; returns what ``correlations.json`` holds."""
    from neurofond.pretrained import DEFAULT_MODEL

    out = common.out_dir(out)
    checkpoint = checkpoint or DEFAULT_MODEL
    orientations = np.arange(0.0, 180.0, 22.5 if quick else 15.0)
    sfs, phases = [1.5, 3.0], ([0.0] if quick else [0.0, 90.0])
    n_trials = int(common.pick(n_trials, quick, 30, 60))
    results: dict[str, Any] = {"window_ms": list(window_ms), "min_trials": min_trials,
                               "min_rate_hz": min_rate_hz,
                               "reference": {"ecker2010_awake_mean_r_sc": 0.005,
                                             "ecker2010_sem": 0.004}}
    rows: list[dict[str, Any]] = []
    sources: dict[str, dict[str, np.ndarray]] = {}
    if not skip_data:
        pairs, info = ecker(window_ms, min_trials, min_rate_hz, data_path)
        sources["ecker2010"] = pairs
        same = pairs["same_tetrode"]
        sm = np.asarray(info["session_means"])
        results["ecker2010"] = {
            "r_sc": _summary(pairs["r_sc"]),
            "session_means": {"mean": float(sm.mean()),
                              "sem": float(sm.std(ddof=1) / np.sqrt(sm.size)),
                              "n_sessions": int(sm.size)},
            "r_sc_same_tetrode": _summary(pairs["r_sc"][same]),
            "r_sc_different_tetrode": _summary(pairs["r_sc"][~same]),
            "r_signal": _summary(pairs["r_signal"]),
            "by_signal_correlation": _binned(pairs["r_signal"], pairs["r_sc"], SIGNAL_BINS),
            "pair_counts": info["pair_counts"],
            "time_ms": info["time_ms"], "mean_r_sc_over_time": info["mean_r_sc_over_time"],
        }
    if not skip_model:
        pairs, info = model(checkpoint, contrasts=list(contrasts), orientations=orientations,
                            sfs=sfs, phases=phases, n_trials=n_trials, window_ms=window_ms,
                            min_trials=min_trials, min_rate_hz=min_rate_hz, seed=seed,
                            device=device, progress=progress)
        sources[info["name"]] = pairs
        ov, r = pairs["dictionary_overlap"], pairs["r_sc"]
        ok = np.isfinite(r)
        results["model"] = {
            **info,
            "r_sc": _summary(r),
            "r_signal": _summary(pairs["r_signal"]),
            "by_signal_correlation": _binned(pairs["r_signal"], r, SIGNAL_BINS),
            "by_dictionary_overlap": _binned(ov, r, OVERLAP_BINS),
            "corr_r_sc_vs_overlap": float(np.corrcoef(ov[ok], r[ok])[0, 1])
            if ok.sum() > 2 else None,
            "corr_r_sc_vs_signal": float(np.corrcoef(pairs["r_signal"][ok & np.isfinite(
                pairs["r_signal"])], r[ok & np.isfinite(pairs["r_signal"])])[0, 1])
            if ok.sum() > 2 else None,
            "stimuli": {"orientations": orientations, "sfs": sfs, "phases": phases,
                        "contrasts": list(contrasts), "n_trials": n_trials,
                        "blank_ms": 300, "stimulus_ms": 500, "ms_per_step": 10.0,
                        "patch_size_deg": 1.0, "canvas_px": 32},
        }
    results["settings"] = common.provenance(None, checkpoint=checkpoint, seed=seed,
                                            quick=quick, git_commit=_git_commit())
    for name, p in sources.items():
        n = p["r_sc"].size
        for k in range(n):
            if np.isfinite(p["r_sc"][k]):
                rows.append({"source": name, **{c: v[k] for c, v in p.items()}})
    common.write_json(out / "correlations.json", results)
    common.write_csv(out / "correlations_pairs.csv", rows)
    figure(results, sources, out / "correlations.png")
    return results


def _git_commit() -> str:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def figure(res: dict[str, Any], sources: dict[str, dict[str, np.ndarray]], path: Path) -> Path:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    colors = {"ecker2010": "k"}
    ax = axes[0]
    bins = np.linspace(-0.6, 0.6, 49)
    for k, (name, p) in enumerate(sources.items()):
        r = p["r_sc"][np.isfinite(p["r_sc"])]
        ax.hist(r, bins=bins, density=True, histtype="step", lw=1.5,
                color=colors.get(name, f"C{3 + k}"),
                label=f"{name}: mean {r.mean():.3f} (n={r.size})")
    ax.axvline(0, color="0.5", ls=":")
    ax.set_xlabel("r_sc")
    ax.set_title("noise correlations", fontsize=10)
    ax.legend(fontsize=7)
    ax = axes[1]
    centers = 0.5 * (SIGNAL_BINS[:-1] + SIGNAL_BINS[1:])
    for k, (name, key) in enumerate((("ecker2010", "ecker2010"), ("model", "model"))):
        if key not in res:
            continue
        b = res[key]["by_signal_correlation"]
        mean = np.array([np.nan if x["mean"] is None else x["mean"] for x in b])
        sem = np.array([np.nan if x["sem"] is None else x["sem"] for x in b])
        ax.errorbar(centers, mean, sem, marker="o", color="k" if k == 0 else "C3",
                    label=name if key == "ecker2010" else res["model"]["name"])
    ax.axhline(0, color="0.5", ls=":")
    ax.set_xlabel("signal correlation")
    ax.set_ylabel("mean r_sc")
    ax.legend(fontsize=7)
    ax.set_title("r_sc vs signal correlation", fontsize=10)
    ax = axes[2]
    if "model" in res:
        b = res["model"]["by_dictionary_overlap"]
        c = 0.5 * (OVERLAP_BINS[:-1] + OVERLAP_BINS[1:])
        mean = np.array([np.nan if x["mean"] is None else x["mean"] for x in b])
        sem = np.array([np.nan if x["sem"] is None else x["sem"] for x in b])
        ax.errorbar(np.arange(c.size), mean, sem, marker="o", color="C3")
        ax.set_xticks(np.arange(c.size))
        ax.set_xticklabels([f"{lo:g}..{hi:g}" for lo, hi in zip(OVERLAP_BINS[:-1],
                                                                OVERLAP_BINS[1:])],
                           rotation=45, fontsize=7)
        ax.axhline(0, color="0.5", ls=":")
    ax.set_xlabel("dictionary overlap (cosine of Phi columns)")
    ax.set_ylabel("mean r_sc")
    ax.set_title("model: r_sc vs feature overlap", fontsize=10)
    ax = axes[3]
    for key, color in (("ecker2010", "k"), ("model", "C3")):
        if key in res:
            ax.plot(res[key]["time_ms"], res[key]["mean_r_sc_over_time"], marker="o",
                    color=color, label=key)
    ax.axvline(0, color="0.5", ls=":")
    ax.axhline(0, color="0.5", ls=":")
    ax.set_xlabel("window centre (ms from onset; 100 ms windows)")
    ax.set_ylabel("mean r_sc")
    ax.legend(fontsize=7)
    ax.set_title("r_sc over time", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = common.parser(__doc__, default_out="results/correlations")
    ap.add_argument("--checkpoint", default=None, metavar="NAME_OR_PATH",
                    help="iP-VAE checkpoint (default: the shipped default model)")
    ap.add_argument("--trials", type=int, default=None, help="fast 30, full 60")
    ap.add_argument("--contrasts", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    ap.add_argument("--min-trials", type=int, default=10)
    ap.add_argument("--min-rate-hz", type=float, default=1.0)
    ap.add_argument("--window", type=float, nargs=2, default=[0.0, 500.0],
                    metavar=("START_MS", "END_MS"))
    ap.add_argument("--skip-model", action="store_true", help="recorded data only")
    ap.add_argument("--skip-data", action="store_true", help="model only")
    ap.add_argument("--data-path", default=None, help="Ecker static .mat (default: registry)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not args.skip_model:
        common.setup_torch(args.threads)

    def go():
        res = run(args.out, args.checkpoint, window_ms=tuple(args.window),
                  min_trials=args.min_trials, min_rate_hz=args.min_rate_hz,
                  n_trials=args.trials, contrasts=args.contrasts, seed=args.seed,
                  device=args.device, quick=not args.full, skip_model=args.skip_model,
                  skip_data=args.skip_data, data_path=args.data_path,
                  progress=not args.no_progress)
        for key in ("ecker2010", "model"):
            if key in res:
                r = res[key]["r_sc"]
                print(f"{key}: mean r_sc {r['mean']} +/- {r['sem']} (SEM, {r['n']} pairs)",
                      file=sys.stderr)
        return [Path(args.out) / "correlations.json", Path(args.out) / "correlations.png"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
