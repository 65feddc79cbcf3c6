"""In-silico physiology throughput: a 10^4-presentation grating sweep through InSilicoPopulation.

Full run: 1000 static gratings (10 orientations x 5 SF x 4 phases x 5 contrasts) x 10 trials
= 10^4 presentations, K = 512 neurons, 50 steps each (10 blank + 40 stimulus), one centre
tile on a 32 px canvas (16 px/deg), counts stored as uint8. The model is the shipped default
checkpoint when one exists (``neurofond.pretrained.list_pretrained()``), otherwise an
untrained iP-VAE whose decoder holds 512 random unit-norm Gabors plus 2% noise
(eta = 0.03 and sigma_x = 1.5 for stable dynamics: ~0.05 spikes per neuron and step). Also times the
Gabor fit of all 512 dictionary elements (``gabor_fraction``).

Reported: wall time and presentations/s of ``present``; peak memory as (a) the peak of
numpy/Python allocations during ``present`` (tracemalloc; torch's own buffers are not
traced) and (b) the process's peak RSS (``resource.getrusage``) with the RSS before.

    python benchmarks/bench_population.py [--quick] [--threads N] [--engine step|fast]
                                          [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

# torch's OpenMP threads spin-wait by default; on a shared, loaded CPU this makes small
# per-step ops 10-50x slower. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from neurofond._files import atomic_write_json  # noqa: E402


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _population(k: int):
    from neurofond.fond import IterativeVAE, ModelConfig, Preprocessing
    from neurofond.population import InSilicoPopulation, random_gabor_dictionary
    from neurofond.pretrained import DEFAULT_MODEL, list_pretrained

    names = [row["name"] for row in list_pretrained()]
    if names:
        name = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
        return InSilicoPopulation.from_pretrained(name), f"pretrained:{name}"
    model = IterativeVAE(ModelConfig.for_family("poisson", n_latents=k),
                         generator=torch.Generator().manual_seed(0))
    phi = random_gabor_dictionary(k, seed=0)
    noise = np.random.default_rng(1).standard_normal(phi.shape).astype(np.float32)
    with torch.no_grad():
        model.phi.copy_(torch.from_numpy(phi + 0.02 * noise))
        model.log_eta.fill_(float(np.log(0.03)))
        model.log_sigma_x.fill_(float(np.log(1.5)))
    return InSilicoPopulation(model, Preprocessing(), name=f"random-gabor-k{k}"), "random-gabor"


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50 gratings x 4 trials")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--no-fit", action="store_true", help="skip the Gabor-fit timing")
    ap.add_argument("--engine", choices=("step", "fast"), default="step",
                    help="present(engine=...): IterativeVAE.step, or sparse + fused steps")
    ap.add_argument("--out", default="benchmarks/results")
    return ap


def main() -> int:
    ap = build_parser()
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    np.finfo(np.float32), np.finfo(np.float64)  # cache limits before flushing (numpy warns)
    torch.set_flush_denormal(True)  # as training does

    from neurofond.population import gabor_fraction
    from neurofond.stimuli import ScreenGeometry, grating_sweep

    k = 512
    pop, model_kind = _population(k)
    geo = ScreenGeometry(16.0, 32)
    if args.quick:
        sweep = {"orientations": np.arange(0, 180, 36.0), "sfs": [1.0, 2.0],
                 "phases": [0.0, 90.0, 180.0, 270.0, 45.0], "contrasts": [1.0]}
        n_trials = 4
    else:
        sweep = {"orientations": np.arange(0, 180, 18.0), "sfs": [0.5, 1.0, 2.0, 3.0, 4.0],
                 "phases": [0.0, 90.0, 180.0, 270.0],
                 "contrasts": [0.03, 0.1, 0.25, 0.5, 1.0]}
        n_trials = 10
    t0 = time.perf_counter()
    stim = grating_sweep(geo, **sweep)
    render_s = time.perf_counter() - t0
    blank_steps, stim_steps = 10, 40
    pop.transform.gain  # noqa: B018 - calibrate the gain outside the timed region

    rss_before = _rss_mb()
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    resp = pop.present(stim, n_trials=n_trials, blank_steps=blank_steps,
                       steps_per_frame=stim_steps, seed=0, batch_size=args.batch_size,
                       progress=False, engine=args.engine)
    present_s = time.perf_counter() - t0
    present_cpu_s = time.process_time() - c0
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_pres = len(stim) * n_trials
    steps = blank_steps + stim_steps
    result = {
        "mode": "quick" if args.quick else "full",
        "machine": {"torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                    "load_avg_1min": os.getloadavg()[0]},
        "model": model_kind,
        "engine": args.engine,
        "n_neurons": int(resp.sizes["neuron"]),
        "n_stimuli": len(stim),
        "n_trials": n_trials,
        "presentations": n_pres,
        "steps_per_presentation": steps,
        "batch_size": args.batch_size,
        "render_s": render_s,
        "present_s": present_s,
        "present_cpu_s": present_cpu_s,  # the less disturbed figure on a shared machine
        "presentations_per_s": n_pres / present_s,
        "neuron_steps_per_s": n_pres * steps * resp.sizes["neuron"] / present_s,
        "responses_dtype": str(resp.dtype),
        "responses_mb": resp.nbytes / 2**20,
        "tracemalloc_peak_mb": traced_peak / 2**20,
        "rss_before_present_mb": rss_before,
        "peak_rss_mb": peak_rss,
        "mean_count_per_step": float(resp.values.mean()),
    }
    if not args.no_fit:
        t0 = time.perf_counter()
        frac = gabor_fraction(pop)
        result["gabor_fit_s"] = time.perf_counter() - t0
        result["gabor_fraction"] = float(frac)
        result["gabor_considered"] = frac.n_considered
    name = ("bench_population" + ("" if args.engine == "step" else f"_{args.engine}")
            + ("_quick" if args.quick else "") + ".json")
    path = Path(args.out) / name
    atomic_write_json(path, result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
