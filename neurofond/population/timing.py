"""Time: the trial schedule of a presentation (blank, stimulus frames, recorded steps).

One inference iteration is one model time step, ``ms_per_step`` milliseconds long. Each
trial

1. starts from the model's learned prior;
2. runs ``blank_steps`` steps on a mean-gray input (steps ``-blank_steps .. -1``: the
   population moves towards its spontaneous state; these bins have negative times). How many
   steps it needs to settle is measured by
   :meth:`~neurofond.population.InSilicoPopulation.spontaneous_settling` (shipped iP-VAE:
   ~500, far more than the default 20; see docs/insilico.md, "Defaults and steady state");
3. shows the stimulus from step 0: frame ``k`` of a movie for ``steps_per_frame`` steps,
   then frame ``k + 1``, without resetting the state between frames. A static image (one
   frame) is shown for ``stimulus_steps`` steps.

Step ``s`` is recorded in the time bin ``[s ms_per_step, (s + 1) ms_per_step)`` ms, with 0
at stimulus onset. numpy only (no torch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int, check_positive

__all__ = ["BLANK", "DEFAULT_STATIC_STEPS", "TrialSchedule", "frame_timing", "recorded_steps",
           "trial_schedule"]

#: Steps a static image is shown when neither ``steps_per_frame`` nor ``stimulus_steps`` is given.
DEFAULT_STATIC_STEPS = 50

#: What :meth:`TrialSchedule.input_at` returns for a blank (mean-gray) step.
BLANK = "blank"


def frame_timing(n_frames: int, frame_rate_hz: float | None, ms_per_step: float,
                 steps_per_frame: Any = None, stimulus_steps: Any = None) -> tuple[int, int]:
    """``(steps_per_frame, stimulus_steps)`` of a stimulus of ``n_frames`` frames.

    ``steps_per_frame`` defaults to the frame period in model steps for a movie with a
    frame rate (which must be a whole number of steps), 1 for a movie without one and
    :data:`DEFAULT_STATIC_STEPS` for a static image; ``stimulus_steps`` to
    ``steps_per_frame * n_frames`` (a movie may be truncated, not extended).

    Raises
    ------
    ValueError
        If ``ms_per_step`` and ``steps_per_frame`` disagree with the frame rate, or a
        count is out of range (the message names the argument).
    """
    ms_per_step = check_positive(ms_per_step, "ms_per_step")
    rate = frame_rate_hz if n_frames > 1 else None
    if steps_per_frame is None:
        if rate is not None:
            exact = 1000.0 / (rate * ms_per_step)
            spf = int(round(exact))
            if spf < 1 or not math.isclose(exact, spf, rel_tol=1e-6):
                raise ValueError(
                    f"ms_per_step: a frame at {rate:g} Hz lasts {1000.0 / rate:g} ms, not a "
                    f"whole number of {ms_per_step:g} ms model steps; choose ms_per_step "
                    f"= (1000 / frame_rate_hz) / steps_per_frame")
        else:
            spf = 1 if n_frames > 1 else DEFAULT_STATIC_STEPS
    else:
        spf = check_int(steps_per_frame, "steps_per_frame", minimum=1)
        if rate is not None and not math.isclose(1000.0 / (spf * ms_per_step), rate,
                                                 rel_tol=1e-6):
            raise ValueError(
                f"ms_per_step: steps_per_frame * ms_per_step = {spf} * {ms_per_step:g} ms "
                f"does not match the frame period 1000 / frame_rate_hz = {1000.0 / rate:g} ms "
                f"of the stimuli; use ms_per_step={1000.0 / (rate * spf):g} or "
                f"steps_per_frame={1000.0 / (rate * ms_per_step):g}")
    if stimulus_steps is None:
        n_steps = spf * n_frames
    else:
        n_steps = check_int(stimulus_steps, "stimulus_steps", minimum=1)
        if n_frames > 1 and n_steps > spf * n_frames:
            raise ValueError(f"stimulus_steps: a movie of {n_frames} frames x {spf} steps "
                             f"lasts {spf * n_frames} steps; got {n_steps}")
    return spf, n_steps


def recorded_steps(record_steps: Iterable[int] | None, blank_steps: int,
                   stimulus_steps: int) -> np.ndarray:
    """Sorted unique steps to record, within ``[-blank_steps, stimulus_steps - 1]``.

    ``None`` records every step.

    Raises
    ------
    ValueError
        Non-integer steps (``0.5``, ``1.7``, ``True`` or strings are refused, never
        truncated; whole floats such as ``2.0`` are accepted), no steps, or a step
        outside the trial.
    """
    if record_steps is None:
        return np.arange(-blank_steps, stimulus_steps)
    if isinstance(record_steps, (str, bytes)):
        raise ValueError(f"record_steps: expected integer steps, got {record_steps!r}")
    try:
        values = list(record_steps)
    except TypeError:
        raise ValueError(f"record_steps: expected integer steps, got {record_steps!r}") from None
    out = []
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)):
            raise ValueError(f"record_steps: expected integer steps, got {value!r} in "
                             f"{record_steps!r}")
        if not (math.isfinite(float(value)) and float(value) == int(value)):
            raise ValueError(f"record_steps: expected integer steps, got {value!r} in "
                             f"{record_steps!r} (steps are not rounded)")
        out.append(int(value))
    steps = np.unique(np.asarray(out, dtype=np.int64))
    if steps.size == 0 or steps[0] < -blank_steps or steps[-1] >= stimulus_steps:
        raise ValueError(f"record_steps: expected steps in [{-blank_steps}, {stimulus_steps - 1}]"
                         f", got {record_steps!r}")
    return steps


@dataclass(frozen=True)
class TrialSchedule:
    """The steps of one trial and which of them are recorded.

    Attributes
    ----------
    blank_steps : int
        Mean-gray steps before onset (steps ``-blank_steps .. -1``).
    steps_per_frame : int
        Steps each stimulus frame is shown.
    stimulus_steps : int
        Steps from onset (steps ``0 .. stimulus_steps - 1``).
    n_frames : int
        Frames of the stimulus (the last one stays on if ``stimulus_steps`` outlasts them).
    record : ndarray of int
        Recorded steps, sorted.
    """

    blank_steps: int
    steps_per_frame: int
    stimulus_steps: int
    n_frames: int
    record: np.ndarray

    @property
    def steps(self) -> range:
        """Every step of the trial, in order."""
        return range(-self.blank_steps, self.stimulus_steps)

    @property
    def n_recorded(self) -> int:
        return int(self.record.size)

    @property
    def record_slot(self) -> np.ndarray:
        """For every step (index ``step + blank_steps``) its recorded bin, or -1."""
        slot = np.full(self.blank_steps + self.stimulus_steps, -1)
        slot[self.record + self.blank_steps] = np.arange(self.record.size)
        return slot

    def input_at(self, step: int) -> str | int:
        """:data:`BLANK` before onset, else the index of the frame shown at ``step``."""
        if step < 0:
            return BLANK
        return min(step // self.steps_per_frame, self.n_frames - 1)

    def time_start_ms(self, ms_per_step: float) -> np.ndarray:
        """Start of each recorded bin in ms (0 = stimulus onset)."""
        return self.record * ms_per_step


def trial_schedule(n_frames: int, frame_rate_hz: float | None, ms_per_step: float, *,
                   blank_steps: Any, steps_per_frame: Any = None, stimulus_steps: Any = None,
                   record_steps: Iterable[int] | None = None) -> TrialSchedule:
    """The :class:`TrialSchedule` of a presentation (see :func:`frame_timing`,
    :func:`recorded_steps`).

    Raises
    ------
    ValueError
        Any argument out of range (the message names it).
    """
    blank = check_int(blank_steps, "blank_steps", minimum=0)
    spf, n_steps = frame_timing(n_frames, frame_rate_hz, ms_per_step, steps_per_frame,
                                stimulus_steps)
    return TrialSchedule(blank_steps=blank, steps_per_frame=spf, stimulus_steps=n_steps,
                         n_frames=int(n_frames),
                         record=recorded_steps(record_steps, blank, n_steps))
