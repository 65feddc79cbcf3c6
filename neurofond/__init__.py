"""neurofond: spiking variational-inference models as in-silico V1 neurons.

The package face is lazy (PEP 562): ``import neurofond`` loads neither torch nor any
subpackage and changes no environment variable. The flat API below resolves on first use:

- model side (loads torch): :class:`InSilicoPopulation`, :func:`load_pretrained`,
  :func:`load_model`, :func:`list_pretrained`, :func:`load_checkpoint`,
  :func:`resolve_checkpoint`;
- data side (torch-free): :func:`make_responses`, :func:`validate_responses`,
  :func:`select_stimuli`, :class:`Window`.

Subpackages: ``neurofond.fond`` (model family), ``neurofond.stimuli``,
``neurofond.population``, ``neurofond.models`` (baseline candidates),
``neurofond.recordings``, ``neurofond.analysis``, ``neurofond.conversions``,
``neurofond.brainscore``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_WHERE = {
    "InSilicoPopulation": "neurofond.population",
    "list_pretrained": "neurofond.pretrained",
    "load_model": "neurofond.pretrained",
    "load_pretrained": "neurofond.pretrained",
    "resolve_checkpoint": "neurofond.pretrained",
    "load_checkpoint": "neurofond.fond.checkpoint",
    "make_responses": "neurofond.responses",
    "validate_responses": "neurofond.responses",
    "select_stimuli": "neurofond.responses",
    "Window": "neurofond.responses",
}

__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'neurofond' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
