"""Contrast-dependent response latency of iP-VAE neurons (paper Fig. 8, appendix C.3).

Protocol (Vafaii, Galor & Yates 2025, Fig. 8; after Carandini et al. 1997 and Albrecht
et al. 2002, J Neurophysiol 88:888-913):

1. Tuning sweep (neuron selection). Static full-field gratings, 12 orientations
   (0-165 deg) x 6 spatial frequencies (0.5-6 c/deg, log-spaced) x 4 phases at contrast
   ``sweep_contrast`` (default: the highest test contrast), shown for 40
   steps after 20 blank steps; the response is the posterior-mean rate (expected spike
   count ``exp(u)``) summed over steps 10-39. For every neuron: preferred SF and
   orientation (peak of the phase-averaged response), preferred phase (best of the 4 at
   that orientation and SF), and OSI = (R_pref - R_orth) / (R_pref + R_orth) of the
   orientation curve at the preferred SF
   (:func:`neurofond.analysis.orientation_selectivity`).
   **Selection criterion**: OSI >= ``osi_min`` (default 0.5, i.e. R_orth <= R_pref / 3),
   a peak response >= ``min_rate_hz`` (default 5 spikes/s) and >= 2x the neuron's
   spontaneous (blank) rate. Among those, the ``n_neurons`` with the highest peak response
   are kept (fast: 32; full: 128).
2. Drifting gratings at each selected neuron's preferred orientation (drift along the
   wave vector) and SF, starting at its preferred phase (so the latency reflects the
   dynamics, not the grating's phase at onset), at ``contrasts`` (default 7 log-spaced
   from 0.15 to 1, see below), temporal frequency 2 Hz, for one cycle (500 ms), after
   a 300 ms mean-gray blank period (baseline). Time: 5 ms per model step, 5 steps per
   frame (40 Hz), as in the ``contrast_latency`` protocol. Trials (default 50, ``--full``
   200) differ only by the Poisson spike sampling.
3. Per neuron and contrast, the trial-averaged PSTH (Gaussian smoothing ``smooth_ms``):
   onset latency = first time the PSTH exceeds the baseline mean + ``k`` baseline SD for
   ``min_consecutive_bins`` bins (``criterion="sd"``; or ``"half_peak"``: half-way from
   baseline to peak), and time to peak, both within the first half cycle
   (``search_cycles``; the response to the first pass of the preferred phase;
   :func:`neurofond.analysis.response_latency`). Times are bin centres after onset.
   Computed twice: on the spike counts (the experiment; top-level keys) and on the
   expected counts ``exp(u)`` of the same trials (``expected_counts``: the PSTH an
   infinite number of spike draws along the same trajectories would give - much less
   noisy at the low rates of low contrasts).
4. Population summary per contrast: median over neurons with a detected response (NaN
   latencies - no response - are left out; ``n_responding`` counts them). The shift is
   the median onset at the lowest contrast with a response minus that at the highest
   contrast, in ms, model steps (``shift_steps``) and grating cycles (``shift_cycles``,
   the paper's unit); ``paired_onset_shift_ms`` is the same difference per neuron.
   A Naka-Rushton function is fit to the population's mean evoked rate vs contrast.

Contrast range: the presentation transform keeps the model input proportional to contrast
and maps contrast 1 to the top of the training-input range (``calibration="training_range"``,
docs/insilico.md), so no contrast in [0, 1] drives the model to its clamp. The default
range spans 0.15-1 (log-spaced); ``--contrasts`` sets any other (the paper scales contrast
to its own input units).

Units: the model has no intrinsic time scale; ``ms_per_step`` only labels the axis, so
``shift_steps`` is the model-native quantity.

Outputs in ``--out``: ``contrast_latency.json``, ``contrast_latency.csv`` (one row per
neuron x contrast), ``contrast_latency_psth.csv`` (population PSTHs per contrast) and
``contrast_latency.png`` (population PSTHs per contrast, latency vs contrast).

    python analyses/contrast_latency.py --out results/contrast_latency
    python analyses/contrast_latency.py --criterion half_peak --trials 100
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from neurofond import _scripts as common
from neurofond.population import InSilicoPopulation
from neurofond.population.windowed import window_responses
from neurofond.pretrained import DEFAULT_MODEL, resolve_checkpoints

SWEEP_ORIENTATIONS = np.arange(0.0, 180.0, 15.0)
SWEEP_SFS = np.geomspace(0.5, 6.0, 6)
SWEEP_PHASES = np.array([0.0, 90.0, 180.0, 270.0])


def tuning_sweep(pop, geometry, *, seed: int, progress: bool, sfs=SWEEP_SFS,
                 orientations=SWEEP_ORIENTATIONS, phases=SWEEP_PHASES,
                 contrast: float = 1.0) -> dict[str, np.ndarray]:
    """Preferred orientation / SF / phase, OSI and peak rate of every neuron (static gratings)."""
    import xarray as xr

    from neurofond.analysis import orientation_selectivity
    from neurofond.stimuli import grating_sweep

    stim = grating_sweep(geometry, orientations=orientations, sfs=sfs, phases=phases,
                         contrasts=[contrast])
    blank, shown, window = 20, 40, (10, 40)
    resp, base = window_responses(pop, stim, n_trials=1, blank_steps=blank,
                                         stimulus_steps=shown, window_steps=window,
                                         baseline_steps=blank, seed=seed, progress=progress)
    ms = pop.ms_per_step
    rate = resp.values.mean(0)[..., 0] * 1000.0 / ((window[1] - window[0]) * ms)  # (stim, K)
    ori, sf, ph = (np.asarray(resp[c].values, dtype=float) for c in ("orientation", "sf",
                                                                      "phase"))
    o_i = np.searchsorted(orientations, ori)
    s_i = np.searchsorted(sfs, sf)
    p_i = np.searchsorted(phases, ph)
    cube = np.zeros((len(orientations), len(sfs), len(phases), rate.shape[1]))
    cube[o_i, s_i, p_i] = rate
    mean_phase = cube.mean(2)  # (ori, sf, K)
    k = rate.shape[1]
    flat = mean_phase.reshape(-1, k)
    best = np.argmax(flat, axis=0)
    b_o, b_s = np.unravel_index(best, mean_phase.shape[:2])
    cols = np.arange(k)
    curve = xr.DataArray(mean_phase[:, b_s, cols], dims=("orientation", "neuron"),
                         coords={"orientation": orientations})
    sel = orientation_selectivity(curve)
    best_phase = np.argmax(cube[b_o, b_s, :, cols], axis=1)
    return {
        "unit": np.asarray(resp["unit"].values),
        "orientation": orientations[b_o],
        "sf": sfs[b_s],
        "phase": phases[best_phase],
        "peak_rate_hz": flat[best, cols],
        "spontaneous_hz": base * 1000.0 / ms,
        "osi": np.asarray(sel["osi"].values),
        "circular_variance": np.asarray(sel["circular_variance"].values),
    }


def select_neurons(tun: dict[str, np.ndarray], *, osi_min: float, min_rate_hz: float,
                   n_neurons: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Indices of the selected neurons (strongest responses first) and the criterion."""
    peak, spont, osi = tun["peak_rate_hz"], tun["spontaneous_hz"], tun["osi"]
    with np.errstate(invalid="ignore"):
        ok = (np.nan_to_num(osi, nan=-1) >= osi_min) & (peak >= min_rate_hz) & (peak >= 2 * spont)
    idx = np.flatnonzero(ok)
    idx = idx[np.argsort(-peak[idx], kind="stable")][:n_neurons]
    info = {"criterion": f"OSI >= {osi_min:g} at the preferred SF, peak >= {min_rate_hz:g} "
                         f"spikes/s and >= 2x spontaneous; strongest {n_neurons} kept",
            "osi_min": osi_min, "min_rate_hz": min_rate_hz, "n_candidates": int(ok.sum()),
            "n_total": int(ok.size), "n_selected": int(idx.size)}
    return idx, info


def run(out: str | Path, checkpoint: str | None = None, *, contrasts: Any = None,
        n_trials: int | None = None, n_neurons: int | None = None, tf_hz: float = 2.0,
        n_cycles: int = 1, ms_per_step: float = 5.0, steps_per_frame: int = 5,
        blank_steps: int = 60, patch_size_deg: float = 1.0, canvas_px: int = 32,
        criterion: str = "sd", k: float = 3.0, min_consecutive_bins: int = 2,
        smooth_ms: float | None = 10.0, osi_min: float = 0.5, min_rate_hz: float = 5.0,
        search_cycles: float = 0.5, sweep_sfs: Any = None,
        sweep_contrast: float | None = None, seed: int = 0,
        device: str = "cpu", quick: bool = True, progress: bool = True) -> dict[str, Any]:
    """Run the contrast-latency experiment; returns what ``contrast_latency.json`` holds.

    Parameters
    ----------
    out : output folder (created).
    checkpoint : iP-VAE name or path (default ``ipvae-k512-b24-photos``).
    contrasts : Michelson contrasts (default ``geomspace(0.15, 1.0, 7)``).
    n_trials, n_neurons : fast 50 / 32, full 200 / 128.
    tf_hz, n_cycles : drift temporal frequency and cycles shown.
    ms_per_step, steps_per_frame, blank_steps : timing (frame rate =
        1000 / (ms_per_step * steps_per_frame) Hz).
    patch_size_deg, canvas_px : one 16-px model patch covers ``patch_size_deg``; the
        canvas is ``canvas_px`` pixels at ``16 / patch_size_deg`` pixels per degree.
    criterion, k, min_consecutive_bins, smooth_ms : onset definition
        (:func:`neurofond.analysis.response_latency`).
    search_cycles : onset and peak are searched from onset to this many drift cycles
        (default 0.5: the first pass of the preferred phase; by then the grating is at the
        anti-preferred phase).
    osi_min, min_rate_hz : selection criterion (see the module docstring).
    sweep_sfs : SFs of the tuning sweep (c/deg; default 0.5-6, 6 log-spaced).
    sweep_contrast : contrast of the tuning sweep (default max(contrasts)).
    """
    from tqdm.auto import tqdm

    from neurofond.responses import make_responses
    from neurofond.stimuli import ScreenGeometry, render_gratings

    out = common.out_dir(out)
    ck = resolve_checkpoints([checkpoint or DEFAULT_MODEL])[0]
    if ck.family != "poisson":
        print(f"warning: {ck.name} is not an iP-VAE; 'spikes' are sampled activations",
              file=sys.stderr)
    contrasts = np.sort(np.asarray(contrasts if contrasts is not None
                                   else np.geomspace(0.15, 1.0, 7), dtype=float))
    if contrasts.size < 2 or contrasts.min() <= 0 or contrasts.max() > 1:
        raise ValueError(f"contrasts: expected >= 2 values in (0, 1], got {contrasts.tolist()}")
    n_trials = int(common.pick(n_trials, quick, 50, 200))
    n_neurons = int(common.pick(n_neurons, quick, 32, 128))
    pop = InSilicoPopulation.from_checkpoint(ck.path, ms_per_step=ms_per_step,
                                             patch_size_deg=patch_size_deg, device=device)
    geometry = ScreenGeometry(pop.patch_size / patch_size_deg, canvas_px)
    frame_ms = ms_per_step * steps_per_frame
    cycle_ms = 1000.0 / tf_hz
    n_frames = int(round(n_cycles * cycle_ms / frame_ms))
    if not math.isclose(n_frames * frame_ms, n_cycles * cycle_ms, rel_tol=1e-6):
        raise ValueError(f"tf_hz: {n_cycles} cycle(s) at {tf_hz:g} Hz is not a whole number of "
                         f"{frame_ms:g} ms frames; change tf_hz, ms_per_step or steps_per_frame")
    stim_steps = n_frames * steps_per_frame
    if not 0 < search_cycles <= n_cycles:
        raise ValueError(f"search_cycles: expected a value in (0, n_cycles={n_cycles}], got "
                         f"{search_cycles!r}")

    # 1. selection
    sfs = np.sort(np.asarray(sweep_sfs if sweep_sfs is not None else SWEEP_SFS, dtype=float))
    sweep_contrast = float(contrasts.max() if sweep_contrast is None
                           else sweep_contrast)
    tun = tuning_sweep(pop, geometry, seed=seed, progress=progress, sfs=sfs,
                       contrast=sweep_contrast)
    idx, selection = select_neurons(tun, osi_min=osi_min, min_rate_hz=min_rate_hz,
                                    n_neurons=n_neurons)
    if idx.size == 0:
        raise RuntimeError(f"no neuron of {ck.name} meets the selection criterion "
                           f"({selection['criterion']}); lower osi_min / min_rate_hz")

    # 2. drifting gratings: one stimulus per (orientation, sf, phase) x contrast
    triples = np.stack([tun["orientation"][idx], tun["sf"][idx], tun["phase"][idx]], 1)
    uniq, which = np.unique(triples, axis=0, return_inverse=True)
    which = np.asarray(which).ravel()
    n_c = contrasts.size
    t_idx = np.repeat(np.arange(len(uniq)), n_c)
    c_idx = np.tile(np.arange(n_c), len(uniq))
    n_stim = t_idx.size
    params = {"kind": np.full(n_stim, "drifting"), "direction": uniq[t_idx, 0],
              "orientation": uniq[t_idx, 0], "sf": uniq[t_idx, 1], "phase": uniq[t_idx, 2],
              "contrast": contrasts[c_idx], "tf": np.full(n_stim, float(tf_hz))}
    stim = render_gratings(params, geometry, n_frames=n_frames,
                           frame_rate_hz=1000.0 / frame_ms)
    n_time = blank_steps + stim_steps
    n_sel = idx.size
    spikes = np.zeros((n_trials, n_c, n_sel, n_time), dtype=np.uint16)
    rates = np.zeros((n_trials, n_c, n_sel, n_time), dtype=np.float32)
    chunk = max(1, int(64e6 // (5 * n_trials * pop.n_units * n_time)))
    bar = tqdm(total=n_stim, desc="drifting gratings", unit="stim", disable=not progress)
    for s0 in range(0, n_stim, chunk):
        s1 = min(n_stim, s0 + chunk)
        ds = pop.present(stim.select(slice(s0, s1)), n_trials=n_trials,
                         blank_steps=blank_steps, steps_per_frame=steps_per_frame,
                         seed=seed + 1 + s0, progress=False, return_rates=True)
        sp, rt = np.asarray(ds["spikes"].values), np.asarray(ds["rates"].values)
        for j, s in enumerate(range(s0, s1)):
            for i in np.flatnonzero(which == t_idx[s]):
                spikes[:, c_idx[s], i] = np.clip(np.rint(sp[:, j, idx[i]]), 0, 65535)
                rates[:, c_idx[s], i] = rt[:, j, idx[i]]
        bar.update(s1 - s0)
    bar.close()
    kw = dict(bin_ms=ms_per_step, stimulus_coords={"contrast": contrasts},
              neuron_coords={"unit": tun["unit"][idx],
                             "preferred_orientation": tun["orientation"][idx],
                             "preferred_sf": tun["sf"][idx], "osi": tun["osi"][idx]},
              time_start_ms=-blank_steps * ms_per_step, source=f"model:{ck.name}")

    # 3. latency per neuron and contrast, from spikes and from the expected counts
    search = (0.0, search_cycles * cycle_ms)
    lat_kw = dict(contrasts=contrasts, baseline_ms=(-blank_steps * ms_per_step, 0.0),
                  search=search, criterion=criterion, k=k,
                  min_consecutive_bins=min_consecutive_bins, smooth_ms=smooth_ms,
                  ms_per_step=ms_per_step, tf_hz=tf_hz)
    summ, per, times, pop_psth = latency_summary(make_responses(spikes, **kw), **lat_kw)
    summ_r, per_r, _, pop_psth_r = latency_summary(make_responses(rates, **kw), **lat_kw)
    results = {
        "model": ck.name,
        **summ,
        "n_neurons": int(n_sel),
        "ms_per_step": ms_per_step,
        "expected_counts": summ_r,
        "selection": selection,
        "neurons": [{"unit": int(tun["unit"][i]), "orientation": float(tun["orientation"][i]),
                     "sf_cpd": float(tun["sf"][i]), "phase": float(tun["phase"][i]),
                     "osi": float(tun["osi"][i]),
                     "sweep_peak_rate_hz": float(tun["peak_rate_hz"][i])} for i in idx],
        "settings": common.provenance(
            ck, n_trials=n_trials, tf_hz=tf_hz, n_cycles=n_cycles, blank_steps=blank_steps,
            stimulus_steps=stim_steps, steps_per_frame=steps_per_frame,
            patch_size_deg=patch_size_deg, canvas_px=canvas_px,
            pixels_per_degree=geometry.pixels_per_degree, criterion=criterion, k=k,
            min_consecutive_bins=min_consecutive_bins, smooth_ms=smooth_ms,
            search_window_ms=search, sweep_sfs=sfs, sweep_contrast=sweep_contrast, seed=seed),
    }
    rows = []
    for j, c in enumerate(contrasts):
        for i, unit in enumerate(tun["unit"][idx]):
            rows.append({"unit": int(unit), "contrast": float(c),
                         **{name: a[j, i] for name, a in per.items()},
                         **{f"{name}_expected": a[j, i] for name, a in per_r.items()}})
    common.write_json(out / "contrast_latency.json", results)
    common.write_csv(out / "contrast_latency.csv", rows)
    psth_rows = [{"time_ms": t,
                  **{f"spikes_c{c:.3g}": pop_psth[j, ti] for j, c in enumerate(contrasts)},
                  **{f"expected_c{c:.3g}": pop_psth_r[j, ti] for j, c in enumerate(contrasts)}}
                 for ti, t in enumerate(times)]
    common.write_csv(out / "contrast_latency_psth.csv", psth_rows)
    figure(results, times, pop_psth, pop_psth_r, out / "contrast_latency.png")
    return results


def latency_summary(responses, *, contrasts: np.ndarray, baseline_ms: tuple[float, float],
                    search: tuple[float, float], criterion: str, k: float,
                    min_consecutive_bins: int, smooth_ms: float | None, ms_per_step: float,
                    tf_hz: float) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray,
                                           np.ndarray]:
    """Latencies per (contrast, neuron), their medians and shifts, and the population PSTH."""
    from neurofond.analysis import fit_naka_rushton, psth, response_latency

    n_c = contrasts.size
    lat = response_latency(responses, baseline_ms, criterion=criterion, k=k,
                           min_consecutive_bins=min_consecutive_bins, smooth_ms=smooth_ms,
                           search_window_ms=search)
    onset = np.asarray(lat["onset_ms"].values)  # (contrast, neuron)
    peak = np.asarray(lat["peak_ms"].values)
    peak_rate = np.asarray(lat["peak_rate"].values)
    baseline = np.asarray(lat["baseline_rate"].values)
    rate_psth = psth(responses, smooth_ms=smooth_ms)  # (contrast, neuron, time) spikes/s
    times = 0.5 * (rate_psth["time_start_ms"].values + rate_psth["time_end_ms"].values)
    evoked = np.asarray(rate_psth.values) - baseline[..., None]
    scale = np.nanmax(evoked[..., times >= 0], axis=(0, 2))
    norm = evoked / np.where(scale > 0, scale, np.nan)[None, :, None]
    with np.errstate(invalid="ignore"):
        pop_psth = np.nanmean(norm, axis=1)  # (contrast, time)
    in_search = (times >= search[0]) & (times < search[1])
    mean_rate = np.asarray(rate_psth.values)[..., in_search].mean(-1)

    def med(a):
        return [common.distribution(a[j])["median"] for j in range(n_c)]

    def iqr(a):
        return [[d["q25"], d["q75"]] for d in map(common.distribution, a)]

    onset_med, peak_med = med(onset), med(peak)
    finite = [j for j in range(n_c) if onset_med[j] is not None]
    shift_ms = peak_shift_ms = paired = shift_contrasts = None
    if len(finite) >= 2:
        lo, hi = finite[0], finite[-1]
        shift_contrasts = [float(contrasts[lo]), float(contrasts[hi])]
        shift_ms = onset_med[lo] - onset_med[hi]
        if peak_med[lo] is not None and peak_med[hi] is not None:
            peak_shift_ms = peak_med[lo] - peak_med[hi]
        paired = common.distribution(onset[lo] - onset[hi])
    try:
        nr = fit_naka_rushton(contrasts, np.nanmean(mean_rate - baseline, axis=1))
        naka = {p: float(np.asarray(nr[p]).ravel()[0]) for p in ("r_max", "c50", "n", "r0", "r2")}
    except Exception as exc:  # a failed fit must not lose the experiment
        naka = {"error": str(exc)}

    def scaled(v, f):
        return None if v is None else v * f

    summary = {
        "contrasts": contrasts,
        "onset_latency_ms": onset_med,
        "onset_latency_iqr_ms": iqr(onset),
        "peak_latency_ms": peak_med,
        "peak_latency_iqr_ms": iqr(peak),
        "peak_rate_hz": med(peak_rate),
        "mean_rate_hz": med(mean_rate),
        "baseline_rate_hz": common.distribution(baseline)["median"],
        "n_responding": [int(np.isfinite(onset[j]).sum()) for j in range(n_c)],
        "shift_contrasts": shift_contrasts,
        "shift_ms": shift_ms,
        "shift_steps": scaled(shift_ms, 1.0 / ms_per_step),
        "shift_cycles": scaled(shift_ms, tf_hz / 1000.0),
        "peak_shift_ms": peak_shift_ms,
        "peak_shift_steps": scaled(peak_shift_ms, 1.0 / ms_per_step),
        "peak_shift_cycles": scaled(peak_shift_ms, tf_hz / 1000.0),
        "paired_onset_shift_ms": paired,
        "naka_rushton_population": naka,
    }
    per = {"onset_ms": onset, "peak_ms": peak, "peak_rate_hz": peak_rate,
           "mean_rate_hz": mean_rate, "baseline_rate_hz": baseline}
    return summary, per, times, pop_psth


def figure(res: dict[str, Any], times: np.ndarray, pop_psth: np.ndarray,
           pop_psth_expected: np.ndarray, path: Path) -> Path:
    """Population PSTHs (spikes; expected counts) per contrast and latency vs contrast."""
    plt = common.pyplot()
    contrasts = np.asarray(res["contrasts"], dtype=float)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    cmap = plt.get_cmap("viridis")
    peak = np.nanmax(np.where(times >= 0, pop_psth_expected, np.nan), axis=1, keepdims=True)
    shape = pop_psth_expected / np.where(peak > 0, peak, np.nan)
    panels = ((axes[0], pop_psth, "spike PSTH", "evoked rate / neuron's max, mean"),
              (axes[1], shape, "expected-count PSTH, each scaled to its peak",
               "evoked rate / peak of the curve"))
    for ax, data, what, ylabel in panels:
        for j, c in enumerate(contrasts):
            ax.plot(times, data[j], color=cmap(j / max(1, len(contrasts) - 1)),
                    label=f"{c:.3g}")
        ax.axvline(0, color="k", lw=0.8, ls=":")
        ax.set_xlabel("time from onset (ms)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{what} ({res['n_neurons']} neurons)", fontsize=9)
    axes[0].legend(title="contrast", fontsize=7)
    ax = axes[2]
    for src, ls, tag in ((res, "-", "spikes"), (res["expected_counts"], "--", "expected")):
        for key, marker, label in (("onset_latency_ms", "o", "onset"),
                                   ("peak_latency_ms", "s", "time to peak")):
            med = np.array([np.nan if v is None else v for v in src[key]], dtype=float)
            q = np.array([[np.nan if v is None else v for v in pair]
                          for pair in src[key.replace("_ms", "_iqr_ms")]], dtype=float)
            err = np.abs(np.stack([med - q[:, 0], q[:, 1] - med]))
            ax.errorbar(contrasts * (1.0 if tag == "spikes" else 1.04), med, yerr=err,
                        marker=marker, ls=ls, capsize=3, label=f"{label} ({tag})",
                        color="C0" if key.startswith("onset") else "C1",
                        alpha=1.0 if tag == "spikes" else 0.6)
    ax.set_xscale("log")
    ax.set_xticks(contrasts)
    ax.set_xticklabels([f"{c:.2g}" for c in contrasts], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel("contrast")
    ax.set_ylabel("latency (ms; median, IQR)")
    shift = res.get("shift_ms")
    ax.set_title("latency vs contrast" + ("" if shift is None else
                 f" (onset shift {shift:.0f} ms = {res['shift_steps']:.1f} steps)"), fontsize=10)
    ax.legend(fontsize=7)
    sec = ax.secondary_yaxis("right", functions=(lambda v: v / res["ms_per_step"],
                                                 lambda s: s * res["ms_per_step"]))
    sec.set_ylabel("model steps")
    fig.suptitle(f"{res['model']}: drifting gratings at preferred orientation, SF and phase "
                 f"({res['settings']['n_trials']} trials)", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = common.parser(__doc__, default_out="results/contrast_latency")
    ap.add_argument("--checkpoint", default=None, metavar="NAME_OR_PATH",
                    help=f"iP-VAE checkpoint (default {DEFAULT_MODEL})")
    ap.add_argument("--contrasts", type=float, nargs="+", default=None,
                    help="default: 7 log-spaced 0.15-1")
    ap.add_argument("--trials", type=int, default=None, help="fast 50, full 200")
    ap.add_argument("--neurons", type=int, default=None, help="max neurons (fast 32, full 128)")
    ap.add_argument("--tf", type=float, default=2.0, help="temporal frequency (Hz)")
    ap.add_argument("--cycles", type=int, default=1, help="drift cycles shown")
    ap.add_argument("--ms-per-step", type=float, default=5.0)
    ap.add_argument("--steps-per-frame", type=int, default=5)
    ap.add_argument("--blank-steps", type=int, default=60)
    ap.add_argument("--patch-size-deg", type=float, default=1.0)
    ap.add_argument("--criterion", choices=("sd", "half_peak"), default="sd")
    ap.add_argument("--k", type=float, default=3.0, help="baseline SDs for criterion sd")
    ap.add_argument("--min-bins", type=int, default=2, help="consecutive bins above threshold")
    ap.add_argument("--smooth-ms", type=float, default=10.0)
    ap.add_argument("--osi-min", type=float, default=0.5)
    ap.add_argument("--min-rate-hz", type=float, default=5.0)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    common.setup_torch(args.threads)

    def go():
        res = run(args.out, args.checkpoint, contrasts=args.contrasts, n_trials=args.trials,
                  n_neurons=args.neurons, tf_hz=args.tf, n_cycles=args.cycles,
                  ms_per_step=args.ms_per_step, steps_per_frame=args.steps_per_frame,
                  blank_steps=args.blank_steps, patch_size_deg=args.patch_size_deg,
                  criterion=args.criterion, k=args.k, min_consecutive_bins=args.min_bins,
                  smooth_ms=args.smooth_ms, osi_min=args.osi_min, min_rate_hz=args.min_rate_hz,
                  seed=args.seed, device=args.device, quick=not args.full,
                  progress=not args.no_progress)
        for c, o, p, n in zip(res["contrasts"], res["onset_latency_ms"], res["peak_latency_ms"],
                              res["n_responding"]):
            print(f"contrast {c:.3f}: onset {o} ms, peak {p} ms ({n} responding)",
                  file=sys.stderr)
        print(f"shift {res['shift_ms']} ms = {res['shift_steps']} steps", file=sys.stderr)
        return [Path(args.out) / "contrast_latency.json", Path(args.out) / "contrast_latency.png"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
