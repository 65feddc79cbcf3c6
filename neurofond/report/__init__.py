"""The main job: the in-silico suite (and, with recordings, the comparisons) as one report.

``neurofond run --out results`` runs, on embedded defaults (the shipped checkpoints, stimuli
generated on the fly, the photos bundled with scikit-image / scikit-learn), every section of
:data:`neurofond.report.sections.SECTIONS`: inference convergence, dictionaries with Gabor
fits, orientation and SF tuning, contrast response and contrast-dependent latency, Fano
factors, sparsification over time, noise correlations, direction selectivity; and, when
recordings are given or found (:func:`neurofond.datasets.dataset_file`: ``$NEUROFOND_DATA_DIR``,
``../shared/data`` beside the repository, ``~/.cache/neurofond``), the model-vs-recordings
comparison (:func:`neurofond.compare.compare`) and the local Brain-Score scores. Each section
is one library call per model; a failing section shows its error in the report while the
others still run.

Output folder: ``index.html`` (self-contained: figures embedded as base64 PNG, also written
beside it as ``fig_*.png``), ``results.json`` (every figure's numbers, the headline values,
provenance: command, versions, git commit, seed, settings, per-section timings).

Nothing is lost: a non-empty output folder is refused unless ``overwrite=True``
(``--overwrite``), and then only when it holds nothing but files of an earlier run. All
files are written into a temporary folder beside the output folder and moved into place by
renames, so a killed run leaves either the old folder or the complete new one, never a mix.
"""

from __future__ import annotations

import copy
import re
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int, check_seed
from .._files import (
    atomic_directory,
    atomic_write_json,
    atomic_write_text,
    check_output_folder,
)
from .figures import convergence_figure, dictionary_figure, model_colours
from .sections import SECTIONS, Context, Section, SectionOutput, Skip

__all__ = ["MODES", "PRESETS", "SECTIONS", "Plan", "convergence_figure", "dictionary_figure",
           "find_recordings", "model_colours", "plan_run", "run_main_job"]

_TUNING_GRID = {"orientations": list(np.arange(0.0, 180.0, 15.0)),
                "sfs": [float(v) for v in np.geomspace(0.5, 6.0, 6)],
                "phases": [0.0, 90.0, 180.0, 270.0]}

#: Sizes of every section per mode. ``quick`` (the default) fits in about 10 minutes on a
#: loaded 2-core machine with recordings; ``full`` is the analyses/ scripts' scale;
#: ``tiny`` is for tests (one model unless given, seconds per section).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "population": {"ms_per_step": 10.0, "patch_size_deg": 1.0},
        "convergence": {"n_patches": 500, "steps": 300},
        "dictionaries": {"n_starts": 1, "r2_threshold": 0.7, "max_elements": None},
        "tuning": {**_TUNING_GRID, "n_trials": 1},
        "contrast": {"ms_per_step": 5.0, "contrasts": [float(v) for v in
                                                        np.geomspace(0.15, 1.0, 5)],
                     "n_neurons": 32, "n_trials": 20},
        "variability": {"n_trials": 30},
        "sparsification": {"n_trials": 10},
        "correlations": {"n_trials": 30},
        "direction": {"directions": list(np.arange(0.0, 360.0, 30.0)), "sfs": [1.5, 3.0]},
        "size_tuning": {"n_neurons": 32},
        "rf_maps": {"unit_step": 16, "grid_deg": 0.125, "n_trials": 12, "n_blanks": 8,
                    "bar_orientations": [0.0, 45.0, 90.0, 135.0], "bars": ["flashed"],
                    "sta_noise": 1000},
        "survey": {"mode": "tiny", "baselines": ["gabor-energy"]},
        "seeds": {"mode": "quick"},
        "comparison": {"quick": True, "sessions": [7], "models": "spiking",
                       "baselines": ["gabor-energy", "stimulus-floor"],
                       "n_bootstrap_scorecard": 200},
        "brainscore": {"benchmark": "all", "quick": True},
    },
    "full": {
        "population": {"ms_per_step": 10.0, "patch_size_deg": 1.0},
        "convergence": {"n_patches": 2000, "steps": 1000},
        "dictionaries": {"n_starts": 4, "r2_threshold": 0.7, "max_elements": None},
        "tuning": {**_TUNING_GRID, "n_trials": 1},
        "contrast": {"ms_per_step": 5.0, "contrasts": [float(v) for v in
                                                        np.geomspace(0.15, 1.0, 7)],
                     "n_neurons": 128, "n_trials": 100},
        "variability": {"n_trials": 100, "sfs": [1.0, 2.0, 4.0],
                        "phases": [0.0, 90.0, 180.0, 270.0],
                        "orientations": list(np.arange(0.0, 180.0, 15.0))},
        "sparsification": {"n_trials": 30},
        "correlations": {"n_trials": 60},
        "direction": {"directions": list(np.arange(0.0, 360.0, 30.0)),
                      "sfs": [1.0, 1.5, 2.0, 3.0, 4.0], "n_trials": 1},
        "size_tuning": {"n_neurons": None, "fit": True},
        "rf_maps": {"unit_step": 1},
        "survey": {"mode": "full", "baselines": ["gabor-energy", "pixel-pca"]},
        "seeds": {"mode": "full"},
        "comparison": {"quick": False, "sessions": None, "models": "all",
                       "baselines": ["gabor-energy", "pixel-pca", "stimulus-floor"],
                       "n_bootstrap_scorecard": 1000},
        "brainscore": {"benchmark": "all", "quick": False},
    },
    "tiny": {
        "population": {"ms_per_step": 10.0, "patch_size_deg": 1.0},
        "convergence": {"n_patches": 32, "steps": 40},
        "dictionaries": {"n_starts": 1, "r2_threshold": 0.7, "max_elements": 64},
        "tuning": {"orientations": list(np.arange(0.0, 180.0, 30.0)), "sfs": [1.0, 2.0, 4.0],
                   "phases": [0.0, 180.0], "n_trials": 1},
        "contrast": {"ms_per_step": 5.0, "contrasts": [0.2, 0.4, 0.7, 1.0], "n_neurons": 6,
                     "n_trials": 8},
        "variability": {"n_trials": 8, "orientations": [0.0, 90.0], "sfs": [2.0],
                        "phases": [0.0]},
        "sparsification": {"n_trials": 3, "orientations": [0.0, 90.0], "sfs": [2.0],
                           "phases": [0.0]},
        "correlations": {"n_trials": 10, "orientations": [0.0, 45.0, 90.0, 135.0],
                         "sfs": [2.0], "contrasts": [0.3], "min_trials": 10},
        "direction": {"directions": [0.0, 90.0, 180.0, 270.0], "sfs": [2.0]},
        "size_tuning": {"n_neurons": 8, "diameters_deg": [0.25, 0.5, 1.0, 2.0],
                        "phases": [0.0, 180.0]},
        "rf_maps": {"unit_step": 64, "grid_deg": 0.25, "n_trials": 6, "n_blanks": 4,
                    "bar_orientations": [0.0, 90.0], "bars": ["flashed"], "sta_noise": 200},
        "survey": {"mode": "tiny", "baselines": []},
        "seeds": {"mode": "tiny"},
        "comparison": {"quick": True, "sessions": [7], "models": "spiking",
                       "baselines": ["stimulus-floor"],
                       "n_bootstrap_scorecard": 50},
        "brainscore": {"benchmark": "ecker2010-orientation", "quick": True},
    },
}
MODES = tuple(PRESETS)
#: The recorded data looked for when no recordings are given.
DEFAULT_RECORDINGS = "ecker2010_v1_gratings"

# files a run writes (and an earlier version wrote); an --overwrite target may hold only these
_RUN_FILES = re.compile(r"(results\.json|index\.html|report\.html|convergence\.png"
                        r"|dictionary_[^/]+\.png|fig_[A-Za-z0-9_.+-]+\.png)")


@dataclass
class Plan:
    """Everything a run needs, checked before anything is written."""

    models: list[Any]
    sections: list[str]
    settings: dict[str, dict[str, Any]]
    mode: str
    seed: int
    recordings: Path | None
    recordings_note: str
    command: str
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)


def find_recordings(recordings: Any = "auto") -> tuple[Path | None, str]:
    """Where the recordings are, and a sentence saying how they were (not) found.

    ``"auto"``: the dataset registry's search (:func:`neurofond.datasets.dataset_file` of
    :data:`DEFAULT_RECORDINGS`); ``None`` / ``False``: none; a path: that file (it must
    exist). Raises ValueError naming ``recordings`` for a path that does not exist.
    """
    if recordings is None or recordings is False:
        return None, "recordings not requested (--no-recordings)"
    if isinstance(recordings, str) and recordings == "auto":
        from ..datasets import dataset_file

        try:
            path = dataset_file(DEFAULT_RECORDINGS)
        except (FileNotFoundError, ValueError) as exc:
            return None, f"no recordings given and none found ({exc}); pass --recordings PATH"
        return path, f"found by the dataset registry ({DEFAULT_RECORDINGS})"
    path = Path(recordings)
    if not path.exists():
        raise ValueError(f"recordings: {path} does not exist (expected a recordings file, e.g. "
                         "the Ecker 2010 data_v1_binned_static.mat)")
    return path, "given (--recordings)"


def plan_run(*, models: Any = None, recordings: Any = "auto", mode: str = "quick",
             steps: int | None = None, n_patches: int | None = None,
             sections: Any = None, seed: int = 0, device: str = "cpu",
             command: str | None = None) -> Plan:
    """Check every argument and resolve models, recordings and sizes (nothing is written).

    Raises
    ------
    ValueError
        Naming the argument: unknown mode or section, bad steps / n_patches / seed, a model
        that cannot be resolved, a recordings path that does not exist.
    """
    from ..pretrained import DEFAULT_MODEL, SHIPPED, resolve_checkpoints

    if mode not in PRESETS:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    settings = copy.deepcopy(PRESETS[mode])
    if steps is not None:
        settings["convergence"]["steps"] = check_int(steps, "steps", minimum=1)
    if n_patches is not None:
        settings["convergence"]["n_patches"] = check_int(n_patches, "n_patches", minimum=1)
    seed = check_seed(seed)
    if seed is None:
        raise ValueError("seed: expected an integer in [0, 2**63 - 1], got None")
    if sections is None:
        names = list(SECTIONS)
    else:
        names = [str(s) for s in sections]
        unknown = [s for s in names if s not in SECTIONS]
        if unknown or not names:
            raise ValueError(f"sections: expected names from {tuple(SECTIONS)}, got "
                             f"{unknown or names}")
    if models is None:
        models = [DEFAULT_MODEL] if mode == "tiny" else list(SHIPPED)
    if isinstance(models, (str, Path)):
        models = [models]
    try:
        cks = resolve_checkpoints([str(m) for m in models])
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise ValueError(f"models: {exc}") from None
    if len({ck.name for ck in cks}) != len(cks):
        raise ValueError(f"models: the names repeat ({[ck.name for ck in cks]})")
    rec, note = find_recordings(recordings)
    if command is None:
        command = (f"neurofond.report.run_main_job(models={[ck.spec for ck in cks]!r}, "
                   f"mode={mode!r}, seed={seed})")
    return Plan(models=cks, sections=names, settings=settings, mode=mode, seed=seed,
                recordings=rec, recordings_note=note, command=command, device=str(device))


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that would lose files (before anything is computed)."""
    check_output_folder(out, overwrite=overwrite, own_files=_RUN_FILES, argument="out_dir",
                        product="a run",
                        not_empty_hint="pass --overwrite (overwrite=True) to replace an "
                                       "earlier run's report, or choose another folder",
                        foreign_hint=". Choose another folder or move them")


def run_main_job(out_dir: str | Path = "results", *, models: Any = None,
                 recordings: Any = "auto", mode: str = "quick", steps: int | None = None,
                 n_patches: int | None = None, sections: Any = None, seed: int = 0,
                 device: str = "cpu", progress: bool = True, overwrite: bool = False,
                 command: str | None = None) -> Path:
    """Run the report's sections and write ``index.html`` and ``results.json``.

    Parameters
    ----------
    out_dir : path
        Output folder; created if absent. A non-empty folder is refused unless
        ``overwrite``; even then it may hold only files of an earlier run
        (``results.json``, ``index.html``, ``report.html``, ``fig_*.png``,
        ``convergence.png``, ``dictionary_*.png``).
    models : sequence of str, optional
        Shipped model names or checkpoint paths (default: the shipped models; ``tiny``:
        the default model).
    recordings : path, "auto" or None
        Recorded data for the comparison and Brain-Score sections: a file, ``"auto"``
        (default: the dataset registry's search for the Ecker 2010 gratings) or None
        (those sections are skipped, saying why).
    mode : {"quick", "full", "tiny"}
        Sizes (:data:`PRESETS`).
    steps, n_patches : int, optional
        Override the convergence section's inference steps and held-out patches.
    sections : sequence of str, optional
        Run only these sections (names of :data:`SECTIONS`; default all).
    seed : int
        Seed of every stimulus, patch draw and spike sampler.
    overwrite : bool
        Replace an earlier run's report in ``out_dir``.
    command : str, optional
        The command line recorded in the report (the CLI passes it).

    Returns
    -------
    Path
        ``<out_dir>/index.html``.

    Raises
    ------
    ValueError
        Bad arguments (named; nothing is created).
    FileExistsError
        If ``out_dir`` is not empty and ``overwrite`` is False, holds files a run does not
        write, or is a file.

    Notes
    -----
    The files are written into a temporary folder beside ``out_dir`` and moved into place
    by renames (:func:`neurofond._files.atomic_directory`); on any error the temporary
    folder is removed and ``out_dir`` is left as it was. A section that raises is reported
    (its error and traceback summary) and the others still run.
    """
    plan = plan_run(models=models, recordings=recordings, mode=mode, steps=steps,
                    n_patches=n_patches, sections=sections, seed=seed, device=device,
                    command=command)
    out = Path(out_dir)
    _check_out(out, bool(overwrite))
    # the folder is checked again before the swap: it may have changed meanwhile
    with atomic_directory(out, before_swap=lambda: _check_out(out, bool(overwrite))) as tmp:
        report = _run_into(tmp, plan=plan, progress=progress)
    return out / report.name


def _exit_request_behind(exc: BaseException) -> BaseException | None:
    """The SystemExit or KeyboardInterrupt that ``exc`` was raised from, if any.

    A signal handler raises in whatever code is running: inside the initialisation of an
    extension module (pybind11 turns it into ``ImportError: initialization failed``, caused by
    the original) or a callback, it reaches the section as an ordinary error. Found through
    ``__cause__`` / ``__context__``, it still ends the run (exit status, temporary folder
    removed) instead of failing one section.
    """
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, (SystemExit, KeyboardInterrupt)):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return None


def _run_section(section: Section, ctx: Context) -> tuple[dict[str, Any], SectionOutput]:
    """Run one section; an error becomes the section's status, never the run's."""
    t0 = time.perf_counter()
    status: dict[str, Any] = {"title": section.title, "status": "ok"}
    output = SectionOutput()
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            output = section.run(ctx)
    except Skip as exc:
        status.update(status="skipped", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - a failing section must not stop the others
        stop = _exit_request_behind(exc)
        if stop is not None:  # SIGTERM or Ctrl-C, converted by an extension: end the run
            raise stop from exc
        frames = traceback.extract_tb(exc.__traceback__)[-4:]
        status.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=[f"{Path(f.filename).name}:{f.lineno} in {f.name}: {f.line}"
                                 for f in frames])
    status["seconds"] = round(time.perf_counter() - t0, 2)
    # the library's warnings (e.g. an unsettled spontaneous state) are part of the result
    seen = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught
                         if not issubclass(w.category, (DeprecationWarning, FutureWarning)))
    status["warnings"] = [m if len(m) <= 600 else m[:600] + " ..." for m in seen][:10]
    return status, output


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def _run_into(out: Path, *, plan: Plan, progress: bool) -> Path:
    from tqdm.auto import tqdm

    from ._provenance import environment
    from .html import write_html

    t_start = time.perf_counter()
    names = [ck.name for ck in plan.models]
    ctx = Context(folder=out, models=plan.models, settings=plan.settings, seed=plan.seed,
                  progress=progress, recordings=plan.recordings,
                  recordings_note=plan.recordings_note,
                  colours=model_colours([*names, "gabor-energy", "pixel-pca",
                                         "stimulus-floor"]), device=plan.device)
    results: dict[str, Any] = {
        "command": plan.command, "mode": plan.mode, "seed": plan.seed, "models": {},
        "model_names": names,
        "recordings": None if plan.recordings is None else str(plan.recordings),
        "recordings_note": plan.recordings_note, **environment(),
        "settings": plan.settings, "section_order": list(plan.sections), "sections": {}}
    outputs: dict[str, SectionOutput] = {}
    bar = tqdm(plan.sections, desc="report", unit="section", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        status, output = _run_section(SECTIONS[name], ctx)
        outputs[name] = output
        results["sections"][name] = {**status, "results": output.results,
                                     "figures": [p.name for _, p in output.figures]}
        _merge(results, output.headline)
        if progress and status["status"] != "ok":
            tqdm.write(f"section {name}: {status['status']}: "
                       f"{status.get('error') or status.get('reason')}")
    bar.close()
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    atomic_write_json(out / "results.json", results)
    return atomic_write_text(out / "index.html", write_html(results, outputs, SECTIONS))
