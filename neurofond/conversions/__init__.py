"""Edges to the ecosystem's containers: neo Blocks and NWB files <-> ``Responses``.

The submodules import neo / pynwb lazily, so ``import neurofond.conversions`` stays cheap;
the names below load their module on first access.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "responses_to_neo",
    "neo_to_responses",
    "spike_times_from_counts",
    "responses_to_nwb",
    "nwb_to_responses",
]

_WHERE = {
    "responses_to_neo": "neo_io",
    "neo_to_responses": "neo_io",
    "spike_times_from_counts": "neo_io",
    "responses_to_nwb": "nwb_io",
    "nwb_to_responses": "nwb_io",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"neurofond.conversions.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'neurofond.conversions' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
