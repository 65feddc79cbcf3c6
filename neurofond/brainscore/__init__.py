"""Brain-Score (brainscore-vision) interface: iterative VAEs as Brain-Score models.

- :class:`IterativeVAEBrainModel`: a checkpoint as a
  ``brainscore_vision.model_interface.BrainModel`` (V1 recordings, passive task).
- :mod:`~neurofond.brainscore.assemblies`: recorded ``Responses`` -> Brain-Score
  ``NeuroidAssembly`` (one window, :class:`neurofond.responses.Window`).
- :mod:`~neurofond.brainscore.benchmarks`: local, offline benchmarks built from
  Brain-Score's own classes, metrics and ceilings on recorded data on disk
  (Ecker et al. 2010 macaque V1: PLS predictivity, orientation properties), one file
  per benchmark kind (``neural``, ``orientation``); their names and loaders are in the
  registry :mod:`~neurofond.brainscore.registry` (importable without brainscore_vision).
- :func:`export_plugin`: write a Brain-Score model plugin folder for submission.
- :mod:`~neurofond.brainscore.stimuli`: StimulusSets of PNG files from
  :class:`neurofond.stimuli.Stimuli`.

Importing this package prepares the environment for ``brainscore_vision``
before it is imported (``os.environ.setdefault``: values the user already set
win):

- ``BS_INSTALL_DEPENDENCIES=no``: otherwise every ``load_model`` /
  ``load_benchmark`` / ``load_metric`` runs ``pip install -r
  <plugin>/requirements.txt`` with the first ``pip`` on ``PATH``;
- ``AWS_EC2_METADATA_DISABLED=true``: boto3 must not probe the EC2 metadata
  endpoint;
- ``RESULTCACHING_HOME`` and ``BRAINSCORE_HOME``: Brain-Score's on-disk caches
  (stored results, stimuli placed on screen) go under
  ``$XDG_CACHE_HOME/neurofond/brainscore/`` (default
  ``~/.cache/neurofond/brainscore/``; a temporary folder if that is not
  writable) instead of ``~/.result_caching`` and ``~/.brain-score``.

``brainscore_vision`` is imported only when one of the classes or functions
above is first used; without it that raises an :class:`ImportError` naming
``pip install brainscore-vision``. Import ``neurofond.brainscore`` before
``brainscore_vision``: ``brainscore_vision.benchmark_helpers.screen`` reads
``BRAINSCORE_HOME`` when it is imported. When ``brainscore_vision`` is already
imported (for instance when Brain-Score loads an exported plugin) the
environment is left as it is, so Brain-Score's own dependency and cache policy
applies; a warning says so when ``BS_INSTALL_DEPENDENCIES`` is not ``no``.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = [
    "BENCHMARK_NAMES",
    "BRAINSCORE_INSTALL_HINT",
    "ENV_DEFAULTS",
    "IterativeVAEBrainModel",
    "LocalNeuralBenchmark",
    "OrientationPropertyBenchmark",
    "TrialAveragingCandidate",
    "UnsupportedRequest",
    "cache_home",
    "ecker2010_assembly",
    "ecker2010_orientation_benchmarks",
    "ecker2010_pls_benchmark",
    "export_plugin",
    "load_local_benchmarks",
    "neural_benchmark_from_responses",
    "require_brainscore",
    "responses_to_assembly",
    "score_benchmarks",
    "stimulus_set_from_stimuli",
]

#: How to install the optional dependency (see docs/brainscore.md for a light install).
BRAINSCORE_INSTALL_HINT = (
    "neurofond.brainscore needs brainscore-vision: pip install brainscore-vision "
    "(tested with brainscore-vision==2.4.2 and brainscore-core==2.5.0; docs/brainscore.md "
    "describes a light --no-deps install)"
)


def cache_home(create: bool = True) -> Path:
    """Folder holding Brain-Score's caches: ``$XDG_CACHE_HOME/neurofond/brainscore``.

    ``~/.cache`` when ``XDG_CACHE_HOME`` is unset; ``<tmp>/neurofond-brainscore-<uid>`` when
    that location cannot be written. Created when ``create`` (importing this package only
    computes the path).
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "neurofond" / "brainscore"
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK):
        uid = os.getuid() if hasattr(os, "getuid") else "user"
        path = Path(tempfile.gettempdir()) / f"neurofond-brainscore-{uid}"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _env_defaults() -> dict[str, str]:
    home = cache_home(create=False)
    return {
        "BS_INSTALL_DEPENDENCIES": "no",
        "AWS_EC2_METADATA_DISABLED": "true",
        "RESULTCACHING_HOME": str(home / "result_caching"),
        "BRAINSCORE_HOME": str(home / "brain-score"),
    }


#: The Brain-Score variables in effect after importing this package.
ENV_DEFAULTS: dict[str, str] = {}
if sys.modules.get("brainscore_vision") is None:
    for _key, _value in _env_defaults().items():
        ENV_DEFAULTS[_key] = os.environ.setdefault(_key, _value)
    del _key, _value
else:
    # brainscore_vision is already running (e.g. this package is being loaded as a Brain-Score
    # plugin): its caches are configured and its dependency policy is the caller's.
    ENV_DEFAULTS.update({k: os.environ[k] for k in _env_defaults() if k in os.environ})
    if os.environ.get("BS_INSTALL_DEPENDENCIES", "yes") != "no":
        warnings.warn(
            "brainscore_vision was imported before neurofond.brainscore, so the environment was "
            "left unchanged: load_model / load_benchmark may run `pip install -r "
            "<plugin>/requirements.txt`, and caches go to ~/.result_caching and ~/.brain-score. "
            "Import neurofond.brainscore first, or set BS_INSTALL_DEPENDENCIES=no, "
            "RESULTCACHING_HOME and BRAINSCORE_HOME yourself.", stacklevel=2)


def require_brainscore() -> Any:
    """Import and return ``brainscore_vision``; ImportError naming the install command."""
    try:
        with warnings.catch_warnings():  # brainscore_core's Score class, harmless
            warnings.filterwarnings("ignore", message="xarray subclass .* __slots__",
                                    category=FutureWarning)
            return importlib.import_module("brainscore_vision")
    except ImportError as exc:
        raise ImportError(f"{BRAINSCORE_INSTALL_HINT} ({exc})") from exc


_LAZY = {
    "IterativeVAEBrainModel": ".model",
    "UnsupportedRequest": ".model",
    "stimulus_set_from_stimuli": ".stimuli",
    "export_plugin": ".export",
    "BENCHMARK_NAMES": ".registry",
    "responses_to_assembly": ".assemblies",
    "ecker2010_assembly": ".assemblies",
    "LocalNeuralBenchmark": ".benchmarks",
    "OrientationPropertyBenchmark": ".benchmarks",
    "TrialAveragingCandidate": ".benchmarks",
    "ecker2010_orientation_benchmarks": ".benchmarks",
    "ecker2010_pls_benchmark": ".benchmarks",
    "load_local_benchmarks": ".benchmarks",
    "neural_benchmark_from_responses": ".benchmarks",
    "score_benchmarks": ".benchmarks",
}
#: Modules usable without brainscore_vision (no ImportError check before importing them).
_NO_BRAINSCORE = (".export", ".registry")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module not in _NO_BRAINSCORE:  # export writes files; the registry only names
        require_brainscore()
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
