"""Sweeps on dask.distributed: population sweeps into zarr stores and training sweeps.

``neurofond sweep SPEC.toml --out STORE`` (or :func:`run_sweep`) runs

- **population sweeps**: checkpoints x stimulus sets x seeds x trials, one task per chunk of
  trials x stimuli, each presented with
  :meth:`~neurofond.population.InSilicoPopulation.present` and written into its own zarr
  chunk of one store (:func:`load_responses` reads a block back as ``Responses``);
- **training sweeps**: (beta, t_train, seed) grids, one :func:`neurofond.fond.train` run per
  task, each writing its checkpoint.

dask.distributed schedules the tasks (a LocalCluster by default, any scheduler address
for a cluster) and retries failed ones; a manifest of finished tasks makes a rerun resume;
seeds come from the spec, so results are bit-identical whatever the worker count. See
docs/scale.md.
"""

from .runner import SweepError, SweepResult, run_sweep, run_sweep_from_spec
from .spec import SweepSpec, chunk_seed, load_spec, parse_spec
from .store import load_responses, read_manifest
from .tasks import present_chunk, training_checkpoint

__all__ = [
    "SweepError",
    "SweepResult",
    "SweepSpec",
    "chunk_seed",
    "load_responses",
    "load_spec",
    "parse_spec",
    "present_chunk",
    "read_manifest",
    "run_sweep",
    "run_sweep_from_spec",
    "training_checkpoint",
]
