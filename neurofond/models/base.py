"""What every baseline model shares: static drive, LNP rates and ``present`` -> Responses.

A baseline is a separable linear-nonlinear-Poisson (LNP) model: a spatial stage (one
non-negative *drive* per static image and channel, e.g. a Gabor energy) times one fixed
temporal response (:func:`~neurofond.models.temporal.stimulus_time_course`), mapped to a
firing rate and sampled as Poisson spikes. Channel ``j`` fires at

    ``rate_j(t) = r0_hz + (rmax_hz - r0_hz) * drive_j / response_ref_j * g(t)``  (spikes/s)

with ``response_ref_j`` the channel's largest drive over reference gratings
(:meth:`BaselineModel.calibrate`; by default full-field gratings at 16 orientations x 4
phases at ``reference_sf_cpd``, contrast 1, on the stimuli's own canvas), so every channel
spans ``r0_hz``..``rmax_hz`` over that reference set. Time runs in steps of ``ms_per_step``
as for an :class:`~neurofond.population.InSilicoPopulation`, and :meth:`BaselineModel.present`
has the same signature and returns the same ``Responses`` layout (one time bin per step,
``time`` = bin start in ms, ``step`` coordinate, negative steps = mean-gray blank), so any
analysis or comparison takes either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int, check_positive, check_random_state, check_seed
from .temporal import stimulus_time_course

__all__ = ["DEFAULT_STATIC_STEPS", "BaselineModel", "reference_gratings", "static_frames"]

#: Default steps a static image is shown (as for a population).
DEFAULT_STATIC_STEPS = 50


def static_frames(frames: Any) -> np.ndarray:
    """Static images ``(n, H, W)`` float64 from ``(n, H, W)``, ``(n, 1, H, W)`` or ``Stimuli``.

    Raises
    ------
    ValueError
        If the stimuli are movies (more than one frame), not images, or not finite.
    """
    arr = np.asarray(getattr(frames, "frames", frames), dtype=np.float64)
    if arr.ndim == 4:
        if arr.shape[1] != 1:
            raise ValueError(f"frames: expected static images (one frame each), got {arr.shape}")
        arr = arr[:, 0]
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise ValueError(f"frames: expected (n, H, W) images, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("frames: expected finite luminance values")
    return arr


def reference_gratings(geometry, sf_cpd: float, *, n_orientations: int = 16,
                       phases_deg: Sequence[float] = (0.0, 90.0, 180.0, 270.0),
                       mean: float = 0.5):
    """Full-field gratings at ``n_orientations`` x ``phases_deg``, contrast 1 (``Stimuli``).

    The reference set of the rate calibration and of the pixel-PCA components; it does
    not depend on any recorded responses.
    """
    from neurofond.stimuli import grating_sweep

    ori = np.arange(n_orientations) * 180.0 / n_orientations
    return grating_sweep(geometry, orientations=ori, sfs=[float(sf_cpd)],
                         phases=list(phases_deg), contrasts=[1.0], mean=mean)


@dataclass(kw_only=True)
class BaselineModel:
    """Shared LNP machinery of the baseline models (see the module docstring).

    Parameters (keyword only)
    -------------------------
    ms_per_step : float
        Milliseconds per time step (the bin width of :meth:`present`).
    r0_hz, rmax_hz : float
        Rate at zero drive and at the reference drive (spikes/s).
    reference_sf_cpd : float
        Spatial frequency (cycles/deg) of the default reference gratings.
    tau_ms, kernel_order : float, int
        Gamma kernel of the temporal response.
    """

    ms_per_step: float = 5.0
    r0_hz: float = 2.0
    rmax_hz: float = 30.0
    reference_sf_cpd: float = 3.0
    tau_ms: float = 10.0
    kernel_order: int = 3

    # ------------------------------------------------------------------ per model
    # subclasses define the fields ``name`` (str) and ``mean`` (mean luminance) and:

    def drive(self, stimuli: Any, geometry: Any = None) -> np.ndarray:  # pragma: no cover
        """Non-negative channel drive ``(n_images, n_channels)``."""
        raise NotImplementedError

    def features(self, stimuli: Any, geometry: Any = None) -> np.ndarray:
        """Regression features ``(n_images, n_features)`` (default: the drive)."""
        return self.drive(stimuli, geometry)

    def neuron_coords(self) -> dict[str, np.ndarray]:  # pragma: no cover
        """Coordinates along ``neuron`` (one per channel)."""
        raise NotImplementedError

    def prepare(self, geometry: Any) -> BaselineModel:
        """Fit what the model needs on ``geometry`` (default: the rate calibration)."""
        if getattr(self, "response_ref_", None) is None:
            self.calibrate(reference_gratings(geometry, self.reference_sf_cpd, mean=self.mean))
        return self

    # ------------------------------------------------------------------ shared
    def calibrate(self, reference: Any, geometry: Any = None) -> BaselineModel:
        """Set ``response_ref_``: each channel's largest drive over ``reference`` images."""
        self.response_ref_ = np.asarray(self.drive(reference, geometry), dtype=np.float64).max(0)
        return self

    def time_course(self, steps: np.ndarray, stimulus_steps: int) -> np.ndarray:
        """Temporal response ``g`` (0..1) of every step, stimulus shown in steps 0..``n - 1``."""
        m = float(self.ms_per_step)
        return stimulus_time_course(np.asarray(steps) * m, m, duration_ms=stimulus_steps * m,
                                    tau_ms=self.tau_ms, order=self.kernel_order)

    def rates_hz(self, stimuli: Any, steps: np.ndarray, stimulus_steps: int,
                 geometry: Any = None) -> np.ndarray:
        """LNP rates (spikes/s) ``(n_images, n_channels, n_steps)`` at ``steps``."""
        geometry = geometry if geometry is not None else getattr(stimuli, "geometry", None)
        if geometry is not None:
            self.prepare(geometry)
        if getattr(self, "response_ref_", None) is None:
            raise ValueError(f"{self.name}: not calibrated; present Stimuli with a geometry or "
                             "call calibrate(reference_images) first")
        chans = np.asarray(self.drive(stimuli, geometry), dtype=np.float64)
        ref = np.broadcast_to(self.response_ref_[None], chans.shape)
        norm = np.divide(chans, ref, out=np.zeros_like(chans), where=ref > 0)
        g = self.time_course(steps, stimulus_steps)
        return self.r0_hz + (self.rmax_hz - self.r0_hz) * norm[:, :, None] * g

    def present(self, stimuli: Any, *, n_trials: int = 10, blank_steps: int = 20,
                stimulus_steps: int | None = None, seed: int | None = 0,
                return_rates: bool = False, progress: bool = False,
                record_steps: Iterable[int] | None = None, **unknown: Any):
        """Present static stimuli and sample Poisson spikes, one time bin per step.

        Same call and the same ``Responses`` layout as
        :meth:`neurofond.population.InSilicoPopulation.present`.

        Parameters
        ----------
        stimuli : Stimuli
            Static images (one frame each) with a ``geometry`` (the filters are in
            degrees).
        n_trials : int
            Repeats of every stimulus (>= 1).
        blank_steps : int
            Mean-gray steps before onset (>= 0), recorded with negative times.
        stimulus_steps : int, optional
            Steps the image is shown from onset (default :data:`DEFAULT_STATIC_STEPS`).
        seed : int or None
            Seed of the Poisson sampler (``numpy.random.default_rng``); None draws one
            (recorded in attrs).
        return_rates : bool
            Also return the expected counts: an :class:`xarray.Dataset` with ``spikes`` and
            ``rates`` (expected spikes per bin).
        progress : bool
            Accepted for compatibility (the simulation is one vectorised draw).
        record_steps : iterable of int, optional
            Steps to record (negative = blank); default all.

        Returns
        -------
        xarray.DataArray or xarray.Dataset
            ``Responses`` (trial, stimulus, neuron, time): int32 spike counts per bin;
            ``stimulus`` coords from the stimulus parameters, ``neuron`` coords from
            :meth:`neuron_coords`, ``time`` = bin start in ms with ``step``; attrs
            ``bin_ms`` = ``ms_per_step``, ``units`` "spikes per bin", the LNP settings.

        Raises
        ------
        ValueError
            Unknown arguments, movies, bad counts or seeds (the message names the argument).
        """
        import xarray as xr

        from neurofond.responses import make_responses

        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown argument of present(); expected "
                             "n_trials, blank_steps, stimulus_steps, seed, return_rates, "
                             "progress, record_steps")
        n_trials = check_int(n_trials, "n_trials", minimum=1)
        blank_steps = check_int(blank_steps, "blank_steps", minimum=0)
        n_steps = check_int(DEFAULT_STATIC_STEPS if stimulus_steps is None else stimulus_steps,
                            "stimulus_steps", minimum=1)
        ms = check_positive(self.ms_per_step, "ms_per_step")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        seed = check_seed(seed)
        steps = np.arange(-blank_steps, n_steps)
        if record_steps is not None:
            try:
                rec = np.unique(np.asarray(list(record_steps), dtype=np.int64))
            except (TypeError, ValueError):
                raise ValueError(f"record_steps: expected integer steps, got {record_steps!r}"
                                 ) from None
            if rec.size == 0 or rec[0] < -blank_steps or rec[-1] >= n_steps:
                raise ValueError(f"record_steps: expected steps in [{-blank_steps}, "
                                 f"{n_steps - 1}], got {record_steps!r}")
            steps = rec
        static_frames(stimuli)  # refuses movies before any work
        rate = self.rates_hz(stimuli, steps, n_steps)
        lam = rate * (ms / 1000.0)
        rng = check_random_state(seed)
        counts = rng.poisson(lam[None], size=(n_trials, *lam.shape)).astype(np.int32)
        coords = stimuli.coords() if hasattr(stimuli, "coords") else None
        attrs = {"model": self.name, "ms_per_step": ms, "n_trials": n_trials,
                 "blank_steps": blank_steps, "stimulus_steps": n_steps, "seed": seed,
                 "r0_hz": float(self.r0_hz), "rmax_hz": float(self.rmax_hz),
                 "temporal_kernel": f"boxcar * gamma(order {self.kernel_order}, "
                                    f"tau {self.tau_ms:g} ms)",
                 "model_kind": "LNP baseline"}
        resp = make_responses(counts, bin_ms=ms, stimulus_coords=coords,
                              neuron_coords=self.neuron_coords(), time_start_ms=steps * ms,
                              source=f"model:{self.name}", attrs=attrs)
        resp = resp.assign_coords(step=("time", steps))
        if not return_rates:
            return resp
        rates = resp.copy(data=np.broadcast_to(lam[None], counts.shape).astype(np.float32))
        rates.name = "rates"
        rates.attrs["units"] = "expected spikes per bin (LNP rate x bin)"
        return xr.Dataset({"spikes": resp, "rates": rates}, attrs=dict(resp.attrs))
