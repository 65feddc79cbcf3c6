"""The sweep store: one folder per sweep, its spec, its manifest, and (population) one zarr store.

Layout of ``STORE``::

    STORE/                      zarr group (population sweeps); root attrs: name, spec_hash
      <checkpoint>/<stimuli>/   one group per block: a Responses Dataset
        spikes                  (trial, stimulus, neuron, time), zarr chunk = one task
        chunk_seed              (trial, stimulus) sampler seed of the chunk; -1 = not done
      .zmetadata                consolidated metadata (read with xarray.open_zarr)
      checkpoints/              (training sweeps) <run>.safetensors + trainer states
      _sweep/spec.json          the validated spec, its hash and the task table
      _sweep/manifest.json      finished tasks (written atomically after each one)

The store is created in a temporary folder and renamed into place
(:func:`neurofond._files.atomic_directory`), so a store either has its full template and
spec or does not exist. A store written by another spec (different hash) is refused.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_directory, atomic_write_json
from .spec import Chunk, SweepSpec

__all__ = [
    "DIMS",
    "PER_CHUNK_PREFIX",
    "create_store",
    "load_responses",
    "read_manifest",
    "read_store_spec",
    "write_manifest",
]

DIMS = ("trial", "stimulus", "neuron", "time")
_META = "_sweep"
# attrs of one presentation that differ between chunks: kept in the manifest, not the block
_PER_CHUNK_ATTRS = ("seed", "n_trials")
#: attrs starting with this (the soft-clamp fractions) are per chunk too
PER_CHUNK_PREFIX = "clamp_fraction"


def _meta(out: str | os.PathLike) -> Path:
    return Path(out) / _META


def read_store_spec(out: str | os.PathLike) -> dict[str, Any] | None:
    """The ``spec.json`` of a sweep store, or None when ``out`` holds no sweep store."""
    path = _meta(out) / "spec.json"
    return json.loads(path.read_text()) if path.is_file() else None


def read_manifest(out: str | os.PathLike) -> dict[str, Any]:
    """``{"spec_hash": ..., "done": {task id: record}}`` (empty ``done`` when none)."""
    path = _meta(out) / "manifest.json"
    if not path.is_file():
        return {"spec_hash": None, "done": {}}
    return json.loads(path.read_text())


def write_manifest(out: str | os.PathLike, manifest: Mapping[str, Any]) -> None:
    """Write the manifest atomically (temporary file + rename)."""
    atomic_write_json(_meta(out) / "manifest.json", manifest)


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def check_store(out: str | os.PathLike, spec: SweepSpec) -> bool:
    """True when ``out`` is this spec's store, False when it does not exist (or is empty).

    Raises
    ------
    ValueError
        If ``out`` is a file, a non-empty folder that is not a sweep store, or the store
        of a different spec (the message gives both hashes).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} is a file, expected a sweep store folder")
    if not out.exists() or not any(out.iterdir()):
        return False
    stored = read_store_spec(out)
    if stored is None:
        raise ValueError(f"out: {out} is a non-empty folder but not a sweep store (no "
                         f"{_META}/spec.json); pick a new --out")
    if stored["hash"] != spec.hash:
        raise ValueError(f"out: {out} holds a sweep of another spec (hash {stored['hash'][:12]}, "
                         f"this spec {spec.hash[:12]}); a changed spec needs a new --out (or "
                         f"delete the old store)")
    return True


def _block_template(spec: SweepSpec, checkpoint: str, stimuli_name: str) -> Any:
    """The empty Dataset of one block: coords, attrs, dask placeholders chunked per task."""
    import xarray as xr  # before dask.array: dask.array imported first breaks xarray 2022.3

    import dask.array as da  # isort: skip

    from .tasks import render_stimuli, sweep_population

    s = spec.settings
    entry = s["stimuli"][stimuli_name]
    pop = sweep_population(spec.to_dict(), checkpoint, stimuli_name)
    stim = render_stimuli(entry)
    with warnings.catch_warnings():  # a one-presentation probe for coords and attrs
        warnings.simplefilter("ignore")
        probe = pop.present(stim.select([0]), n_trials=1, blank_steps=entry["blank_steps"],
                            steps_per_frame=entry["steps_per_frame"], seed=0,
                            batch_size=s["batch_size"], progress=False)
    n_seeds, n_trials = len(s["seeds"]), s["n_trials"]
    n_trial, n_stim = n_seeds * n_trials, len(stim)
    n_neuron, n_time = probe.sizes["neuron"], probe.sizes["time"]
    dtype = np.uint16 if np.issubdtype(probe.dtype, np.integer) else np.float32
    tpc, spc = s["trials_per_chunk"], min(s["stimuli_per_chunk"], n_stim)
    coords: dict[str, Any] = {
        "trial": np.arange(n_trial),
        "base_seed": ("trial", np.repeat(np.asarray(s["seeds"], dtype=np.int64), n_trials)),
        "trial_in_seed": ("trial", np.tile(np.arange(n_trials), n_seeds)),
    }
    for name, values in stim.coords().items():
        coords[name] = ("stimulus", np.asarray(values))
    for name, c in probe.coords.items():
        if c.dims in (("neuron",), ("time",)):
            coords[name] = (c.dims[0], c.values)
    attrs = {k: v for k, v in probe.attrs.items()
             if k not in _PER_CHUNK_ATTRS and not k.startswith(PER_CHUNK_PREFIX)}
    attrs.update(sweep_name=spec.name, spec_hash=spec.hash, n_trials_per_seed=n_trials,
                 seeds=json.dumps(s["seeds"]), stimuli_set=stimuli_name, checkpoint=checkpoint,
                 seed_rule="per chunk: neurofond.sweep.spec.chunk_seed; see chunk_seed")
    return xr.Dataset({
        "spikes": (DIMS, da.zeros((n_trial, n_stim, n_neuron, n_time), dtype=dtype,
                                  chunks=(tpc, spc, n_neuron, n_time))),
        # numpy, so the template write stores the -1s now; -1 marks a chunk not yet written
        "chunk_seed": (("trial", "stimulus"), np.full((n_trial, n_stim), -1, dtype=np.int64)),
    }, coords=coords, attrs=attrs)


def n_stimuli(spec: SweepSpec) -> dict[str, int]:
    """Number of stimuli of every stimulus set (rendered once in this process)."""
    from .tasks import render_stimuli

    return {name: len(render_stimuli(entry)) for name, entry in spec.settings["stimuli"].items()}


def create_store(out: str | os.PathLike, spec: SweepSpec, tasks: list[Any]) -> None:
    """Create the store (template, spec, empty manifest) in one atomic folder swap."""
    import zarr

    with atomic_directory(out) as tmp:
        if spec.kind == "population":
            root = zarr.open_group(str(tmp), mode="w")
            root.attrs.update(sweep_name=spec.name, spec_hash=spec.hash)
            for ck in spec.settings["checkpoints"]:
                for st in spec.settings["stimuli"]:
                    ds = _block_template(spec, ck, st)
                    chunks = ds["spikes"].data.chunksize
                    # one zarr chunk per task for both variables, so no two tasks share a file;
                    # xarray 2022.3 takes no zarr fill_value, so unwritten spikes chunks hold
                    # undefined values: chunk_seed == -1 marks them (load_responses checks)
                    ds.to_zarr(str(tmp), group=f"{ck}/{st}", mode="w", compute=False,
                               encoding={"spikes": {"chunks": chunks},
                                         "chunk_seed": {"chunks": chunks[:2]}})
            zarr.consolidate_metadata(str(tmp))
        else:
            (tmp / "checkpoints").mkdir()
        record = spec.to_dict()
        record["tasks"] = [t.to_dict() for t in tasks]
        record["created_utc"] = now_utc()
        atomic_write_json(tmp / _META / "spec.json", record)
        write_manifest(tmp, {"spec_hash": spec.hash, "done": {}})


def load_responses(out: str | os.PathLike, checkpoint: str | None = None,
                   stimuli: str | None = None, *, allow_incomplete: bool = False) -> Any:
    """One block of a population sweep as ``Responses`` (dims trial, stimulus, neuron, time).

    Parameters
    ----------
    out : path
        The sweep store.
    checkpoint, stimuli : str, optional
        Block names (checkpoint file stem, stimulus-set name); may be omitted when the
        sweep has only one.
    allow_incomplete : bool
        Return a sweep that has unfinished chunks, with NaN (float32) in their trials and
        stimuli; by default an unfinished block raises.

    Returns
    -------
    xarray.DataArray
        Spike counts with the coords and provenance of
        :meth:`~neurofond.population.InSilicoPopulation.present`, plus ``base_seed`` and
        ``trial_in_seed`` on ``trial`` and ``chunk_seed`` (trial, stimulus) as a coordinate.

    Raises
    ------
    ValueError
        Not a population sweep store, unknown block names, or unfinished chunks.
    """
    import xarray as xr

    from ..responses import validate_responses

    stored = read_store_spec(out)
    if stored is None or stored["kind"] != "population":
        raise ValueError(f"out: {out} is not a population sweep store")
    s = stored["settings"]

    def pick(value: str | None, options: list[str], what: str) -> str:
        if value is None:
            if len(options) != 1:
                raise ValueError(f"{what}: the sweep has several ({options}); name one")
            return options[0]
        if value not in options:
            raise ValueError(f"{what}: unknown {value!r}; the sweep has {options}")
        return value

    ck = pick(checkpoint, sorted(s["checkpoints"]), "checkpoint")
    st = pick(stimuli, sorted(s["stimuli"]), "stimuli")
    ds = xr.open_zarr(str(out), group=f"{ck}/{st}", consolidated=True).load()
    spikes = ds["spikes"].assign_coords(chunk_seed=ds["chunk_seed"])
    missing = ds["chunk_seed"].values < 0
    if missing.any():
        if not allow_incomplete:
            done = len(read_manifest(out)["done"])
            raise ValueError(f"out: block {ck}/{st} has unfinished chunks ({int(missing.sum())} "
                             f"trial x stimulus cells; {done} tasks done); rerun the sweep to "
                             f"finish it, or pass allow_incomplete=True")
        spikes = spikes.astype(np.float32).where(~missing[:, :, None, None])
    spikes.attrs = dict(ds.attrs)
    spikes.name = "spike_counts"
    return validate_responses(spikes, name="responses")


def task_list(spec: SweepSpec) -> list[Chunk] | list[Any]:
    """The tasks of ``spec`` (population chunks need the stimuli rendered once)."""
    if spec.kind == "population":
        return spec.chunks(n_stimuli(spec))
    return spec.training_runs()
