"""Trial-to-trial variability of iP-VAE spike counts: Fano factors on gratings.

Protocol: repeated presentations of static gratings to one iP-VAE hypercolumn; trials
differ only by the Poisson spike sampling - the only noise source of the model - whose
effect propagates through the recurrent (explaining-away) dynamics, so counts can be more
or less variable than Poisson. The measures are those used for cortical recordings:

- Fano factor F = Var / mean of the spike count across trials in a fixed counting window
  (default 100-500 ms after onset), per stimulus and neuron
  (:func:`neurofond.analysis.fano_factor`, elephant convention ``ddof=0``), over
  (stimulus, neuron) pairs whose mean count is >= ``min_count`` (default 1); the same in
  the 300 ms spontaneous (blank) window for comparison, over pairs with a mean count > 0
  (spontaneous counts are low, so this one is biased towards 1 - mean / n_trials);
- time-resolved Fano factor in 50 ms windows stepped by 10 ms
  (:func:`~neurofond.analysis.fano_factor_over_time`; median over the included pairs),
  and the
  mean-matched Fano factor (Churchland et al. 2010, Nat Neurosci 13:369-378;
  :func:`~neurofond.analysis.mean_matched_fano`), whose stimulus-onset decline is the
  cortical signature the model can be compared with.

Stimuli: full-field static gratings, 12 orientations x SF {1.5, 3} c/deg x 2 phases (fast,
48 stimuli) or 12 x {1, 2, 4} x 4 phases (``--full``, 144), at ``contrast`` (default 1:
the presentation transform maps contrast 1 to the top of the training-input range, see
docs/insilico.md). One model patch covers 1 deg (16 px/deg). Timing:
300 ms blank, 500 ms grating, 10 ms per step. Trials: 30 (fast) / 100 (full).
Only neurons whose expected count (posterior rate, a 1-trial pilot) in the counting window
reaches ``min_count`` for some stimulus are recorded, to bound memory.

Reference: the paper (Vafaii, Galor & Yates 2025) studies the temporal dynamics of
iP-VAE responses (sparsification, Fig. 3; latency, Fig. 8); this experiment adds the
standard variability measures (PROTOCOLS.md). Cortex: F ~ 1-1.5 during spontaneous
activity, declining at stimulus onset (Churchland et al. 2010).

Outputs in ``--out``: ``variability.json`` (median / IQR of the Fano factors, mean-matched
Fano factor before and after onset), ``variability.csv`` (one row per stimulus x neuron
pair), ``variability_time.csv`` (time courses) and ``variability.png``.

    python analyses/variability.py --out results/variability
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
from neurofond.pretrained import DEFAULT_MODEL, resolve_checkpoints


def run(out: str | Path, checkpoint: str | None = None, *, contrast: float = 1.0,
        n_trials: int | None = None, orientations: Any = None, sfs: Any = None,
        phases: Any = None, ms_per_step: float = 10.0, blank_steps: int = 30,
        stimulus_steps: int = 50, count_window_ms: tuple[float, float] = (100.0, 500.0),
        window_ms: float = 50.0, step_ms: float = 10.0, min_count: float = 1.0,
        patch_size_deg: float = 1.0, canvas_px: int = 32, n_resamples: int | None = None,
        seed: int = 0, device: str = "cpu", quick: bool = True,
        progress: bool = True) -> dict[str, Any]:
    """Run the variability experiment; returns what ``variability.json`` holds.

    Parameters
    ----------
    out : output folder (created).
    checkpoint : iP-VAE name or path (default ``ipvae-k512-b24-photos``).
    contrast : grating contrast.
    n_trials : fast 30, full 100.
    orientations, sfs, phases : the grating grid (defaults in the module docstring).
    count_window_ms : fixed counting window after onset.
    window_ms, step_ms : sliding windows of the time-resolved measures.
    min_count : pairs (and neurons) with a lower mean count are left out.
    n_resamples : mean-matching resamples (fast 20, full 50).
    """
    from tqdm.auto import tqdm

    from neurofond.analysis import fano_factor, fano_factor_over_time, mean_matched_fano
    from neurofond.responses import make_responses
    from neurofond.stimuli import ScreenGeometry, grating_sweep

    out = common.out_dir(out)
    ck = resolve_checkpoints([checkpoint or DEFAULT_MODEL])[0]
    if ck.family != "poisson":
        raise ValueError(f"checkpoint: Fano factors need spike counts; {ck.name} is a "
                         f"{ck.model_name} (use an iP-VAE)")
    n_trials = int(common.pick(n_trials, quick, 30, 100))
    n_resamples = int(common.pick(n_resamples, quick, 20, 50))
    orientations = np.arange(0.0, 180.0, 15.0) if orientations is None else orientations
    sfs = common.pick(sfs, quick, [1.5, 3.0], [1.0, 2.0, 4.0])
    phases = common.pick(phases, quick, [0.0, 90.0], [0.0, 90.0, 180.0, 270.0])
    pop = InSilicoPopulation.from_checkpoint(ck.path, ms_per_step=ms_per_step,
                                             patch_size_deg=patch_size_deg, device=device)
    geometry = ScreenGeometry(pop.patch_size / patch_size_deg, canvas_px)
    stim = grating_sweep(geometry, orientations=orientations, sfs=sfs, phases=phases,
                         contrasts=[contrast])
    c0 = int(round(count_window_ms[0] / ms_per_step))
    c1 = int(round(count_window_ms[1] / ms_per_step))

    # pilot: expected counts in the counting window (1 trial, posterior rates)
    pilot, _ = window_responses(pop, stim, n_trials=1, blank_steps=blank_steps,
                                       stimulus_steps=stimulus_steps, window_steps=(c0, c1),
                                       seed=seed + 7, progress=progress)
    expected = np.asarray(pilot.values)[0, ..., 0]  # (stim, K)
    neurons = np.flatnonzero(expected.max(0) >= min_count)
    if neurons.size == 0:
        raise RuntimeError(f"no neuron of {ck.name} reaches {min_count} expected spikes in "
                           f"{count_window_ms} ms; raise the contrast or lower min_count")

    # main presentation, chunked over stimuli, keeping the selected neurons
    n_time = blank_steps + stimulus_steps
    chunk = max(1, int(64e6 // (n_trials * pop.n_units * n_time)))
    counts = np.zeros((n_trials, len(stim), neurons.size, n_time), dtype=np.uint16)
    coords = None
    bar = tqdm(total=len(stim), desc="gratings", unit="stim", disable=not progress)
    for s0 in range(0, len(stim), chunk):
        sub = stim.select(slice(s0, s0 + chunk))
        resp = pop.present(sub, n_trials=n_trials, blank_steps=blank_steps,
                           stimulus_steps=stimulus_steps, seed=seed + s0, progress=False)
        counts[:, s0:s0 + len(sub)] = np.asarray(resp.values)[:, :, neurons]
        if coords is None:
            coords = {c: np.asarray(resp[c].values)[neurons] for c in resp.coords
                      if resp[c].dims == ("neuron",)}
        bar.update(len(sub))
    bar.close()
    responses = make_responses(counts, bin_ms=ms_per_step, stimulus_coords=stim.coords(),
                               neuron_coords=coords, time_start_ms=-blank_steps * ms_per_step,
                               source=f"model:{ck.name}")

    # fixed windows
    ff = fano_factor(responses, count_window_ms, return_stats=True)
    spont = fano_factor(responses, (-blank_steps * ms_per_step, 0.0), return_stats=True)
    mean_c = np.asarray(ff["mean_count"].values)
    ok = np.isfinite(ff["fano_factor"].values) & (mean_c >= min_count)
    ff_vals = np.asarray(ff["fano_factor"].values)[ok]
    spont_all = np.asarray(spont["fano_factor"].values)
    spont_mean = np.asarray(spont["mean_count"].values)
    spont_ok = np.isfinite(spont_all) & (spont_mean > 0)
    # time-resolved
    fft = fano_factor_over_time(responses, window_ms, step_ms)
    t_mid = 0.5 * (fft["time_start_ms"].values + fft["time_end_ms"].values)
    ff_t = np.asarray(fft.values).reshape(-1, t_mid.size)[ok.ravel()]  # included pairs
    with np.errstate(invalid="ignore"):
        ff_t_median = np.nanmedian(np.where(np.isfinite(ff_t), ff_t, np.nan), axis=0)
    mm = mean_matched_fano(responses, window_ms, step_ms, n_resamples=n_resamples, seed=seed)
    mm_ff = np.asarray(mm["fano_factor"].values)
    t_end = np.asarray(mm["time_end_ms"].values)
    t_start = np.asarray(mm["time_start_ms"].values)
    pre = t_end <= 0
    post = t_start >= count_window_ms[0]
    mm_pre = float(np.nanmean(mm_ff[pre])) if pre.any() else None
    mm_post = float(np.nanmean(mm_ff[post])) if post.any() else None

    results = {
        "model": ck.name,
        "fano_factor": {**common.distribution(ff_vals),
                        "fraction_below_1": float(np.mean(ff_vals < 1)) if ff_vals.size else None,
                        "window_ms": list(count_window_ms)},
        "fano_factor_spontaneous": {**common.distribution(spont_all[spont_ok]),
                                    "window_ms": [-blank_steps * ms_per_step, 0.0]},
        "mean_count": common.distribution(mean_c[ok]),
        "n_pairs": int(ok.sum()),
        "n_neurons": int(neurons.size),
        "n_stimuli": len(stim),
        "n_trials": n_trials,
        "mean_matched": {"fano_factor_pre_onset": mm_pre, "fano_factor_post_onset": mm_post,
                         "decline": (None if mm_pre is None or mm_post is None
                                     else mm_pre - mm_post),
                         "n_matched_points": int(np.asarray(mm["n_matched"].values)[0]),
                         "window_ms": window_ms, "step_ms": step_ms},
        "time_ms": t_mid,
        "fano_factor_over_time_median": ff_t_median,
        "mean_matched_fano_over_time": mm_ff,
        "settings": common.provenance(
            ck, contrast=contrast, orientations=orientations, sfs=sfs, phases=phases,
            ms_per_step=ms_per_step, blank_steps=blank_steps, stimulus_steps=stimulus_steps,
            min_count=min_count, patch_size_deg=patch_size_deg, canvas_px=canvas_px,
            n_resamples=n_resamples, seed=seed, ddof=0),
    }
    rows = []
    st_coords = {c: np.asarray(responses[c].values) for c in ("orientation", "sf", "phase")}
    units = np.asarray(responses["unit"].values)
    var = np.asarray(ff["variance"].values)
    ffa = np.asarray(ff["fano_factor"].values)
    for s in range(len(stim)):
        for j in range(neurons.size):
            rows.append({"unit": int(units[j]), **{c: v[s] for c, v in st_coords.items()},
                         "mean_count": mean_c[s, j], "variance": var[s, j],
                         "fano_factor": ffa[s, j], "included": bool(ok[s, j]),
                         "spontaneous_fano_factor": spont_all[s, j]})
    common.write_json(out / "variability.json", results)
    common.write_csv(out / "variability.csv", rows)
    common.write_csv(out / "variability_time.csv", [
        {"time_ms": t, "fano_factor_median": a, "mean_matched_fano": b,
         "mean_matched_fano_std": c, "mean_count": d}
        for t, a, b, c, d in zip(t_mid, ff_t_median, mm_ff, mm["fano_factor_std"].values,
                                 mm["mean_count_raw"].values)])
    figure(results, mean_c[ok], var[ok], t_mid, ff_t_median, mm, out / "variability.png")
    return results


def figure(res, means, variances, t_mid, ff_t_median, mm, path: Path) -> Path:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ff = variances / means
    ax = axes[0]
    if ff.size:
        pos = ff[ff > 0]
        bins = np.geomspace(max(pos.min(), 1e-2), max(pos.max(), 2.0), 30) if pos.size else 20
        ax.hist(pos, bins=bins, color="C3", alpha=0.7)
        ax.set_xscale("log")
        ax.axvline(1.0, color="k", ls=":", lw=1)
        med = res["fano_factor"]["median"]
        if med is not None:
            ax.axvline(med, color="C3", lw=1.5, label=f"median {med:.2f}")
            ax.legend(fontsize=8)
    w = res["fano_factor"]["window_ms"]
    ax.set_title(f"Fano factor, {w[0]:g}-{w[1]:g} ms ({res['n_pairs']} pairs)", fontsize=10)
    ax.set_xlabel("Fano factor")
    ax = axes[1]
    ax.scatter(means, variances, s=4, alpha=0.4, color="C3")
    if means.size:
        lim = [max(min(means.min(), variances[variances > 0].min(initial=1)), 1e-2),
               max(means.max(), variances.max())]
        ax.plot(lim, lim, "k:", lw=1, label="Poisson (F = 1)")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean count")
    ax.set_ylabel("variance")
    ax.set_title("count variance vs mean", fontsize=10)
    ax = axes[2]
    ax.plot(t_mid, ff_t_median, color="0.5", label="median over included pairs")
    mmf = np.asarray(mm["fano_factor"].values)
    sd = np.asarray(mm["fano_factor_std"].values)
    ax.plot(t_mid, mmf, color="C3", label="mean-matched")
    ax.fill_between(t_mid, mmf - sd, mmf + sd, color="C3", alpha=0.2)
    ax.axvline(0, color="k", ls=":", lw=1)
    ax.set_xlabel(f"time from onset (ms; {res['mean_matched']['window_ms']:g} ms windows)")
    ax.set_ylabel("Fano factor")
    ax.legend(fontsize=8, loc="upper right")
    ax2 = ax.twinx()
    ax2.plot(t_mid, np.asarray(mm["mean_count_raw"].values), color="C0", lw=0.8, ls="--")
    ax2.set_ylabel("mean count per window", color="C0")
    ax.set_title("Fano factor over time", fontsize=10)
    fig.suptitle(f"{res['model']}: spike-count variability on gratings "
                 f"(contrast {res['settings']['contrast']:g}, {res['n_trials']} trials)",
                 fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = common.parser(__doc__, default_out="results/variability")
    ap.add_argument("--checkpoint", default=None, metavar="NAME_OR_PATH",
                    help=f"iP-VAE checkpoint (default {DEFAULT_MODEL})")
    ap.add_argument("--contrast", type=float, default=1.0)
    ap.add_argument("--trials", type=int, default=None, help="fast 30, full 100")
    ap.add_argument("--min-count", type=float, default=1.0)
    ap.add_argument("--window-ms", type=float, default=50.0)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    common.setup_torch(args.threads)

    def go():
        res = run(args.out, args.checkpoint, contrast=args.contrast, n_trials=args.trials,
                  min_count=args.min_count, window_ms=args.window_ms, seed=args.seed,
                  device=args.device, quick=not args.full, progress=not args.no_progress)
        f, mm = res["fano_factor"], res["mean_matched"]
        print(f"Fano factor median {f['median']} IQR [{f['q25']}, {f['q75']}] over "
              f"{res['n_pairs']} pairs; mean-matched pre {mm['fano_factor_pre_onset']} "
              f"post {mm['fano_factor_post_onset']}", file=sys.stderr)
        return [Path(args.out) / "variability.json", Path(args.out) / "variability.png"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
