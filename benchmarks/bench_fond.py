"""FOND inference and training speed, measured as ratios against baselines in one run.

Evaluation-mode inference (B=1000 patches, K=512, D=256; held-out photo patches of the
shipped iP-VAE, ``--inputs noise`` for white noise):
  - neurofond: ``run_inference(record=False)`` with sparse exact inference
    (``neurofond.fond.sparse``: dense or sparse per step from the active fraction, the
    compiled spike sampler of ``neurofond/fond/_spikes.c``);
  - neurofond-dense: the same with ``sparse="never"`` (every step dense; the numbers of
    ``IterativeVAE.step`` bit for bit);
  - neurofond-torch-sampler: the dense loop with ``torch.poisson`` spikes;
  - baseline: a straightforward per-step loop that recomputes ``Phi^T (x - Phi z)`` and
    samples with ``torch.poisson``;
  - roofline: the dense-matmul rate of this machine, a 2048^3 sgemm timed in the same child
    process. One dense step costs two (B x K) by (K x D) products, 4 B D K FLOP (0.52 GFLOP
    at B=1000); the fraction reported is (patch-steps/s x 4 D K) / sgemm FLOP/s, i.e. the
    dense-equivalent FLOP rate: sparse steps do fewer FLOP than they are credited with.
  Each variant runs in its own child process (own peak RSS) at 1 and at 2 torch threads;
  wall-clock and CPU time are both recorded (on a shared machine the CPU time of a
  one-thread child is the less disturbed figure; ratios use the same clock on both sides).
  The crossover sweep times one step's products dense vs sparse at set active fractions.
Training step (batch 200, T=16, K=512, forward + backward): fast relaxed sampler vs the
literal one (``n`` exponential draws per neuron, cumsum, sigmoid), at the candidate counts
reached in training (10-80) and at temperatures 1.0 / 0.1 / 0.01 (start, middle and second
half of the anneal); each in a child process with 1 thread, 2 spinning threads
(``OMP_WAIT_POLICY=ACTIVE``) and 2 sleeping threads (``PASSIVE``, neurofond's default).

    python benchmarks/bench_fond.py [--quick] [--inference-only] [--device cuda]
                                    [--out benchmarks/results]

``--inference-only`` skips the training rows and writes ``bench_fond_sparse.json``;
``--device cuda`` runs the inference variants on the GPU (``bench_fond_cuda.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from neurofond._files import atomic_write_json  # noqa: E402

B, K, D = 1000, 512, 256


def _model(checkpoint: str | None):
    from neurofond.fond import IterativeVAE, ModelConfig, load_checkpoint

    if checkpoint:
        return load_checkpoint(checkpoint)[0]
    from neurofond.pretrained import DEFAULT_MODEL, list_pretrained, load_pretrained

    if any(r["name"] == DEFAULT_MODEL for r in list_pretrained()):
        return load_pretrained(DEFAULT_MODEL)[0]
    model = IterativeVAE(ModelConfig.for_family("poisson"),
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.phi.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
    return model


def _inputs(kind: str = "photos", checkpoint: str | None = None):
    """B patches: held-out photo patches of the shipped model (its preprocessing), or noise."""
    if kind == "photos" and not checkpoint:
        from neurofond.fond.data import heldout_patches
        from neurofond.pretrained import DEFAULT_MODEL, list_pretrained, load_pretrained

        if any(r["name"] == DEFAULT_MODEL for r in list_pretrained()):
            prep = load_pretrained(DEFAULT_MODEL)[1]
            return torch.as_tensor(heldout_patches(prep, B, seed=0), dtype=torch.float32)
    return torch.randn(B, D, generator=torch.Generator().manual_seed(0))


def _clock(f) -> tuple[float, float]:
    """(wall s, CPU s of this process) of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - w0, time.process_time() - c0


def sgemm_rate(device: str = "cpu", n: int = 2048, repeats: int = 5) -> dict:
    """FLOP/s of an n^3 sgemm: best of ``repeats`` by wall clock and by CPU time."""
    m = torch.randn(n, n, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    m @ m
    sync()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = _clock(lambda: (m @ m, sync()))
        walls.append(w)
        cpus.append(c)
    flop = 2 * n**3
    return {"gflops_wall": flop / min(walls) / 1e9, "gflops_cpu": flop / min(cpus) / 1e9}


@torch.no_grad()
def baseline_inference(model, x, steps, generator):
    """Straightforward loop: recompute the residual drive and call torch.poisson every step."""
    cfg = model.config
    phi, s2 = model.phi, model.sigma_x2()
    eta, bias, c = torch.exp(model.log_eta), torch.exp(model.log_bias), float(model.clamp_c)
    u = model.prior_u.expand(x.shape[0], -1).clone()
    z = torch.poisson(torch.exp(u), generator=generator)
    for _ in range(steps):
        g = phi.T @ ((x - (phi @ z.T).T) / s2).T
        du = eta * (g.T - bias)
        du = (c - torch.nn.functional.softplus(c - du)).clamp(min=cfg.floor)
        u = (c - torch.nn.functional.softplus(c - (u + du))).clamp(min=cfg.floor)
        z = torch.poisson(torch.exp(u), generator=generator)
    return z


def _child(variant: str, steps: int, checkpoint: str | None, threads: int = 1,
           inputs: str = "photos", device: str = "cpu") -> dict:
    from neurofond.fond import run_inference
    from neurofond.fond.sampling import use_hard_sampler
    from neurofond.fond.training import configure_cpu

    configure_cpu()
    torch.set_num_threads(threads)
    model, x = _model(checkpoint).to(device).eval(), _inputs(inputs, checkpoint).to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    info: dict = {}

    def ours(n, sampler="auto", sparse="auto", fused=None):
        with use_hard_sampler(sampler):
            sums, state = run_inference(model, x, n, generator=gen, record=False, sparse=sparse,
                                        fused=fused)
        info["sparse_steps"] = float(sums["sparse"].sum())
        sync()
        return state

    fn = {"neurofond": ours,
          "neurofond-dense": lambda n: ours(n, sparse="never"),
          "neurofond-unfused": lambda n: ours(n, fused=False),
          "neurofond-torch-sampler": lambda n: ours(n, "torch", "never"),
          "baseline": lambda n: (baseline_inference(model, x, n, gen), sync())}[variant]
    sampler = (model.spike_sampler()
               if variant in ("neurofond", "neurofond-dense", "neurofond-unfused") else "torch")
    fn(5)
    wall, cpu = _clock(lambda: fn(steps))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = {"variant": variant, "sampler": sampler, "steps": steps, "threads": threads,
           "inputs": inputs, "device": device, "seconds": wall, "cpu_seconds": cpu,
           "patch_steps_per_s": B * steps / wall, "patch_steps_per_cpu_s": B * steps / cpu,
           "peak_rss_mb": peak_mb, "sgemm": sgemm_rate(device)}
    if variant == "neurofond":
        row["sparse_steps"] = info["sparse_steps"]
        with torch.no_grad():  # activity along the timed run (same seed, dense: same spikes)
            g2 = torch.Generator(device=device).manual_seed(1)
            state = model.initial_state(B, generator=g2)
            active = []
            for _ in range(steps):
                state, _ = model.step(state, x, generator=g2)
                active.append(float((state.response > 0).float().mean()))
        row["active_fraction_mean"] = sum(active) / len(active)
        row["active_fraction_first_last"] = [active[0], active[-1]]
    return row


@torch.no_grad()
def crossover_sweep(checkpoint: str | None, fractions=(0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3,
                                                       0.4, 0.5, 0.6, 0.7, 0.8),
                    repeats: int = 15) -> list:
    """CPU ms of one step's products at set active fractions: dense (decode + drive, two
    BLAS products, which also give the residual) vs sparse (``f - z G`` over the active
    neurons; ``sparse_residual_ms``: plus the residual ``x - z Phi^T``, the products of a step
    that records R^2), best of ``repeats``."""
    from neurofond.fond.sparse import ExactInference, subtract_sparse
    from neurofond.fond.training import configure_cpu

    configure_cpu()
    torch.set_num_threads(1)
    model = _model(checkpoint).eval()
    x = _inputs("photos", checkpoint)
    exact = ExactInference(model, sparse="always")
    ff, gram, inv_var = exact._feedforward(x), exact.gram, exact.consts.inv_var
    gen = torch.Generator().manual_seed(0)
    rows = []
    for f in fractions:
        z = torch.poisson(torch.full((B, K), 1.2), generator=gen)
        z = z.clamp(min=1) * (torch.rand(B, K, generator=gen) < f)

        def best(fn):
            return min(_clock(fn)[1] for _ in range(repeats)) * 1e3

        dense = best(lambda z=z: ((x - model.decode(z)) * inv_var) @ model.phi)
        sparse = best(lambda z=z: subtract_sparse(z, gram, ff))
        residual = best(lambda z=z: subtract_sparse(z, exact.phi_t, x))
        rows.append({"active_fraction": float((z > 0).float().mean()), "dense_ms": dense,
                     "sparse_ms": sparse, "sparse_residual_ms": sparse + residual})
    return rows


TEMPERATURES = (1.0, 0.1, 0.01)  # start of training, mid-anneal, second half


def training_steps(candidates: list[int], repeats: int, checkpoint: str | None,
                   threads: int = 1, temperatures: tuple[float, ...] = TEMPERATURES,
                   literal: bool = True) -> list[dict]:
    import neurofond.fond.model as model_mod
    from neurofond.fond.sampling import relaxed_poisson, relaxed_poisson_literal
    from neurofond.fond.training import configure_cpu

    configure_cpu()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    model = _model(checkpoint).train()
    x = torch.randn(200, D, generator=torch.Generator().manual_seed(0))
    rows = []
    samplers = [("neurofond", relaxed_poisson)]
    if literal:
        samplers.append(("literal", relaxed_poisson_literal))
    for temp in temperatures:
        for n in candidates:
            for name, sampler in samplers:
                if name == "literal" and temp != 0.1:
                    continue  # the literal form's cost does not depend on the temperature
                model_mod.relaxed_poisson = sampler
                gen = torch.Generator().manual_seed(0)
                times = []
                for _ in range(repeats + 1):
                    model.zero_grad()
                    t0 = time.perf_counter()
                    loss, _ = model.training_loss(x, beta=24.0, temperature=temp,
                                                  n_candidates=n, generator=gen)
                    loss.backward()
                    times.append(time.perf_counter() - t0)
                rows.append({"sampler": name, "threads": threads, "temperature": temp,
                             "n_candidates": n, "step_s": min(times[1:])})
            model_mod.relaxed_poisson = relaxed_poisson
    torch.set_num_threads(previous)
    return rows


def _summarise(inference: dict, threads: int) -> dict:
    """Ratios at one thread count, each on one clock (wall; and CPU where one thread ran)."""
    rows = {v["variant"]: v for v in inference.values() if v["threads"] == threads}
    ours, flop = rows["neurofond"], 4 * D * K
    out = {}
    for clock, key, gkey in (("wall", "patch_steps_per_s", "gflops_wall"),
                             ("cpu", "patch_steps_per_cpu_s", "gflops_cpu")):
        if clock == "cpu" and threads != 1:
            continue
        out[clock] = {
            "speedup_vs_baseline": ours[key] / rows["baseline"][key],
            "speedup_vs_dense": ours[key] / rows["neurofond-dense"][key],
            "speedup_vs_unfused": ours[key] / rows["neurofond-unfused"][key],
            "speedup_vs_torch_sampler": ours[key] / rows["neurofond-torch-sampler"][key],
            "roofline_fraction": ours[key] * flop / (ours["sgemm"][gkey] * 1e9),
            "roofline_fraction_dense": (rows["neurofond-dense"][key] * flop
                                        / (rows["neurofond-dense"]["sgemm"][gkey] * 1e9)),
        }
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line (tests/test_docs.py checks the documented commands with it)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--inference-only", action="store_true",
                    help="skip the training rows; write bench_fond_sparse.json")
    ap.add_argument("--checkpoint")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--inputs", choices=("photos", "noise"), default="photos")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--thread-counts", default="1,2", help="torch threads of the children")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--crossover-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--training-child", type=int, default=None, help=argparse.SUPPRESS)
    return ap


def main() -> int:
    ap = build_parser()
    args = ap.parse_args()
    steps = args.steps or (20 if args.quick else 200)
    candidates, repeats = ([10], 1) if args.quick else ([10, 20, 50, 80], 3)
    if args.child:
        print(json.dumps(_child(args.child, steps, args.checkpoint, args.threads, args.inputs,
                                args.device)))
        return 0
    if args.crossover_child:
        print(json.dumps(crossover_sweep(args.checkpoint)))
        return 0
    if args.training_child:
        rows = training_steps(candidates, repeats, args.checkpoint, args.training_child,
                              TEMPERATURES if not args.quick else (0.1,),
                              literal=args.training_child == 1)
        print(json.dumps(rows))
        return 0

    def run_child(flags: list[str], omp_wait_policy: str):
        """This script in a fresh process (own peak RSS, own OpenMP wait policy); its JSON."""
        cmd = [sys.executable, __file__, *flags]
        if args.checkpoint:
            cmd += ["--checkpoint", args.checkpoint]
        env = {**os.environ, "OMP_WAIT_POLICY": omp_wait_policy}
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        return json.loads(out.strip().splitlines()[-1])

    load_before = os.getloadavg()
    variants = ("neurofond", "neurofond-unfused", "neurofond-dense", "neurofond-torch-sampler",
                "baseline")
    inference = {}
    thread_counts = [int(t) for t in args.thread_counts.split(",")]
    for threads in thread_counts:
        for variant in variants:  # one after another, per thread count
            inference[f"{variant}@{threads}"] = run_child(
                ["--child", variant, "--steps", str(steps), "--threads", str(threads),
                 "--inputs", args.inputs, "--device", args.device], "PASSIVE")
    result = {
        "machine": {"cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                    "device": args.device},
        "B_K_D": [B, K, D],
        "inputs": args.inputs,
        "inference": inference,
    }
    for threads in thread_counts:
        result[f"summary_{threads}_thread{'s' if threads > 1 else ''}"] = _summarise(inference,
                                                                                  threads)
    if args.device == "cpu":
        result["crossover_sweep"] = run_child(["--crossover-child"], "PASSIVE")
    if not args.inference_only and args.device == "cpu":
        # training steps in child processes: the OpenMP wait policy is fixed when torch
        # loads. 1 thread (with the literal sampler as baseline), 2 threads spinning (ACTIVE,
        # a machine to itself) and 2 threads sleeping between ops (PASSIVE, the default)
        training = []
        for threads, policy in ((1, "PASSIVE"), (2, "ACTIVE"), (2, "PASSIVE")):
            flags = ["--training-child", str(threads)] + (["--quick"] if args.quick else [])
            training += [{**row, "omp_wait_policy": policy} for row in run_child(flags, policy)]
        result["training"] = training
    name = ("bench_fond_cuda" if args.device != "cpu" else
            "bench_fond_sparse" if args.inference_only else "bench_fond")
    if args.steps and args.steps != 200 and not args.quick:
        name += f"_{args.steps}steps"
    path = Path(args.out) / (name + ("_quick.json" if args.quick else ".json"))
    atomic_write_json(path, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
