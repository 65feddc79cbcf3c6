"""Model neurons vs recorded macaque V1 units on the Ecker et al. (2010) static gratings.

Every candidate (the iterative VAEs iP-VAE, iG-VAE, iGrelu-VAE and the classic baselines of
``analyses/baselines.py``: a Gabor energy model and a pixel/PCA model) is shown the gratings
of each recording session (the session's orientations x its two contrasts) and compared
with the recorded units with the same analysis code (:mod:`neurofond.analysis`).

Recorded data
    :func:`neurofond.recordings.load_ecker2010` (static release; units with contamination
    < 0.05, the authors' criterion; monkey D orientations snapped to the 22.5-deg grid):
    17 sessions, 8 (or 7) orientations x 2 contrasts, 10-85 repetitions, 10 ms bins,
    500 ms gratings. ``quick`` uses sessions 7, 10 and 12 (contrast pairs 10/100 %,
    2/30 % and 20/50 %); ``--full`` all 17.

Stimuli (assumptions; the release does not document them)
    Full-field static sine-wave gratings with the parameters of
    :data:`neurofond.brainscore.benchmarks.ECKER2010_STIMULUS` (the single source of truth,
    shared with the ``ecker2010-pls`` Brain-Score benchmark): SF 3 cycles/deg, phase 0,
    mean gray 0.5, an 8-deg field rendered at 256 px; Michelson contrast = the session's
    contrast. VAE populations: one hypercolumn (K neurons) at the canvas centre, one 16-px
    model patch = 1 deg (``patch_size_deg``), linear (contrast-preserving) presentation
    transform. Each trial: a mean-gray blank, then the grating for the whole analysed
    period (the offset at 500 ms lies outside every analysis window).

1. Time-resolved predictivity (``predictivity_raw``, ``ceiling``, ``predictivity_ceiled``)
    Targets: each unit's trial-averaged PSTH over conditions x time bins (``bin_ms``:
    20 ms quick, 10 ms full; 0-500 ms after onset). Features: the candidate's trial-averaged
    responses (VAEs: posterior-mean rates ``exp(u)`` / ``E[a(z)]`` of all K neurons) in
    the same bins.

    Fitted, shared by all units and sessions (one value per candidate, reported):
    the time scale (ms per model step; grid ``ms_grid`` = 1, 3, 10 quick, 1, 2, 5, 10, 20
    full), the response delay (``delays_ms`` = 0-80 ms in steps of 20 quick, 10 full) and
    the contrast gain (``contrast_gains`` = 1, 0.3, 0.1: model input contrast = gain x
    screen contrast; the linear presentation transform is calibrated on natural photos,
    and a 100 % full-field grating gives inputs ~5x their SD, where the iP-VAE's rates
    run away). The triple with the highest cross-validated score (median over all units
    of the per-unit r, in ``search_bin_ms`` bins) is kept. The baselines have their own
    fixed time course (5-ms steps, gamma kernel; see ``baselines.py``), no gain (their
    features scale linearly with contrast) and get the same delay grid. Step responses
    are resampled onto the data bins by overlap (fractional step counts); a delay ``d``
    maps model time ``t`` to data time ``t + d``.

    Regression: ridge (:class:`RidgePredictor`, penalty per unit by nested K-fold CV over
    the training conditions, 3 folds quick, 5 full) from the features (scaled by one
    global SD, constant features dropped) to every unit, cross-validated over
    **conditions**: K folds (4 quick; the number of orientations in full), stratified by
    contrast, so all time bins of a condition are either in training or in test. Score
    per unit = Pearson r over the test samples (test conditions x time bins), averaged
    over folds; ``predictivity_raw`` = Brain-Score aggregate (median over units per fold,
    mean over folds; :func:`cross_validated_predictivity`). Ceiling: split-half
    reliability of the same PSTHs (trials split in halves, r over conditions x time bins,
    Spearman-Brown, median over units, 10 splits; :func:`split_half_reliability`).
    ``predictivity_ceiled = max(raw, 0)**2 / ceiling`` (Brain-Score's convention,
    :func:`ceiled_score`; a negative raw score gives 0).

    Caveat: the fitted values are chosen on the same cross-validated scores that are
    reported (45 grid points quick, 135 full, for each VAE; 5 or 9 delays for the
    baselines), an optimistic bias in favour of the VAEs. ``fits[...]["at_grid_edge"]``
    in the JSON lists fitted values on the edge of their grid. In full mode the search
    uses 20-ms bins and the reported scores 10-ms bins.

2. Single-unit properties, same code on data and models
    Model responses at the fitted time scale, delay and gain, resampled to the data's 10-ms bins
    from -200 to 500 ms (model spikes: iP-VAE counts; iG-VAE / iGrelu-VAE sampled
    activations ``a(z)``, iG-VAE half-wave rectified; baselines: Poisson spikes from the
    channel rate ``r0 + (r_max - r0) * response / response_ref`` with ``r0`` = 2 and
    ``r_max`` = 30 spikes/s, ``response_ref`` the channel's largest response to reference
    gratings at contrast 1 (16 orientations x 4 phases at the assumed SF), i.e. an LNP
    model). Rates are in spikes/s (model: per ms of the fitted time
    scale). Only responsive units / neurons enter the distributions: peak trial-averaged
    rate over conditions in 50-500 ms > baseline (-150-0 ms) + ``response_threshold_hz``
    (5, Marques et al. 2021's threshold, in the candidate's units).

    - Orientation tuning at the session's higher contrast, 50-500 ms:
      circular variance, OSI, bandwidth (:func:`orientation_selectivity`; Hanning
      smoothing only where the orientations are evenly spaced over 180 deg).
    - Fano factor of the counts in 0-500 ms (model: the model steps falling into 0-500 ms
      of data time), per condition (:func:`fano_factor`, ddof=0), averaged over the
      conditions with a mean count >= 1.
    - Contrast-dependent latency: onset latency (:func:`response_latency`, trial-averaged
      PSTH smoothed with a 10-ms Gaussian, baseline -150-0 ms, first of 2 consecutive bins
      above baseline + 3 SD, searched in 0-300 ms) at the preferred orientation (peak of
      the high-contrast tuning curve) at the low and the high contrast;
      ``latency_shift = onset(low) - onset(high)`` (ms; Albrecht et al. 2002).

    Distributions are compared with Brain-Score's KS similarity
    (:func:`ks_similarity_bootstrap`: ``1 - KS / KS_max`` on the data's histogram bins,
    bootstrap samples of as many model neurons as recorded units; ceiling = data vs
    bootstrap samples of itself). ``ks_similarity_cv``, ``ks_similarity_fano`` and
    ``ks_similarity_latency`` (the latency shift) are the raw similarities (in [0, 1]);
    ``*_ceiling`` and ``*_ceiled`` (= raw / ceiling) are extra columns. NaN (with the reason
    in ``notes``) when fewer than 3 recorded units or model neurons have a value. Bins:
    CV and OSI 0-1 step 0.1, bandwidth 0-90 step 10 deg, Fano 0-5 step 0.25, latency shift
    -60-180 step 20 ms, onset 0-300 step 20 ms (values outside go to the end bins).

Outputs in ``--out`` (written atomically):
``ecker2010_comparison.csv`` (one row per model x session, plus one ``session = all`` row
per model: medians over sessions for the predictivity columns, KS on the units pooled over
sessions), ``ecker2010_comparison.json`` (the table, the fitted time scales, the winner,
settings, assumptions, skipped models), ``ecker2010_units.csv`` (per-unit r and
reliability), ``ecker2010_properties.csv`` (property values of every unit / neuron),
``ecker2010_fit_grid.csv`` (score per time scale and delay), figures
``ecker2010_predictivity.png``, ``ecker2010_properties.png`` and ``ecker2010_fit_grid.png``.

    python analyses/ecker2010_comparison.py --out results/ecker2010
    python analyses/ecker2010_comparison.py --out results/ecker2010_full --full
    python analyses/ecker2010_comparison.py --models igvae-k512-b8-photos gabor-energy \\
        --sessions 12 13

Data licence: CC BY-NC-ND 3.0 (do not redistribute the data or arrays derived from them;
the outputs here are summary statistics).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
import baselines  # noqa: E402

#: Baseline candidates understood by ``--models``.
BASELINES = ("gabor-energy", "pixel-pca")
ALL_SESSIONS = tuple(range(17))
QUICK_SESSIONS = (7, 10, 12)
MS_GRID = (1.0, 2.0, 5.0, 10.0, 20.0)
QUICK_MS_GRID = (1.0, 3.0, 10.0)
#: Candidate factors from screen contrast to model input contrast (VAEs; fitted).
CONTRAST_GAINS = (1.0, 0.3, 0.1)
DELAYS_MS = tuple(float(d) for d in range(0, 81, 10))
QUICK_DELAYS_MS = tuple(float(d) for d in range(0, 81, 20))
#: Analysis windows (ms re stimulus onset).
PREDICTIVITY_WINDOW_MS = (0.0, 500.0)
TUNING_WINDOW_MS = (50.0, 500.0)
FANO_WINDOW_MS = (0.0, 500.0)
BASELINE_WINDOW_MS = (-150.0, 0.0)
LATENCY_SEARCH_MS = (0.0, 300.0)
PROPERTY_TIME_MS = (-200.0, 500.0)
DATA_BIN_MS = 10.0
#: Latency criterion (response_latency arguments).
LATENCY = {"criterion": "sd", "k": 3.0, "min_consecutive_bins": 2, "smooth_ms": 10.0}
FANO_MIN_COUNT = 1.0
#: LNP rates of the baseline channels (spikes/s).
BASELINE_R0_HZ, BASELINE_RMAX_HZ = 2.0, 30.0
BASELINE_STEP_MS = 5.0
MIN_VALUES = 3
#: Memory budget of one simulation chunk (bytes of step arrays).
SIM_BYTES = 128e6
REQUIRED_COLUMNS = ("model", "session", "n_units", "predictivity_raw", "ceiling",
                    "predictivity_ceiled", "ks_similarity_cv", "ks_similarity_fano",
                    "ks_similarity_latency")
#: property -> (column suffix, histogram bins); the first three are the required KS columns.
PROPERTIES = {
    "cv": ("circular_variance", np.linspace(0.0, 1.0, 11)),
    "fano": ("fano", np.linspace(0.0, 5.0, 21)),
    "latency": ("latency_shift_ms", np.arange(-60.0, 181.0, 20.0)),
    "osi": ("osi", np.linspace(0.0, 1.0, 11)),
    "bandwidth": ("bandwidth", np.linspace(0.0, 90.0, 10)),
    "onset_high": ("onset_high_ms", np.arange(0.0, 301.0, 20.0)),
}


def stimulus_parameters() -> dict[str, float]:
    """The assumed Ecker 2010 grating parameters (one source of truth: the benchmarks)."""
    try:
        from neurofond.brainscore.benchmarks import ECKER2010_STIMULUS
    except ImportError as err:  # brainscore-vision missing
        raise ImportError(f"the Ecker 2010 stimulus parameters live in "
                          f"neurofond.brainscore.benchmarks.ECKER2010_STIMULUS, which needs "
                          f"brainscore-vision: {err}") from err
    return dict(ECKER2010_STIMULUS)


# --------------------------------------------------------------------------- data


@dataclass
class Session:
    """One recording session: counts and conditions."""

    index: int
    counts: np.ndarray  # (trial, cond, unit, time) float, NaN = missing trial
    starts: np.ndarray  # (time,) bin start, ms
    orientation: np.ndarray  # (cond,)
    contrast: np.ndarray  # (cond,) fraction
    unit_ids: np.ndarray
    subject: str
    _ceilings: dict = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        return int(self.counts.shape[2])

    @property
    def n_orientations(self) -> int:
        return int(np.unique(self.orientation).size)

    def window(self, t0: float, t1: float) -> np.ndarray:
        return (self.starts >= t0 - 1e-9) & (self.starts + DATA_BIN_MS <= t1 + 1e-9)

    def binned(self, bin_ms: float) -> np.ndarray:
        """Counts in ``bin_ms`` bins over the predictivity window: (trial, cond, unit, nb)."""
        f = int(round(bin_ms / DATA_BIN_MS))
        x = self.counts[..., self.window(*PREDICTIVITY_WINDOW_MS)]
        nb = x.shape[-1] // f
        return x[..., : nb * f].reshape(*x.shape[:3], nb, f).sum(-1)

    def ceiling(self, bin_ms: float, seed: int) -> Any:
        """Split-half reliability (Spearman-Brown) of the PSTHs over conditions x bins."""
        key = (bin_ms, seed)
        if key not in self._ceilings:
            from neurofond.analysis import split_half_reliability

            x = self.binned(bin_ms)  # (trial, cond, unit, nb)
            flat = x.transpose(0, 1, 3, 2).reshape(x.shape[0], -1, x.shape[2])
            self._ceilings[key] = split_half_reliability(flat, n_splits=10, seed=seed + 1)
        return self._ceilings[key]

    def property_responses(self):
        from neurofond.responses import make_responses

        m = self.window(*PROPERTY_TIME_MS)
        return make_responses(self.counts[..., m], bin_ms=DATA_BIN_MS,
                              stimulus_coords={"orientation": self.orientation,
                                               "contrast": self.contrast},
                              neuron_coords={"neuron_id": self.unit_ids},
                              time_start_ms=self.starts[m], source="ecker2010", allow_nan=True)

    def fano_counts(self) -> np.ndarray:
        return self.counts[..., self.window(*FANO_WINDOW_MS)].sum(-1)


def load_sessions(sessions: Sequence[int], path: str | os.PathLike | None = None) -> list[Session]:
    from neurofond.recordings import load_ecker2010

    parts = load_ecker2010(path, session=list(sessions), snap_orientation_deg=22.5)
    out = []
    for r in parts:
        out.append(Session(
            index=int(r.attrs["session"]),
            counts=np.asarray(r.values, dtype=np.float64),
            starts=np.asarray(r["time_start_ms"].values, dtype=float),
            orientation=np.asarray(r["orientation"].values, dtype=float),
            contrast=np.asarray(r["contrast"].values, dtype=float),
            unit_ids=np.asarray(r["neuron_id"].values).astype(str),
            subject=str(r.attrs.get("subject", ""))))
    return out


# --------------------------------------------------------------------------- time


def resample_matrix(steps: np.ndarray, ms_per_step: float, delay_ms: float,
                    edges: np.ndarray) -> np.ndarray:
    """Weights ``(n_bins, n_steps)``: expected count per data bin = ``W @ count per step``.

    Step ``s`` covers data time ``[s m + d, (s + 1) m + d)`` (``m`` ms per step, delay
    ``d``); each bin takes the overlapping fraction of every step. Parts of a bin before
    the first step or after the last one take the first / last step (clamped).
    """
    m = float(ms_per_step)
    lo = np.asarray(steps, dtype=float) * m + float(delay_ms)
    hi = lo + m
    a, b = edges[:-1, None], edges[1:, None]
    w = np.clip(np.minimum(hi[None], b) - np.maximum(lo[None], a), 0.0, None)
    w[:, 0] += np.clip(np.minimum(edges[1:], lo[0]) - edges[:-1], 0.0, None)
    w[:, -1] += np.clip(edges[1:] - np.maximum(edges[:-1], hi[-1]), 0.0, None)
    return w / m


def fano_step_mask(steps: np.ndarray, ms_per_step: float, delay_ms: float) -> np.ndarray:
    """Model steps whose start falls into the Fano window of data time."""
    t = np.asarray(steps, dtype=float) * ms_per_step + delay_ms
    return (t >= FANO_WINDOW_MS[0] - 1e-9) & (t < FANO_WINDOW_MS[1] - 1e-9)


# --------------------------------------------------------------------------- candidates


def _render(orientation: np.ndarray, contrast: np.ndarray, stim_params: dict[str, float]):
    from neurofond.stimuli import ScreenGeometry, render_gratings

    geometry = ScreenGeometry.from_size_deg(float(stim_params["size_deg"]),
                                            int(stim_params["size_px"]))
    n = orientation.size
    params = {"orientation": orientation, "sf": np.full(n, float(stim_params["sf_cpd"])),
              "phase": np.full(n, float(stim_params["phase_deg"])), "contrast": contrast}
    return render_gratings(params, geometry, mean=float(stim_params["mean"]))


class Candidate:
    """A model shown gratings: step responses for regression and spikes for properties."""

    key: str
    label: str
    kind: str  # "vae" or "baseline"
    family: str
    ms_grid: tuple[float, ...]
    gains: tuple[float, ...] = (1.0,)
    units: str
    fit: dict[str, Any]

    def steps(self, max_delay: float) -> np.ndarray:
        m = min(self.ms_grid)
        blank = int(math.ceil((-PROPERTY_TIME_MS[0] + max_delay) / m)) + 2
        shown = int(math.ceil(max(PREDICTIVITY_WINDOW_MS[1], PROPERTY_TIME_MS[1]) / m))
        return np.arange(-blank, shown)

    def simulate(self, stim, steps: np.ndarray, n_trials: int, seed: int, spikes: bool
                 ) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class VAECandidate(Candidate):
    kind = "vae"

    def __init__(self, ck, *, patch_size_deg: float, device: str) -> None:
        self.ck = ck
        self.pop = common.load_population(ck, ms_per_step=10.0, patch_size_deg=patch_size_deg,
                                          device=device)
        self.key = ck.name
        self.n_neurons = self.pop.n_units
        self.family = ck.family
        self.label = ck.label
        self.ms_grid = MS_GRID
        self.units = ("spikes" if ck.family == "poisson"
                      else "sampled activation a(z)" + (" (rectified)"
                                                        if ck.family == "gaussian" else ""))

    def simulate(self, stim, steps, n_trials, seed, spikes):
        """Trial-mean rates ``(cond, K, step)`` or spikes ``(trial, cond, K, step)``."""
        blank, shown = int(-steps[0]), int(steps[-1]) + 1
        k = self.pop.n_units
        n = len(stim)
        # conditions per present() call: ~128 MB of step arrays (bigger batches run faster)
        per_cond = (4 if spikes else 8) * n_trials * k * steps.size
        chunk = max(1, int(SIM_BYTES // per_cond))
        out = np.zeros(((n_trials,) if spikes else ()) + (n, k, steps.size), dtype=np.float32)
        for c0 in range(0, n, chunk):
            sub = stim.select(slice(c0, c0 + chunk))
            res = self.pop.present(sub, n_trials=n_trials, blank_steps=blank,
                                   stimulus_steps=shown, seed=seed + c0, progress=False,
                                   return_rates=not spikes)
            if spikes:
                vals = common.nonnegative(np.asarray(res.values, dtype=np.float32), self.family)
                out[:, c0:c0 + len(sub)] = vals
            else:
                out[c0:c0 + len(sub)] = np.asarray(res["rates"].values, np.float32).mean(0)
        return out


class BaselineCandidate(Candidate):
    kind = "baseline"

    def __init__(self, name: str, stim_params: dict[str, float]) -> None:
        from neurofond.stimuli import ScreenGeometry

        self.key = name
        self.family = "baseline"
        self.ms_grid = (BASELINE_STEP_MS,)
        self.units = "Poisson spikes (LNP)"
        self.geometry = ScreenGeometry.from_size_deg(float(stim_params["size_deg"]),
                                                     int(stim_params["size_px"]))
        self.n_neurons = 512
        if name == "gabor-energy":
            self.model = baselines.GaborEnergyBaseline(mean=float(stim_params["mean"]))
            self.label = f"Gabor energy ({self.model.n_channels} channels)"
        elif name == "pixel-pca":
            self.model = baselines.PixelPCABaseline(mean=float(stim_params["mean"]))
            self.model.fit(baselines.PixelPCABaseline.reference_gratings(
                self.geometry, float(stim_params["sf_cpd"]), mean=float(stim_params["mean"])))
            self.label = f"pixel PCA ({self.model.components_.shape[0]} PCs)"
        else:
            raise ValueError(f"models: unknown baseline {name!r} (known: {BASELINES})")
        # rate normalisation: each channel's largest response to the reference gratings
        # (16 orientations x 4 phases at the assumed SF, contrast 1)
        ref = baselines.PixelPCABaseline.reference_gratings(
            self.geometry, float(stim_params["sf_cpd"]), mean=float(stim_params["mean"]))
        self.channel_ref = self._channels(ref)[1].max(axis=0)

    def _channels(self, stim) -> tuple[np.ndarray, np.ndarray]:
        """(regression features, non-negative property channels), both (cond, channels)."""
        if isinstance(self.model, baselines.GaborEnergyBaseline):
            e = self.model.energy(stim, self.geometry)
            return e, e
        p = self.model.transform(stim)
        return p, baselines.PixelPCABaseline.on_off(p)

    def simulate(self, stim, steps, n_trials, seed, spikes):
        g = baselines.stimulus_time_course(steps * BASELINE_STEP_MS, BASELINE_STEP_MS)
        feats, chans = self._channels(stim)
        if not spikes:
            return (feats[:, :, None] * g[None, None, :]).astype(np.float32)
        ref = np.broadcast_to(self.channel_ref[None], chans.shape)
        norm = np.divide(chans, ref, out=np.zeros_like(chans), where=ref > 0)
        rate = BASELINE_R0_HZ + (BASELINE_RMAX_HZ - BASELINE_R0_HZ) * norm[:, :, None] * g
        rng = np.random.default_rng(seed)
        lam = rate * (BASELINE_STEP_MS / 1000.0)
        return rng.poisson(lam[None], size=(n_trials, *lam.shape)).astype(np.float32)


def build_candidates(models: Sequence[str] | None, stim_params: dict[str, float], *,
                     patch_size_deg: float, device: str) -> tuple[list[Candidate], list[dict]]:
    """Resolve ``models`` (names, paths, baselines); missing ones are skipped with a note."""
    from neurofond.pretrained import list_pretrained

    skipped: list[dict] = []
    if models is None:
        shipped = {row["name"] for row in list_pretrained()}
        specs = [n for n in common.SHIPPED if n in shipped]
        specs += sorted(shipped - set(common.SHIPPED))
        skipped += [{"model": n, "reason": "not shipped (neurofond/pretrained) yet"}
                    for n in common.SHIPPED if n not in shipped]
        specs += list(BASELINES)
    else:
        specs = [str(m) for m in models]
    cands: list[Candidate] = []
    for spec in specs:
        if spec in BASELINES:
            cands.append(BaselineCandidate(spec, stim_params))
            continue
        if "trainer" in Path(spec).name:
            skipped.append({"model": spec, "reason": "a trainer state, not a checkpoint"})
            continue
        try:
            ck = common.resolve_checkpoint(spec)
        except Exception as err:  # missing model: note and go on
            skipped.append({"model": spec, "reason": str(err)})
            continue
        cands.append(VAECandidate(ck, patch_size_deg=patch_size_deg, device=device))
    seen: dict[str, int] = {}
    for c in cands:  # unique result keys (the same name given twice, or two equal stems)
        seen[c.key] = seen.get(c.key, 0) + 1
        if seen[c.key] > 1:
            c.key = f"{c.key}-{seen[c.key]}"
    if not cands:
        raise ValueError(f"models: nothing to compare ({skipped})")
    return cands, skipped


def model_spikes(cand: Candidate, stim, steps: np.ndarray, w: np.ndarray, fmask: np.ndarray,
                 *, n_trials: int, seed: int, chunk: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Model spikes at a fitted time scale: Fano-window counts and 10-ms binned counts.

    Simulated in chunks of ``chunk`` conditions (default: about 128 MB of spikes per chunk;
    trials independent of the regression simulation). Returns ``(trial, cond, neuron)``
    counts over the steps in ``fmask`` and ``(trial, cond, neuron, bin)`` counts resampled
    with ``w``.
    """
    fano, binned = [], []
    w32 = np.ascontiguousarray(w.T, dtype=np.float32)  # (step, bin)
    if chunk is None:
        n_neurons = getattr(cand, "n_neurons", 512)
        chunk = max(1, int(SIM_BYTES // (4 * n_trials * n_neurons * steps.size)))
    for c0 in range(0, len(stim), chunk):
        spk = cand.simulate(stim.select(slice(c0, c0 + chunk)), steps, n_trials, seed + c0,
                            spikes=True)
        fano.append(spk[..., fmask].sum(-1, dtype=np.float64))
        binned.append(np.clip(spk @ w32, 0.0, None))
    return np.concatenate(fano, axis=1), np.concatenate(binned, axis=1)


# --------------------------------------------------------------------------- predictivity


def predictivity(features: np.ndarray, targets: np.ndarray, contrast: np.ndarray, *,
                 n_folds: int, seed: int, inner_folds: int = 5):
    """Cross-validated ridge over conditions.

    ``features`` (cond, feature, bin) and ``targets`` (cond, unit, bin); samples are
    condition x bin, all bins of a condition on the same side of every split.
    """
    from neurofond.analysis import cross_validated_predictivity

    n_c, _, nb = features.shape
    x = features.transpose(0, 2, 1).reshape(n_c * nb, -1).astype(np.float64)
    sd = x.std(axis=0)
    x = x[:, sd > 1e-9 * max(float(sd.max()), 1e-30)]
    if x.shape[1] == 0:
        x = np.zeros((n_c * nb, 1))
    x = x - x.mean(axis=0)
    scale = float(x.std())
    x = x / scale if scale > 0 else x
    y = targets.transpose(0, 2, 1).reshape(n_c * nb, -1)
    groups = np.repeat(np.arange(n_c), nb)
    labels = np.unique(contrast, return_inverse=True)[1]
    return cross_validated_predictivity(x, y, conditions=groups, model="ridge",
                                        model_params={"inner_folds": int(inner_folds)},
                                        kfold=True, n_splits=int(n_folds), seed=seed + 1,
                                        stratify=labels)


def _n_folds(sess: Session, n_folds: int | None) -> int:
    return int(n_folds) if n_folds is not None else sess.n_orientations


def _nanmedian(x: Any) -> float:
    v = np.asarray(x, dtype=float).ravel()
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def _ceiled(raw: float, ceiling: float) -> float:
    from neurofond.analysis import ceiled_score

    if not (np.isfinite(raw) and np.isfinite(ceiling) and ceiling > 0):
        return float("nan")
    return float(ceiled_score(max(raw, 0.0), ceiling))


# --------------------------------------------------------------------------- properties


def _even_orientations(ori: np.ndarray) -> bool:
    u = np.unique(np.mod(ori, 180.0))
    return u.size >= 3 and np.allclose(np.diff(u), 180.0 / u.size)


def unit_properties(resp, fano_counts: np.ndarray, *, threshold_hz: float) -> dict[str, np.ndarray]:
    """Per-neuron properties of a Responses array (data or model), see the module docstring.

    ``resp``: (trial, stimulus, neuron, time) counts with ``orientation`` and ``contrast``
    stimulus coordinates, 10-ms bins covering -200..500 ms; ``fano_counts``: (trial,
    stimulus, neuron) counts in the 0-500 ms window.
    """
    import xarray as xr

    from neurofond.analysis import (
        fano_factor,
        orientation_selectivity,
        response_latency,
        tuning_curve,
    )
    from neurofond.responses import make_responses

    ori = np.asarray(resp["orientation"].values, dtype=float)
    con = np.asarray(resp["contrast"].values, dtype=float)
    c_lo, c_hi = float(con.min()), float(con.max())
    vals = np.asarray(resp.values, dtype=np.float64)
    starts = np.asarray(resp["time_start_ms"].values, dtype=float)
    ends = np.asarray(resp["time_end_ms"].values, dtype=float)

    def rate(t0, t1):  # trial-averaged rate (stimulus, neuron), Hz
        m = (starts >= t0 - 1e-9) & (ends <= t1 + 1e-9)
        with np.errstate(invalid="ignore"):
            return np.nanmean(vals[..., m].sum(-1), axis=0) * 1000.0 / float((ends - starts)[m]
                                                                            .sum())

    evoked = rate(*TUNING_WINDOW_MS)
    base = np.nanmean(rate(*BASELINE_WINDOW_MS), axis=0)
    responsive = np.nanmax(evoked, axis=0) - base > threshold_hz

    curve = tuning_curve(resp, "orientation", window_ms=TUNING_WINDOW_MS,
                         where={"contrast": c_hi})
    curve = xr.DataArray(np.clip(np.nan_to_num(curve.values), 0.0, None), dims=curve.dims,
                         coords={"orientation": curve["orientation"].values})
    sel = orientation_selectivity(curve, smoothing="hanning" if _even_orientations(ori) else None)

    fano_resp = make_responses(fano_counts[..., None], bin_ms=FANO_WINDOW_MS[1] - FANO_WINDOW_MS[0],
                               stimulus_coords={"orientation": ori, "contrast": con},
                               allow_nan=True, time_start_ms=FANO_WINDOW_MS[0])
    ff = fano_factor(fano_resp, return_stats=True)
    f_val = np.asarray(ff["fano_factor"].values, dtype=float)
    f_ok = np.asarray(ff["mean_count"].values, dtype=float) >= FANO_MIN_COUNT
    with np.errstate(invalid="ignore"):
        n_ok = (f_ok & np.isfinite(f_val)).sum(0)
        fano = np.where(n_ok > 0, np.nansum(np.where(f_ok, f_val, 0.0), 0) / np.maximum(n_ok, 1),
                        np.nan)

    lat = response_latency(resp, BASELINE_WINDOW_MS, search_window_ms=LATENCY_SEARCH_MS,
                           **LATENCY)
    onset = np.asarray(lat["onset_ms"].values, dtype=float)  # (stimulus, neuron)
    levels = np.asarray(curve["orientation"].values, dtype=float)
    pref = levels[np.argmax(curve.values, axis=0)]
    n = vals.shape[2]
    lo_on, hi_on = np.full(n, np.nan), np.full(n, np.nan)
    for j in range(n):
        for c, dest in ((c_lo, lo_on), (c_hi, hi_on)):
            idx = np.flatnonzero(np.isclose(ori, pref[j]) & np.isclose(con, c))
            if idx.size:
                dest[j] = onset[idx[0], j]
    return {
        "responsive": responsive,
        "peak_evoked_hz": np.nanmax(evoked, axis=0) - base,
        "baseline_hz": base,
        "preferred_orientation": pref,
        "circular_variance": np.asarray(sel["circular_variance"].values, dtype=float),
        "osi": np.asarray(sel["osi"].values, dtype=float),
        "bandwidth": np.asarray(sel["bandwidth"].values, dtype=float),
        "fano": fano,
        "onset_low_ms": lo_on,
        "onset_high_ms": hi_on,
        "latency_shift_ms": lo_on - hi_on,
    }


def ks_compare(model_vals: np.ndarray, data_vals: np.ndarray, bins: np.ndarray, *,
               n_bootstrap: int, seed: int) -> dict[str, Any]:
    """Raw KS similarity, ceiling and ceiled score, or NaN with the reason."""
    from neurofond.analysis import ks_similarity_bootstrap

    m = np.asarray(model_vals, dtype=float)
    d = np.asarray(data_vals, dtype=float)
    m, d = m[np.isfinite(m)], d[np.isfinite(d)]
    if d.size < MIN_VALUES or m.size < MIN_VALUES:
        return {"raw": float("nan"), "ceiling": float("nan"), "ceiled": float("nan"),
                "n_data": int(d.size), "n_model": int(m.size),
                "reason": f"too few values (data {d.size}, model {m.size}; need {MIN_VALUES})"}
    ds = ks_similarity_bootstrap(m, d, bins, n_bootstrap=n_bootstrap, seed=seed)
    return {"raw": float(ds["raw"]), "ceiling": float(ds["ceiling"]),
            "ceiled": float(ds["score"]), "n_data": int(d.size), "n_model": int(m.size),
            "reason": ""}


def _select(props: dict[str, np.ndarray], name: str) -> np.ndarray:
    return np.asarray(props[name], dtype=float)[props["responsive"]]


# --------------------------------------------------------------------------- main run


def run(out: str | Path, models: Sequence[str] | None = None,
        sessions: Sequence[int] | None = None, *, quick: bool = True, seed: int = 0,
        n_trials: int | None = None, n_trials_features: int | None = None,
        bin_ms: float | None = None,
        search_bin_ms: float | None = None, ms_grid: Sequence[float] | None = None,
        delays_ms: Sequence[float] | None = None, n_folds: int | None = None,
        inner_folds: int | None = None, contrast_gains: Sequence[float] | None = None,
        n_bootstrap: int | None = None, response_threshold_hz: float = 5.0,
        patch_size_deg: float = 1.0, data_path: str | os.PathLike | None = None,
        device: str = "cpu", progress: bool = True, blas_threads: int | None = 1
        ) -> dict[str, Any]:
    """Compare candidates with the Ecker 2010 units; returns what the JSON file holds.

    Parameters
    ----------
    out : output folder (created).
    models : checkpoint names / paths and baseline names (``gabor-energy``,
        ``pixel-pca``). Default: the shipped models (missing ones are skipped with a note)
        and both baselines.
    sessions : session indices 0-16 (quick default 7, 10, 12; full: all).
    quick : fast settings (see the module docstring); False = ``--full``.
    seed : seed of spike sampling, CV splits and bootstraps.
    n_trials : model trials per condition for the property analyses (quick 20, full 40).
    n_trials_features : model trials averaged into the regression features (quick 8,
        full 20; the features are posterior-mean rates, so few trials suffice).
    bin_ms : PSTH bin of the reported predictivity (quick 20, full 10; a multiple of 10
        dividing 500).
    search_bin_ms : bin of the time-scale / delay search (default ``max(bin_ms, 20)``).
    ms_grid, delays_ms : time-scale (ms per model step) and delay grids (default 1, 3,
        10 ms per step quick, 1, 2, 5, 10, 20 full; delays 0-80 ms in steps of 20 (quick)
        or 10 (full)).
    n_folds : CV folds over conditions (quick 4; full: the number of orientations).
    inner_folds : folds of the nested CV choosing the ridge penalty (quick 3, full 5).
    contrast_gains : candidate factors from screen contrast to model input contrast, fitted
        with the time scale (VAEs; default 1, 0.3, 0.1).
    n_bootstrap : KS bootstrap samples (quick 500, full 1000).
    response_threshold_hz : responsiveness threshold of the property analyses.
    patch_size_deg : degrees covered by one model patch.
    data_path : the Ecker ``.mat`` file (default: the dataset registry).
    blas_threads : BLAS threads during the run (default 1: on a shared, loaded CPU the
        many small ridge eigen-decompositions run several times faster single-threaded;
        None leaves the BLAS default).
    """
    import contextlib

    from threadpoolctl import threadpool_limits

    import neurofond.analysis  # noqa: F401  (loads scipy's BLAS before the limit is set)

    limit = (contextlib.nullcontext() if blas_threads is None
             else threadpool_limits(limits=int(blas_threads), user_api="blas"))
    with limit:
        return _run(out, models, sessions, quick=quick, seed=seed, n_trials=n_trials,
                    n_trials_features=n_trials_features, bin_ms=bin_ms,
                    search_bin_ms=search_bin_ms, ms_grid=ms_grid, delays_ms=delays_ms,
                    n_folds=n_folds, inner_folds=inner_folds, contrast_gains=contrast_gains,
                    n_bootstrap=n_bootstrap, response_threshold_hz=response_threshold_hz,
                    patch_size_deg=patch_size_deg, data_path=data_path, device=device,
                    progress=progress)


def _run(out, models, sessions, *, quick, seed, n_trials, n_trials_features, bin_ms,
         search_bin_ms, ms_grid, delays_ms, n_folds, inner_folds, contrast_gains, n_bootstrap,
         response_threshold_hz, patch_size_deg, data_path, device, progress) -> dict[str, Any]:
    from tqdm.auto import tqdm

    from neurofond.responses import make_responses

    t_start = time.perf_counter()
    out = common.out_dir(out)
    stim_params = stimulus_parameters()
    sessions = list(QUICK_SESSIONS if quick else ALL_SESSIONS) if sessions is None else [
        int(s) for s in sessions]
    if not sessions:
        raise ValueError("sessions: give at least one session index (0-16)")
    n_trials = int(common.pick(n_trials, quick, 20, 40))
    n_trials_f = int(common.pick(n_trials_features, quick, 8, 20))
    bin_ms = float(common.pick(bin_ms, quick, 20.0, 10.0))
    search_bin_ms = float(search_bin_ms if search_bin_ms is not None else max(bin_ms, 20.0))
    for name, b in (("bin_ms", bin_ms), ("search_bin_ms", search_bin_ms)):
        f = b / DATA_BIN_MS
        span = PREDICTIVITY_WINDOW_MS[1] - PREDICTIVITY_WINDOW_MS[0]
        if f < 1 or not math.isclose(f, round(f)) or not math.isclose(span / b, round(span / b)):
            raise ValueError(f"{name}: expected a multiple of 10 ms dividing 500 ms, got {b:g}")
    ms_grid_vae = tuple(float(v) for v in (ms_grid if ms_grid is not None else
                                           (QUICK_MS_GRID if quick else MS_GRID)))
    gains = tuple(float(v) for v in (contrast_gains if contrast_gains is not None
                                     else CONTRAST_GAINS))
    if not gains or min(gains) <= 0 or max(gains) > 1:
        raise ValueError(f"contrast_gains: expected values in (0, 1], got {gains}")
    delays = tuple(float(v) for v in (delays_ms if delays_ms is not None else
                                      (QUICK_DELAYS_MS if quick else DELAYS_MS)))
    if not ms_grid_vae or min(ms_grid_vae) <= 0 or not delays or min(delays) < 0:
        raise ValueError("ms_grid: positive values and delays_ms: values >= 0 expected")
    n_folds_q = common.pick(n_folds, quick, 4, None)
    inner = int(common.pick(inner_folds, quick, 3, 5))
    n_boot = int(common.pick(n_bootstrap, quick, 500, 1000))

    data = load_sessions(sessions, data_path)
    cands, skipped = build_candidates(models, stim_params, patch_size_deg=patch_size_deg,
                                      device=device)
    for c in cands:
        if c.kind == "vae":
            c.ms_grid, c.gains = ms_grid_vae, gains
    for s in skipped:
        print(f"note: skipping {s['model']}: {s['reason']}", file=sys.stderr)

    # data side: targets, ceilings and properties (model independent)
    data_props = {}
    for s in data:
        data_props[s.index] = unit_properties(s.property_responses(), s.fano_counts(),
                                              threshold_hz=response_threshold_hz)
    targets = {b: {s.index: np.nanmean(s.binned(b), axis=0) for s in data}
               for b in {bin_ms, search_bin_ms}}
    stim_cache: dict[tuple, Any] = {}

    def stimuli(sess: Session, gain: float):
        key = (sess.index, gain)
        if key not in stim_cache:
            stim_cache[key] = _render(sess.orientation, sess.contrast * gain, stim_params)
        return stim_cache[key]

    def edges(b):
        return np.arange(PREDICTIVITY_WINDOW_MS[0], PREDICTIVITY_WINDOW_MS[1] + 1e-9, b)

    prop_edges = np.arange(PROPERTY_TIME_MS[0], PROPERTY_TIME_MS[1] + 1e-9, DATA_BIN_MS)
    total = sum(len(c.gains) * len(c.ms_grid) * len(delays) * len(data) + 2 * len(data)
                for c in cands)
    bar = tqdm(total=total, desc="ecker2010", unit="fit", disable=not progress)

    rows, unit_rows, prop_rows, grid_rows = [], [], [], []
    fits: dict[str, dict[str, Any]] = {}
    model_props: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for cand in cands:
        steps = cand.steps(max(delays))
        best = None
        best_rates: dict[int, np.ndarray] = {}
        for gain in cand.gains:
            # responses (trial-averaged rates) per session; sessions sharing conditions share
            bar.set_description(f"{cand.key}: simulate")
            sims: dict[tuple, np.ndarray] = {}
            rates = {}
            for s in data:
                key = tuple(zip(s.orientation.tolist(), s.contrast.tolist()))
                if key not in sims:
                    sims[key] = cand.simulate(stimuli(s, gain), steps, n_trials_f, seed,
                                              spikes=False)
                rates[s.index] = sims[key]
            del sims
            # 1. time scale, delay (and contrast gain): best median r over all units
            bar.set_description(f"{cand.key}: fit time scale / delay")
            improved = False
            for m in cand.ms_grid:
                for d in delays:
                    w = resample_matrix(steps, m, d, edges(search_bin_ms))
                    r_all, scores = [], []
                    for s in data:
                        x = rates[s.index] @ w.T
                        ds = predictivity(x, targets[search_bin_ms][s.index], s.contrast,
                                          n_folds=_n_folds(s, n_folds_q), seed=seed,
                                          inner_folds=inner)
                        r_all.append(np.asarray(ds["neuron_r"].values))
                        scores.append(float(ds["score"]))
                        bar.update(1)
                    med = _nanmedian(np.concatenate(r_all))
                    grid_rows.append({"model": cand.key, "contrast_gain": gain,
                                      "ms_per_step": m, "delay_ms": d, "median_unit_r": med,
                                      "mean_session_score": float(np.nanmean(scores))})
                    if best is None or (np.isfinite(med) and med > best[3]):
                        best = (gain, m, d, med if np.isfinite(med) else -np.inf)
                        improved = True
            if improved:
                best_rates = rates
            del rates
        g_best, m_best, d_best = best[0], best[1], best[2]
        fits[cand.key] = {"ms_per_step": m_best, "delay_ms": d_best, "contrast_gain": g_best,
                          "search_median_unit_r": best[3] if np.isfinite(best[3]) else None,
                          "time_scale_fitted": cand.kind == "vae",
                          "ms_grid": list(cand.ms_grid), "delays_ms": list(delays),
                          "contrast_gains": list(cand.gains),
                          "label": cand.label, "kind": cand.kind, "family": cand.family,
                          "response_units": cand.units}
        edge = [name for name, v, grid in (("contrast_gain", g_best, cand.gains),
                                           ("ms_per_step", m_best, cand.ms_grid),
                                           ("delay_ms", d_best, delays))
                if len(grid) > 2 and v in (min(grid), max(grid))]
        fits[cand.key]["at_grid_edge"] = edge
        fits[cand.key]["n_grid_points"] = len(cand.gains) * len(cand.ms_grid) * len(delays)
        cand.fit = fits[cand.key]

        # 2. predictivity at the chosen time scale and delay (reported bins)
        bar.set_description(f"{cand.key}: predictivity")
        w = resample_matrix(steps, m_best, d_best, edges(bin_ms))
        per_session = {}
        for s in data:
            x = best_rates[s.index] @ w.T
            ds = predictivity(x, targets[bin_ms][s.index], s.contrast,
                              n_folds=_n_folds(s, n_folds_q), seed=seed, inner_folds=inner)
            ceil = s.ceiling(bin_ms, seed)
            raw = float(ds["score"])
            c = float(ceil["ceiling"])
            per_session[s.index] = {"raw": raw, "ceiling": c, "ceiled": _ceiled(raw, c)}
            nr = np.asarray(ds["neuron_r"].values)
            rel = np.asarray(ceil["neuron_reliability"].values)
            for u in range(s.n_units):
                unit_rows.append({"model": cand.key, "session": s.index,
                                  "neuron_id": s.unit_ids[u], "r": nr[u], "reliability": rel[u]})
            bar.update(1)
        del best_rates

        # 3. properties with the fitted time scale, delay and gain
        bar.set_description(f"{cand.key}: properties")
        wp = resample_matrix(steps, m_best, d_best, prop_edges)
        fmask = fano_step_mask(steps, m_best, d_best)
        model_props[cand.key] = {}
        for s in data:
            fano_counts, binned = model_spikes(cand, stimuli(s, g_best), steps, wp, fmask,
                                               n_trials=n_trials, seed=seed + 1)
            resp = make_responses(binned, bin_ms=DATA_BIN_MS,
                                  stimulus_coords={"orientation": s.orientation,
                                                   "contrast": s.contrast},
                                  time_start_ms=prop_edges[:-1], source=f"model:{cand.key}")
            model_props[cand.key][s.index] = unit_properties(
                resp, fano_counts, threshold_hz=response_threshold_hz)
            bar.update(1)
        rows.extend(_session_rows(cand, data, per_session, data_props, model_props[cand.key],
                                  n_boot, seed))
        rows.append(_summary_row(cand, data, per_session, data_props, model_props[cand.key],
                                 n_boot, seed))
    bar.close()

    # property table (data once + every model)
    for s in data:
        prop_rows.extend(_prop_rows("data", s.index, data_props[s.index], s.unit_ids))
        for key, props in model_props.items():
            prop_rows.extend(_prop_rows(key, s.index, props[s.index], None))

    summary = [r for r in rows if r["session"] == "all"]
    winner = _winner(summary, rows)
    results = {
        "table": rows,
        "winner": winner,
        "fits": fits,
        "skipped": skipped,
        "sessions": sessions,
        "n_units": int(sum(s.n_units for s in data)),
        "assumptions": {
            "stimulus": {**stim_params, "source": "neurofond.brainscore.benchmarks."
                         "ECKER2010_STIMULUS (not documented in the release)",
                         "kind": "full-field static sine-wave gratings"},
            "model_presentation": {"positions": "one hypercolumn at the canvas centre",
                                   "patch_size_deg": patch_size_deg, "transform": "linear",
                                   "blank": "mean gray before onset",
                                   "time": "ms per step and delay fitted (grids)",
                                   "contrast": "screen contrast x a fitted contrast gain "
                                               "(grid) = model input contrast"},
            "baselines": {"temporal_kernel": "boxcar(0-500 ms) * gamma(order 3, tau 10 ms)",
                          "step_ms": BASELINE_STEP_MS,
                          "lnp_rates_hz": [BASELINE_R0_HZ, BASELINE_RMAX_HZ]},
        },
        "settings": common.provenance(
            None, quick=quick, seed=seed, n_trials=n_trials, n_trials_features=n_trials_f,
            bin_ms=bin_ms,
            search_bin_ms=search_bin_ms, ms_grid=list(ms_grid_vae), delays_ms=list(delays),
            contrast_gains=list(gains),
            n_folds=n_folds_q if n_folds_q is not None else "n_orientations",
            inner_folds=inner,
            n_bootstrap=n_boot, response_threshold_hz=response_threshold_hz,
            windows_ms={"predictivity": PREDICTIVITY_WINDOW_MS, "tuning": TUNING_WINDOW_MS,
                        "fano": FANO_WINDOW_MS, "baseline": BASELINE_WINDOW_MS,
                        "latency_search": LATENCY_SEARCH_MS},
            latency=LATENCY, fano_min_count=FANO_MIN_COUNT,
            regression="ridge (nested K-fold CV over conditions, penalty per unit), K-fold "
                       "over conditions stratified by contrast",
            ceiled="max(raw, 0)**2 / ceiling (Brain-Score)",
            bins={k: v[1] for k, v in PROPERTIES.items()}),
        "citation": "Ecker et al. 2010 Science 327:584; Berens et al. 2012 J Neurosci "
                    "32:10618 (data CC BY-NC-ND 3.0)",
    }
    columns = list(REQUIRED_COLUMNS) + [k for k in rows[0] if k not in REQUIRED_COLUMNS]
    common.write_csv(out / "ecker2010_comparison.csv", rows, columns)
    common.write_csv(out / "ecker2010_units.csv", unit_rows)
    common.write_csv(out / "ecker2010_properties.csv", prop_rows)
    common.write_csv(out / "ecker2010_fit_grid.csv", grid_rows)
    figure_predictivity(rows, fits, out / "ecker2010_predictivity.png")
    figure_properties(data, data_props, model_props, fits, out / "ecker2010_properties.png")
    figure_grid(grid_rows, fits, out / "ecker2010_fit_grid.png")
    results["seconds"] = time.perf_counter() - t_start
    common.write_json(out / "ecker2010_comparison.json", results)
    return results


def _ks_columns(row: dict[str, Any], data_vals: dict[str, np.ndarray],
                model_vals: dict[str, np.ndarray], n_boot: int, seed: int) -> None:
    notes = []
    row["n_responsive_data"] = int(data_vals["n"])
    row["n_responsive_model"] = int(model_vals["n"])
    row["median_peak_evoked_data"] = _nanmedian(data_vals["peak_evoked_hz"])
    row["median_peak_evoked_model"] = _nanmedian(model_vals["peak_evoked_hz"])
    for short, (prop, bins) in PROPERTIES.items():
        res = ks_compare(model_vals[prop], data_vals[prop], bins, n_bootstrap=n_boot, seed=seed)
        row[f"ks_similarity_{short}"] = res["raw"]
        row[f"ks_similarity_{short}_ceiling"] = res["ceiling"]
        row[f"ks_similarity_{short}_ceiled"] = res["ceiled"]
        if res["reason"]:
            notes.append(f"ks_{short}: {res['reason']}")
    row["notes"] = "; ".join(notes)


def _gather(props_by_session: dict[int, dict[str, np.ndarray]], indices: Sequence[int]
            ) -> dict[str, Any]:
    out: dict[str, Any] = {"n": 0}
    for prop in [p for p, _ in PROPERTIES.values()] + ["peak_evoked_hz"]:
        out[prop] = np.concatenate([_select(props_by_session[i], prop) for i in indices])
    out["n"] = int(sum(int(props_by_session[i]["responsive"].sum()) for i in indices))
    return out


def _base_row(cand: Candidate) -> dict[str, Any]:
    return {"model": cand.key, "label": cand.label, "kind": cand.kind,
            "ms_per_step": cand.fit["ms_per_step"], "delay_ms": cand.fit["delay_ms"],
            "contrast_gain": cand.fit["contrast_gain"]}


def _session_rows(cand, data, per_session, data_props, model_props, n_boot, seed):
    rows = []
    for s in data:
        p = per_session[s.index]
        row = {**_base_row(cand), "session": s.index, "n_units": s.n_units,
               "predictivity_raw": p["raw"], "ceiling": p["ceiling"],
               "predictivity_ceiled": p["ceiled"]}
        _ks_columns(row, _gather(data_props, [s.index]), _gather(model_props, [s.index]),
                    n_boot, seed)
        rows.append(row)
    return rows


def _summary_row(cand, data, per_session, data_props, model_props, n_boot, seed):
    idx = [s.index for s in data]
    row = {**_base_row(cand), "session": "all", "n_units": int(sum(s.n_units for s in data)),
           "predictivity_raw": _nanmedian([per_session[i]["raw"] for i in idx]),
           "ceiling": _nanmedian([per_session[i]["ceiling"] for i in idx]),
           "predictivity_ceiled": _nanmedian([per_session[i]["ceiled"] for i in idx])}
    _ks_columns(row, _gather(data_props, idx), _gather(model_props, idx), n_boot, seed)
    row["notes"] = ("medians over sessions (predictivity); KS on units pooled over sessions"
                    + ("; " + row["notes"] if row["notes"] else ""))
    return row


def _prop_rows(source: str, session: int, props: dict[str, np.ndarray], ids) -> list[dict]:
    n = props["responsive"].size
    keys = [k for k in props if k != "responsive"]
    return [{"source": source, "session": session,
             "neuron": ids[j] if ids is not None else j,
             "responsive": bool(props["responsive"][j]),
             **{k: props[k][j] for k in keys}} for j in range(n)]


def _winner(summary: list[dict], rows: list[dict]) -> dict[str, Any]:
    scored = [r for r in summary if np.isfinite(r["predictivity_ceiled"])]
    if not scored:
        return {"model": None, "reason": "no finite ceiled predictivity"}
    ranked = sorted(scored, key=lambda r: -r["predictivity_ceiled"])
    top = ranked[0]
    res: dict[str, Any] = {
        "model": top["model"], "label": top["label"],
        "criterion": "highest median over sessions of predictivity_ceiled",
        "predictivity_ceiled": top["predictivity_ceiled"],
        "ranking": [{"model": r["model"], "predictivity_ceiled": r["predictivity_ceiled"],
                     "predictivity_raw": r["predictivity_raw"]} for r in ranked]}
    if len(ranked) > 1:
        second = ranked[1]
        per = {}
        for r in rows:
            if r["session"] != "all" and r["model"] in (top["model"], second["model"]):
                per.setdefault(r["session"], {})[r["model"]] = r["predictivity_ceiled"]
        diffs = np.array([v[top["model"]] - v[second["model"]] for v in per.values()
                          if len(v) == 2], dtype=float)
        diffs = diffs[np.isfinite(diffs)]
        res.update({
            "runner_up": second["model"],
            "margin_ceiled": top["predictivity_ceiled"] - second["predictivity_ceiled"],
            "ratio_ceiled": (top["predictivity_ceiled"] / second["predictivity_ceiled"]
                             if second["predictivity_ceiled"] > 0 else None),
            "margin_raw": top["predictivity_raw"] - second["predictivity_raw"],
            "sessions_won_vs_runner_up": int((diffs > 0).sum()),
            "sessions_compared": int(diffs.size),
            "median_session_difference": float(np.median(diffs)) if diffs.size else None,
        })
    return res


# --------------------------------------------------------------------------- figures


def _colors(keys: Sequence[str]) -> dict[str, str]:
    return {k: f"C{i % 10}" for i, k in enumerate(keys)}


def figure_predictivity(rows, fits, path: Path) -> Path:
    plt = common.pyplot()
    keys = list(fits)
    col = _colors(keys)
    summary = {r["model"]: r for r in rows if r["session"] == "all"}
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(keys) + 4), 4.2))
    for ax, key_col, title in ((axes[0], "predictivity_ceiled",
                                "ceiled predictivity (r$^2$ / ceiling)"),
                               (axes[1], "predictivity_raw", "raw predictivity (median r)")):
        for i, k in enumerate(keys):
            v = summary[k][key_col]
            ax.bar(i, 0 if not np.isfinite(v) else v, color=col[k], alpha=0.8)
            pts = [r[key_col] for r in rows if r["model"] == k and r["session"] != "all"]
            ax.scatter(i + np.linspace(-0.2, 0.2, max(1, len(pts))), pts, s=12, color="k",
                       zorder=3)
        if key_col == "predictivity_raw":
            c = [r["ceiling"] for r in rows if r["session"] == "all"]
            if c and np.isfinite(c[0]):
                ax.axhline(math.sqrt(c[0]), color="gray", ls="--", lw=1,
                           label="sqrt(median ceiling)")
                ax.legend(fontsize=7)
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([f"{k}\n{fits[k]['ms_per_step']:g} ms/step, +{fits[k]['delay_ms']:g} "
                            f"ms, gain {fits[k]['contrast_gain']:g}" for k in keys], fontsize=7,
                           rotation=20, ha="right")
        ax.set_title(title + " (bar: median over sessions; dots: sessions)", fontsize=9)
        ax.axhline(0, color="k", lw=0.6)
    fig.suptitle("Ecker et al. 2010 V1 units: time-resolved PSTH predictivity", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def figure_properties(data, data_props, model_props, fits, path: Path) -> Path:
    plt = common.pyplot()
    idx = [s.index for s in data]
    d = _gather(data_props, idx)
    keys = list(model_props)
    col = _colors(list(fits))
    shown = [("cv", "circular variance (high contrast)"), ("fano", "Fano factor (0-500 ms)"),
             ("latency", "onset latency shift low - high contrast (ms)")]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, (short, title) in zip(axes, shown):
        prop, bins = PROPERTIES[short]
        dv = d[prop][np.isfinite(d[prop])]
        if dv.size:
            ax.hist(np.clip(dv, bins[0], bins[-1]), bins=bins, density=True, color="0.6",
                    alpha=0.6, label=f"data (n={dv.size})")
        for k in keys:
            mv = _gather(model_props[k], idx)[prop]
            mv = mv[np.isfinite(mv)]
            if mv.size:
                h, _ = np.histogram(np.clip(mv, bins[0], bins[-1]), bins=bins, density=True)
                ax.stairs(h, bins, color=col[k], lw=1.5, label=f"{k} (n={mv.size})")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("density")
        ax.legend(fontsize=6)
    fig.suptitle("Responsive recorded units vs model neurons (pooled over sessions; model at "
                 "its fitted time scale)", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def figure_grid(grid_rows, fits, path: Path) -> Path:
    plt = common.pyplot()
    keys = list(fits)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys) + 1, 3.4), squeeze=False,
                             sharey=True)
    for ax, k in zip(axes[0], keys):
        sub = [r for r in grid_rows if r["model"] == k]
        combos = sorted({(r["contrast_gain"], r["ms_per_step"]) for r in sub}, reverse=True)
        for j, (g, m) in enumerate(combos):
            pts = sorted((r["delay_ms"], r["median_unit_r"]) for r in sub
                         if r["ms_per_step"] == m and r["contrast_gain"] == g)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], ["-", "--", ":"][j % 3],
                    color=f"C{j // 3}", label=f"gain {g:g}, {m:g} ms/step")
        f = fits[k]
        ax.plot(f["delay_ms"], f["search_median_unit_r"] or np.nan, "ko")
        ax.set_title(f"{k}\nchosen: gain {f['contrast_gain']:g}, {f['ms_per_step']:g} ms/step, "
                     f"+{f['delay_ms']:g} ms", fontsize=7)
        ax.set_xlabel("delay (ms)")
        ax.legend(fontsize=5)
    axes[0, 0].set_ylabel("median unit r (cross-validated)")
    fig.suptitle("time scale / delay / contrast gain search (dot: chosen)", fontsize=9)
    fig.tight_layout()
    return common.save_figure(fig, path)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = common.parser(__doc__, default_out="results/ecker2010")
    ap.add_argument("--models", nargs="+", default=None, metavar="NAME_OR_PATH",
                    help="checkpoints (shipped names or .safetensors paths) and baselines "
                         f"{BASELINES}; default: shipped models + baselines")
    ap.add_argument("--sessions", nargs="+", type=int, default=None,
                    help=f"session indices 0-16 (default quick {QUICK_SESSIONS}, full all)")
    ap.add_argument("--trials", type=int, default=None,
                    help="model trials for the properties (quick 20, full 40)")
    ap.add_argument("--feature-trials", type=int, default=None,
                    help="model trials averaged into the regression features (quick 8, full 20)")
    ap.add_argument("--bin-ms", type=float, default=None, help="PSTH bin (quick 20, full 10)")
    ap.add_argument("--ms-grid", type=float, nargs="+", default=None,
                    help=f"ms per model step candidates (default {MS_GRID})")
    ap.add_argument("--delays", type=float, nargs="+", default=None,
                    help="delay candidates in ms (default 0-80 step 10)")
    ap.add_argument("--folds", type=int, default=None,
                    help="CV folds over conditions (quick 4, full: number of orientations)")
    ap.add_argument("--contrast-gains", type=float, nargs="+", default=None,
                    help=f"contrast gain candidates (default {CONTRAST_GAINS})")
    ap.add_argument("--inner-folds", type=int, default=None,
                    help="nested CV folds of the ridge penalty (quick 3, full 5)")
    ap.add_argument("--bootstrap", type=int, default=None, help="KS bootstrap samples")
    ap.add_argument("--threshold-hz", type=float, default=5.0, help="responsiveness threshold")
    ap.add_argument("--data", default=None, help="path of data_v1_binned_static.mat")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="BLAS threads (default 1: fastest on a shared CPU; 0 = BLAS default)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    common.setup_torch(args.threads)

    def go():
        res = run(args.out, args.models, args.sessions, quick=not args.full, seed=args.seed,
                  n_trials=args.trials, n_trials_features=args.feature_trials,
                  bin_ms=args.bin_ms, ms_grid=args.ms_grid,
                  delays_ms=args.delays, n_folds=args.folds, inner_folds=args.inner_folds,
                  contrast_gains=args.contrast_gains, n_bootstrap=args.bootstrap,
                  response_threshold_hz=args.threshold_hz, data_path=args.data,
                  device=args.device, progress=not args.no_progress,
                  blas_threads=args.blas_threads or None)
        for r in res["table"]:
            if r["session"] == "all":
                print(f"{r['model']:>28s}: raw {r['predictivity_raw']:.3f}  ceiling "
                      f"{r['ceiling']:.3f}  ceiled {r['predictivity_ceiled']:.3f}  KS cv "
                      f"{r['ks_similarity_cv']:.3f} fano {r['ks_similarity_fano']:.3f} "
                      f"latency {r['ks_similarity_latency']:.3f}", file=sys.stderr)
        w = res["winner"]
        print(f"winner: {w.get('model')} (margin {w.get('margin_ceiled')})", file=sys.stderr)
        out = Path(args.out)
        return [out / "ecker2010_comparison.csv", out / "ecker2010_comparison.json"]

    return common.main_wrapper(go)


if __name__ == "__main__":
    sys.exit(main())
