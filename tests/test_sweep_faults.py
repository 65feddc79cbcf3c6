"""Sweeps on dask.distributed: identity across worker counts, a lost worker, a killed client.

Every result is compared bit for bit with the single-process path (``workers=0``).

Each test runs twice, on two LocalClusters of 2 single-thread workers:

- *threaded* workers in this process (torch stays on one thread per task): identity, a worker
  closed by the scheduler while it runs a task, a client subprocess killed mid-sweep and the
  rerun resuming;
- worker *processes*: the same, where the worker is killed with SIGKILL while it runs a task
  (the nanny restarts it), and ``run_sweep(workers=2)`` starting its own cluster. Starting
  processes that import torch takes ~6 s on the idle 2-core machine (about a minute when it
  is loaded); the whole file ~25 s idle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neurofond.sweep import load_responses, parse_spec, read_manifest, run_sweep
from neurofond.sweep.runner import WORKER_ENV, local_cluster_environ
from neurofond.sweep.store import create_store, task_list

distributed = pytest.importorskip("distributed", reason="sweeps need dask.distributed")

MODEL = "ipvae-k512-b24-photos"
STEPS = 10
# 2 seeds x 2 trial blocks x 4 stimulus blocks = 16 chunks of 2 trials x 4 stimuli
SPEC = {
    "name": "faults",
    "population": {
        "checkpoints": [MODEL], "seeds": [0, 1], "n_trials": 4, "trials_per_chunk": 2,
        "stimuli_per_chunk": 4,
        "stimuli": {"grid": {"size_px": 32, "pixels_per_degree": 16.0,
                             "orientations": {"start": 0, "stop": 180, "step": 22.5},
                             "phases": [0, 90], "blank_steps": 2,
                             "steps_per_frame": STEPS}},
    },
    "run": {"retries": 2},
}
SPEC_TOML = f"""
name = "faults"
[population]
checkpoints = ["{MODEL}"]
seeds = [0, 1]
n_trials = 4
trials_per_chunk = 2
stimuli_per_chunk = 4
[population.stimuli.grid]
size_px = 32
pixels_per_degree = 16.0
orientations = {{ start = 0, stop = 180, step = 22.5 }}
phases = [0, 90]
blank_steps = 2
steps_per_frame = {STEPS}
[run]
retries = 2
"""


@pytest.fixture(scope="module", params=["threads", "processes"])
def client(request):
    """A LocalCluster of 2 single-thread workers: threads of this process (fast) or processes."""
    import dask
    from distributed import Client, LocalCluster

    processes = request.param == "processes"
    extra = {"env": dict(WORKER_ENV)} if processes else {}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": local_cluster_environ()}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                               protocol="tcp://", dashboard_address=":0", **extra)
        with Client(cluster) as c:
            if processes:
                c.run(lambda: __import__("neurofond.population"))  # torch once per worker
            c.processes = processes
            yield c
        cluster.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "serial"
    run_sweep(parse_spec(SPEC), out, workers=0, progress=False)
    return load_responses(out)


def _same(out: Path, reference) -> None:
    resp = load_responses(out)
    np.testing.assert_array_equal(resp.values, reference.values)
    np.testing.assert_array_equal(resp["chunk_seed"].values, reference["chunk_seed"].values)
    assert resp.attrs == reference.attrs


def test_two_workers_give_the_single_process_result(client, reference, tmp_path):
    result = run_sweep(parse_spec(SPEC), tmp_path / "two", client=client, progress=False)
    assert (result.n_run, result.workers) == (16, 2)
    _same(tmp_path / "two", reference)
    done = read_manifest(tmp_path / "two")["done"].values()
    assert all(rec["worker"].startswith(("tcp://", "inproc://")) for rec in done)
    if client.processes:
        assert os.getpid() not in {rec["pid"] for rec in done}  # ran in the worker processes


def test_killed_client_then_rerun_resumes(client, reference, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC_TOML)
    out = tmp_path / "resumed"
    # the store exists (as after a first client that built it): the client killed here
    # only submits tasks and records results, so it starts without importing torch
    create_store(out, parse_spec(SPEC), task_list(parse_spec(SPEC)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurofond.cli", "sweep", str(spec), "--out", str(out),
         "--scheduler", client.scheduler.address, "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "stderr.txt").open("w"),
        start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "_sweep" / "manifest.json").is_file() and read_manifest(out)["done"]:
                break
            time.sleep(0.005)
        assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()[-2000:]
        os.killpg(proc.pid, signal.SIGKILL)  # the client and anything it started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    before = read_manifest(out)["done"]
    assert 1 <= len(before) < 16, "the client was not killed mid-sweep"
    result = run_sweep(parse_spec(SPEC), out, client=client, progress=False)
    assert (result.n_skipped, result.n_run) == (len(before), 16 - len(before))
    after = read_manifest(out)["done"]
    assert len(after) == 16
    for key, rec in before.items():  # finished chunks were skipped, not recomputed
        assert after[key]["finished_utc"] == rec["finished_utc"]
    _same(out, reference)


class KillOnce(distributed.WorkerPlugin):
    """SIGKILL this worker process when a sweep task starts executing, once per flag file."""

    def __init__(self, flag: str) -> None:
        self.flag = flag

    def setup(self, worker):
        self.address = worker.address

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "neurofond-sweep" in str(key):
            try:
                fd = os.open(self.flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, json.dumps({"key": str(key), "worker": self.address}).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)


async def _lose_a_busy_worker(dask_scheduler=None):
    """On the scheduler: remove (and close) a worker that is running a sweep task."""
    for ts in list(dask_scheduler.tasks.values()):
        if ts.state == "processing" and "neurofond-sweep" in str(ts.key):
            address = ts.processing_on.address
            await dask_scheduler.remove_worker(address, stimulus_id="test-lose-worker")
            return {"key": str(ts.key), "worker": address}
    return None


def _lose_worker_during_sweep(client, out: Path, flag: Path):
    if client.processes:  # a real kill: SIGKILL inside the worker as a task starts
        import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        client.register_plugin(KillOnce(str(flag)), name="kill-once")
        try:
            return run_sweep(parse_spec(SPEC), out, client=client, progress=False)
        finally:
            client.unregister_worker_plugin("kill-once")
            cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    # threads cannot be killed: the scheduler drops the worker while it runs a task
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_sweep, parse_spec(SPEC), out, client=client, progress=False)
        lost = None
        while lost is None and not running.done():
            lost = client.run_on_scheduler(_lose_a_busy_worker)
            time.sleep(0.002)
        if lost is not None:
            flag.write_text(json.dumps(lost))
        return running.result()


def test_lost_worker_mid_sweep_gives_identical_results(client, reference, tmp_path):
    flag, out = tmp_path / "lost.json", tmp_path / "lost"
    result = _lose_worker_during_sweep(client, out, flag)
    lost = json.loads(flag.read_text())  # a worker did go while running a task
    assert result.n_run == 16
    _same(out, reference)
    done = read_manifest(out)["done"]
    task_id = lost["key"].split("-", 3)[-1].replace(":", "/")
    assert done[task_id]["worker"] != lost["worker"]  # the task was rerun on another worker


TRAIN = {"name": "tr", "training": {
    "beta": [1.0, 2.0], "t_train": [2], "seed": [0, 1],
    "model": {"n_latents": 8},
    "train": {"epochs": 1, "max_steps": 2, "batch_size": 50, "eval_patches": 50},
    "data": {"n_train": 100, "n_validation": 50},
}}


def test_training_sweep_on_workers_equals_single_process(client, tmp_path):
    import torch

    from neurofond.fond.checkpoint import load_checkpoint
    from neurofond.sweep import training_checkpoint

    spec = parse_spec(TRAIN)
    serial = run_sweep(spec, tmp_path / "serial", workers=0, progress=False)
    spread = run_sweep(spec, tmp_path / "workers", client=client, progress=False)
    assert serial.n_run == spread.n_run == 4
    for run in spec.training_runs():
        a, _, _ = load_checkpoint(training_checkpoint(tmp_path / "serial", run.id))
        b, _, _ = load_checkpoint(training_checkpoint(tmp_path / "workers", run.id))
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(),
                                     strict=True):
            assert torch.equal(x, y), (run.id, name)


def test_own_local_cluster_of_two_processes(reference, tmp_path):
    """run_sweep(workers=2) starts (and closes) its own LocalCluster of 2 processes."""
    import dask

    before = dask.config.get("distributed.nanny.pre-spawn-environ")
    result = run_sweep(parse_spec(SPEC), tmp_path / "own", workers=2, progress=False)
    assert (result.n_run, result.workers) == (16, 2)
    _same(tmp_path / "own", reference)
    assert dask.config.get("distributed.nanny.pre-spawn-environ") == before  # restored
    done = read_manifest(tmp_path / "own")["done"].values()
    assert all(rec["worker"].startswith("tcp://") and rec["pid"] != os.getpid() for rec in done)
