"""Helpers shared by the local benchmarks: the Ecker 2010 reference, seeding Brain-Score."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

__all__ = ["ECKER2010_BIBTEX"]

ECKER2010_BIBTEX = """@article{ecker2010decorrelated,
  title={Decorrelated neuronal firing in cortical microcircuits},
  author={Ecker, Alexander S and Berens, Philipp and Keliris, Georgios A and Bethge, Matthias
          and Logothetis, Nikos K and Tolias, Andreas S},
  journal={Science}, volume={327}, number={5965}, pages={584--587}, year={2010},
  url={https://doi.org/10.1126/science.1179867}
}"""



@contextlib.contextmanager
def _numpy_seed(seed: int | None) -> Iterator[None]:
    """Seed numpy's global RNG (used by Brain-Score's bootstrap) and restore it afterwards."""
    if seed is None:
        yield
        return
    state = np.random.get_state()  # noqa: NPY002 - Brain-Score samples from the global RNG
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002

