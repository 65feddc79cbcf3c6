"""Population sweep of 10^4 presentations: one process vs a LocalCluster of 2 worker processes.

Full run: the shipped iP-VAE (``ipvae-k512-b24-photos``, K = 512, one tile) x a static
grating grid of 250 stimuli (25 orientations x 2 SF x 5 phases, 32 px at 16 px/deg) x 40
trials = 10^4 presentations of 10 blank + 40 stimulus steps (10 ms each), in chunks of 25
stimuli x 40 trials (1000 presentations, 10 tasks). ``--quick``: 50 stimuli x 20 trials =
10^3 presentations in 5 tasks.

Timed, each into a fresh store under a temporary folder:

- ``workers=0``: every task in this process, one after the other (the single-process path;
  torch imported beforehand, outside the timed region);
- ``2 workers``: a LocalCluster of 2 worker processes (1 thread each, OMP_NUM_THREADS=1),
  started and warmed (torch imported) outside the timed region, without dask's
  ``MALLOC_TRIM_THRESHOLD_`` (as ``run_sweep`` starts its LocalCluster); its start-up is reported
  separately. Both timings include creating the store (rendering, one probe presentation,
  the zarr template) and loading the checkpoint (once per process). Each task's own time
  (from the manifest) is reported too: the first task of a worker pays the checkpoint load
  and torch's first-call initialisation.

Reported: wall time of each, the ratio, presentations/s, peak RSS of this process and of each
worker (``ru_maxrss``), store size on disk, and whether the two stores hold bit-identical
spikes. The 1-minute load average is recorded before and after (on a shared machine, other
jobs take CPU from the workers).

    python benchmarks/bench_sweep.py [--quick] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported

import numpy as np  # noqa: E402

from neurofond._files import atomic_write_json  # noqa: E402
from neurofond.sweep import load_responses, parse_spec, read_manifest, run_sweep  # noqa: E402
from neurofond.sweep.runner import WORKER_ENV, local_cluster_environ  # noqa: E402


def _spec(quick: bool) -> dict:
    if quick:
        grid = {"orientations": {"start": 0, "stop": 180, "step": 36}, "sfs": [1.0, 2.0],
                "phases": [0, 72, 144, 216, 288]}
        n_trials, per_chunk = 20, 10
    else:
        grid = {"orientations": {"start": 0, "stop": 180, "step": 7.2}, "sfs": [1.0, 2.0],
                "phases": [0, 72, 144, 216, 288]}
        n_trials, per_chunk = 40, 25
    return {"name": "bench", "population": {
        "checkpoints": ["ipvae-k512-b24-photos"], "seeds": [0], "n_trials": n_trials,
        "trials_per_chunk": n_trials, "stimuli_per_chunk": per_chunk, "batch_size": 1024,
        "stimuli": {"grid": {"size_px": 32, "pixels_per_degree": 16.0, **grid,
                             "blank_steps": 10, "steps_per_frame": 40}}}}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _task_seconds(out: Path) -> list[float]:
    """Seconds of each task as the task measured it, in the order they finished."""
    done = read_manifest(out)["done"].values()
    return [round(r["seconds"], 2) for r in sorted(done, key=lambda r: r["finished_utc"])]


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^3 presentations")
    ap.add_argument("--out", default="benchmarks/results")
    return ap


def main() -> int:
    ap = build_parser()
    args = ap.parse_args()
    spec = parse_spec(_spec(args.quick))
    pop = spec.settings
    n_stim = (len(pop["stimuli"]["grid"]["orientations"]) * len(pop["stimuli"]["grid"]["sfs"])
              * len(pop["stimuli"]["grid"]["phases"]))
    n_pres = n_stim * pop["n_trials"] * len(pop["seeds"])
    load_before = os.getloadavg()[0]
    import neurofond.population  # noqa: F401  (torch imported outside the timed region, as
    # the workers' imports are below; loading the checkpoint is timed in both)

    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep-"))
    try:
        t0 = time.perf_counter()
        serial = run_sweep(spec, tmp / "serial", workers=0, progress=False)
        serial_s = time.perf_counter() - t0
        rss_serial = _maxrss_mb()

        import dask
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        dask.config.set({"distributed.nanny.pre-spawn-environ": local_cluster_environ()})
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0", env=dict(WORKER_ENV))
        client = Client(cluster)
        client.run(lambda: __import__("neurofond.population"))
        startup_s = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            two = run_sweep(spec, tmp / "two", client=client, progress=False)
            two_s = time.perf_counter() - t0
            worker_rss = sorted(v / 1024 for v in client.run(
                lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).values())
        finally:
            client.close()
            cluster.close()
        a, b = load_responses(tmp / "serial"), load_responses(tmp / "two")
        identical = bool(np.array_equal(a.values, b.values))
        result = {
            "mode": "quick" if args.quick else "full",
            "machine": {"cpus": os.cpu_count(), "load_avg_1min_before": load_before,
                        "load_avg_1min_after": os.getloadavg()[0],
                        "note": "other jobs sharing the CPUs show in the load averages"},
            "model": "ipvae-k512-b24-photos",
            "n_neurons": int(a.sizes["neuron"]), "n_stimuli": n_stim,
            "n_trials": pop["n_trials"], "presentations": n_pres,
            "steps_per_presentation": int(a.sizes["time"]), "tasks": serial.n_tasks,
            "presentations_per_task": pop["trials_per_chunk"] * pop["stimuli_per_chunk"],
            "one_process_s": serial_s,
            "two_workers_s": two_s,
            "two_workers_startup_s": startup_s,
            "speedup_two_workers": serial_s / two_s,
            "presentations_per_s_one_process": n_pres / serial_s,
            "presentations_per_s_two_workers": n_pres / two_s,
            "peak_rss_one_process_mb": rss_serial,
            "peak_rss_workers_mb": worker_rss,
            "store_mb": _du_mb(tmp / "serial"),
            "responses_mb_uncompressed": a.nbytes / 2**20,
            "task_seconds_one_process": _task_seconds(tmp / "serial"),
            "task_seconds_two_workers": _task_seconds(tmp / "two"),
            "identical_spikes": identical,
            "workers_used": two.workers,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    name = "bench_sweep_quick.json" if args.quick else "bench_sweep.json"
    path = Path(args.out) / name
    atomic_write_json(path, result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
