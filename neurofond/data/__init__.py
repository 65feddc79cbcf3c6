"""Runtime data shipped inside the package (read with :mod:`importlib.resources`).

- ``protocols/*.toml``: the stimulus protocols of :func:`neurofond.stimuli.load_protocol`
  (:data:`neurofond.stimuli.PROTOCOL_DIR`);
- ``registry.json``: the dataset registry of :mod:`neurofond.datasets`
  (:data:`neurofond.datasets.REGISTRY_FILE`).

The dataset cards (``datasets/*.md``) stay in the repository; a wheel carries only the
files above (``[tool.setuptools.package-data]`` in ``pyproject.toml``).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

__all__ = ["data_file"]


def data_file(*parts: str) -> Traversable:
    """The shipped resource ``neurofond/data/<parts...>`` (a path-like Traversable)."""
    res = files(__name__)
    for part in parts:
        res = res.joinpath(part)
    return res
