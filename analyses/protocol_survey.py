"""Every shipped protocol presented to an iP-VAE: peak rates, orientation tuning, clamp.

Protocol: each TOML protocol shipped in ``neurofond/data/protocols`` (or the ones named with
``--protocols``) is loaded with :func:`neurofond.stimuli.load_protocol` and presented with
:meth:`neurofond.population.InSilicoPopulation.present_protocol` - its own trials, blank,
frame timing and ``ms_per_step`` - to one hypercolumn (K neurons at the canvas centre, one
model pixel per stimulus pixel: all shipped protocols use 16 px/deg, so a model patch covers
1 deg) through the default linear presentation transform (``calibration="training_range"``:
a full-contrast grating at most as strong as the 0.99 quantile of the training patches;
:mod:`neurofond.population.transform`). ``--calibration photo_std`` reproduces the earlier
mapping.

Per protocol and neuron, from sampled spike counts:

- response window: the protocol's ``response_window_ms`` when it has one, else the whole
  stimulus period ``[0, stimulus_steps x ms_per_step)``;
- tuning (grating protocols): for every combination of the other stimulus parameters except
  phase that occur (SF, radius, contrast, TF), the phase-averaged tuning curve over orientation
  (``direction`` with period 360 for drifting gratings; :func:`neurofond.analysis.tuning_curve`)
  and its indices (:func:`neurofond.analysis.orientation_selectivity`); the neuron's curve is
  the one with the largest peak. **Peak rate** = that curve's peak (spikes/s); **OSI** =
  ``(R_pref - R_orth) / (R_pref + R_orth)``; **selective**: OSI > 1/3;
- movies (no orientation): peak rate = the mean rate in the window of the best movie;
- **at the clamp**: ``clamp_fraction_steps`` and ``clamp_fraction_neurons`` of the Responses
  attrs (a neuron-step is at the clamp when ``u >= c - ln 2``;
  :data:`neurofond.population.population.CLAMP_MARGIN`); the largest count in one bin and
  the fraction of bins in the window holding more than 10 spikes;
- spontaneous rate: mean over neurons, stimuli and trials of the blank period's rate.

Outputs in ``--out``: ``protocol_survey.json`` (per protocol: settings, peak rate and OSI
distributions (median, IQR), fraction selective, clamp fractions, largest count),
``protocol_survey.png`` (per protocol: histograms of peak rate and OSI).

    python analyses/protocol_survey.py --out results/protocol_survey
    python analyses/protocol_survey.py --calibration photo_std --trials 2   # the old mapping
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from neurofond import _scripts as common
from neurofond.analysis import orientation_selectivity, tuning_curve
from neurofond.population import InSilicoPopulation, PresentationTransform
from neurofond.pretrained import DEFAULT_MODEL, resolve_checkpoints
from neurofond.responses import Window
from neurofond.stimuli import PROTOCOL_DIR, list_protocols, load_protocol

OSI_SELECTIVE = 1.0 / 3.0
#: Stimulus parameters that are neither tuned over nor conditioned on.
_AVERAGED = ("phase", "stimulus_id", "center_x_deg", "center_y_deg", "kind")


def _survey(resp: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Peak rate, OSI and clamp summaries of one protocol's Responses."""
    window = settings["window_ms"]
    coords = {name: np.asarray(resp[name].values) for name in resp["stimulus"].coords
              if name not in _AVERAGED and resp[name].dims == ("stimulus",)}
    tuned = next((d for d in ("direction", "orientation") if d in coords), None)
    out: dict[str, Any] = {"tuned_over": tuned}
    if tuned is None:  # movies: the best stimulus' mean rate
        rates = Window(*window).rates(resp).mean(axis=0)  # (stimulus, neuron)
        peak, osi = rates.max(axis=0), None
    else:
        others = [n for n in coords if n not in (tuned, "orientation")
                  and np.unique(coords[n]).size > 1]
        peaks, osis = [], []
        combos = sorted(set(zip(*(coords[n].tolist() for n in others)))) if others else [()]
        for combo in combos:
            where = dict(zip(others, (float(v) for v in combo)))
            curve = tuning_curve(resp, tuned, window_ms=window, where=where or None)
            sel = orientation_selectivity(curve, dim=tuned,
                                          period=180.0 if tuned == "orientation" else 360.0)
            peaks.append(sel["peak_rate"].values)
            osis.append(sel["osi"].values)
        best = np.argmax(np.stack(peaks), axis=0)
        cols = np.arange(best.size)
        peak, osi = np.stack(peaks)[best, cols], np.stack(osis)[best, cols]
        out["conditioned_on"] = others
        out["osi"] = common.distribution(osi)
        out["fraction_selective"] = float(np.mean(osi > OSI_SELECTIVE))
    out["peak_rate_hz"] = common.distribution(peak)
    out["max_count_per_bin"] = int(resp.max())
    driven = np.asarray(Window(*window).select(resp).values)
    out["fraction_bins_over_10"] = float(np.mean(driven > 10))
    blank_ms = settings["blank_ms"]
    out["spontaneous_rate_hz"] = (None if not blank_ms else
                                  float(Window(-blank_ms, 0.0).rates(resp).mean()))
    out["clamp_fraction_steps"] = resp.attrs["clamp_fraction_steps"]
    out["clamp_fraction_neurons"] = resp.attrs["clamp_fraction_neurons"]
    out["per_neuron"] = {"peak_rate_hz": peak.tolist(),
                         "osi": None if osi is None else osi.tolist()}
    return out


def run(out: str | Path, checkpoint: str | None = None, *, protocols: list[str] | None = None,
        n_trials: int | None = None, calibration: str = "training_range", seed: int = 0,
        device: str = "cpu", progress: bool = False) -> dict[str, Any]:
    """Present every protocol, summarise, write ``protocol_survey.json`` and ``.png``."""
    out = common.out_dir(out)
    ck = resolve_checkpoints([checkpoint or DEFAULT_MODEL])[0]
    results: dict[str, Any] = {}
    for name in protocols or list_protocols(PROTOCOL_DIR):
        protocol = load_protocol(name)
        pres = protocol.presentation
        pop = InSilicoPopulation.from_checkpoint(ck.path, ms_per_step=pres["ms_per_step"],
                                                 device=device)
        pop.transform = PresentationTransform(pop.preprocessing, calibration=calibration)
        overrides: dict[str, Any] = {"seed": seed, "progress": progress}
        if n_trials is not None:
            overrides["n_trials"] = n_trials
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            resp = pop.present_protocol(protocol, **overrides)
        stim_ms = resp.attrs["stimulus_steps"] * pres["ms_per_step"]
        window = pres["response_window_ms"] or (0.0, stim_ms)
        settings = {"n_stimuli": len(protocol.stimuli), "n_trials": resp.sizes["trial"],
                    "ms_per_step": pres["ms_per_step"], "window_ms": list(window),
                    "blank_ms": resp.attrs["blank_steps"] * pres["ms_per_step"],
                    "gain": pop.transform.gain, "calibration": calibration,
                    "warnings": [str(w.message) for w in caught]}
        results[name] = {"settings": settings, **_survey(resp, settings)}
        print(f"{name}: peak rate median {results[name]['peak_rate_hz']['median']:.1f} Hz, "
              f"clamp {resp.attrs['clamp_fraction_steps']}", file=sys.stderr)
    data = {"provenance": common.provenance(ck, calibration=calibration, seed=seed,
                                            n_trials=n_trials), "protocols": results}
    common.write_json(out / "protocol_survey.json", data)
    _figure(results, out / "protocol_survey.png")
    return data


def _figure(results: dict[str, Any], path: Path) -> None:
    plt = common.pyplot()
    fig, axes = plt.subplots(2, len(results), figsize=(3.2 * len(results), 5.5), squeeze=False)
    for j, (name, res) in enumerate(results.items()):
        peak = np.asarray(res["per_neuron"]["peak_rate_hz"], dtype=float)
        axes[0, j].hist(np.log10(np.maximum(peak, 0.1)), bins=30, color="C3")
        axes[0, j].set(title=name, xlabel="log10 peak rate (spikes/s)")
        osi = res["per_neuron"]["osi"]
        if osi is None:
            axes[1, j].axis("off")
            continue
        axes[1, j].hist(np.asarray(osi, dtype=float), bins=np.linspace(0, 1, 21), color="C0")
        axes[1, j].axvline(OSI_SELECTIVE, color="k", lw=0.8, ls="--")
        axes[1, j].set(xlabel="OSI")
    axes[0, 0].set_ylabel("neurons")
    axes[1, 0].set_ylabel("neurons")
    fig.tight_layout()
    common.save_figure(fig, path)


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = common.parser(__doc__, default_out="results/protocol_survey")
    ap.add_argument("--checkpoint", default=None, metavar="NAME_OR_PATH",
                    help=f"iP-VAE checkpoint (default {DEFAULT_MODEL})")
    ap.add_argument("--protocols", nargs="+", default=None,
                    help="protocol names or TOML paths (default: every shipped protocol)")
    ap.add_argument("--trials", type=int, default=None,
                    help="trials per stimulus (default: each protocol's own)")
    ap.add_argument("--calibration", default="training_range",
                    choices=("training_range", "photo_std"))
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    common.setup_torch(args.threads)

    def go():
        run(args.out, args.checkpoint, protocols=args.protocols, n_trials=args.trials,
            calibration=args.calibration, seed=args.seed, device=args.device,
            progress=not args.no_progress)
        return [Path(args.out) / "protocol_survey.json", Path(args.out) / "protocol_survey.png"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
