"""Orientation and spatial-frequency tuning over the population (Marques2020 grids).

Protocol: the Brain-Score Marques2020 V1-property stimulus sets (Marques, Schrimpf &
DiCarlo 2021, bioRxiv 2021.03.01.433495; :mod:`neurofond.stimuli.marques2020`) shown to
one hypercolumn (K neurons at the canvas centre) of each model - iP-VAE, iG-VAE and
iGrelu-VAE. The paper characterises the learned features (Fig. 3 right, Fig. 11) and,
for iP-VAE, picks neurons by their orientation/SF tuning (appendix C.3); this survey
measures that tuning over all neurons, with the benchmark's stimuli and definitions.

Rendering (the choice this script makes): one 16 x 16 model patch covers
``patch_size_deg`` = 1 deg (16 model px/deg, Nyquist 8 c/deg - close to parafoveal
macaque V1 RF sizes and preferred SFs); the grids are rendered at the model's resolution
on a ``canvas_deg`` = 4 deg canvas (64 px) instead of Brain-Score's 12 deg / 672 px:
the neurons see only the central degree, the gray surround beyond 2 deg does not reach
them. The orientation set (4 SF 0.77-6.17 c/deg x 3 radii x 12 orientations x 8 phases,
1152 gratings) is used whole; from the SF set (22 SF x 2 radii x 6 orientations x 8
phases) the SFs at or above the model's Nyquist limit are dropped (8.7-14.7 c/deg: 4 of
22) because they would alias.

Contrast: default 1, the benchmark's. The presentation transform maps contrast 1 to the
top of the training-input range (``calibration="training_range"``, docs/insilico.md), so
every contrast in [0, 1] stays inside it; under the older photo-std calibration a
full-contrast grating gave ~5x the amplitude of the training patches and made the shipped
iP-VAE run away to its clamp.

Presentation and readout: 20 blank steps, the grating for 20 steps (10 ms per step), the
response summed over 70-170 ms after onset (the benchmark's window). ``measure="rates"``
(default) reads the posterior-mean response (expected spike count ``exp(u)`` for iP-VAE,
``E[a(z)]`` for the Gaussian models) - noise-free, so 1 trial suffices for the fast run;
``"spikes"`` reads sampled counts. iG-VAE activations are signed and are half-wave
rectified (a rate cannot be negative).

Per neuron (Brain-Score conventions, :mod:`neurofond.analysis.tuning`):

- orientation: phase-averaged responses; the (SF, radius) with the largest response; the
  12-point orientation curve there -> circular variance, OSI = (R_pref - R_orth) /
  (R_pref + R_orth), bandwidth (half-width at 1/sqrt(2) of the Hanning-smoothed,
  interpolated peak), preferred orientation;
- modulation ratio F1/F0 across the 8 spatial phases at the preferred orientation, SF and
  radius (Brain-Score's phase-based F1/F0; equivalent to a slowly drifting grating;
  > 1: simple cell);
- SF: phase-averaged responses at the best (radius, orientation); peak SF and bandwidth in
  octaves at 1/sqrt(2) of the peak (NaN when the curve does not fall below it within the
  sampled range);
- responsive: peak response >= 2x the spontaneous (blank) response and >= 1% of the
  population's largest peak; statistics are over responsive neurons.

**Orientation-selective criterion**: OSI > 1/3 (R_orth < R_pref / 2); the fraction with
circular variance < 0.6 is reported too.

Outputs in ``--out``: ``tuning_survey.json`` (per-model summaries: medians, IQRs,
fractions), ``tuning_survey.csv`` (one row per model neuron) and ``tuning_survey.png``
(histograms of CV, orientation bandwidth, OSI, peak SF, SF bandwidth, modulation ratio).

    python analyses/tuning_survey.py --out results/tuning_survey
    python analyses/tuning_survey.py --checkpoint ipvae-k512-b24-photos --contrast 1 --full
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from neurofond import _scripts as common
from neurofond.population import InSilicoPopulation
from neurofond.population.windowed import window_responses
from neurofond.pretrained import SHIPPED, resolve_checkpoints

OSI_SELECTIVE = 1.0 / 3.0
CV_SELECTIVE = 0.6
METRICS = (("circular_variance", "circular variance", False),
           ("orientation_bandwidth_deg", "orientation bandwidth (deg)", False),
           ("osi", "OSI", False),
           ("peak_sf_cpd", "peak SF (c/deg)", True),
           ("sf_bandwidth_octaves", "SF bandwidth (octaves)", False),
           ("modulation_ratio", "modulation ratio F1/F0", False))


def _cube(resp, names: tuple[str, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Trial-mean responses reshaped to the factorial grid ``names`` x neuron."""
    vals = np.asarray(resp.values, dtype=float).mean(0)[..., 0]  # (stim, K)
    levels, index = [], []
    for n in names:
        col = np.round(np.asarray(resp[n].values, dtype=float), 9)
        lv, inv = np.unique(col, return_inverse=True)
        levels.append(lv)
        index.append(np.asarray(inv).ravel())
    cube = np.full(tuple(len(lv) for lv in levels) + (vals.shape[1],), np.nan)
    cube[tuple(index)] = vals
    return cube, levels


def _orientation(resp) -> dict[str, np.ndarray]:
    import xarray as xr

    from neurofond.analysis import modulation_ratio, orientation_selectivity
    from neurofond.responses import make_responses

    cube, (sfs, radii, oris, phases) = _cube(resp, ("sf", "radius_deg", "orientation", "phase"))
    # the orientation set pairs each SF with its own three radii: missing cells stay NaN
    mean_phase = cube.mean(3)  # (sf, radius, ori, K)
    k = cube.shape[-1]
    peak_over_ori = np.nan_to_num(mean_phase, nan=-np.inf).max(2)  # (sf, radius, K)
    best = np.argmax(peak_over_ori.reshape(-1, k), axis=0)
    b_s, b_r = np.unravel_index(best, peak_over_ori.shape[:2])
    cols = np.arange(k)
    curve_vals = mean_phase[b_s, b_r, :, cols].T  # (ori, K)
    curve = xr.DataArray(curve_vals, dims=("orientation", "neuron"),
                         coords={"orientation": oris})
    sel = orientation_selectivity(curve)
    ipref = np.argmax(curve_vals, axis=0)
    by_phase = cube[b_s, b_r, ipref, :, cols]  # (K, phase)
    pseudo = make_responses(by_phase[None, None], bin_ms=1.0, time_start_ms=0.0)
    mr = modulation_ratio(pseudo, tf_hz=1000.0 / len(phases))  # one cycle over the 8 phases
    return {
        "preferred_orientation": np.asarray(sel["preferred_orientation"].values),
        "circular_variance": np.asarray(sel["circular_variance"].values),
        "osi": np.asarray(sel["osi"].values),
        "orientation_bandwidth_deg": np.asarray(sel["bandwidth"].values),
        "modulation_ratio": np.asarray(mr["modulation_ratio"].values)[0],
        "best_sf_orientation_set": sfs[b_s],
        "peak_response_orientation_set": curve_vals[ipref, cols],
    }


def _sf(resp) -> dict[str, np.ndarray]:
    import xarray as xr

    from neurofond.analysis import sf_selectivity

    cube, (sfs, radii, oris, _) = _cube(resp, ("sf", "radius_deg", "orientation", "phase"))
    mean_phase = cube.mean(3)  # (sf, radius, ori, K)
    k = cube.shape[-1]
    peak_over_sf = mean_phase.max(0)  # (radius, ori, K)
    best = np.argmax(peak_over_sf.reshape(-1, k), axis=0)
    b_r, b_o = np.unravel_index(best, peak_over_sf.shape[:2])
    cols = np.arange(k)
    curve = xr.DataArray(mean_phase[:, b_r, b_o, cols], dims=("sf", "neuron"),
                         coords={"sf": sfs})
    sel = sf_selectivity(curve)
    return {"peak_sf_cpd": np.asarray(sel["peak_sf"].values),
            "sf_bandwidth_octaves": np.asarray(sel["bandwidth_octaves"].values)}


def _phase_subset(stim, n_phases: int):
    """Keep ``n_phases`` evenly spaced phases of the 8 (all when n_phases >= 8)."""
    phases = np.unique(stim.params["phase"])
    if n_phases >= phases.size:
        return stim
    keep = phases[:: max(1, phases.size // n_phases)][:n_phases]
    return stim.select(np.isin(stim.params["phase"], keep))


def survey_model(ck, *, contrast: float, n_trials: int, measure: str, patch_size_deg: float,
                 canvas_deg: float, ms_per_step: float, blank_steps: int, stimulus_steps: int,
                 window_ms: tuple[float, float], seed: int, device: str, progress: bool,
                 n_phases: int = 8) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Summary and per-neuron rows of one model."""
    from neurofond.population import rf_summary
    from neurofond.stimuli import marques2020_orientation_grid, marques2020_sf_grid

    pop = InSilicoPopulation.from_checkpoint(ck.path, ms_per_step=ms_per_step,
                                             patch_size_deg=patch_size_deg, device=device)
    ppd = pop.patch_size / patch_size_deg
    size_px = int(round(canvas_deg * ppd))
    nyquist = ppd / 2.0
    w0 = int(round(window_ms[0] / ms_per_step))
    w1 = int(round(window_ms[1] / ms_per_step))
    kw = dict(n_trials=n_trials, blank_steps=blank_steps, stimulus_steps=stimulus_steps,
              window_steps=(w0, w1), measure=measure, baseline_steps=blank_steps,
              progress=progress)
    ori_stim = _phase_subset(marques2020_orientation_grid(size_px=size_px, degrees=canvas_deg,
                                                          contrast=contrast), n_phases)
    r_ori, base = window_responses(pop, ori_stim, seed=seed, **kw)
    del ori_stim
    sf_stim = marques2020_sf_grid(size_px=size_px, degrees=canvas_deg, contrast=contrast)
    sf_stim = _phase_subset(sf_stim.select(sf_stim.params["sf"] < nyquist), n_phases)
    r_sf, base2 = window_responses(pop, sf_stim, seed=seed + 10**6, **kw)
    n_sf_kept = int(np.unique(sf_stim.params["sf"]).size)
    del sf_stim
    ori = _orientation(r_ori)
    sf = _sf(r_sf)
    window_s = (w1 - w0) * ms_per_step / 1000.0
    spont = 0.5 * (base + base2) * (w1 - w0) / window_s  # per-step mean -> per window -> 1/s
    peak = ori["peak_response_orientation_set"] / window_s
    responsive = (peak > 2.0 * spont) & (peak > 0.01 * np.nanmax(peak)) & (peak > 0)
    rf = rf_summary(pop)
    per = {**ori, **sf}
    rows = []
    for i in range(pop.n_units):
        rows.append({"model": ck.key, "unit": i, "responsive": bool(responsive[i]),
                     "peak_response_per_s": peak[i], "spontaneous_per_s": spont[i],
                     **{m: per[m][i] for m, _, _ in METRICS},
                     "preferred_orientation": per["preferred_orientation"][i],
                     "dictionary_orientation": float(rf["orientation"].values[i]),
                     "dictionary_sf_luminance_cpd": float(rf["sf_luminance_cpd"].values[i])
                     if "sf_luminance_cpd" in rf else np.nan})
    r = responsive
    osi, cv, mr = per["osi"][r], per["circular_variance"][r], per["modulation_ratio"][r]
    n_r = int(r.sum())

    def frac(mask: np.ndarray) -> float | None:
        return float(mask.sum() / n_r) if n_r else None

    summary = {
        "model": ck.model_name,
        "n_neurons": int(pop.n_units),
        "n_responsive": n_r,
        "responsive_criterion": "peak >= 2x spontaneous and >= 1% of the population max",
        "fraction_orientation_selective": frac(osi > OSI_SELECTIVE),
        "orientation_selective_criterion": "OSI > 1/3 (R_orth < R_pref / 2)",
        "fraction_cv_below_0.6": frac(cv < CV_SELECTIVE),
        "fraction_simple": frac(mr > 1.0),
        **{m: common.distribution(per[m][r]) for m, _, _ in METRICS},
        "dictionary_sf_luminance_cpd": common.distribution(
            [row["dictionary_sf_luminance_cpd"] for row, ok in zip(rows, r) if ok]),
        "settings": common.provenance(
            ck, contrast=contrast, n_trials=n_trials, measure=measure,
            patch_size_deg=patch_size_deg, model_pixels_per_degree=ppd,
            canvas_deg=canvas_deg, canvas_px=size_px, nyquist_cpd=nyquist,
            sf_set_sfs_kept=n_sf_kept, n_phases=min(n_phases, 8), ms_per_step=ms_per_step,
            blank_steps=blank_steps, stimulus_steps=stimulus_steps, window_ms=window_ms,
            seed=seed),
    }
    return summary, rows


def run(out: str | Path, checkpoints: list[str] | None = None, *, contrast: float = 1.0,
        n_trials: int | None = None, measure: str = "rates", patch_size_deg: float = 1.0,
        canvas_deg: float = 4.0, ms_per_step: float = 10.0, blank_steps: int = 20,
        stimulus_steps: int = 20, window_ms: tuple[float, float] = (70.0, 170.0),
        n_phases: int = 8, seed: int = 0, device: str = "cpu", quick: bool = True,
        progress: bool = True) -> dict[str, Any]:
    """Run the tuning survey; returns ``{model_key: summary}`` (``tuning_survey.json``).

    ``n_trials``: fast 1, full 20 (the benchmark's count). ``n_phases`` < 8 keeps that
    many evenly spaced phases of the grids (for quick tests; the modulation ratio is then
    computed over those phases). Other parameters: see the module docstring.
    """
    from tqdm.auto import tqdm

    out = common.out_dir(out)
    cks = resolve_checkpoints(checkpoints or list(SHIPPED))
    n_trials = int(common.pick(n_trials, quick, 1, 20))
    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for ck in tqdm(cks, desc="models", disable=not progress or len(cks) < 2):
        summary, r = survey_model(ck, contrast=contrast, n_trials=n_trials, measure=measure,
                                  patch_size_deg=patch_size_deg, canvas_deg=canvas_deg,
                                  ms_per_step=ms_per_step, blank_steps=blank_steps,
                                  stimulus_steps=stimulus_steps, window_ms=tuple(window_ms),
                                  seed=seed, device=device, progress=progress,
                                  n_phases=n_phases)
        results[ck.key] = summary
        rows.extend(r)
    common.write_json(out / "tuning_survey.json", results)
    common.write_csv(out / "tuning_survey.csv", rows)
    figure(results, rows, out / "tuning_survey.png")
    return results


def figure(results: dict[str, Any], rows: list[dict[str, Any]], path: Path) -> Path:
    plt = common.pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (metric, label, log) in zip(axes.ravel(), METRICS):
        data = {key: np.array([r[metric] for r in rows if r["model"] == key and r["responsive"]],
                              dtype=float) for key in results}
        allv = np.concatenate([v[np.isfinite(v)] for v in data.values()] + [np.zeros(0)])
        if allv.size == 0:
            ax.set_title(label + " (no data)", fontsize=10)
            continue
        if log:
            lo, hi = max(allv[allv > 0].min() if (allv > 0).any() else 0.1, 1e-3), allv.max()
            bins = np.geomspace(lo, hi * 1.0001 if hi > lo else lo * 2, 20)
            ax.set_xscale("log")
        elif metric in ("circular_variance", "osi"):
            bins = np.linspace(0, 1, 21)
        else:
            bins = np.linspace(0, np.nanpercentile(allv, 99) * 1.05 or 1.0, 20)
        for key, v in data.items():
            v = v[np.isfinite(v)]
            if v.size:
                ax.hist(np.clip(v, bins[0], bins[-1]), bins=bins, histtype="step", lw=1.5,
                        density=True, color=common.COLORS.get(key),
                        label=f"{key} (n={v.size}, med {np.median(v):.2g})")
        if metric == "osi":
            ax.axvline(OSI_SELECTIVE, color="k", ls=":", lw=1)
        if metric == "modulation_ratio":
            ax.axvline(1.0, color="k", ls=":", lw=1)
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle("Marques2020 grids: tuning of responsive model neurons "
                 "(dotted: OSI 1/3 selectivity criterion, F1/F0 = 1)", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = common.parser(__doc__, default_out="results/tuning_survey")
    ap.add_argument("--checkpoint", action="append", default=None, metavar="NAME_OR_PATH",
                    help=f"repeatable (default: {' '.join(SHIPPED)})")
    ap.add_argument("--contrast", type=float, default=1.0,
                    help="grating contrast (the benchmark uses 1; see the docstring)")
    ap.add_argument("--trials", type=int, default=None, help="fast 1, full 20")
    ap.add_argument("--measure", choices=("rates", "spikes"), default="rates")
    ap.add_argument("--patch-size-deg", type=float, default=1.0)
    ap.add_argument("--canvas-deg", type=float, default=4.0)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    common.setup_torch(args.threads)

    def go():
        res = run(args.out, args.checkpoint, contrast=args.contrast, n_trials=args.trials,
                  measure=args.measure, patch_size_deg=args.patch_size_deg,
                  canvas_deg=args.canvas_deg, seed=args.seed, device=args.device,
                  quick=not args.full, progress=not args.no_progress)
        for key, s in res.items():
            print(f"{key:8s} responsive {s['n_responsive']}/{s['n_neurons']} "
                  f"selective {s['fraction_orientation_selective']} "
                  f"CV {s['circular_variance']['median']} OSI {s['osi']['median']} "
                  f"bw {s['orientation_bandwidth_deg']['median']} "
                  f"peakSF {s['peak_sf_cpd']['median']} MR {s['modulation_ratio']['median']}",
                  file=sys.stderr)
        return [Path(args.out) / "tuning_survey.json", Path(args.out) / "tuning_survey.png"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
