"""FOND inference and training speed, measured as ratios against baselines in one run.

Evaluation-mode inference (B=1000 patches, K=512, D=256):
  - neurofond: ``run_inference(record=False)`` (``IterativeVAE.step`` reusing the residual,
    the compiled spike sampler of ``neurofond/fond/_spikes.c``);
  - neurofond-torch-sampler: the same loop with ``torch.poisson`` spikes (what the compiled
    sampler buys);
  - baseline: a straightforward per-step loop that recomputes ``Phi^T (x - Phi z)`` and
    samples with ``torch.poisson``;
  - roofline: the dense-matmul rate of this machine (a 4096^3 sgemm). One step costs two
    (B x K) by (K x D) products, 4 B D K FLOP (0.52 GFLOP at B=1000); the fraction reported
    is achieved FLOP/s over sgemm FLOP/s.
  Peak memory is each variant's peak RSS, measured in its own subprocess.
Training step (batch 200, T=16, K=512, forward + backward): fast relaxed sampler vs the
literal one (``n`` exponential draws per neuron, cumsum, sigmoid), at the candidate counts
reached in training (10-80) and at temperatures 1.0 / 0.1 / 0.01 (start, middle and second
half of the anneal); each in a child process with 1 thread, 2 spinning threads
(``OMP_WAIT_POLICY=ACTIVE``) and 2 sleeping threads (``PASSIVE``, neurofond's default).

    python benchmarks/bench_fond.py [--quick] [--out benchmarks/results]
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


def _inputs():
    return torch.randn(B, D, generator=torch.Generator().manual_seed(0))


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


def _child(variant: str, steps: int, checkpoint: str | None) -> dict:
    from neurofond.fond import run_inference
    from neurofond.fond.training import configure_cpu

    configure_cpu()
    model, x = _model(checkpoint), _inputs()
    gen = torch.Generator().manual_seed(0)
    from neurofond.fond.sampling import use_hard_sampler

    def ours(n, sampler="auto"):
        with use_hard_sampler(sampler):
            return run_inference(model, x, n, generator=gen, record=False)

    fn = {"neurofond": ours,
          "neurofond-torch-sampler": lambda n: ours(n, "torch"),
          "baseline": lambda n: baseline_inference(model, x, n, gen)}[variant]
    sampler = model.spike_sampler() if variant == "neurofond" else "torch"
    fn(5)
    t0 = time.perf_counter()
    fn(steps)
    dt = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"variant": variant, "sampler": sampler, "steps": steps, "seconds": dt,
            "patch_steps_per_s": B * steps / dt, "peak_rss_mb": peak_mb}


def sgemm_gflops() -> float:
    m = torch.randn(4096, 4096)
    m @ m
    t0 = time.perf_counter()
    for _ in range(5):
        m @ m
    return 5 * 2 * 4096**3 / (time.perf_counter() - t0) / 1e9


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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--checkpoint")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--training-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    steps = args.steps or (20 if args.quick else 200)
    candidates, repeats = ([10], 1) if args.quick else ([10, 20, 50, 80], 3)
    if args.child:
        print(json.dumps(_child(args.child, steps, args.checkpoint)))
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

    inference = {variant: run_child(["--child", variant, "--steps", str(steps)], "PASSIVE")
                 for variant in ("neurofond", "neurofond-torch-sampler", "baseline")}
    # training steps in child processes: the OpenMP wait policy is fixed when torch loads.
    # 1 thread (with the literal sampler as baseline), 2 threads spinning (ACTIVE, a machine
    # to itself) and 2 threads sleeping between ops (PASSIVE, neurofond's default)
    training = []
    for threads, policy in ((1, "PASSIVE"), (2, "ACTIVE"), (2, "PASSIVE")):
        flags = ["--training-child", str(threads)] + (["--quick"] if args.quick else [])
        training += [{**row, "omp_wait_policy": policy} for row in run_child(flags, policy)]
    gflops = sgemm_gflops()
    flop_per_patch_step = 4 * D * K
    ours = inference["neurofond"]["patch_steps_per_s"]
    result = {
        "machine": {"threads": torch.get_num_threads(), "torch": torch.__version__,
                    "sgemm_gflops": gflops},
        "inference": inference,
        "inference_speedup_vs_baseline": ours / inference["baseline"]["patch_steps_per_s"],
        "inference_speedup_vs_torch_sampler":
            ours / inference["neurofond-torch-sampler"]["patch_steps_per_s"],
        "roofline_patch_steps_per_s": gflops * 1e9 / flop_per_patch_step,
        "roofline_fraction": ours * flop_per_patch_step / (gflops * 1e9),
        "training": training,
    }
    path = Path(args.out) / ("bench_fond_quick.json" if args.quick else "bench_fond.json")
    atomic_write_json(path, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
