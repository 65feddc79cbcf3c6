"""The recorded side of the Ecker 2010 comparison: sessions, conditions and their gratings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..responses import Window
from .protocol import DATA_BIN_MS, FANO_WINDOW_MS, PREDICTIVITY_WINDOW_MS, PROPERTY_TIME_MS

__all__ = ["Session", "condition_centered", "load_sessions", "render_conditions",
           "stimulus_parameters"]


def stimulus_parameters() -> dict[str, float]:
    """The assumed Ecker 2010 grating parameters (one source of truth:
    :data:`neurofond.recordings.ecker2010.ECKER2010_STIMULUS`, beside the reader)."""
    from ..recordings.ecker2010 import ECKER2010_STIMULUS

    return dict(ECKER2010_STIMULUS)


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
    #: per-condition spatial frequency (cycles/deg) and phase (deg) where the recording
    #: gives them (None: the assumed value of the stimulus parameters)
    sf: np.ndarray | None = None
    phase: np.ndarray | None = None
    _ceilings: dict = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        return int(self.counts.shape[2])

    @property
    def n_orientations(self) -> int:
        return int(np.unique(self.orientation).size)

    def window(self, t0: float, t1: float) -> np.ndarray:
        """Indices of the 10-ms bins inside ``[t0, t1)`` ms (the :class:`Window` rule)."""
        return Window(t0, t1).bins_of(self.starts, self.starts + DATA_BIN_MS)

    def binned(self, bin_ms: float) -> np.ndarray:
        """Counts in ``bin_ms`` bins over the predictivity window: (trial, cond, unit, nb)."""
        f = int(round(bin_ms / DATA_BIN_MS))
        x = self.counts[..., self.window(*PREDICTIVITY_WINDOW_MS)]
        nb = x.shape[-1] // f
        return x[..., : nb * f].reshape(*x.shape[:3], nb, f).sum(-1)

    def condition_key(self) -> tuple:
        """The conditions shown (sessions with equal keys share model simulations)."""
        cols = [self.orientation, self.contrast]
        cols += [c for c in (self.sf, self.phase) if c is not None]
        return tuple(zip(*(np.asarray(c, dtype=float).tolist() for c in cols)))

    def ceiling(self, bin_ms: float, seed: int, centered: bool = False) -> Any:
        """Split-half reliability (Spearman-Brown) of the PSTHs over conditions x bins.

        ``centered``: of the condition-specific part only (every trial index minus its mean
        over conditions in each bin; :func:`condition_centered`).
        """
        key = (bin_ms, seed, centered)
        if key not in self._ceilings:
            from neurofond.analysis import split_half_reliability

            x = self.binned(bin_ms)  # (trial, cond, unit, nb)
            if centered:
                x = condition_centered(x, axis=1)
            flat = x.transpose(0, 1, 3, 2).reshape(x.shape[0], -1, x.shape[2])
            self._ceilings[key] = split_half_reliability(flat, n_splits=10, seed=seed + 1)
        return self._ceilings[key]

    def property_responses(self):
        """Responses over the property time range (-200 to 500 ms, 10-ms bins)."""
        from neurofond.responses import make_responses

        m = self.window(*PROPERTY_TIME_MS)
        return make_responses(self.counts[..., m], bin_ms=DATA_BIN_MS,
                              stimulus_coords={"orientation": self.orientation,
                                               "contrast": self.contrast},
                              neuron_coords={"neuron_id": self.unit_ids},
                              time_start_ms=self.starts[m], source="ecker2010", allow_nan=True)

    def fano_counts(self) -> np.ndarray:
        """Counts in the Fano window (0-500 ms): (trial, cond, unit)."""
        return self.counts[..., self.window(*FANO_WINDOW_MS)].sum(-1)


def load_sessions(sessions: Sequence[int], path: str | os.PathLike | None = None) -> list[Session]:
    """Sessions of :func:`neurofond.recordings.load_ecker2010` (monkey D orientations snapped
    to the 22.5-deg grid)."""
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


def condition_centered(x: np.ndarray, axis: int) -> np.ndarray:
    """``x`` minus its mean over conditions (``axis``), NaN-aware: the stimulus-specific part.

    Removes the response time course shared by all conditions (onset transient, adaptation),
    which any candidate predicts without knowing the stimulus.
    """
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return x - np.nanmean(x, axis=axis, keepdims=True)


def render_conditions(orientation: np.ndarray, contrast: np.ndarray, stim_params: dict[str, float],
                      *, sf: np.ndarray | None = None, phase: np.ndarray | None = None):
    """Full-field static gratings of the conditions (``stim_params``: the assumed stimulus).

    ``sf`` (cycles/deg) and ``phase`` (deg) per condition where known; otherwise the assumed
    ``stim_params["sf_cpd"]`` and ``stim_params["phase_deg"]``.
    """
    from neurofond.stimuli import ScreenGeometry, render_gratings

    geometry = ScreenGeometry.from_size_deg(float(stim_params["size_deg"]),
                                            int(stim_params["size_px"]))
    n = orientation.size
    sf = np.full(n, float(stim_params["sf_cpd"])) if sf is None else np.asarray(sf, float)
    phase = (np.full(n, float(stim_params["phase_deg"])) if phase is None
             else np.asarray(phase, float))
    params = {"orientation": orientation, "sf": sf, "phase": phase, "contrast": contrast}
    return render_gratings(params, geometry, mean=float(stim_params["mean"]))
