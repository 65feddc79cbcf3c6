"""Run a sweep: in this process, on a LocalCluster, or on any dask.distributed scheduler.

dask.distributed does the scheduling, the retries of failed tasks and the rescheduling of
tasks lost with a dead worker; this module only lists the tasks, skips those the manifest
marks done, submits the rest and records each result in the manifest as it arrives
(``as_completed``), so a killed client loses at most the tasks in flight.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._checks import check_int
from .spec import SweepSpec, load_spec
from .store import check_store, create_store, now_utc, read_manifest, task_list, write_manifest
from .tasks import run_population_chunk, run_training

__all__ = ["SweepError", "SweepResult", "local_cluster_environ", "run_sweep",
           "run_sweep_from_spec"]

#: Environment of LocalCluster workers: one thread per library, passive OpenMP waits.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "OMP_WAIT_POLICY": "PASSIVE"}


class SweepError(RuntimeError):
    """A task failed after its retries (the manifest keeps every finished task)."""


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    out : Path
        The store.
    n_tasks, n_skipped, n_run : int
        Tasks in the spec, tasks already done (skipped), tasks run now.
    seconds : float
        Wall time of this call.
    workers : int
        Worker processes used (0: this process).
    """

    out: Path
    n_tasks: int
    n_skipped: int
    n_run: int
    seconds: float
    workers: int


def _task_fn(spec: SweepSpec) -> Any:
    return run_population_chunk if spec.kind == "population" else run_training


def _progress(total: int, enabled: bool, name: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=f"sweep {name}", unit="task")


def _record(out: Path, manifest: dict[str, Any], task_id: str, result: dict[str, Any]) -> None:
    manifest["done"][task_id] = {**result, "finished_utc": now_utc()}
    write_manifest(out, manifest)


def run_sweep(spec: SweepSpec | str | os.PathLike, out: str | os.PathLike, *,
              workers: int | None = None, scheduler: str | None = None, client: Any = None,
              progress: bool = True) -> SweepResult:
    """Run (or resume) a sweep into the store ``out``.

    Parameters
    ----------
    spec : SweepSpec or path
        The sweep (:func:`~neurofond.sweep.spec.load_spec` for a path).
    out : path
        The store. Created when absent; when it holds this spec's store, tasks the
        manifest marks done are skipped (resume); another spec's store is refused.
    workers : int, optional
        ``0``: run every task in this process, in order (the single-process path).
        ``N >= 1``: a :class:`distributed.LocalCluster` of N worker processes, one thread
        each, ``OMP_NUM_THREADS=1`` (:data:`WORKER_ENV`). Default: one worker per CPU
        (at most one per pending task). Ignored with ``scheduler`` or ``client``.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``); its workers must reach
        ``out`` and the checkpoint files at the same paths (a shared file system).
    client : distributed.Client, optional
        Use this client (and its cluster) instead of starting one.
    progress : bool
        Show a progress bar over finished tasks.

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError
        Bad spec (naming the key; nothing written), a store of another spec, bad arguments.
    SweepError
        A task failed after ``run.retries`` retries (finished tasks stay in the manifest;
        rerun to resume).

    Notes
    -----
    Results are bit-identical whatever the worker count: every population chunk has a seed
    derived from the spec (:func:`~neurofond.sweep.spec.chunk_seed`), runs torch on one
    thread and writes its own zarr chunk; a training run's seeds are its settings.
    """
    t_start = time.perf_counter()
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    if workers is not None:
        workers = check_int(workers, "workers", minimum=0)
    out = Path(out).absolute()
    exists = check_store(out, spec)
    tasks = task_list(spec)
    if not exists:
        create_store(out, spec, tasks)
    manifest = read_manifest(out)
    pending = [t for t in tasks if t.id not in manifest["done"]]
    n_skipped = len(tasks) - len(pending)
    payload = spec.to_dict()
    fn = _task_fn(spec)
    bar = _progress(len(tasks), progress, spec.name or spec.kind)
    bar.update(n_skipped)
    used = 0
    try:
        if pending and client is None and scheduler is None and workers == 0:
            for task in pending:  # the single-process path
                _record(out, manifest, task.id, fn(str(out), payload, task.to_dict()))
                bar.update(1)
        elif pending:
            used = _run_distributed(spec, out, payload, pending, manifest, bar, workers=workers,
                                    scheduler=scheduler, client=client)
    finally:
        bar.close()
    if spec.kind == "population" and pending:
        import zarr

        zarr.consolidate_metadata(str(out))
    return SweepResult(out=out, n_tasks=len(tasks), n_skipped=n_skipped, n_run=len(pending),
                       seconds=time.perf_counter() - t_start, workers=used)


def local_cluster_environ() -> dict[str, Any]:
    """dask's environment for new worker processes, without ``MALLOC_TRIM_THRESHOLD_``.

    dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` in workers it spawns; setting it switches off
    glibc's dynamic mmap threshold, so every step's megabyte-sized tensors are mapped and
    unmapped afresh. Measured on this (loaded) machine: 200-presentation tasks of the
    benchmark took 4.0-4.3 s with it and 1.8-3.0 s without (0.8 s in the client process).
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


def _run_distributed(spec: SweepSpec, out: Path, payload: dict[str, Any], pending: list[Any],
                     manifest: dict[str, Any], bar: Any, *, workers: int | None,
                     scheduler: str | None, client: Any) -> int:
    import dask
    from distributed import Client, LocalCluster, as_completed

    cluster = config = None
    own_client = client is None
    if client is None:
        if scheduler is not None:
            client = Client(scheduler)
        else:
            n = workers if workers is not None else min(os.cpu_count() or 1, len(pending))
            # applied now, read by the nannies (in this process) at every worker (re)start,
            # undone when the cluster is closed
            config = dask.config.set(
                {"distributed.nanny.pre-spawn-environ": local_cluster_environ()})
            try:
                cluster = LocalCluster(n_workers=max(1, n), threads_per_worker=1,
                                       processes=True, dashboard_address=":0",
                                       env=dict(WORKER_ENV))
                client = Client(cluster)
            except BaseException:
                if cluster is not None:
                    cluster.close()
                config.__exit__(None, None, None)
                raise
    try:
        n_workers = len(client.nthreads())
        fn = _task_fn(spec)
        retries = int(spec.run["retries"])
        futures = {}
        for task in pending:
            key = f"neurofond-sweep-{spec.hash[:10]}-{task.id.replace('/', ':')}"
            fut = client.submit(fn, str(out), payload, task.to_dict(), key=key, pure=False,
                                retries=retries)
            futures[fut] = task
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:
                for other in futures:
                    other.cancel()
                raise SweepError(f"sweep: task {task.id} failed after {retries} retries: "
                                 f"{type(exc).__name__}: {exc}; the {len(manifest['done'])} "
                                 f"finished tasks are kept, rerun to resume") from exc
            _record(out, manifest, task.id, result)
            bar.update(1)
        return n_workers
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
        if config is not None:
            config.__exit__(None, None, None)


def run_sweep_from_spec(spec_path: str | os.PathLike, out: str | os.PathLike,
                        **kwargs: Any) -> SweepResult:
    """:func:`run_sweep` on a TOML file (what ``neurofond sweep`` calls)."""
    return run_sweep(load_spec(spec_path), out, **kwargs)
