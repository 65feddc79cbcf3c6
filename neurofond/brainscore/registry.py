"""Registry of the local Brain-Score benchmarks: name -> loader (no brainscore import).

Each entry names a loader ``"module:function"``; the loader takes ``quick`` and
``data_path`` keywords and returns ``{identifier: benchmark}``. Adding a benchmark is
one file in :mod:`neurofond.brainscore.benchmarks` plus one line here (as Brain-Score's
plugin registries; no if-chain). The names are importable without ``brainscore_vision``,
so the command line can offer them before anything heavy is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["ALL", "BENCHMARK_LOADERS", "BENCHMARK_NAMES", "benchmark_loader"]

#: Benchmark name -> ``"module:function"`` of its loader, in the order ``"all"`` runs them.
BENCHMARK_LOADERS: dict[str, str] = {
    "ecker2010-pls": "neurofond.brainscore.benchmarks.neural:load_ecker2010_pls",
    "ecker2010-orientation":
        "neurofond.brainscore.benchmarks.orientation:load_ecker2010_orientation",
}
#: The name that loads every registered benchmark.
ALL = "all"
#: Names understood by ``load_local_benchmarks`` (and ``neurofond score --benchmark``).
BENCHMARK_NAMES: tuple[str, ...] = (*BENCHMARK_LOADERS, ALL)


def benchmark_loader(name: str) -> Callable[..., dict[str, Any]]:
    """The loader of a registered benchmark (imports its module, and brainscore_vision).

    Raises
    ------
    ValueError
        If ``name`` is not in :data:`BENCHMARK_LOADERS` (the message lists the names).
    """
    target = BENCHMARK_LOADERS.get(name)
    if target is None:
        raise ValueError(f"benchmark: expected one of {tuple(BENCHMARK_LOADERS)}, got {name!r}")
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)
