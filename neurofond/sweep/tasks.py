"""What one sweep task does: present one chunk, or train one model (runs on a worker).

Every function here takes plain data (the spec as a dict, a chunk or run as a dict, the
store path), so the same call runs in the client process (the single-process path) or on
any dask worker. Populations and rendered stimuli are cached per process, so a worker loads
a checkpoint once however many chunks it runs. Each task runs torch on one thread, so its
numbers do not depend on how many threads the worker's process was given.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "present_chunk",
    "render_stimuli",
    "run_population_chunk",
    "run_training",
    "sweep_population",
    "training_checkpoint",
]

#: Per-process caches (populations, stimuli, patch data); keys hold everything they depend on.
_CACHE: dict[tuple, Any] = {}
_CACHE_MAX = 8


def _cached(key: tuple, build: Any) -> Any:
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = build()
    return _CACHE[key]


_THREADS_LOCK = threading.Lock()
_THREADS_STATE = {"active": 0, "before": 1}


@contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one thread while any task of this process runs (restored after the last).

    ``torch.set_num_threads`` is process-wide; the counter keeps it at one thread while
    several tasks run in threads of one process (a threaded dask worker).
    """
    import torch

    with _THREADS_LOCK:
        if _THREADS_STATE["active"] == 0:
            _THREADS_STATE["before"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _THREADS_STATE["active"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_STATE["active"] -= 1
            if _THREADS_STATE["active"] == 0:
                torch.set_num_threads(_THREADS_STATE["before"])


def _worker_address() -> str:
    """The dask worker running this task ("" outside a worker: the single-process path)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""


# --------------------------------------------------------------------------- population
def sweep_population(spec: Mapping[str, Any], checkpoint: str, stimuli_name: str) -> Any:
    """The :class:`~neurofond.population.InSilicoPopulation` of one block (cached)."""
    from ..population import InSilicoPopulation

    s = spec["settings"]
    path = s["checkpoints"][checkpoint]
    ms = float(s["stimuli"][stimuli_name]["ms_per_step"])
    model_kw = dict(s["model"])
    key = ("population", path, spec["fingerprints"][f"checkpoint:{checkpoint}"], ms,
           json.dumps(model_kw, sort_keys=True))
    return _cached(key, lambda: InSilicoPopulation.from_checkpoint(
        path, ms_per_step=ms, name=checkpoint, **model_kw))


def render_stimuli(entry: Mapping[str, Any]) -> Any:
    """The :class:`~neurofond.stimuli.Stimuli` of one ``[population.stimuli.<name>]`` entry.

    Protocols are loaded with :func:`~neurofond.stimuli.protocols.load_protocol`; grating
    grids are built with :func:`~neurofond.stimuli.gratings.grating_sweep` (static, one frame).
    """
    def build() -> Any:
        if entry["type"] == "protocol":
            from ..stimuli.protocols import load_protocol

            return load_protocol(entry["protocol"], size_px=entry["size_px"]).stimuli
        from ..stimuli.geometry import ScreenGeometry
        from ..stimuli.gratings import grating_sweep

        geometry = ScreenGeometry(entry["pixels_per_degree"], entry["size_px"])
        return grating_sweep(geometry, orientations=entry["orientations"], sfs=entry["sfs"],
                             phases=entry["phases"], contrasts=entry["contrasts"])

    return _cached(("stimuli", json.dumps(dict(entry), sort_keys=True)), build)


def present_chunk(spec: Mapping[str, Any], chunk: Mapping[str, Any]) -> Any:
    """Present one chunk and return its ``Responses`` (no file written).

    The same call as a user would make: ``population.present(stimuli[s0:s1],
    n_trials=t1 - t0, seed=chunk["seed"], ...)`` with the stimulus set's presentation
    settings, torch on one thread.
    """
    s = spec["settings"]
    entry = s["stimuli"][chunk["stimuli_name"]]
    pop = sweep_population(spec, chunk["checkpoint"], chunk["stimuli_name"])
    stim = render_stimuli(entry).select(slice(*chunk["stimuli"]))
    t0, t1 = chunk["trials"]
    with _one_thread():
        return pop.present(stim, n_trials=t1 - t0, blank_steps=entry["blank_steps"],
                           steps_per_frame=entry["steps_per_frame"], seed=int(chunk["seed"]),
                           batch_size=s["batch_size"], progress=False)


def run_population_chunk(store: str, spec: Mapping[str, Any],
                         chunk: Mapping[str, Any]) -> dict[str, Any]:
    """Present one chunk and write it into its region of the zarr store.

    Returns the chunk's manifest record (seed, clamp fractions, seconds, process id). The
    region is exactly one zarr chunk, so concurrent tasks never write the same file.

    Raises
    ------
    ValueError
        If a count does not fit the store's dtype (uint16 for spike counts).
    """
    import xarray as xr

    from .store import DIMS, PER_CHUNK_PREFIX

    start = time.perf_counter()
    resp = present_chunk(spec, chunk)
    group = f"{chunk['checkpoint']}/{chunk['stimuli_name']}"
    dtype = np.dtype(json.loads(Path(store, group, "spikes", ".zarray").read_text())["dtype"])
    values = resp.values
    if values.dtype != dtype and not np.can_cast(values.dtype, dtype, casting="safe"):
        raise ValueError(f"chunk {chunk['id']}: responses of dtype {values.dtype} (a count above "
                         f"{np.iinfo(np.uint16).max}?) do not fit the store's {dtype}")
    n_t, n_s = values.shape[:2]
    ds = xr.Dataset({
        "spikes": (DIMS, values.astype(dtype, copy=False)),
        "chunk_seed": (("trial", "stimulus"), np.full((n_t, n_s), int(chunk["seed"]), np.int64)),
    })
    ds.to_zarr(store, group=group, region={"trial": slice(*chunk["trials"]),
                                           "stimulus": slice(*chunk["stimuli"])})
    clamp = {k: v for k, v in resp.attrs.items() if k.startswith(PER_CHUNK_PREFIX)}
    return {"seed": int(chunk["seed"]), "seconds": time.perf_counter() - start,
            "pid": os.getpid(), "worker": _worker_address(), **clamp}


# --------------------------------------------------------------------------- training
def training_checkpoint(store: str | os.PathLike, run_id: str) -> Path:
    """Where a training sweep writes the checkpoint of run ``run_id``."""
    return Path(store) / "checkpoints" / f"{run_id}.safetensors"


def _patch_data(settings: Mapping[str, Any], patch_size: int) -> Any:
    from ..fond.data import make_patch_data

    data_kw = dict(settings["data"])
    source = data_kw.pop("source", "bundled")
    key = ("patches", json.dumps(settings["data"], sort_keys=True), patch_size)
    return _cached(key, lambda: make_patch_data(source, patch_size=patch_size, **data_kw))


def run_training(store: str, spec: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """Train one (beta, t_train, seed) run with :func:`neurofond.fond.train`.

    Writes ``<store>/checkpoints/<run id>.safetensors`` (+ trainer state and history). A
    trainer state left by an interrupted attempt is resumed (``resume=True``), so a killed
    run continues from its last trainer state; a finished run changes nothing. Every run of
    a sweep sees the same patches (``[training.data]``, seed ``data.seed``, default 0).
    """
    from ..fond import ModelConfig, TrainConfig, train

    s = spec["settings"]
    model_cfg = ModelConfig(family=s["family"], beta=run["beta"], t_train=run["t_train"],
                            **s["model"])
    train_cfg = TrainConfig(seed=run["seed"], **s["train"])
    data = _patch_data(s, model_cfg.patch_size)
    final = training_checkpoint(store, run["id"])
    state = final.with_name(f"{run['id']}.trainer.safetensors")
    start = time.perf_counter()
    with _one_thread():
        result = train(model_cfg, train_cfg, data.train, data.validation, data.preprocessing,
                       final.parent, name=run["id"], resume=state.exists(), progress=False,
                       command=f"neurofond sweep {spec.get('path') or ''}".strip())
    last = result.history[-1] if result.history else {}
    return {"checkpoint": str(final.relative_to(store)), "seconds": time.perf_counter() - start,
            "train_seconds": result.seconds, "pid": os.getpid(), "worker": _worker_address(),
            **{k: last.get(k) for k in ("loss", "val_r2", "val_zeros")}}
