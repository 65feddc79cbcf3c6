"""The CUDA paths: samplers, inference, training and ``present`` on a GPU.

Every test needs a CUDA device and is skipped otherwise (the reason names what is missing).
On the GPU the hard spikes come from :func:`torch.poisson` (the compiled sampler is CPU-only)
and the relaxed sampler draws all its candidate arrivals at once, so the random streams
differ from the CPU's: the CPU and GPU results are compared in distribution (same seeds,
statistically equal counts), and every output is checked to live on the right device.
Run on a device machine with ``benchmarks/gpu_check.sh``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from neurofond.fond import IterativeVAE, ModelConfig, TrainConfig, evaluate, train
from neurofond.fond.evaluate import run_inference
from neurofond.fond.sampling import (
    hard_sampler_for,
    poisson_spikes,
    relaxed_poisson,
    relaxed_poisson_literal,
)
from neurofond.fond.sparse import ExactInference, sparse_available
from neurofond.pretrained import DEFAULT_MODEL, load_pretrained


def _why_no_cuda() -> str:
    if torch.version.cuda is None:
        return f"torch {torch.__version__} was built without CUDA"
    return "no CUDA GPU is visible (torch.cuda.is_available() is False)"


pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason=_why_no_cuda())
CUDA = torch.device("cuda")


def _histogram_test(a: torch.Tensor, b: torch.Tensor, top: int = 6) -> float:
    """p-value of a chi-square test that two samples of counts share one distribution."""
    ca = np.bincount(a.long().clamp(max=top).reshape(-1).cpu().numpy(), minlength=top + 1)
    cb = np.bincount(b.long().clamp(max=top).reshape(-1).cpu().numpy(), minlength=top + 1)
    keep = (ca + cb) > 0
    return float(stats.chi2_contingency(np.stack([ca[keep], cb[keep]]))[1])


# ------------------------------------------------------------------------------ samplers
def test_hard_spikes_on_cuda_equal_the_cpu_in_distribution():
    rate = torch.cat([torch.full((20_000,), r) for r in (0.05, 0.5, 2.0, 12.0, 40.0)])
    cpu = poisson_spikes(rate, torch.Generator().manual_seed(0))
    gpu = poisson_spikes(rate.to(CUDA), torch.Generator(device=CUDA).manual_seed(0))
    assert gpu.device.type == "cuda" and gpu.dtype == rate.dtype and gpu.shape == rate.shape
    assert hard_sampler_for(rate.to(CUDA)) == "torch"
    for lo in range(0, rate.numel(), 20_000):
        a, b = cpu[lo:lo + 20_000], gpu[lo:lo + 20_000]
        r = float(rate[lo])
        assert abs(float(b.mean()) - r) < 5 * np.sqrt(r / 20_000)  # mean = rate
        top = int(r + 4 * np.sqrt(r) + 2)
        assert _histogram_test(a, b, top=top) > 1e-3, r
    with pytest.raises(ValueError, match="'compiled' needs a CPU float32"):
        poisson_spikes(rate.to(CUDA), sampler="compiled")
    again = poisson_spikes(rate.to(CUDA), torch.Generator(device=CUDA).manual_seed(0))
    assert torch.equal(gpu, again)  # same seed, same GPU stream


def test_relaxed_sampler_on_cuda_matches_the_literal_form_and_the_cpu():
    rate = torch.full((4000, 8), 1.5, requires_grad=True)
    rate_gpu = rate.detach().to(CUDA).requires_grad_(True)
    cpu = relaxed_poisson(rate, 0.1, 30, torch.Generator().manual_seed(1))
    gpu = relaxed_poisson(rate_gpu, 0.1, 30, torch.Generator(device=CUDA).manual_seed(1))
    assert gpu.device.type == "cuda"
    gpu.sum().backward()
    assert rate_gpu.grad is not None and rate_gpu.grad.device.type == "cuda"
    assert torch.isfinite(rate_gpu.grad).all()
    # same unit arrivals: the fast form equals the literal one on the GPU too
    arrivals = torch.rand(50, 30, generator=torch.Generator(device=CUDA).manual_seed(2),
                          device=CUDA).neg_().log1p_().neg_().cumsum(-1)
    r = torch.full((50,), 2.0, device=CUDA)
    torch.testing.assert_close(relaxed_poisson(r, 0.1, 30, unit_arrivals=arrivals),
                               relaxed_poisson_literal(r, 0.1, 30, unit_arrivals=arrivals),
                               rtol=1e-5, atol=1e-5)
    assert stats.ks_2samp(cpu.detach().reshape(-1).numpy(),
                          gpu.detach().reshape(-1).cpu().numpy()).pvalue > 1e-3


# ----------------------------------------------------------------------------- inference
@pytest.fixture(scope="module")
def shipped_pair():
    from neurofond.fond.data import heldout_patches

    cpu, prep, _ = load_pretrained(DEFAULT_MODEL)
    gpu, _, _ = load_pretrained(DEFAULT_MODEL, device="cuda")
    x = torch.as_tensor(heldout_patches(prep, 256, seed=0), dtype=torch.float32)
    return cpu.eval(), gpu.eval(), x


def test_inference_on_cuda_equals_the_cpu_in_distribution(shipped_pair):
    cpu, gpu, x = shipped_pair
    assert gpu.phi.device.type == "cuda" and not sparse_available(gpu)
    with pytest.raises(ValueError, match="'always' needs"):
        ExactInference(gpu, sparse="always")
    sums_c, state_c = run_inference(cpu, x, 60, generator=torch.Generator().manual_seed(0))
    sums_g, state_g = run_inference(gpu, x.to(CUDA), 60,
                                    generator=torch.Generator(device=CUDA).manual_seed(0))
    for t in (state_g.u, state_g.response, state_g.rate):
        assert t.device.type == "cuda"
    assert sums_g["sparse"].sum() == 0  # every GPU step is dense
    n = x.shape[0]
    assert abs(float(sums_c["r2"][-1] - sums_g["r2"][-1])) / n < 0.02
    assert abs(float(sums_c["zeros"][-1] - sums_g["zeros"][-1])) / n < 0.02
    assert _histogram_test(state_c.response, state_g.response) > 1e-3


def test_evaluate_on_cuda(shipped_pair):
    _, _, x = shipped_pair
    model = load_pretrained(DEFAULT_MODEL)[0]  # evaluate moves the model it is given
    res_c = evaluate(model, x.numpy(), 40, batch_size=128, seed=0, device="cpu")
    res_g = evaluate(model, x.numpy(), 40, batch_size=128, seed=0, device="cuda")
    assert model.phi.device.type == "cuda"
    assert res_g.summary["spike_sampler"] == "torch" and res_g.summary["sparse_steps"] == 0.0
    assert abs(res_g.summary["r2"] - res_c.summary["r2"]) < 0.02
    assert abs(res_g.summary["zeros"] - res_c.summary["zeros"]) < 0.02
    again = evaluate(model, x.numpy(), 40, batch_size=128, seed=0, device="cuda")
    assert again.summary["r2"] == res_g.summary["r2"]  # same seed, same GPU stream


# ------------------------------------------------------------------------------ training
def test_training_loss_and_steps_on_cuda():
    config = ModelConfig.for_family("poisson", n_latents=48, n_inputs=64, t_train=6)
    net = IterativeVAE(config, generator=torch.Generator().manual_seed(0)).to(CUDA)
    x = torch.randn(64, 64, generator=torch.Generator().manual_seed(1)).to(CUDA)
    loss, diag = net.training_loss(x, beta=1.0, temperature=0.1, n_candidates=20,
                                   generator=torch.Generator(device=CUDA).manual_seed(2))
    loss.backward()
    assert loss.device.type == "cuda" and diag["nll"].device.type == "cuda"
    assert all(p.grad is not None and p.grad.device.type == "cuda"
               and torch.isfinite(p.grad).all() for p in net.parameters())


def test_train_on_cuda_writes_a_cpu_checkpoint(tmp_path):
    from neurofond.fond import load_checkpoint
    from neurofond.fond.data import make_patch_data

    patches = make_patch_data(n_train=1000, n_validation=200, patch_size=8, seed=0)
    mcfg = ModelConfig.for_family("poisson", n_latents=48, n_inputs=64, t_train=6)
    tcfg = TrainConfig(epochs=100, batch_size=100, max_steps=20, eval_every=100,
                       checkpoint_every=1, lr=1e-2)
    run = train(mcfg, tcfg, patches.train, patches.validation, patches.preprocessing,
                tmp_path, name="g", device="cuda", progress=False)
    assert run.checkpoint is not None and run.history
    assert np.isfinite(run.history[-1]["loss"])
    model, _, summary = load_checkpoint(run.checkpoint)
    assert summary["device"] == "cuda" and model.phi.device.type == "cpu"


# ------------------------------------------------------------------------------- present
def test_present_on_cuda_equals_the_cpu_in_distribution():
    from neurofond import InSilicoPopulation
    from neurofond.stimuli import ScreenGeometry, grating_sweep

    stim = grating_sweep(ScreenGeometry(16.0, 16), orientations=[0.0, 90.0], sfs=[2.0],
                         phases=[0, 90, 180, 270])
    kw = dict(n_trials=4, blank_steps=10, steps_per_frame=30, seed=3)
    resp = {}
    for device in ("cpu", "cuda"):
        pop = InSilicoPopulation.from_pretrained(device=device)
        resp[device] = pop.present(stim, **kw)
    a, b = resp["cpu"], resp["cuda"]
    assert a.dims == b.dims and a.shape == b.shape
    assert np.isfinite(b.values).all() and (b.values >= 0).all()
    total_a, total_b = float(a.sum()), float(b.sum())
    assert abs(total_a - total_b) < 0.05 * max(total_a, total_b)
    assert _histogram_test(torch.as_tensor(a.values), torch.as_tensor(b.values)) > 1e-3
