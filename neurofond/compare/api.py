"""Dataset-agnostic comparison: any recorded grating Responses vs candidate models.

:func:`compare` turns recorded ``Responses`` (one per session) whose ``stimulus`` coordinates
describe full-field gratings into the sessions of the comparison engine
(:mod:`neurofond.compare.engine`, the code that runs the Ecker et al. 2010 comparison) and
runs it: the same candidates, time-scale / delay / contrast-gain fit, cross-validated ridge
predictivity with split-half ceilings and property KS similarities.

Required of the recordings (each a clear ``ValueError`` naming the argument otherwise)
    - dims ``(trial, stimulus, neuron, time)`` (:func:`neurofond.responses.make_responses`);
    - a stimulus coordinate ``orientation`` (deg) or ``direction`` (deg; then the
      orientation is ``direction mod 180``, an explicit assumption: the candidates are shown
      static gratings of that orientation, the drift is not modelled);
    - a stimulus coordinate ``contrast`` (Michelson, a fraction in (0, 1]), or the
      ``contrast`` argument (one assumed contrast for every condition);
    - time bins that tile -200..500 ms re onset in bins dividing 10 ms (they are summed to
      10 ms, the engine's data bin).

Assumed where the recordings do not say (arguments; recorded in ``results["assumptions"]``)
    ``sf_cpd`` (default 3 cycles/deg), ``phase_deg`` (0), ``size_deg`` (8-deg full field,
    rendered at ``size_px`` = 256) and ``mean`` (0.5): the defaults are the Ecker 2010
    assumptions (:data:`neurofond.recordings.ecker2010.ECKER2010_STIMULUS`). Stimulus
    coordinates ``sf`` and ``phase`` (per condition) take precedence over the arguments.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .protocol import DATA_BIN_MS, PROPERTY_TIME_MS
from .sessions import Session, stimulus_parameters

__all__ = ["compare", "load_recordings", "sessions_from_responses"]

#: Names of the bundled grating datasets ``--recordings`` understands.
DATASETS = {"ecker2010": "ecker2010_v1_gratings",
            "ecker2010_v1_gratings": "ecker2010_v1_gratings",
            "ecker2010_v1_gratings_drifting": "ecker2010_v1_gratings_drifting"}


def load_recordings(recordings: Any, sessions: Sequence[int] | None = None, *,
                    nwb_window_ms: Sequence[float] = (-300.0, 500.0)) -> list:
    """Recorded Responses from a Responses array, a list of them, a path or a dataset name.

    Parameters
    ----------
    recordings : xarray.DataArray, sequence of them, path or str
        ``Responses`` (one per session), an Ecker 2010 ``.mat`` file (static or drifting
        release), an NWB file (``.nwb``; binned in 10-ms bins over ``nwb_window_ms`` around
        the ``trials`` intervals with :func:`neurofond.recordings.load_nwb`), a neo file
        (:func:`neurofond.recordings.load_neo`) or a dataset name (``ecker2010``,
        ``ecker2010_v1_gratings``, ``ecker2010_v1_gratings_drifting``).
    sessions : sequence of int, optional
        Only for the Ecker files: the sessions to read (the others are not loaded).

    Returns
    -------
    list of xarray.DataArray
        One Responses per session.

    Raises
    ------
    ValueError
        ``recordings``: not a Responses, an unknown name or a missing file.
    """
    import xarray as xr

    if isinstance(recordings, xr.DataArray):
        return [recordings]
    if isinstance(recordings, (list, tuple)):
        if not recordings or not all(isinstance(r, xr.DataArray) for r in recordings):
            raise ValueError("recordings: expected a non-empty list of Responses arrays")
        return list(recordings)
    if not isinstance(recordings, (str, os.PathLike)):
        raise ValueError(f"recordings: expected Responses, a path or a dataset name, got "
                         f"{type(recordings).__name__}")
    spec = str(recordings)
    path = Path(spec)
    if spec in DATASETS or path.suffix == ".mat":
        from ..recordings import load_ecker2010

        if spec not in DATASETS and not path.is_file():
            raise ValueError(f"recordings: {spec} does not exist")
        kw = {"dataset": DATASETS[spec]} if spec in DATASETS else {}
        parts = load_ecker2010(None if spec in DATASETS else path,
                               session=None if sessions is None else _ecker_sessions(sessions),
                               snap_orientation_deg=22.5, **kw)
        return parts if isinstance(parts, list) else [parts]
    if not path.exists():
        raise ValueError(f"recordings: {spec} is neither a file nor a dataset name "
                         f"({sorted(DATASETS)})")
    if path.suffix == ".nwb":
        from ..recordings import load_nwb

        try:
            return [load_nwb(path, bin_ms=DATA_BIN_MS, window_ms=tuple(nwb_window_ms))]
        except (KeyError, ValueError) as err:
            raise ValueError(f"recordings: {path.name}: {err}") from err
    from ..recordings import load_neo

    return [load_neo(path)]


def _ecker_sessions(sessions: Sequence[int]) -> list[int]:
    out = [int(s) for s in sessions]
    if not out or min(out) < 0 or max(out) > 16:
        raise ValueError(f"sessions: expected indices 0-16 of the Ecker 2010 sessions, got "
                         f"{list(sessions)}")
    return out


def _grating_columns(resp, i: int, contrast: float | None) -> tuple[np.ndarray, np.ndarray]:
    coords = resp["stimulus"].coords if "stimulus" in resp.dims else {}
    names = set(coords)
    if "orientation" in names:
        ori = np.asarray(resp["orientation"].values, dtype=float)
    elif "direction" in names:
        ori = np.mod(np.asarray(resp["direction"].values, dtype=float), 180.0)
    else:
        raise ValueError(f"recordings: session {i} has no grating coordinates (a stimulus "
                         "coordinate 'orientation' or 'direction' in deg is required); got "
                         f"{sorted(n for n in names if n != 'stimulus')}")
    if "contrast" in names:
        con = np.asarray(resp["contrast"].values, dtype=float)
    elif contrast is not None:
        con = np.full(ori.size, float(contrast))
    else:
        raise ValueError(f"recordings: session {i} has no 'contrast' stimulus coordinate; "
                         "give contrast=... (the assumed Michelson contrast, 0-1)")
    if not (np.all(np.isfinite(ori)) and np.all(np.isfinite(con))):
        raise ValueError(f"recordings: session {i}: non-finite orientation or contrast values")
    if con.min() <= 0 or con.max() > 1:
        raise ValueError(f"recordings: session {i}: contrast must be a fraction in (0, 1] "
                         f"(got {con.min():g}..{con.max():g}; percent? divide by 100)")
    return ori, con


def _counts_10ms(resp, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts (trial, cond, unit, time) in 10-ms bins and their starts (ms)."""
    starts = np.asarray(resp["time"].values, dtype=float)
    bin_ms = float(resp.attrs.get("bin_ms", np.nan))
    if not np.isfinite(bin_ms) and starts.size > 1:
        bin_ms = float(np.median(np.diff(starts)))
    f = DATA_BIN_MS / bin_ms if bin_ms > 0 else np.nan
    if not (np.isfinite(f) and f >= 1 and np.isclose(f, round(f))):
        raise ValueError(f"recordings: session {i}: bins of {bin_ms:g} ms; expected bins that "
                         f"divide {DATA_BIN_MS:g} ms")
    f = int(round(f))
    lo, hi = PROPERTY_TIME_MS
    keep = (starts >= lo - 1e-6) & (starts + bin_ms <= hi + 1e-6)
    if starts.size == 0 or starts.min() > lo + 1e-6 or starts.max() + bin_ms < hi - 1e-6:
        raise ValueError(f"recordings: session {i}: time bins cover {starts.min():g}.."
                         f"{starts.max() + bin_ms:g} ms; the comparison needs {lo:g}..{hi:g} "
                         "ms re onset (baseline and response)")
    x = np.asarray(resp.transpose("trial", "stimulus", "neuron", "time").values,
                   dtype=np.float64)[..., keep]
    st = starts[keep]
    nb = x.shape[-1] // f
    x = x[..., : nb * f].reshape(*x.shape[:3], nb, f).sum(-1)
    return x, st[: nb * f: f]


def sessions_from_responses(recordings: Sequence[Any], sessions: Sequence[int] | None = None, *,
                            contrast: float | None = None) -> list[Session]:
    """Engine sessions (:class:`~neurofond.compare.Session`) of recorded grating Responses.

    Parameters
    ----------
    recordings : sequence of xarray.DataArray
        One Responses per session (see the module docstring for what is required).
    sessions : sequence of int, optional
        Positions in ``recordings`` to keep (default all). An Ecker session keeps its
        ``attrs["session"]`` index as its label.
    contrast : float, optional
        Assumed contrast where a session has no ``contrast`` coordinate.

    Raises
    ------
    ValueError
        Naming ``recordings``, ``sessions`` or ``contrast``.
    """
    recs = list(recordings)
    labels = [int(r.attrs["session"]) if "session" in r.attrs else i
              for i, r in enumerate(recs)]
    if sessions is None:
        chosen = list(range(len(recs)))
    else:
        want = [int(s) for s in sessions]
        if not want:
            raise ValueError("sessions: give at least one session")
        missing = [s for s in want if s not in labels]
        if missing:
            raise ValueError(f"sessions: {missing} out of range; the recordings hold sessions "
                             f"{labels}")
        chosen = [labels.index(s) for s in want]
    if len({labels[i] for i in chosen}) != len(chosen):
        raise ValueError("sessions: each session at most once")
    out = []
    for i in chosen:
        r = recs[i]
        if tuple(r.dims) != ("trial", "stimulus", "neuron", "time"):
            raise ValueError(f"recordings: session {labels[i]}: expected dims (trial, stimulus, "
                             f"neuron, time), got {tuple(r.dims)}")
        ori, con = _grating_columns(r, labels[i], contrast)
        counts, starts = _counts_10ms(r, labels[i])
        names = set(r["stimulus"].coords)
        ids = (np.asarray(r["neuron_id"].values).astype(str) if "neuron_id" in r.coords
               else np.array([f"unit{j}" for j in range(r.sizes["neuron"])]))
        out.append(Session(
            index=labels[i], counts=counts, starts=starts, orientation=ori, contrast=con,
            unit_ids=ids, subject=str(r.attrs.get("subject", "")),
            sf=np.asarray(r["sf"].values, float) if "sf" in names else None,
            phase=np.asarray(r["phase"].values, float) if "phase" in names else None))
    return out


def compare(recordings: Any, candidates: Sequence[str] | None = None, *,
            sessions: Sequence[int] | None = None, quick: bool = False,
            sf_cpd: float | None = None, phase_deg: float | None = None,
            size_deg: float | None = None, size_px: int | None = None,
            mean: float | None = None, contrast: float | None = None,
            centered: bool = False, baseline_ms_grid: Sequence[float] | None = None,
            blas_threads: int | None = 1, **settings: Any):
    """Compare candidate models with recorded grating responses (the Ecker engine, any data).

    Parameters
    ----------
    recordings : Responses, list of Responses, path or dataset name
        See :func:`load_recordings` and the module docstring.
    candidates : sequence of str, optional
        Checkpoint names / paths and baselines (``gabor-energy``, ``pixel-pca``, ``lca``,
        ``stimulus-floor``). Default: the shipped models and every baseline.
    sessions : sequence of int, optional
        Sessions to compare (default all in ``recordings``).
    quick : bool
        The engine's fast settings (coarser grids and bins, fewer trials).
    sf_cpd, phase_deg, size_deg, size_px, mean : optional
        Assumed grating parameters where the recordings do not give them (defaults: the
        Ecker 2010 assumptions, 3 cycles/deg, phase 0, 8 deg at 256 px, mean gray 0.5).
    contrast : float, optional
        Assumed contrast where the recordings have no ``contrast`` coordinate.
    centered : bool
        Score only the condition-specific part of the PSTHs (targets, features and
        ceilings minus their mean over conditions in each time bin). The default scores the
        whole PSTH, whose shared time course every candidate predicts.
    baseline_ms_grid : sequence of float, optional
        Fit the baselines' time scale on this grid too (default: fixed 5 ms per step).
    blas_threads : int or None
        BLAS threads during the run (default 1).
    **settings
        The engine settings of :func:`neurofond.compare.compare_ecker2010` (``seed``,
        ``n_trials``, ``n_trials_features``, ``bin_ms``, ``n_components``, ``ms_grid``,
        ``delays_ms``, ``n_folds``, ``inner_folds``, ``contrast_gains``, ``n_bootstrap``,
        ``response_threshold_hz``, ``patch_size_deg``, ``device``, ``progress``).

    Returns
    -------
    Comparison
        As :func:`~neurofond.compare.compare_ecker2010`; ``results["assumptions"]`` lists
        the assumed stimulus parameters.

    Raises
    ------
    ValueError
        Bad recordings, sessions, candidates or settings (the message names the argument);
        raised before any model is run.
    """
    import contextlib

    from threadpoolctl import threadpool_limits

    import neurofond.analysis  # noqa: F401  (loads scipy's BLAS before the limit is set)

    from .._checks import check_int, check_positive
    from .engine import _run

    if candidates is not None:
        candidates = [str(c) for c in candidates]
        if not candidates:
            raise ValueError("candidates: give at least one candidate")
        _check_candidates(candidates)
    is_ecker = isinstance(recordings, (str, os.PathLike)) and (
        str(recordings) in DATASETS or Path(str(recordings)).suffix == ".mat")
    recs = load_recordings(recordings, sessions if is_ecker else None)
    data = sessions_from_responses(recs, sessions, contrast=contrast)
    defaults = stimulus_parameters()
    stim = {"sf_cpd": defaults["sf_cpd"] if sf_cpd is None else check_positive(sf_cpd, "sf_cpd"),
            "phase_deg": defaults["phase_deg"] if phase_deg is None else float(phase_deg),
            "size_deg": (defaults["size_deg"] if size_deg is None
                         else check_positive(size_deg, "size_deg")),
            "size_px": int(defaults["size_px"] if size_px is None
                           else check_int(size_px, "size_px", minimum=16)),
            "mean": defaults["mean"] if mean is None else float(mean)}
    if not 0 < stim["mean"] < 1:
        raise ValueError(f"mean: expected a luminance in (0, 1), got {stim['mean']}")
    given = {"sf": any(s.sf is not None for s in data),
             "phase": any(s.phase is not None for s in data)}
    source = ("assumed (compare() arguments; defaults = the Ecker 2010 assumptions); "
              + ", ".join(f"{k} from the recordings' stimulus coords" for k, v in given.items()
                          if v))
    settings.setdefault("progress", True)
    settings.setdefault("seed", 0)
    engine_keys = {"seed", "n_trials", "n_trials_features", "bin_ms", "ms_grid", "delays_ms",
                   "n_folds", "inner_folds", "contrast_gains", "n_bootstrap",
                   "response_threshold_hz", "patch_size_deg", "device", "progress",
                   "n_components"}
    unknown = sorted(set(settings) - engine_keys)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown setting of compare()")
    for k in engine_keys - set(settings):
        settings[k] = {"response_threshold_hz": 5.0, "patch_size_deg": 1.0,
                       "device": "cpu", "n_components": 32}.get(k)
    limit = (contextlib.nullcontext() if blas_threads is None
             else threadpool_limits(limits=int(blas_threads), user_api="blas"))
    label = str(recs[0].attrs.get("source", "recordings"))
    with limit:
        comp = _run(candidates, None, quick=quick, data_path=None, data=data,
                    stim_params=stim, stimulus_source=source,
                    citation=str(recs[0].attrs.get("citation", "")) or None,
                    label=label.split(":")[0][:20] or "compare", centered=centered,
                    baseline_ms_grid=baseline_ms_grid, **settings)
    comp.results["assumptions"]["recordings"] = {
        "orientation": "stimulus coord 'orientation', else 'direction' mod 180 (static "
                       "gratings shown to the candidates; drift not modelled)",
        "contrast": "stimulus coord 'contrast'" if contrast is None
                    else f"assumed {contrast:g} where absent",
        "bins": "summed to 10 ms over -200..500 ms"}
    return comp


def _check_candidates(names: Sequence[str]) -> None:
    """Unknown candidate names are an error before anything runs (paths must exist)."""
    from ..pretrained import SHIPPED, list_pretrained
    from .protocol import BASELINES

    # seed replicas (e.g. ipvae-k512-b24-photos-s1) are candidates by name too
    shipped = set(SHIPPED) | {row["name"] for row in list_pretrained(seeds=True)}
    for name in names:
        if name in BASELINES or name in shipped:
            continue
        if Path(name).suffix in (".safetensors", ".pt") and Path(name).is_file():
            continue
        raise ValueError(f"candidates: unknown candidate {name!r}: not a baseline "
                         f"{BASELINES}, not a shipped checkpoint {sorted(shipped)} and not an "
                         "existing checkpoint file")
