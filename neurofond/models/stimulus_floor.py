"""The stimulus-parameter floor: a von Mises basis of orientation times contrast functions.

What any image-computable model must beat. The floor does not look at the pixels: it reads
the grating parameters of the stimuli (``orientation`` in deg, ``contrast`` as a fraction;
``Stimuli.params``) and returns one channel per (orientation bump, contrast function)

    ``drive_jk = v_j(theta) * f_k(c)``,
    ``v_j(theta) = exp(kappa * (cos(2 (theta - theta_j)) - 1))``  (von Mises on the doubled
    angle, period 180 deg; ``theta_j = j * 180 / n_orientations``), plus one untuned
    channel ``v_0 = 1``;
    ``f_1(c) = c`` (linear) and ``f_2(c) = c / (c + c50)`` (a Naka-Rushton function with
    exponent 1, saturating; Albrecht & Hamilton 1982).

With the default 8 bumps (``kappa`` = 2, about 37-deg half width) and two contrast functions
this is an 18-feature basis: a regression on it can give every recorded unit any smooth
orientation tuning curve and a linear or saturating contrast response, with the shared
temporal response of :class:`~neurofond.models.base.BaselineModel` (boxcar x gamma kernel).
It answers the question: how much of the recorded responses does knowing the stimulus
parameters explain? A model that predicts the recorded units no better than the floor has
shown nothing beyond the experimental design (see ``docs/compare.md``).

Spikes (:meth:`StimulusFloorBaseline.present`) follow the shared LNP rule: each channel fires
from ``r0_hz`` to ``rmax_hz`` over the reference gratings (contrast 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import BaselineModel

__all__ = ["StimulusFloorBaseline"]


@dataclass
class StimulusFloorBaseline(BaselineModel):
    """Von Mises orientation basis x contrast functions (see the module docstring).

    Parameters
    ----------
    n_orientations : int
        Von Mises bumps evenly spaced over 180 deg (>= 1).
    kappa : float
        Concentration of the bumps (> 0; larger = narrower).
    c50 : float
        Semi-saturation contrast of the saturating contrast function (> 0).
    untuned : bool
        Add the untuned (orientation-independent) channel.
    mean : float
        Mean luminance (unused: the floor reads parameters, not pixels; kept for the
        interface).
    name : str
        Model name (``source`` of its Responses: ``model:<name>``).
    ms_per_step, r0_hz, rmax_hz, reference_sf_cpd, tau_ms, kernel_order
        Keyword-only LNP settings (:class:`~neurofond.models.base.BaselineModel`).
    """

    n_orientations: int = 8
    kappa: float = 2.0
    c50: float = 0.1
    untuned: bool = True
    mean: float = 0.5
    name: str = "stimulus-floor"

    def _bumps(self) -> np.ndarray:
        n = int(self.n_orientations)
        if n < 1 or not self.kappa > 0 or not self.c50 > 0:
            raise ValueError("n_orientations (>= 1), kappa (> 0) and c50 (> 0) expected, got "
                             f"{self.n_orientations}, {self.kappa}, {self.c50}")
        return np.arange(n) * 180.0 / n

    @property
    def n_channels(self) -> int:
        return 2 * (int(self.n_orientations) + int(bool(self.untuned)))

    @staticmethod
    def parameters(stimuli: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(orientation_deg, contrast)`` of every stimulus, read from ``stimuli.params``.

        Raises
        ------
        ValueError
            If the stimuli carry no ``orientation`` (or ``direction``) or no ``contrast``.
        """
        params = getattr(stimuli, "params", None)
        if not isinstance(params, dict):
            raise ValueError("stimuli: the stimulus floor needs Stimuli with grating "
                             "parameters (orientation or direction, contrast)")
        angle = params.get("orientation", params.get("direction"))
        if angle is None or "contrast" not in params:
            raise ValueError("stimuli: the stimulus floor needs the parameters orientation "
                             f"(or direction) and contrast; got {sorted(params)}")
        return (np.asarray(angle, dtype=np.float64).ravel(),
                np.asarray(params["contrast"], dtype=np.float64).ravel())

    def drive(self, stimuli: Any, geometry: Any = None) -> np.ndarray:
        """Non-negative channel drive ``(n_stimuli, n_channels)`` (bump-major, then f_1, f_2)."""
        theta, c = self.parameters(stimuli)
        pref = self._bumps()
        d = np.deg2rad(theta[:, None] - pref[None, :])
        v = np.exp(self.kappa * (np.cos(2.0 * d) - 1.0))
        if self.untuned:
            v = np.concatenate([np.ones((theta.size, 1)), v], axis=1)
        c = np.clip(c, 0.0, None)[:, None]
        f = np.stack([c, c / (c + self.c50)], axis=-1)  # (n, 1, 2)
        return (v[:, :, None] * f).reshape(theta.size, -1)

    def neuron_coords(self) -> dict[str, np.ndarray]:
        """``preferred_orientation`` (deg; NaN = untuned) and ``contrast_function``."""
        pref = self._bumps()
        if self.untuned:
            pref = np.concatenate([[np.nan], pref])
        return {"preferred_orientation": np.repeat(pref, 2),
                "contrast_function": np.tile(np.array(["linear", "naka_rushton"]), pref.size)}
