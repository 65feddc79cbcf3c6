"""Candidates of the comparison: iterative VAEs and baselines shown the session's gratings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .protocol import (
    BASELINE_R0_HZ,
    BASELINE_RMAX_HZ,
    BASELINE_STEP_MS,
    BASELINES,
    MS_GRID,
    PREDICTIVITY_WINDOW_MS,
    PROPERTY_TIME_MS,
    ROWS_PER_BATCH,
    SIM_BYTES,
    WARMUP_STEPS,
)

__all__ = ["BaselineCandidate", "Candidate", "VAECandidate", "build_candidates", "model_spikes"]


class Candidate:
    """A model shown gratings: step responses for regression and spikes for properties.

    ``simulate(stim, steps, n_trials, seed, spikes)`` returns the trial-mean regression
    features ``(cond, feature, step)`` (``spikes=False``) or spikes ``(trial, cond, neuron,
    step)`` at the steps ``-blank .. shown - 1`` of :meth:`steps`.
    """

    key: str
    label: str
    kind: str  # "vae" or "baseline"
    family: str
    ms_grid: tuple[float, ...]
    gains: tuple[float, ...] = (1.0,)
    units: str
    fit: dict[str, Any]

    def steps(self, max_delay: float, ms_per_step: float | None = None) -> np.ndarray:
        """Steps simulated: enough blank for the property time range at the largest delay
        and enough stimulus for the analysed window, at ``ms_per_step`` (default: the
        finest time scale of the grid)."""
        m = min(self.ms_grid) if ms_per_step is None else float(ms_per_step)
        blank = int(math.ceil((-PROPERTY_TIME_MS[0] + max_delay) / m)) + 2
        shown = int(math.ceil(max(PREDICTIVITY_WINDOW_MS[1], PROPERTY_TIME_MS[1]) / m))
        return np.arange(-blank, shown)

    def simulate(self, stim, steps: np.ndarray, n_trials: int, seed: int, spikes: bool
                 ) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class VAECandidate(Candidate):
    """An iterative VAE checkpoint as one hypercolumn at the canvas centre."""

    kind = "vae"

    def __init__(self, ck, *, patch_size_deg: float, device: str) -> None:
        from ..population import InSilicoPopulation

        self.ck = ck
        self.pop = InSilicoPopulation.from_checkpoint(ck.path, ms_per_step=10.0,
                                                      patch_size_deg=patch_size_deg,
                                                      device=device)
        self.key = ck.name
        self.n_neurons = self.pop.n_units
        self.family = ck.family
        self.label = ck.label
        self.ms_grid = MS_GRID
        self.units = ("spikes" if ck.family == "poisson"
                      else "sampled activation a(z)" + (" (rectified)"
                                                        if ck.family == "gaussian" else ""))

    def warm_state(self, n_trials: int, seed: int):
        """``n_trials`` inference chains run on the mean-gray blank for
        :data:`~neurofond.compare.protocol.WARMUP_STEPS` steps (cached per trials and seed).

        The iterative VAEs start from their prior and relax on a blank screen over hundreds
        of steps (measured mean response per step of the shipped iP-VAE: 0.87 at step 0,
        0.0117 at 200, 0.00048 at 400, 0.00034 from 600 on; iG-VAE / iGrelu-VAE settle
        by ~300). Without the warm-up that relaxation, not the stimulus onset, shapes the
        time course in the analysed window, and it depends on the blank length.
        """
        import torch

        from .._checks import check_torch_generator

        key = (int(n_trials), int(seed))
        cache = self.__dict__.setdefault("_warm", {})
        if key not in cache:
            model = self.pop.model
            gen = check_torch_generator(int(seed), self.pop.device)
            x = self._blank(int(n_trials))
            with torch.inference_mode():
                state = model.initial_state(int(n_trials), generator=gen)
                residual = None
                for _ in range(WARMUP_STEPS):
                    state, residual = model.step(state, x, generator=gen, residual=residual)
            cache[key] = state
        return cache[key]

    def _blank(self, rows: int):
        import torch

        return torch.full((rows, self.pop.patch_size ** 2), self.pop.transform.blank_value(),
                          dtype=torch.float32, device=self.pop.device)

    def _run_chains(self, stim, steps, n_trials, seed, spikes, record) -> None:
        """Advance warmed-up chains through ``steps`` (blank before 0, then the stimulus);
        ``record(c0, c, i, values)`` gets every step's responses ``(c, trial, K)``."""
        import dataclasses

        import torch

        from .._checks import check_torch_generator
        from ..population.windowed import nonnegative

        model = self.pop.model
        k = self.pop.n_units
        n = len(stim)
        x_all = self.pop.patches(stim.frames, self.pop.layout(stim))[:, 0, 0]  # (n, D)
        warm = self.warm_state(n_trials, seed)
        chunk = max(1, ROWS_PER_BATCH // int(n_trials))
        for c0 in range(0, n, chunk):
            c = min(n, c0 + chunk) - c0
            rows = c * n_trials
            gen = check_torch_generator(int(seed) + 1 + c0, self.pop.device)
            state = dataclasses.replace(warm, **{
                f.name: getattr(warm, f.name).repeat(c, *([1] * (getattr(warm, f.name).dim()
                                                                - 1)))
                for f in dataclasses.fields(warm)
                if torch.is_tensor(getattr(warm, f.name)) and getattr(warm, f.name).dim() >= 1
                and getattr(warm, f.name).shape[0] == n_trials})
            blank = self._blank(rows)
            shown = torch.from_numpy(np.ascontiguousarray(x_all[c0:c0 + c])).to(
                self.pop.device).repeat_interleave(n_trials, dim=0)  # row = cond * T + trial
            residual, on = None, None
            with torch.inference_mode():
                for i, step in enumerate(steps):
                    if (step >= 0) != on:
                        on, residual = step >= 0, None
                    state, residual = model.step(state, shown if on else blank, generator=gen,
                                                 residual=residual)
                    val = (state.response if spikes else model.mean_response(state))
                    val = val.cpu().numpy().reshape(c, n_trials, k)
                    record(c0, c, i, nonnegative(val, self.family) if spikes else val)

    def simulate(self, stim, steps, n_trials, seed, spikes):
        """Trial-mean rates ``(cond, K, step)`` or spikes ``(trial, cond, K, step)``.

        Every trial continues one of ``n_trials`` warmed-up blank chains
        (:meth:`warm_state`; the same chains for every condition, which then diverge by
        sampling over the ``-steps[0]`` blank steps before onset); the centre patch of each
        static stimulus through the population's presentation transform.
        """
        k = self.pop.n_units
        out = np.zeros(((n_trials,) if spikes else ()) + (len(stim), k, steps.size),
                       dtype=np.float32)

        def record(c0, c, i, val):
            if spikes:
                out[:, c0:c0 + c, :, i] = val.transpose(1, 0, 2)
            else:
                out[c0:c0 + c, :, i] = val.mean(axis=1)

        self._run_chains(stim, steps, n_trials, seed, spikes, record)
        return out

    def spike_counts(self, stim, steps, n_trials, seed, w, fmask):
        """Spikes accumulated while simulating (no step array): Fano-window counts
        ``(trial, cond, K)`` over the steps in ``fmask`` and counts in data bins ``(trial,
        cond, K, bin)`` with the resampling weights ``w`` (bin, step); the same numbers as
        :func:`model_spikes` on :meth:`simulate`'s spikes."""
        k, n = self.pop.n_units, len(stim)
        fano = np.zeros((n_trials, n, k))
        binned = np.zeros((n_trials, n, k, w.shape[0]), dtype=np.float32)
        nz = [np.flatnonzero(w[:, i]) for i in range(w.shape[1])]

        def record(c0, c, i, val):
            v = val.transpose(1, 0, 2)
            if fmask[i]:
                fano[:, c0:c0 + c] += v
            for b in nz[i]:
                binned[:, c0:c0 + c, :, b] += np.float32(w[b, i]) * v

        self._run_chains(stim, steps, n_trials, seed, True, record)
        return fano, np.clip(binned, 0.0, None)


class BaselineCandidate(Candidate):
    """A baseline of :mod:`neurofond.models` (LNP; its own fixed time course, no gain).

    Regression features: the model's :meth:`~neurofond.models.BaselineModel.features`
    (Gabor energies; signed PCA projections) times its temporal response; spikes:
    :meth:`~neurofond.models.BaselineModel.present` (rates ``r0 .. r_max`` calibrated on the
    reference gratings at the assumed SF, contrast 1).
    """

    kind = "baseline"

    def __init__(self, name: str, stim_params: dict[str, float], *,
                 patch_size_deg: float = 1.0) -> None:
        from ..models import BASELINES as REGISTERED
        from ..models import StimulusFloorBaseline
        from ..models.lca import LCABaseline
        from ..stimuli import ScreenGeometry

        MODELS = {**REGISTERED, "stimulus-floor": StimulusFloorBaseline, "lca": LCABaseline}
        if name not in MODELS:
            raise ValueError(f"models: unknown baseline {name!r} (known: {BASELINES})")
        if name not in BASELINES:
            raise ValueError(f"models: unknown baseline {name!r} (known: {BASELINES})")
        self.key = name
        self.family = "baseline"
        self.ms_grid = (BASELINE_STEP_MS,)
        self.units = "Poisson spikes (LNP)"
        self.geometry = ScreenGeometry.from_size_deg(float(stim_params["size_deg"]),
                                                     int(stim_params["size_px"]))
        self.n_neurons = 1024 if name == "lca" else 512  # sizes the simulation chunks
        extra = {"patch_size_deg": float(patch_size_deg)} if name == "lca" else {}
        self.model = MODELS[name](mean=float(stim_params["mean"]), name=name,
                                  ms_per_step=BASELINE_STEP_MS, r0_hz=BASELINE_R0_HZ,
                                  rmax_hz=BASELINE_RMAX_HZ,
                                  reference_sf_cpd=float(stim_params["sf_cpd"]), **extra)
        # PCA components and each channel's rate normalisation from the reference gratings
        # (16 orientations x 4 phases at the assumed SF, contrast 1)
        self.model.prepare(self.geometry)
        if name == "gabor-energy":
            self.label = f"Gabor energy ({self.model.n_channels} channels)"
        elif name == "lca":
            self.label = (f"LCA sparse coding (K={self.model.n_elements}, Rozell et al. 2008; "
                          f"{2 * self.model.n_elements} ON/OFF channels)")
        elif name == "stimulus-floor":
            self.label = (f"stimulus floor (von Mises x contrast, {self.model.n_channels} "
                          "features)")
        else:
            self.label = f"pixel PCA ({self.model.components_.shape[0]} PCs)"

    def simulate(self, stim, steps, n_trials, seed, spikes):
        shown = int(steps[-1]) + 1
        if not spikes:
            g = self.model.time_course(steps, shown)
            feats = self.model.features(stim, self.geometry)
            return (feats[:, :, None] * g[None, None, :]).astype(np.float32)
        resp = self.model.present(stim, n_trials=n_trials, blank_steps=int(-steps[0]),
                                  stimulus_steps=shown, seed=seed)
        return np.asarray(resp.values, dtype=np.float32)


def build_candidates(models: Sequence[str] | None, stim_params: dict[str, float], *,
                     patch_size_deg: float, device: str) -> tuple[list[Candidate], list[dict]]:
    """Resolve ``models`` (names, paths, baselines); missing ones are skipped with a note."""
    from ..pretrained import SHIPPED, CheckpointInfo, list_pretrained

    skipped: list[dict] = []
    if models is None:
        shipped = {row["name"] for row in list_pretrained()}
        specs = [n for n in SHIPPED if n in shipped]
        specs += sorted(shipped - set(SHIPPED))
        skipped += [{"model": n, "reason": "not shipped (neurofond/pretrained) yet"}
                    for n in SHIPPED if n not in shipped]
        specs += list(BASELINES)
    else:
        specs = [str(m) for m in models]
    cands: list[Candidate] = []
    for spec in specs:
        if spec in BASELINES:
            cands.append(BaselineCandidate(spec, stim_params, patch_size_deg=patch_size_deg))
            continue
        if "trainer" in Path(spec).name:
            skipped.append({"model": spec, "reason": "a trainer state, not a checkpoint"})
            continue
        try:
            ck = CheckpointInfo.from_spec(spec)
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
    if hasattr(cand, "spike_counts"):  # VAEs: accumulated while simulating, one batch
        return cand.spike_counts(stim, steps, n_trials, seed, w, fmask)
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
