"""Between-seed spread of in-silico properties: training seeds as "animals".

Models trained with the same recipe and different seeds differ like animals of one species
do. A property measured on each (the V1 survey's medians, fractions and means:
:func:`neurofond.insilico.survey.run_survey`) is reported as the mean over seeds with the
between-seed standard deviation (``ddof=1``) and range, the way between-animal variability is
reported next to a population median in physiology papers.

:func:`between_seed_spread` and :func:`spread_rows` are torch-free: they read the
``survey.json`` dictionary. :func:`seed_spread` measures the shipped seeds of a recipe
(:func:`neurofond.pretrained.shipped_seeds`) itself, with the survey's and the contrast
experiment's measure functions, the same stimuli and the same sampler seed for every seed,
and returns the per-seed values with their spread (it loads the models, hence torch, when
called).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["SEED_MEASURES", "SPREAD_PRESETS", "between_seed_spread", "flatten_measures",
           "seed_measures", "seed_spread", "spread_rows"]

#: The in-silico properties :func:`seed_spread` reports per seed: name -> (unit, definition).
SEED_MEASURES: dict[str, tuple[str, str]] = {
    "n_responsive": ("neurons", "neurons whose peak rate at the highest contrast is >= 2 x "
                     "spontaneous and >= 1 spike/s (static-grating sweep)"),
    "osi_median": ("dimensionless", "median OSI = (R_pref - R_orth) / (R_pref + R_orth) of "
                   "the responsive neurons at the highest contrast and preferred SF "
                   "(Ringach et al. 2002)"),
    "fraction_selective": ("fraction", "responsive neurons with OSI > 1/3"),
    "fano_median": ("dimensionless", "median Fano factor (variance / mean of the 0-500 ms "
                    "spike counts over trials) of the (stimulus, neuron) pairs with mean "
                    "count >= 1"),
    "r_sc_mean": ("dimensionless", "mean over neuron pairs of the spike-count noise "
                  "correlation r_sc (Pearson correlation of the 0-500 ms counts over trials, "
                  "averaged over conditions; Ecker et al. 2010)"),
    "latency_shift_ms": ("ms", "contrast-dependent latency: median onset latency at the "
                         "lowest responding contrast minus at the highest (drifting gratings "
                         "at each selected neuron's preferred orientation, SF and phase; "
                         "Albrecht et al. 2002; Vafaii et al. 2025 Fig. 8)"),
}

#: Sizes of :func:`seed_spread`: the static-grating sweep of a V1-survey preset
#: (:data:`neurofond.insilico.survey.PRESETS`) and the keyword arguments of
#: :func:`neurofond.insilico.contrast.contrast_latency` (as the report's contrast section).
SPREAD_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"gratings": "tiny",
             "contrast": {"ms_per_step": 5.0, "contrasts": (0.2, 0.4, 0.7, 1.0),
                          "n_neurons": 6, "n_trials": 8}},
    "quick": {"gratings": "quick",
              "contrast": {"ms_per_step": 5.0,
                           "contrasts": tuple(float(c) for c in np.geomspace(0.15, 1.0, 5)),
                           "n_neurons": 32, "n_trials": 20}},
    "full": {"gratings": "full",
             "contrast": {"ms_per_step": 5.0,
                          "contrasts": tuple(float(c) for c in np.geomspace(0.15, 1.0, 7)),
                          "n_neurons": 128, "n_trials": 100}},
}


def flatten_measures(measures: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Scalar leaves of a survey source's ``measures`` as ``{"a.b.c": value}``.

    Lists, strings, booleans and None are left out (per-neuron arrays, notes and flags are
    not between-seed statistics); NaN values are kept (a measure a seed could not give).
    """
    flat: dict[str, float] = {}
    for key, value in measures.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_measures(value, prefix=f"{path}."))
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int | float):
            flat[path] = float(value)
    return flat


def between_seed_spread(survey: Mapping[str, Any], sources: Sequence[str],
                        ) -> dict[str, dict[str, Any]]:
    """Mean, between-seed SD and range of every scalar survey measure over ``sources``.

    Parameters
    ----------
    survey : mapping
        A survey result (``survey.json`` as a dict), with ``survey["sources"][name]
        ["measures"]``.
    sources : sequence of str
        The seeds of one recipe (source names in the survey), at least two.

    Returns
    -------
    dict
        ``{measure path: {"mean", "sd", "min", "max", "n", "values"}}`` for every scalar
        measure present in all ``sources``; ``sd`` is the sample standard deviation over seeds
        (``ddof=1``); a seed with NaN for a measure leaves that measure's statistics over the
        other seeds, with ``n`` saying how many. Measures missing from a seed are left out
        and listed under the key ``"_missing"``.

    Raises
    ------
    ValueError
        Fewer than two sources, or a name not in the survey.
    """
    names = list(sources)
    if len(names) < 2:
        raise ValueError(f"sources: need at least two seeds for a spread, got {names}")
    known = survey.get("sources", {})
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"sources: {unknown} not in the survey; it has {sorted(known)}")
    flats = [flatten_measures(known[n]["measures"]) for n in names]
    common = set.intersection(*(set(f) for f in flats))
    missing = sorted(set.union(*(set(f) for f in flats)) - common)
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(common):
        values = [f[path] for f in flats]
        finite = [v for v in values if math.isfinite(v)]
        n = len(finite)
        mean = sum(finite) / n if n else math.nan
        sd = (math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else math.nan)
        out[path] = {"mean": mean, "sd": sd, "min": min(finite) if n else math.nan,
                     "max": max(finite) if n else math.nan, "n": n, "values": values}
    if missing:
        out["_missing"] = {"paths": missing}
    return out


def spread_rows(spread: Mapping[str, Mapping[str, Any]], paths: Sequence[str],
                digits: int = 3) -> list[str]:
    """Markdown rows ``| measure | mean +/- SD (min-max, n seeds) |`` for the chosen paths."""
    rows = ["| measure | mean +/- between-seed SD (range; seeds) |", "|---|---|"]
    for path in paths:
        if path not in spread:
            raise ValueError(f"paths: {path!r} is not in the spread; it has "
                             f"{sorted(k for k in spread if not k.startswith('_'))[:20]} ...")
        s = spread[path]
        rows.append(f"| {path} | {s['mean']:.{digits}f} +/- {s['sd']:.{digits}f} "
                    f"({s['min']:.{digits}f}-{s['max']:.{digits}f}; {s['n']}) |")
    return rows


# --------------------------------------------------------------------------- measured seeds


def _training_seed(path: Any) -> int | None:
    """The training seed a checkpoint records (its model card, else its training summary)."""
    from ..pretrained import read_metadata
    from ..pretrained.cards import read_model_card

    card = read_model_card(path) or {}
    seed = card.get("training", {}).get("seed")
    if seed is None:
        seed = read_metadata(path)["summary"].get("train_config", {}).get("seed")
    return None if seed is None else int(seed)


def seed_measures(model: str, *, mode: str = "quick", seed: int = 0, device: str = "cpu",
                  progress: bool = False) -> dict[str, float]:
    """The :data:`SEED_MEASURES` of one spiking model (shipped name or checkpoint path).

    The static-grating sweep, its mean-gray control and :func:`~neurofond.insilico.survey.
    grating_measures` are those of the V1 survey (:func:`~neurofond.insilico.survey.
    model_source`, its preset ``SPREAD_PRESETS[mode]["gratings"]``; no Naka-Rushton fits);
    the latency shift is the ``shift_ms`` of :func:`~neurofond.insilico.contrast.
    contrast_latency`.

    Parameters
    ----------
    model : str
        A shipped model or seed replica (:func:`neurofond.pretrained.resolve_checkpoint`) or a
        checkpoint path; an iP-VAE (spike counts).
    mode : {"tiny", "quick", "full"}
        Sizes (:data:`SPREAD_PRESETS`).
    seed : int
        Sampler seed of every presentation (the stimuli do not depend on it).

    Returns
    -------
    dict
        Measure name -> value (NaN where no neuron qualified).

    Raises
    ------
    ValueError
        Unknown ``mode``, a bad ``seed``, a model that does not resolve or does not spike.
    """
    from .._checks import check_int
    from ..population import InSilicoPopulation
    from ..pretrained import CheckpointInfo
    from .contrast import contrast_latency
    from .survey import PRESETS, _static_sweep_responses, grating_measures

    if mode not in SPREAD_PRESETS:
        raise ValueError(f"mode: expected one of {tuple(SPREAD_PRESETS)}, got {mode!r}")
    seed = check_int(seed, "seed", minimum=0)
    try:
        ck = CheckpointInfo.from_spec(model)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise ValueError(f"models: {exc}") from None
    if ck.family != "poisson":
        raise ValueError(f"models: {ck.name} is a {ck.model_name}; the Fano factors, r_sc and "
                         "latencies of seed_spread need spike counts (an iP-VAE)")
    cfg = PRESETS[SPREAD_PRESETS[mode]["gratings"]]
    contrast_kw = dict(SPREAD_PRESETS[mode]["contrast"])

    def population(ms_per_step: float) -> Any:
        return InSilicoPopulation.from_checkpoint(ck.path, name=ck.name,
                                                  ms_per_step=ms_per_step,
                                                  patch_size_deg=float(cfg["patch_size_deg"]),
                                                  device=device)

    pop = population(float(cfg["ms_per_step"]))
    resp, spont, _, _ = _static_sweep_responses(pop, cfg, seed=seed, progress=progress)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty slices: NaN, said below
        summ, _ = grating_measures(resp, spontaneous_hz=spont, spiking=True,
                                   window_ms=cfg["window_ms"],
                                   baseline_window_ms=cfg["baseline_window_ms"],
                                   min_trials=cfg["min_trials"],
                                   min_rate_hz=cfg["min_rate_hz"],
                                   psth_bin_ms=cfg["psth_bin_ms"], fit_neurons=0)
    ms = float(contrast_kw.pop("ms_per_step"))
    lat = contrast_latency(population(ms), **contrast_kw, seed=seed, progress=False)
    osel = summ["orientation_selectivity"]
    return {"n_responsive": float(osel["n_responsive"]),
            "osi_median": float(osel["osi"]["median"]),
            "fraction_selective": float(osel["fraction_selective"]),
            "fano_median": float(summ["fano_factor"]["median"]),
            "r_sc_mean": float(summ["noise_correlation"]["mean"]),
            "latency_shift_ms": float(lat.attrs["shift_ms"])}


def seed_spread(name: str | None = None, *, models: Sequence[str] | None = None,
                mode: str = "quick", seed: int = 0, device: str = "cpu",
                progress: bool = False) -> Any:
    """Between-seed spread of OSI, Fano factor, r_sc and latency shift over a recipe's seeds.

    Every seed (model) is shown the same stimuli with the same sampler seed
    (:func:`seed_measures`); the spread of each measure over seeds is its mean, sample SD
    (``ddof=1``), range and the number of seeds with a finite value
    (:func:`between_seed_spread`), as between-animal variability is reported.

    Parameters
    ----------
    name : str, optional
        A shipped model: its seeds are itself and its seed replicas
        (:func:`neurofond.pretrained.shipped_seeds`; default the default model). Not with
        ``models``.
    models : sequence of str, optional
        The seeds as checkpoint names or paths instead (at least two, distinct, one model
        configuration).
    mode : {"tiny", "quick", "full"}
        Sizes (:data:`SPREAD_PRESETS`).
    seed : int
        Sampler seed of every presentation, the same for every model.
    device, progress : where the models run; progress bars.

    Returns
    -------
    xarray.Dataset
        ``value`` (model, measure); ``mean``, ``sd``, ``min``, ``max``, ``n`` (measure);
        coords ``model`` (names), ``training_seed`` (model; -1 when the checkpoint records
        none) and ``measure`` (:data:`SEED_MEASURES`). attrs: ``units`` and ``definitions``
        per measure, ``n_seeds``, ``mode``, ``settings``, ``seed``, ``seconds`` per model,
        provenance.

    Raises
    ------
    ValueError
        Fewer than two seeds (naming ``models`` or ``name``), both ``name`` and ``models``,
        repeated models, models of different configurations, or as :func:`seed_measures`.
    """
    import xarray as xr

    import neurofond

    from .._checks import check_int
    from ..pretrained import DEFAULT_MODEL, CheckpointInfo, read_metadata, shipped_seeds
    from .survey import PRESETS as SURVEY_PRESETS

    if mode not in SPREAD_PRESETS:
        raise ValueError(f"mode: expected one of {tuple(SPREAD_PRESETS)}, got {mode!r}")
    seed = check_int(seed, "seed", minimum=0)
    if models is not None and name is not None:
        raise ValueError("models: give either name (a shipped model: its shipped seeds) or "
                         "models (the seeds themselves), not both")
    if models is None:
        base = DEFAULT_MODEL if name is None else str(name)
        names = shipped_seeds(base)
        if len(names) < 2:
            raise ValueError(f"name: {base} has no seed replica shipped (only {names}); a "
                             "between-seed spread needs at least two seeds")
    else:
        if isinstance(models, str):
            models = [models]
        names = [str(m) for m in models]
        if len(names) < 2:
            raise ValueError(f"models: need at least two seeds for a spread, got {names}")
    try:
        cks = [CheckpointInfo.from_spec(m) for m in names]
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise ValueError(f"models: {exc}") from None
    if len({ck.path for ck in cks}) != len(cks):
        raise ValueError(f"models: the same checkpoint appears twice in {names}")
    configs = [read_metadata(ck.path)["model_config"] for ck in cks]
    if any(c != configs[0] for c in configs[1:]):
        raise ValueError(f"models: {names} are not seeds of one recipe (their model "
                         "configurations differ)")
    per_seed: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    for ck in cks:
        t0 = time.perf_counter()
        per_seed[ck.name] = seed_measures(str(ck.path), mode=mode, seed=seed, device=device,
                                          progress=progress)
        seconds[ck.name] = round(time.perf_counter() - t0, 2)
    keys = list(SEED_MEASURES)
    spread = between_seed_spread({"sources": {n: {"measures": v}
                                              for n, v in per_seed.items()}}, list(per_seed))
    train_seeds = [_training_seed(ck.path) for ck in cks]
    ds = xr.Dataset(
        {"value": (("model", "measure"),
                   np.array([[per_seed[ck.name][k] for k in keys] for ck in cks])),
         **{stat: ("measure", np.array([spread[k][stat] for k in keys],
                                       dtype=int if stat == "n" else float))
            for stat in ("mean", "sd", "min", "max", "n")}},
        coords={"model": [ck.name for ck in cks], "measure": keys,
                "training_seed": ("model", [-1 if s is None else s for s in train_seeds])})
    settings = {"gratings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in
                             SURVEY_PRESETS[SPREAD_PRESETS[mode]["gratings"]].items()},
                "contrast": {k: (list(v) if isinstance(v, tuple) else v)
                             for k, v in SPREAD_PRESETS[mode]["contrast"].items()}}
    ds.attrs.update(
        analysis="neurofond.insilico.seeds.seed_spread",
        units={k: u for k, (u, _) in SEED_MEASURES.items()},
        definitions={k: d for k, (_, d) in SEED_MEASURES.items()},
        statistics="mean, SD (ddof=1), min, max over the seeds with a finite value (n)",
        n_seeds=len(cks), mode=mode, seed=seed, settings=settings, seconds=seconds,
        checkpoints={ck.name: str(ck.path) for ck in cks},
        neurofond_version=getattr(neurofond, "__version__", "unknown"),
        created_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return ds
