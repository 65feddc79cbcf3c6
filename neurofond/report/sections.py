"""The sections of the main job's report: a registry name -> :class:`Section`.

Each section makes one library call per model (the measurement lives in the library:
:mod:`neurofond.fond.convergence`, :mod:`neurofond.population.receptive_fields`,
:mod:`neurofond.insilico`, :mod:`neurofond.compare`, :mod:`neurofond.brainscore`), draws its
figures from the returned numbers (:mod:`neurofond.report.figures`) and returns a
:class:`SectionOutput`: the numbers for ``results.json``, figures, tables and the headline
values collected at the top of ``results.json``. Adding a section is one function and one
line in :data:`SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import figures as F

__all__ = ["SECTIONS", "Context", "Section", "SectionOutput", "Skip", "Table"]


class Skip(Exception):
    """Raised by a section that does not apply (no recordings, no spiking model, ...)."""


@dataclass
class Table:
    """A table of the report: a title, column names and rows (dicts)."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]]


@dataclass
class SectionOutput:
    """What a section returns: numbers, figures ``(caption, path)``, tables, headline."""

    results: dict[str, Any] = field(default_factory=dict)
    figures: list[tuple[str, Path]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    headline: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What every section sees: output folder, models, sizes, seed, recordings, colours."""

    folder: Path
    models: list[Any]  # neurofond.pretrained.CheckpointInfo
    settings: dict[str, dict[str, Any]]
    seed: int
    progress: bool
    recordings: Path | None
    recordings_note: str
    colours: dict[str, str]
    device: str = "cpu"
    cache: dict[Any, Any] = field(default_factory=dict)

    def population(self, ck: Any, ms_per_step: float | None = None) -> Any:
        """The model as an in-silico population (one hypercolumn; cached per time step).

        Shipped models load by name, so that the population's own checks for them (e.g. the
        spontaneous-state warning of ``present``) apply; other checkpoints load by path.
        """
        from ..population import InSilicoPopulation
        from ..pretrained import SHIPPED

        pop_kw = dict(self.settings["population"])
        if ms_per_step is not None:
            pop_kw["ms_per_step"] = ms_per_step
        key = ("population", ck.name, pop_kw["ms_per_step"])
        if key not in self.cache:
            if ck.spec in SHIPPED:
                pop = InSilicoPopulation.from_pretrained(ck.spec, device=self.device, **pop_kw)
            else:
                pop = InSilicoPopulation.from_checkpoint(ck.path, name=ck.name,
                                                         device=self.device, **pop_kw)
            self.cache[key] = pop
        return self.cache[key]

    def spiking(self) -> list[Any]:
        """The Poisson (spiking) models among the models; Skip when there is none."""
        out = [ck for ck in self.models if ck.family == "poisson"]
        if not out:
            raise Skip("no spiking (iP-VAE) model among --models: spike-count measures need "
                       "one")
        return out

    def figure(self, section: str, name: str) -> Path:
        return self.folder / f"fig_{section}_{name}.png"


@dataclass(frozen=True)
class Section:
    """One report section: a title, what it measures, and the function that runs it."""

    title: str
    description: str
    run: Callable[[Context], SectionOutput]
    needs_recordings: bool = False


def _num(v: Any) -> Any:
    """A JSON-friendly number (NaN stays NaN; written as null)."""
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    return v


def _attrs(ds: Any, *keys: str) -> dict[str, Any]:
    return {k: _num(ds.attrs.get(k)) for k in keys}


# --------------------------------------------------------------------------- sections


def convergence(ctx: Context) -> SectionOutput:
    from ..fond.convergence import convergence_summary, run_convergence

    s = ctx.settings["convergence"]
    runs = run_convergence([ck.path for ck in ctx.models], n_patches=s["n_patches"],
                           steps=s["steps"], seed=ctx.seed, device=ctx.device,
                           progress=ctx.progress)
    out = SectionOutput()
    traces, conv, rows = {}, {}, []
    for ck, run in zip(ctx.models, runs):
        res = run.result
        traces[ck.name] = res.traces
        conv[ck.name] = int(res.summary["convergence_step"])
        row = {"model": ck.name, "family": ck.family,
               **{k: _num(res.summary[k]) for k in ("r2", "r2_median", "r2_map", "r2_pooled",
                                                     "zeros", "convergence_step", "distance",
                                                     "runaway_fraction")},
               "r2_t16": convergence_summary(run)["r2_t16"],
               "train_steps": run.train_summary.get("steps")}
        rows.append(row)
        out.headline.setdefault("models", {})[ck.name] = {
            k: row[k] for k in ("family", "r2", "zeros", "convergence_step", "distance")}
    out.results = {"n_patches": s["n_patches"], "steps": s["steps"], "models": rows,
                   "figure_data": {"traces": _figure_data(
                       {m: {k: t[k] for k in ("r2", "r2_median", "zeros", "du_norm")}
                        for m, t in traces.items()}), "convergence_step": conv}}
    out.tables.append(Table("Per model, final step (R^2: per-patch R^2 averaged, the paper's "
                            "definition; zeros: proportion of zero responses)",
                            list(rows[0]), rows))
    out.figures.append((f"R^2, sparsity and ||du|| against inference step ({s['n_patches']} "
                        "held-out patches per model; dashed: median R^2)",
                        F.convergence_figure(traces, ctx.figure("convergence", "traces"), conv,
                                             colours=ctx.colours, n_patches=s["n_patches"])))
    return out


def dictionaries(ctx: Context) -> SectionOutput:
    from ..population.receptive_fields import gabor_fraction

    s = ctx.settings["dictionaries"]
    out = SectionOutput()
    r2, rows = {}, []
    for ck in ctx.models:
        pop = ctx.population(ck)
        phi = pop.model.phi.detach().cpu().numpy()
        n_fit = phi.shape[1] if s.get("max_elements") is None else s["max_elements"]
        g = gabor_fraction(phi[:, :n_fit], r2_threshold=s["r2_threshold"],
                           n_starts=s["n_starts"])
        live = np.asarray(g.fits["considered"].values, dtype=bool)
        r2[ck.name] = np.asarray(g.fits["r2"].values)[live]
        rows.append({"model": ck.name, "gabor_fraction": g.fraction, "n_gabor": g.n_gabor,
                     "n_live": g.n_considered, "n_elements": g.n_elements,
                     "median_r2": float(np.median(r2[ck.name])) if live.any() else None})
        out.headline.setdefault("models", {})[ck.name] = {"gabor_fraction": g.fraction}
        out.figures.append((f"{ck.name}: the 128 largest-norm dictionary elements",
                            F.dictionary_figure(phi, ctx.figure("dictionaries", ck.name),
                                                title=f"{ck.name}: 128 of {pop.n_units} "
                                                      "elements (largest norm first)")))
    out.figures.insert(0, (f"Gabor-fit R^2 of the live elements (n per model in the legend; "
                           f"{s['n_starts']} starts per fit)",
                           F.gabor_figure(r2, s["r2_threshold"],
                                          ctx.figure("dictionaries", "gabor_r2"),
                                          colours=ctx.colours)))
    out.results = {"r2_threshold": s["r2_threshold"], "models": rows,
                   "figure_data": {"gabor_r2_live_elements": _figure_data(r2),
                                   "dictionaries": "the checkpoints' decoder columns (phi)"}}
    subset = ("" if s.get("max_elements") is None else
              f"; only the first {s['max_elements']} elements fitted (this mode's size)")
    out.tables.append(Table(f"Gabor-like elements (R^2 >= {s['r2_threshold']}; live: norm >= "
                            f"10% of the 90th percentile{subset})", list(rows[0]), rows))
    return out


def tuning(ctx: Context) -> SectionOutput:
    from ..insilico.tuning import OSI_SELECTIVE, grating_tuning

    out = SectionOutput()
    data, rows = {}, []
    for ck in ctx.models:
        ds = grating_tuning(ctx.population(ck), **ctx.settings["tuning"], seed=ctx.seed,
                            progress=False)
        ctx.cache[("tuning", ck.name)] = ds
        resp = np.asarray(ds["responsive"].values, dtype=bool)
        data[ck.name] = {k: np.asarray(ds[k].values, dtype=float)[resp]
                         for k in ("osi", "orientation_bandwidth", "peak_sf",
                                   "sf_bandwidth_octaves")}
        row = {"model": ck.name, **_attrs(ds, "n_neurons", "n_responsive",
                                          "fraction_orientation_selective"),
               **{f"median_{k}": _median(v) for k, v in data[ck.name].items()},
               "units": ds.attrs["units"]}
        rows.append(row)
        out.headline.setdefault("fraction_orientation_selective", {})[ck.name] = \
            row["fraction_orientation_selective"]
    out.results = {"models": rows, "settings": _settings(ctx, "tuning"),
                   "figure_data": {"responsive_neurons": _figure_data(data)},
                   "criteria": {"responsive": ds.attrs["responsive_criterion"],
                                "orientation_selective": ds.attrs["selective_criterion"]}}
    out.tables.append(Table("Orientation and SF tuning (medians over responsive neurons)",
                            list(rows[0]), rows))
    out.figures.append(("OSI, orientation bandwidth, peak SF and SF bandwidth of the responsive "
                        "neurons (static gratings, posterior-mean rates; n per model in the "
                        "legends)",
                        F.tuning_figure(data, ctx.figure("tuning", "histograms"),
                                        colours=ctx.colours, osi_threshold=OSI_SELECTIVE)))
    return out


def contrast(ctx: Context) -> SectionOutput:
    from ..insilico.contrast import contrast_latency

    s = dict(ctx.settings["contrast"])
    ms = s.pop("ms_per_step")
    out = SectionOutput()
    data, rows = {}, []
    for ck in ctx.spiking():
        ds = contrast_latency(ctx.population(ck, ms), **s, seed=ctx.seed, progress=False)
        data[ck.name] = ds
        c = [float(v) for v in ds["contrast"].values]
        onset = [_num(v) for v in ds["onset_ms"].values]
        rows.append({"model": ck.name, "n_neurons": ds.attrs["n_neurons"],
                     "shift_ms": _num(ds.attrs["shift_ms"]),
                     **{f"naka_rushton_{k}": _num(v)
                        for k, v in ds.attrs["naka_rushton_params"].items()}})
        out.headline.setdefault("onset_latency_ms", {})[ck.name] = {
            f"{cj:.3g}": o for cj, o in zip(c, onset)}
        out.results[ck.name] = {
            "contrasts": c, "onset_latency_ms": onset,
            "onset_latency_iqr_ms": [[_num(a), _num(b)] for a, b in
                                     zip(ds["onset_ms_q25"].values, ds["onset_ms_q75"].values)],
            "peak_latency_ms": [_num(v) for v in ds["peak_ms"].values],
            "n_responding": [int(v) for v in ds["n_responding"].values],
            "evoked_rate_hz": [_num(v) for v in ds["evoked_rate"].values],
            "evoked_rate_sem_hz": [_num(v) for v in ds["evoked_rate_sem"].values],
            "naka_rushton": ds.attrs["naka_rushton_params"], "shift_ms": ds.attrs["shift_ms"],
            "n_neurons": ds.attrs["n_neurons"], "selection": ds.attrs["selection"]}
    out.results["settings"] = _settings(ctx, "contrast")
    figure_data = {m: {"time_ms": ds["time"], "population_psth": ds["population_psth"],
                       "onset_ms_neuron": ds["onset_ms_neuron"],
                       "naka_rushton_curve": ds["naka_rushton"]} for m, ds in data.items()}
    table = [{"model": m, "contrast": c, "onset_ms": o, "n_responding": n, "evoked_rate_hz": e}
             for m, r in out.results.items() if m != "settings"
             for c, o, n, e in zip(r["contrasts"], r["onset_latency_ms"], r["n_responding"],
                                   r["evoked_rate_hz"])]
    out.tables.append(Table("Onset latency (median over responding neurons) and evoked rate "
                            "per contrast", list(table[0]), table))
    out.results["figure_data"] = _figure_data(figure_data)
    out.tables.append(Table("Naka-Rushton fit to the mean evoked rate; onset shift (lowest "
                            "responding minus highest contrast)", list(rows[0]), rows))
    out.figures.append(("Contrast response (mean +/- SEM over neurons, Naka-Rushton fit), onset "
                        "latency and time to peak (median, IQR) and the population PSTH per "
                        "contrast; drifting gratings at each neuron's preferred orientation, SF "
                        "and phase",
                        F.contrast_figure(data, ctx.figure("contrast", "latency"),
                                          colours=ctx.colours)))
    return out


def variability(ctx: Context) -> SectionOutput:
    from ..insilico.variability import fano_factors

    out = SectionOutput()
    data, rows = {}, []
    for ck in ctx.spiking():
        ds = fano_factors(ctx.population(ck), **ctx.settings["variability"], seed=ctx.seed)
        data[ck.name] = ds
        rows.append({"model": ck.name, **_attrs(ds, "median_fano_factor", "q25", "q75",
                                                "n_pairs", "median_spontaneous_fano_factor",
                                                "n_spontaneous_pairs")})
        out.headline.setdefault("median_fano_factor", {})[ck.name] = rows[-1][
            "median_fano_factor"]
    out.results = {"models": rows, "settings": _settings(ctx, "variability"),
                   "figure_data": _figure_data({m: {
                       "fano_factor_included": ds["fano_factor"].values[ds["included"].values],
                       "time_ms": ds["time"], "fano_median": ds["fano_median"],
                       "fano_q25": ds["fano_q25"], "fano_q75": ds["fano_q75"]}
                       for m, ds in data.items()}),
                   "inclusion": ds.attrs["inclusion"]}
    out.tables.append(Table("Fano factor of spike counts in the counting window (median, "
                            "quartiles over included (stimulus, neuron) pairs)",
                            list(rows[0]), rows))
    out.figures.append(("Fano factors: counting window (histogram) and sliding windows "
                        "(median, IQR band)",
                        F.fano_figure(data, ctx.figure("variability", "fano"),
                                      colours=ctx.colours)))
    return out


def sparsification(ctx: Context) -> SectionOutput:
    from ..insilico.sparsification import sparsification_over_time

    out = SectionOutput()
    data, rows = {}, []
    for ck in ctx.models:
        ds = sparsification_over_time(ctx.population(ck), **ctx.settings["sparsification"],
                                      seed=ctx.seed)
        data[ck.name] = ds
        rows.append({"model": ck.name, **_attrs(ds, "zeros_early", "zeros_late",
                                                "sparsification", "n_stimuli")})
    out.results = {"models": rows, "settings": _settings(ctx, "sparsification"),
                   "figure_data": _figure_data({m: {k: ds[k] for k in (
                       "time", "proportion_zeros", "proportion_zeros_sem",
                       "population_sparseness", "population_sparseness_sem", "mean_rate")}
                       for m, ds in data.items()})}
    out.tables.append(Table("Proportion of zero counts 0-100 ms after onset (early) and in the "
                            "last 100 ms of the grating (late)", list(rows[0]), rows))
    out.figures.append(("Sparsification over time (mean +/- SEM over gratings)",
                        F.sparsification_figure(data, ctx.figure("sparsification", "time"),
                                                colours=ctx.colours)))
    return out


def correlations(ctx: Context) -> SectionOutput:
    from ..insilico.correlations import noise_correlation_experiment

    out = SectionOutput()
    data, rows = {}, []
    for ck in ctx.spiking():
        ds = noise_correlation_experiment(ctx.population(ck), **ctx.settings["correlations"],
                                          seed=ctx.seed)
        data[ck.name] = ds
        rows.append({"model": ck.name, **_attrs(ds, "mean_r_sc", "sem_r_sc", "median_r_sc",
                                                "n_pairs", "n_neurons_included",
                                                "n_conditions")})
    out.results = {"models": rows, "settings": _settings(ctx, "correlations"),
                   "figure_data": _figure_data({m: {k: ds[k] for k in (
                       "r_sc_center", "r_sc_histogram", "bin_center", "mean_r_sc", "sem_r_sc",
                       "n_pairs")} for m, ds in data.items()})}
    out.tables.append(Table("Spike-count noise correlations (all included pairs)",
                            list(rows[0]), rows))
    out.figures.append(("Noise correlations: distribution and dependence on signal "
                        "correlation (mean +/- SEM per bin)",
                        F.correlation_figure(data, ctx.figure("correlations", "rsc"),
                                             colours=ctx.colours)))
    return out


def direction(ctx: Context) -> SectionOutput:
    from ..insilico.direction import DSI_SELECTIVE, direction_tuning

    out = SectionOutput()
    data, rows = {}, []
    for ck in ctx.models:
        ds = direction_tuning(ctx.population(ck), **ctx.settings["direction"], seed=ctx.seed)
        resp = np.asarray(ds["responsive"].values, dtype=bool)
        data[ck.name] = {k: np.asarray(ds[k].values, dtype=float)[resp]
                         for k in ("dsi", "global_dsi")}
        rows.append({"model": ck.name, **_attrs(ds, "n_neurons", "n_responsive",
                                                "fraction_direction_selective", "median_dsi")})
    out.results = {"models": rows, "settings": _settings(ctx, "direction"),
                   "figure_data": {"responsive_neurons": _figure_data(data)}}
    out.tables.append(Table("Direction selectivity on a drifting sweep (responsive neurons)",
                            list(rows[0]), rows))
    out.figures.append(("DSI and global DSI of the responsive neurons (n per model in the "
                        "legends)",
                        F.direction_figure(data, ctx.figure("direction", "dsi"),
                                           colours=ctx.colours, dsi_threshold=DSI_SELECTIVE)))
    return out


def size_tuning(ctx: Context) -> SectionOutput:
    from ..insilico.spatial import measure_size_tuning, summarize

    s = dict(ctx.settings["size_tuning"])
    n = s.pop("n_neurons")
    out = SectionOutput()
    data, rows = {}, []
    for ck in ctx.models:
        pop = ctx.population(ck)
        neurons = None if n is None else list(range(min(int(n), pop.n_units)))
        ds = measure_size_tuning(pop, neurons=neurons, **s, seed=ctx.seed)
        summ = summarize(ds)["size"]
        ok = np.asarray(ds["responsive"].values, dtype=bool)
        curve = np.asarray(ds["curve"].transpose("size_deg", "neuron").values, dtype=float)
        peak = np.nanmax(curve, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = curve[:, ok] / np.where(peak[ok] > 0, peak[ok], np.nan)
        data[ck.name] = {"size_deg": np.asarray(ds["size_deg"].values, dtype=float),
                         "normalised": norm, "si": np.asarray(ds["si"].values)[ok]}
        rows.append({"model": ck.name, "n_neurons": summ["n_neurons"],
                     "n_responsive": summ["n_responsive"], "median_si": summ["si"]["median"],
                     "si_q25": summ["si"]["q25"], "si_q75": summ["si"]["q75"],
                     **{k: v for k, v in summ.items() if k.startswith("fraction")},
                     "median_preferred_size_deg": summ["preferred_size_deg"]["median"]})
        out.results[ck.name] = summ
    out.results["settings"] = _settings(ctx, "size_tuning")
    out.results["figure_data"] = _figure_data(data)
    out.tables.append(Table("Size tuning: surround suppression index (SI) and preferred "
                            "aperture diameter over responsive neurons", list(rows[0]), rows))
    out.figures.append(("Size tuning at each neuron's preferred orientation and SF, apertures "
                        "centred on its RF: response / neuron's peak (median, IQR band) and "
                        "the suppression index",
                        F.size_figure(data, ctx.figure("size_tuning", "curves"),
                                      colours=ctx.colours)))
    return out


def rf_maps(ctx: Context) -> SectionOutput:
    from ..insilico.rf_mapping import map_receptive_fields, summarize_rf_agreement

    s = dict(ctx.settings["rf_maps"])
    step = s.pop("unit_step")
    out = SectionOutput()
    data, rows, examples = {}, [], None
    for ck in ctx.models:
        pop = ctx.population(ck)
        ds = map_receptive_fields(pop, units=range(0, pop.n_units, step), **s, seed=ctx.seed)
        summ = summarize_rf_agreement(ds)
        sig = np.asarray(ds["significant"].values, dtype=bool)
        data[ck.name] = {k: np.asarray(ds[k].values, dtype=float)[sig]
                         for k in ("corr_element", "corr_sta") if k in ds}
        rows.append({"model": ck.name, "n_neurons": summ["n_neurons"],
                     "fraction_significant": summ["fraction_significant"],
                     **{f"median_{k}": summ[k]["median"] for k in
                        ("corr_element", "corr_sta", "centre_offset_deg",
                         "flashed_orientation_difference_deg") if k in summ}})
        out.results[ck.name] = summ
        if examples is None:
            phi = pop.model.phi.detach().cpu().numpy()
            units = np.asarray(ds["unit"].values)[sig][:6]
            pick = np.flatnonzero(sig)[:6]
            side = int(round(np.sqrt(phi.shape[0])))
            examples = {"model": ck.name, "units": units,
                        "maps": (np.nan_to_num(ds["on"].values[pick])
                                 - np.nan_to_num(ds["off"].values[pick])),
                        "elements": phi[:, units].T.reshape(-1, side, side),
                        "extent_deg": [float(ds["x_deg"].values.min()),
                                       float(ds["x_deg"].values.max()),
                                       float(ds["y_deg"].values.max()),
                                       float(ds["y_deg"].values.min())]}
    out.results["settings"] = _settings(ctx, "rf_maps")
    out.results["figure_data"] = _figure_data({"significant_neurons": data,
                                               "examples": examples or {}})
    out.tables.append(Table("Sparse-noise RFs (neurons with a significant map): correlation of "
                            "the ON - OFF map with the decoder element and with the STA, centre "
                            "offset (deg), flashed-bar orientation vs the element (deg)",
                            list(rows[0]), rows))
    out.figures.append(("Agreement of the mapped RFs with the dictionary (histograms over "
                        "neurons with a significant map) and examples: ON - OFF sparse-noise "
                        "map next to the neuron's decoder element",
                        F.rf_figure(data, examples, ctx.figure("rf_maps", "agreement"),
                                    colours=ctx.colours)))
    return out


def survey(ctx: Context) -> SectionOutput:
    import shutil
    import tempfile

    from ..insilico.survey import run_survey

    s = dict(ctx.settings["survey"])
    out = SectionOutput()
    with tempfile.TemporaryDirectory(prefix="neurofond-survey-") as tmp:
        res = run_survey(Path(tmp) / "survey", models=[ck.spec for ck in ctx.models],
                         baselines=s["baselines"], recordings=ctx.recordings,
                         mode=s["mode"], seed=ctx.seed, device=ctx.device, progress=False)
        table = (Path(tmp) / "survey" / "survey_table.md").read_text()
        fig = ctx.figure("survey", "distributions")
        shutil.copyfile(Path(tmp) / "survey" / "survey_distributions.png", fig)
    lines = [ln.strip().strip("|").split("|") for ln in table.strip().splitlines()]
    columns = [c.strip() for c in lines[0]]
    rows = [dict(zip(columns, (c.strip() for c in ln))) for ln in lines[2:]]
    out.results = {"survey": res, "settings": _settings(ctx, "survey")}
    out.headline["survey_sources"] = list(res["order"])
    out.tables.append(Table("Models, baselines and recorded units measured with the same "
                            f"analysis code (survey sizes '{s['mode']}'; medians; n/a: the "
                            "measure does not apply, reason in results.json; -: no neuron "
                            "qualified)", columns, rows))
    out.figures.append(("Distributions of every survey measure per source (n per source in the "
                        "table)", fig))
    return out


def seeds(ctx: Context) -> SectionOutput:
    from ..insilico.seeds import seed_spread
    from ..pretrained import list_pretrained, resolve_checkpoint, shipped_seeds

    s = ctx.settings["seeds"]
    shipped = {r["name"] for r in list_pretrained()}
    groups = {ck.name: shipped_seeds(ck.name) for ck in ctx.spiking()
              if ck.name in shipped and ck.path == resolve_checkpoint(ck.name)}
    groups = {base: names for base, names in groups.items() if len(names) >= 2}
    if not groups:
        raise Skip("no seed replica (neurofond.pretrained.seed_replicas) is shipped for the "
                   "spiking models among --models: a between-seed spread needs two seeds")
    out = SectionOutput()
    for base in groups:
        ds = seed_spread(base, mode=s["mode"], seed=ctx.seed, device=ctx.device)
        models = [str(m) for m in ds["model"].values]
        units, defs = ds.attrs["units"], ds.attrs["definitions"]
        stats = {k: {stat: _num(ds[stat].sel(measure=k).item())
                     for stat in ("mean", "sd", "min", "max", "n")}
                 for k in ds["measure"].values.tolist()}
        out.results[base] = {
            "models": models, "training_seeds": [int(v) for v in ds["training_seed"].values],
            "values": {m: {k: _num(ds["value"].sel(model=m, measure=k).item())
                           for k in stats} for m in models},
            "spread": stats, "units": units, "definitions": defs,
            "seconds": ds.attrs["seconds"], "statistics": ds.attrs["statistics"]}
        out.headline.setdefault("between_seed_spread", {})[base] = {
            k: {"mean": v["mean"], "sd": v["sd"], "n": v["n"]} for k, v in stats.items()}
        seed_cols = [f"seed {int(t)}" if t >= 0 else m
                     for m, t in zip(models, ds["training_seed"].values)]
        rows = [{"measure": k, "unit": units[k],
                 **{c: _num(ds["value"].sel(model=m, measure=k).item())
                    for c, m in zip(seed_cols, models)},
                 "mean": v["mean"], "SD (ddof=1)": v["sd"], "min": v["min"], "max": v["max"],
                 "n seeds": v["n"]} for k, v in stats.items()]
        out.tables.append(Table(f"{base}: per-seed values and between-seed spread ({len(models)} "
                                f"seeds: {', '.join(models)}; sizes '{s['mode']}', sampler "
                                f"seed {ctx.seed} for every seed)", list(rows[0]), rows))
    out.results["settings"] = _settings(ctx, "seeds")
    return out


def comparison(ctx: Context) -> SectionOutput:
    from ..compare import compare, scorecard

    if ctx.recordings is None:
        raise Skip(ctx.recordings_note)
    s = dict(ctx.settings["comparison"])
    models = ctx.models
    if s.pop("models") == "spiking":  # the spiking models only, when there are any
        models = [ck for ck in ctx.models if ck.family == "poisson"] or ctx.models
    candidates = [ck.spec for ck in models] + list(s.pop("baselines"))
    n_boot = s.pop("n_bootstrap_scorecard")
    comp = compare(ctx.recordings, candidates, **s, seed=ctx.seed, progress=ctx.progress)
    cards = scorecard(comp, n_bootstrap=n_boot, seed=ctx.seed)
    out = SectionOutput()
    rows = [{"model": c["model"], "rank": c["rank"],
             "median_ceiled_predictivity": _num(c["median_ceiled_predictivity"]),
             "ci95_low": c["ci95"][0], "ci95_high": c["ci95"][1],
             "median_raw_predictivity": _num(c["median_raw_predictivity"]),
             "median_ceiling": _num(c["median_ceiling"]),
             "mean_ks_similarity": c["mean_ks_similarity"], "n_sessions": c["n_sessions"],
             "n_units": c["n_units"], **{f"fit_{k}": v for k, v in c["fit"].items()}}
            for c in cards]
    out.headline["comparison"] = {r["model"]: r for r in rows}
    out.results = {"recordings": str(ctx.recordings), "scorecard": rows,
                   "winner": comp.results.get("winner"),
                   "settings": {**ctx.settings["comparison"]}}
    out.tables.append(Table(f"Model vs recordings ({ctx.recordings.name}; ceiled predictivity, "
                            "median over sessions, 95% hierarchical bootstrap CI)",
                            list(rows[0]), rows))
    bars = [{**r, "group": "ceiled predictivity"} for r in rows]
    out.figures.append(("Ceiled predictivity of the recorded PSTHs per candidate (median over "
                        f"sessions; bars: 95% bootstrap CI; n units = {rows[0]['n_units']})",
                        F.bar_figure(bars, ctx.figure("comparison", "predictivity"),
                                     group="group", label="model",
                                     value="median_ceiled_predictivity", lower="ci95_low",
                                     upper="ci95_high", ylabel="ceiled predictivity "
                                     "(dimensionless)", title="neurofond.compare",
                                     colours=ctx.colours)))
    return out


def brainscore(ctx: Context) -> SectionOutput:
    import contextlib
    import io
    import warnings

    if ctx.recordings is None:
        raise Skip(ctx.recordings_note)
    from ..brainscore import require_brainscore

    try:
        require_brainscore()
    except ImportError as exc:
        raise Skip(f"brainscore_vision is not installed ({exc})") from None
    from ..brainscore.benchmarks import load_local_benchmarks, score_benchmarks
    from ..brainscore.model import IterativeVAEBrainModel

    s = ctx.settings["brainscore"]
    data_path = ctx.recordings
    if data_path.suffix != ".mat":  # the local benchmarks are built on the Ecker 2010 file
        from ..datasets import dataset_file

        try:
            data_path = dataset_file("ecker2010_v1_gratings")
        except (FileNotFoundError, ValueError) as exc:
            raise Skip("the local Brain-Score benchmarks need the Ecker 2010 static gratings "
                       f"(.mat); the recordings given are {ctx.recordings.name} and the "
                       f"dataset registry has none ({exc})") from None
    rows = []
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        benchmarks = load_local_benchmarks(s["benchmark"], quick=s["quick"],
                                           data_path=data_path)
        for ck in ctx.models:
            model = IterativeVAEBrainModel.from_name_or_path(ck.path, seed=ctx.seed,
                                                             trials="average",
                                                             device=ctx.device)
            for r in score_benchmarks(model, benchmarks):
                rows.append({"model": ck.name, **{k: _num(v) for k, v in r.items()
                                                  if k != "model"}})
    out = SectionOutput()
    out.headline["brainscore"] = {m: {r["benchmark"]: r["ceiled"] for r in rows
                                      if r["model"] == m} for m in dict.fromkeys(
                                          r["model"] for r in rows)}
    out.results = {"scores": rows, "settings": dict(s), "data": str(data_path)}
    out.tables.append(Table("Local Brain-Score benchmarks (raw, ceiling, ceiled; error: the "
                            "benchmark's score error)", list(rows[0]), rows))
    bars = [{**r, "group": r["benchmark"].split(".", 1)[-1]} for r in rows]
    out.figures.append(("Ceiled Brain-Score scores per benchmark (error bars: the score's "
                        "error estimate)",
                        F.bar_figure(bars, ctx.figure("brainscore", "scores"), group="group",
                                     label="model", value="ceiled", lower=None, upper=None,
                                     error="error", ylabel="ceiled score (dimensionless)",
                                     title="local Brain-Score benchmarks (offline)",
                                     colours=ctx.colours)))
    return out


def _figure_data(obj: Any) -> Any:
    """The numbers a figure was drawn from, JSON-ready (arrays as lists, 6 significant
    digits; NaN written as null by the JSON writer)."""
    if isinstance(obj, dict):
        return {str(k): _figure_data(v) for k, v in obj.items()}
    if hasattr(obj, "values") and hasattr(obj, "dims"):  # xarray
        obj = obj.values
    if isinstance(obj, (np.ndarray, list, tuple)):
        a = np.asarray(obj)
        if a.dtype.kind == "f":
            return [float(f"{v:.6g}") for v in a.ravel()] if a.ndim <= 1 else \
                [_figure_data(row) for row in a]
        return a.tolist()
    return _num(obj)


def _median(v: np.ndarray) -> float | None:
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else None


def _settings(ctx: Context, name: str) -> dict[str, Any]:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v)
            for k, v in ctx.settings[name].items()}


#: The report's sections in the order they run and appear; a new section is one function
#: above and one line here (plus its sizes in :data:`neurofond.report.PRESETS`).
SECTIONS: dict[str, Section] = {
    "convergence": Section(
        "Inference convergence", "Held-out photo patches inferred for T steps from the "
        "learned prior (paper Fig. 3): R^2, sparsity and ||du|| per step, convergence index.",
        convergence),
    "dictionaries": Section(
        "Dictionaries and Gabor fits", "The learned decoder columns and the fraction that a "
        "2-D Gabor fits with R^2 >= 0.7 (live elements only).", dictionaries),
    "tuning": Section(
        "Orientation and spatial-frequency tuning", "Static full-field gratings (orientation "
        "x SF x phase) to one hypercolumn; OSI, circular variance, bandwidths, peak SF.",
        tuning),
    "contrast": Section(
        "Contrast response and contrast-dependent latency", "Drifting gratings at each "
        "selected neuron's preferred orientation, SF and phase at several contrasts "
        "(paper Fig. 8): Naka-Rushton fit, onset latency and time to peak.", contrast),
    "variability": Section(
        "Fano factors", "Repeated static gratings; Fano factor of the spike counts in a fixed "
        "window and in sliding windows.", variability),
    "sparsification": Section(
        "Sparsification over time", "Proportion of zero counts and Treves-Rolls population "
        "sparseness per model step after onset.", sparsification),
    "correlations": Section(
        "Noise correlations", "Spike-count correlations r_sc of all neuron pairs across "
        "repeated gratings, and against signal correlation.", correlations),
    "direction": Section(
        "Direction selectivity", "Gratings drifting in 12 directions; DSI and vector-sum DSI.",
        direction),
    "size_tuning": Section(
        "Size tuning (surround suppression)", "Circular apertures of growing diameter, "
        "centred on each neuron's RF, at its preferred orientation and SF "
        "(neurofond.insilico.spatial).", size_tuning),
    "rf_maps": Section(
        "Receptive-field maps", "Sparse noise and flashed bars over the patch; maps compared "
        "with the decoder elements and the spike-triggered average "
        "(neurofond.insilico.rf_mapping).", rf_maps),
    "survey": Section(
        "V1 survey: models, baselines and recordings side by side", "Every V1 measure of "
        "neurofond.insilico.survey on the models, the LNP baselines and (when found) the "
        "recorded Ecker 2010 units, with the same analysis code.", survey),
    "seeds": Section(
        "Between-seed spread (training seeds as animals)", "Every shipped seed of the spiking "
        "model's recipe (neurofond.pretrained.shipped_seeds) measured with the same stimuli "
        "and sampler seed: OSI, Fano factor, noise correlation r_sc and contrast-dependent "
        "latency shift per seed, with mean, SD over seeds and range "
        "(neurofond.insilico.seeds.seed_spread).", seeds),
    "comparison": Section(
        "Model vs recordings", "neurofond.compare on the recorded V1 gratings: ceiled "
        "predictivity of the PSTHs per candidate with bootstrap CIs.", comparison,
        needs_recordings=True),
    "brainscore": Section(
        "Brain-Score (local)", "The offline Brain-Score benchmarks on the recorded V1 data "
        "(quick settings in the default mode).", brainscore, needs_recordings=True),
}
